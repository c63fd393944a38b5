//! The network paths of the benchmark, built with `ip` (iproute2): each
//! server runs in a network namespace of its own, reached from the root
//! namespace (where the load generator runs) over a veth pair, so every
//! request crosses the kernel's TCP/IP stack on the client side and a
//! veth hop on the way to either server.
//!
//! ```text
//! real:  client ── vethR 10.231.2.1 ═══ 10.231.2.2 vethN ── memcached (kernel TCP)
//! ours:  client ── vethR 10.231.0.1 ═══ 10.231.0.2 vethN ─(forward)─ TAP 10.231.1.1 ── dataplane 10.231.1.2
//! ```
//!
//! Ours sits behind one more kernel hop: the namespace forwards between
//! the veth and the dataplane's multi-queue TAP device. The dataplane has
//! no gateway, so it is given a /16 (the client looks on-link) and the
//! namespace answers its ARP for the client by proxy ARP on the TAP.
//! Everything is named after the pid and deleted on drop.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use dataplane::netns::NetNamespace;
pub use dataplane::netns::NetnsError;

/// Runs `program args...` and requires success.
pub fn run(program: &str, args: &[&str]) -> Result<(), NetnsError> {
    dataplane::netns::run(Command::new(program).args(args)).map(drop)
}

/// Address of the root namespace's end of path `subnet`.
pub fn client_ip(subnet: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 231, subnet, 1)
}

/// The address the real memcached listens on.
pub const REAL_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 2, 2);
/// The dataplane's address.
pub const OURS_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 1, 2);
/// The dataplane's prefix length: covers the client's veth subnet.
pub const OURS_PREFIX: u8 = 16;

/// A network namespace reached from the root one over a veth pair;
/// deleting the namespace on drop deletes the pair and anything inside.
#[derive(Debug)]
pub struct ServerNamespace {
    namespace: NetNamespace,
    /// Prefix of its devices' names (at most 12 bytes).
    devices: String,
}

impl ServerNamespace {
    /// Creates namespace `zy-<tag><instance>-<pid>` and a veth pair on
    /// subnet 10.231.`subnet`.0/24 (.1 in the root namespace, .2 inside).
    /// Names never repeat within a process: the kernel deletes a
    /// namespace's devices asynchronously, after `ip netns del` returns.
    pub fn create(tag: &str, subnet: u8) -> Result<ServerNamespace, NetnsError> {
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed) % 100;
        let pid = std::process::id();
        let namespace = ServerNamespace {
            namespace: NetNamespace::create(&format!("{tag}{instance}"))?,
            devices: format!("zmb{}{tag}{instance}", pid % 100_000),
        };
        let outside = namespace.device_name("");
        let inside = namespace.device_name("n");
        run(
            "ip",
            &[
                "link",
                "add",
                &outside,
                "type",
                "veth",
                "peer",
                "name",
                &inside,
                "netns",
                namespace.name(),
            ],
        )?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", client_ip(subnet)),
                "dev",
                &outside,
            ],
        )?;
        run("ip", &["link", "set", &outside, "up"])?;
        namespace.ip(&[
            "addr",
            "add",
            &format!("10.231.{subnet}.2/24"),
            "dev",
            &inside,
        ])?;
        namespace.ip(&["link", "set", &inside, "up"])?;
        Ok(namespace)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        self.namespace.name()
    }

    /// A device name unique to this namespace, ending in `suffix` (at
    /// most 3 bytes: interface names have at most 15).
    pub fn device_name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.devices)
    }

    /// `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<(), NetnsError> {
        self.namespace.ip(args)
    }

    /// Sets sysctl `key` to `value` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), NetnsError> {
        let setting = format!("{key}={value}");
        dataplane::netns::run(self.namespace.command("sysctl").args(["-qw", &setting])).map(drop)
    }

    /// A command running `program` inside the namespace on CPUs `cpus`
    /// (a taskset list such as `0` or `0-1`) at niceness `nice`.
    pub fn command(&self, cpus: &str, nice: i32, program: &str) -> Command {
        let mut command = self.namespace.command("taskset");
        command.args(["-c", cpus, "nice", "-n", &nice.to_string(), program]);
        command
    }

    /// Routes the dataplane's subnet from the root namespace through this
    /// namespace (veth subnet `subnet`) to TAP device `tap` (which must
    /// exist), forwarding and answering ARP for the client on the TAP.
    pub fn route_to_tap(&self, subnet: u8, tap: &str) -> Result<(), NetnsError> {
        self.ip(&["addr", "add", "10.231.1.1/24", "dev", tap])?;
        self.ip(&["link", "set", tap, "up"])?;
        self.sysctl("net.ipv4.ip_forward", "1")?;
        self.sysctl(&format!("net.ipv4.conf.{tap}.proxy_arp"), "1")?;
        let gateway = format!("10.231.{subnet}.2");
        run(
            "ip",
            &["route", "replace", "10.231.1.0/24", "via", &gateway],
        )
    }

    /// Whether network device `device` exists in the namespace.
    pub fn has_device(&self, device: &str) -> bool {
        self.ip(&["link", "show", device]).is_ok()
    }
}
