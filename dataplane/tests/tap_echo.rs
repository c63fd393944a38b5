//! `zygos run echo` over TAP against the Linux kernel's TCP (root only): in
//! a fresh network namespace, a 2-core dataplane on a multi-queue TAP
//! device serves Linux clients (std's TcpStream) on many connections. The
//! kernel spreads frames over both queues; frames of a flow homed on the
//! other core are re-steered in software, so every connection gets its
//! bytes back exactly, in order.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::apps::Echo;
use dataplane::nic::NicSpec;
use dataplane::run::{Dataplane, DataplaneArgs};

const KERNEL_CIDR: &str = "10.201.0.1/24";
const DATAPLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
const PORT: u16 = 7;
const CONNECTIONS: usize = 16;
const MESSAGES: usize = 50;

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces and TAP devices need CAP_NET_ADMIN)");
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing");
    }
    None
}

/// A network namespace, deleted on drop (also when the test fails).
struct Namespace(String);

impl Namespace {
    fn new() -> Namespace {
        let namespace = Namespace(format!("zy-rt-{}", std::process::id()));
        namespace.ip(&["netns", "add", &namespace.0]);
        namespace
    }

    /// Runs `ip ARGS` (in the caller's namespace) and requires success.
    fn ip(&self, args: &[&str]) {
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

    /// Runs `ip ARGS` inside the namespace.
    fn ip_inside(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.0, "ip"];
        all.extend_from_slice(args);
        self.ip(&all);
    }

    /// Runs `work` on a thread that entered the namespace.
    fn thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = File::open(&path).expect("namespace file");
            // SAFETY: setns with a namespace fd that outlives the call only
            // moves this thread into that network namespace.
            let status = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(status, 0, "setns: {}", std::io::Error::last_os_error());
            work()
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// One connection: pipelines every message, then reads the echo back.
fn echo_round_trip(conn: usize) -> Result<(), String> {
    let address = SocketAddr::from((DATAPLANE_IP, PORT));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connect {conn}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let sent: Vec<u8> = (0..MESSAGES)
        .flat_map(|seq| format!("conn {conn} message {seq};").into_bytes())
        .collect();
    stream
        .write_all(&sent)
        .map_err(|e| format!("write {conn}: {e}"))?;
    let mut echoed = vec![0; sent.len()];
    stream
        .read_exact(&mut echoed)
        .map_err(|e| format!("read {conn}: {e}"))?;
    if echoed != sent {
        return Err(format!("connection {conn}: echo differs"));
    }
    Ok(())
}

#[test]
fn linux_clients_get_their_bytes_echoed_by_two_cores_over_tap() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let namespace = Namespace::new();
    let tap = format!("zyrt{}", std::process::id() % 100_000);
    let args = DataplaneArgs {
        cores: 2,
        ..DataplaneArgs::new(NicSpec::Tap(tap.clone()), DATAPLANE_IP, PORT)
    };
    let dataplane = namespace
        .thread(move || Dataplane::start(&args, Echo))
        .join()
        .expect("start thread")
        .expect("dataplane start");
    namespace.ip_inside(&["addr", "add", KERNEL_CIDR, "dev", &tap]);
    namespace.ip_inside(&["link", "set", &tap, "up"]);
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|conn| namespace.thread(move || echo_round_trip(conn)))
        .collect();
    let outcomes: Vec<Result<(), String>> = clients
        .into_iter()
        .map(|client| {
            client
                .join()
                .unwrap_or_else(|_| Err("client panicked".into()))
        })
        .collect();
    let report = dataplane.stop().expect("dataplane stop");
    for outcome in outcomes {
        outcome.unwrap_or_else(|error| panic!("{error} (counters: {})", report.total()));
    }
    let total = report.total();
    assert!(total.events >= 2 * CONNECTIONS as u64, "{total}");
    assert_eq!(total.dropped_calls, 0);
}
