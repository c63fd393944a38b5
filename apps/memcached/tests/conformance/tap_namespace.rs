//! Ours as a 2-core dataplane on a multi-queue TAP device inside a fresh
//! network namespace, reached by real Linux TCP (root only; skipped with
//! a printed reason otherwise). Each server gets its own namespace (the
//! pid and an instance number in its name), deleted on drop even when the
//! case fails. The kernel side of the TAP device is the client: the
//! suite's `TcpStream`s are opened by a thread that entered the namespace
//! (a socket stays in the namespace it was created in), and the real
//! client programs run under `ip netns exec`.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dataplane::netns::{NetNamespace, privileges_missing};
use dataplane::nic::NicSpec;
use dataplane::run::Dataplane;

use crate::servers::{Options, PORT, dataplane_args};
use crate::transport::Transport;

const KERNEL_CIDR: &str = "10.78.0.1/24";
const DATAPLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const CORES: usize = 2;

/// The dataplane serving memcached over TAP, in its namespace.
pub struct OursOverTap {
    dataplane: Option<Dataplane>,
    namespace: NetNamespace,
}

impl OursOverTap {
    /// Starts the namespace, the dataplane and the kernel side of the TAP
    /// device, or `None` (with the reason printed) when it cannot.
    pub fn start(options: Options) -> Option<Self> {
        if let Some(reason) = privileges_missing() {
            println!("skipped: {reason}");
            return None;
        }
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let namespace = NetNamespace::create(&format!("mc{instance}"))
            .expect("create the server's network namespace");
        // Interface names have at most 15 bytes.
        let tap = format!("zymc{}x{instance}", pid % 100_000);
        let args = dataplane_args(options, CORES, NicSpec::Tap(tap.clone()), DATAPLANE_IP);
        let dataplane = namespace
            .within(|| args.start())
            .expect("enter the namespace")
            .expect("start the memcached dataplane on TAP");
        let server = OursOverTap {
            dataplane: Some(dataplane),
            namespace,
        };
        let namespace = &server.namespace;
        namespace
            .ip(&["addr", "add", KERNEL_CIDR, "dev", &tap])
            .and_then(|()| namespace.ip(&["link", "set", &tap, "up"]))
            .expect("configure the kernel side of the TAP device");
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
            .expect("enter the namespace")
            .unwrap_or_else(|error| panic!("{}: connect to {address}: {error}", self.name()))
    }
    fn command(&self, program: &str) -> Command {
        self.namespace.command(program)
    }
}
