//! Ours as a 2-core dataplane on a multi-queue TAP device inside a fresh
//! network namespace, reached by real Linux TCP (root only; skipped with
//! a printed reason otherwise). Each server gets its own namespace (the
//! pid and an instance number in its name), deleted on drop even when the
//! case fails. The kernel side of the TAP device is the client: the
//! suite's `TcpStream`s are opened by a thread that entered the namespace
//! (a socket stays in the namespace it was created in), and the real
//! client programs run under `ip netns exec`.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dataplane::nic::NicSpec;
use dataplane::run::Dataplane;

use crate::servers::{Options, PORT, dataplane_args, running_as_root};
use crate::transport::Transport;

const KERNEL_CIDR: &str = "10.78.0.1/24";
const DATAPLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const CORES: usize = 2;

/// Why the TAP server cannot run here, if it cannot.
fn skip_reason() -> Option<&'static str> {
    if !running_as_root() {
        return Some("not root (network namespaces and TAP devices need CAP_NET_ADMIN)");
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing");
    }
    None
}

/// Runs `ip ARGS` and requires success.
fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run ip (install iproute2): {error}"));
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A network namespace, deleted on drop.
struct Namespace(String);

impl Namespace {
    fn create(name: String) -> Namespace {
        ip(&["netns", "add", &name]);
        Namespace(name)
    }

    /// Runs `body` on a thread inside the namespace and returns its result.
    fn within<T: Send>(&self, body: impl FnOnce() -> T + Send) -> T {
        let netns = File::open(format!("/var/run/netns/{}", self.0))
            .unwrap_or_else(|error| panic!("open namespace {}: {error}", self.0));
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    // SAFETY: setns only moves this (short-lived) thread into
                    // the network namespace named by an fd open for the call.
                    let entered = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
                    body()
                })
                .join()
                .expect("thread inside the namespace")
        })
    }

    /// `ip netns exec NAME program`.
    fn exec(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.0, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Best effort: a failure leaves a namespace behind, not a wrong
        // test result.
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// The dataplane serving memcached over TAP, in its namespace.
pub struct OursOverTap {
    dataplane: Option<Dataplane>,
    namespace: Namespace,
}

impl OursOverTap {
    /// Starts the namespace, the dataplane and the kernel side of the TAP
    /// device, or `None` (with the reason printed) when it cannot.
    pub fn start(options: Options) -> Option<Self> {
        if let Some(reason) = skip_reason() {
            println!("skipped: {reason}");
            return None;
        }
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let namespace = Namespace::create(format!("zymc-{pid}-{instance}"));
        // Interface names have at most 15 bytes.
        let tap = format!("zymc{}x{instance}", pid % 100_000);
        let args = dataplane_args(options, CORES, NicSpec::Tap(tap.clone()), DATAPLANE_IP);
        let dataplane = namespace
            .within(|| args.start())
            .expect("start the memcached dataplane on TAP");
        let server = OursOverTap {
            dataplane: Some(dataplane),
            namespace,
        };
        let inside = ["netns", "exec", &server.namespace.0, "ip"];
        ip(&[&inside[..], &["link", "set", "lo", "up"]].concat());
        ip(&[&inside[..], &["addr", "add", KERNEL_CIDR, "dev", &tap]].concat());
        ip(&[&inside[..], &["link", "set", &tap, "up"]].concat());
        Some(server)
    }
}

impl Drop for OursOverTap {
    fn drop(&mut self) {
        if let Some(dataplane) = self.dataplane.take() {
            let _ = dataplane.stop();
        }
    }
}

impl Transport for OursOverTap {
    fn name(&self) -> &'static str {
        "ours on the dataplane (TAP, 2 cores, Linux clients)"
    }
    fn address(&self) -> SocketAddr {
        SocketAddr::from((DATAPLANE_IP, PORT))
    }
    fn open(&self) -> TcpStream {
        let address = self.address();
        self.namespace
            .within(|| TcpStream::connect_timeout(&address, Duration::from_secs(5)))
            .unwrap_or_else(|error| panic!("{}: connect to {address}: {error}", self.name()))
    }
    fn command(&self, program: &str) -> Command {
        self.namespace.exec(program)
    }
}
