//! The servers under test: the real memcached (started on a free loopback
//! port, skipped with a reason when the binary is absent), ours served
//! by a small test-only adapter (one thread per connection over a std
//! TcpListener, feeding each connection's bytes to a [`Session`]), and ours
//! as a dataplane application (on the shm NIC through a bridge, and on TAP
//! in a network namespace).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dataplane::nic::NicSpec;
use dataplane::run::DataplaneArgs;
use memcached::args::MemcachedArgs;
use memcached::protocol::Flow;
use memcached::server::{Admission, Server, ServerConfig};
use memcached::store::StoreConfig;

use crate::transport::Transport;

/// The port the dataplane servers listen on.
pub const PORT: u16 = 11211;

/// Server settings a case needs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// `-m` in megabytes.
    pub memory_mb: usize,
    /// `-c`.
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory_mb: 64,
            max_connections: 1024,
        }
    }
}

/// Which server a case runs against.
#[derive(Clone, Copy, Debug)]
pub enum ServerKind {
    /// The Debian memcached binary.
    Real,
    /// This crate, over the loopback adapter.
    Ours,
    /// This crate as a dataplane application on the shm NIC.
    OursOnDataplane,
    /// This crate as a 2-core dataplane application on a TAP device in a
    /// network namespace, with Linux TCP clients (root only).
    OursOverTap,
}

/// Starts a server, or `None` (with the reason printed) when it cannot.
pub fn start(kind: ServerKind, options: Options) -> Option<Box<dyn Transport>> {
    match kind {
        ServerKind::Real => {
            RealMemcached::start(options).map(|s| Box::new(s) as Box<dyn Transport>)
        }
        ServerKind::Ours => Some(Box::new(OursOverTcp::start(options))),
        ServerKind::OursOnDataplane => Some(Box::new(
            crate::dataplane_bridge::OursOverDataplane::start(options),
        )),
        ServerKind::OursOverTap => crate::tap_namespace::OursOverTap::start(options)
            .map(|s| Box::new(s) as Box<dyn Transport>),
    }
}

/// `zygos run memcached` arguments for a dataplane serving `options` on
/// `cores` cores of `nic` at `ip`, port [`PORT`].
pub fn dataplane_args(options: Options, cores: usize, nic: NicSpec, ip: Ipv4Addr) -> MemcachedArgs {
    MemcachedArgs {
        memory_mb: options.memory_mb,
        max_connections: options.max_connections,
        item_size_max: 1 << 20,
        dataplane: DataplaneArgs {
            cores,
            ..DataplaneArgs::new(nic, ip, PORT)
        },
    }
}

/// The current unix time, as our server takes it.
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as u32
}

/// A real memcached process, killed on drop.
pub struct RealMemcached {
    child: Child,
    address: SocketAddr,
}

/// Whether the tests run as root.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RealMemcached {
    fn start(options: Options) -> Option<Self> {
        let binary = ["/usr/bin/memcached", "/usr/local/bin/memcached"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            println!("skipped: memcached binary not found (Debian package memcached)");
            return None;
        };
        let port = free_port();
        let mut command = Command::new(binary);
        if running_as_root() {
            command.args(["-u", "root"]);
        }
        command
            .args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"])
            .args([
                "-m",
                &options.memory_mb.to_string(),
                "-c",
                &options.max_connections.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("start memcached");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "memcached did not start listening on {address}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(RealMemcached { child, address })
    }
}

impl Drop for RealMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Transport for RealMemcached {
    fn name(&self) -> &'static str {
        "real memcached"
    }
    fn address(&self) -> SocketAddr {
        self.address
    }
}

/// Our server behind a loopback TCP listener.
pub struct OursOverTcp {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl OursOverTcp {
    fn start(options: Options) -> Self {
        let config = ServerConfig {
            store: StoreConfig {
                memory_limit: options.memory_mb << 20,
                ..StoreConfig::default()
            },
            max_connections: options.max_connections,
            port: 0,
            threads: 1,
        };
        let server = Server::new(config, unix_now());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let server = Arc::clone(&server);
                std::thread::spawn(move || serve(&server, stream));
            }
        });
        OursOverTcp { address, stop }
    }
}

fn serve(server: &Arc<Server>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut session = match server.connect() {
        Admission::Accepted(session) => session,
        Admission::Refused(message) => {
            let _ = stream.write_all(message);
            return;
        }
    };
    let mut buffer = vec![0u8; 64 << 10];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        out.clear();
        let flow = session.receive(&buffer[..n], unix_now(), &mut out);
        if stream.write_all(&out).is_err() || flow == Flow::Close {
            return;
        }
    }
}

impl Drop for OursOverTcp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.address);
    }
}

impl Transport for OursOverTcp {
    fn name(&self) -> &'static str {
        "ours over loopback TCP"
    }
    fn address(&self) -> SocketAddr {
        self.address
    }
}
