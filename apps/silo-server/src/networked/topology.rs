//! The network the networked benchmark runs over: a fresh network
//! namespace holding the server under test, reached from the root
//! namespace (where the load generator runs) over a veth pair, so every
//! server sees the client through the same kernel path.
//!
//! ```text
//! root ns                    bench ns
//! client 10.A.1.1 ── veth ── 10.A.1.2  Linux-socket server listens here
//!                                │ (forwarding)
//!                            10.A.0.1 ── TAP ── dataplane 10.A.0.2/16
//! ```
//!
//! The dataplane has no gateway: it is given a /16 so the client's
//! address looks on-link, and the namespace answers its ARP requests for
//! it on the TAP side (proxy ARP). `A` comes from the process id, so
//! concurrent runs do not collide. Dropping the [`Topology`] deletes the
//! namespace ([`dataplane::netns`]), which takes its end of the veth pair
//! (and so the pair) with it.

use std::net::Ipv4Addr;

use dataplane::netns::{NetNamespace, ip, run};

pub use dataplane::netns::NetnsError as TopologyError;

/// A namespace and its veth link to the root namespace.
#[derive(Debug)]
pub struct Topology {
    namespace: NetNamespace,
    subnet: u8,
}

impl Topology {
    /// Creates the namespace, the veth pair and the routes.
    pub fn create() -> Result<Topology, TopologyError> {
        let pid = std::process::id();
        let topology = Topology {
            namespace: NetNamespace::create("siloben")?,
            subnet: 200 + (pid % 50) as u8,
        };
        // From here on, dropping `topology` cleans up.
        let (host, inner) = (topology.host_veth(), format!("zsbn{}", pid % 100_000));
        let host_addr = format!("{}/24", topology.client_ip());
        let inner_addr = format!("{}/24", topology.veth_server_ip());
        let dataplane_net = format!("10.{}.0.0/24", topology.subnet);
        let via = topology.veth_server_ip().to_string();
        let namespace = topology.namespace.name();
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", &inner, "netns", namespace,
        ])?;
        ip(&["addr", "add", &host_addr, "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        topology
            .namespace
            .ip(&["addr", "add", &inner_addr, "dev", &inner])?;
        topology.namespace.ip(&["link", "set", &inner, "up"])?;
        ip(&["route", "add", &dataplane_net, "via", &via])?;
        topology.sysctl("net/ipv4/ip_forward")?;
        Ok(topology)
    }

    fn host_veth(&self) -> String {
        format!("zsbh{}", std::process::id() % 100_000)
    }

    /// Sets the namespace's sysctl `key` (a path under /proc/sys) to 1.
    fn sysctl(&self, key: &str) -> Result<(), TopologyError> {
        let script = format!("echo 1 > /proc/sys/{key}");
        run(self.namespace.command("sh").args(["-c", &script])).map(drop)
    }

    /// The load generator's address (root namespace).
    pub fn client_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 1, 1)
    }

    /// The namespace's veth address, where a Linux-socket server listens.
    pub fn veth_server_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 1, 2)
    }

    /// The dataplane's address behind the TAP device.
    pub fn dataplane_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 2)
    }

    /// The dataplane's prefix length (wide enough for the client to look
    /// on-link; see the module docs).
    pub fn dataplane_netmask_len(&self) -> u8 {
        16
    }

    /// Runs `body` on a thread inside the namespace and returns its
    /// result. Threads and sockets it creates stay in the namespace.
    pub fn inside<T: Send>(&self, body: impl FnOnce() -> T + Send) -> Result<T, TopologyError> {
        self.namespace.within(body)
    }

    /// Gives the TAP device `tap` (created in the namespace by a
    /// dataplane) the namespace's side of the dataplane's subnet, brings
    /// it up and answers ARP for the client on it.
    pub fn attach_tap(&self, tap: &str) -> Result<(), TopologyError> {
        let gateway = format!("10.{}.0.1/24", self.subnet);
        self.namespace.ip(&["addr", "add", &gateway, "dev", tap])?;
        self.namespace.ip(&["link", "set", tap, "up"])?;
        self.sysctl(&format!("net/ipv4/conf/{tap}/proxy_arp"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Best effort: the namespace (deleted after this) takes the veth
        // pair with it; a failure leaves a link behind, not a wrong result.
        let _ = ip(&["link", "del", &self.host_veth()]);
    }
}
