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
//! namespace, which takes its end of the veth pair (and so the pair) with
//! it.

use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;

use nix::sched::{CloneFlags, setns};

/// Why the topology could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// `ip` (iproute2) could not be run.
    #[error("running {command}: {source} (install iproute2)")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command failed.
    #[error("{command}: {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Entering the namespace failed.
    #[error("entering network namespace {name}: {source}")]
    Enter {
        /// The namespace.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The thread running inside the namespace panicked.
    #[error("the thread inside the namespace panicked")]
    Panicked,
}

/// A namespace and its veth link to the root namespace.
#[derive(Debug)]
pub struct Topology {
    netns: String,
    subnet: u8,
}

fn run(program: &str, args: &[&str]) -> Result<(), TopologyError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| TopologyError::Spawn {
            command: command.clone(),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(TopologyError::Failed {
        command,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

impl Topology {
    /// Creates the namespace, the veth pair and the routes.
    pub fn create() -> Result<Topology, TopologyError> {
        let pid = std::process::id();
        let topology = Topology {
            netns: format!("zy-siloben-{pid}"),
            subnet: 200 + (pid % 50) as u8,
        };
        run("ip", &["netns", "add", &topology.netns])?;
        // From here on, dropping `topology` cleans up.
        let (host, inner) = (topology.host_veth(), format!("zsbn{}", pid % 100_000));
        let host_addr = format!("{}/24", topology.client_ip());
        let inner_addr = format!("{}/24", topology.veth_server_ip());
        let dataplane_net = format!("10.{}.0.0/24", topology.subnet);
        let via = topology.veth_server_ip().to_string();
        run(
            "ip",
            &[
                "link",
                "add",
                &host,
                "type",
                "veth",
                "peer",
                "name",
                &inner,
                "netns",
                &topology.netns,
            ],
        )?;
        run("ip", &["addr", "add", &host_addr, "dev", &host])?;
        run("ip", &["link", "set", &host, "up"])?;
        topology.ip(&["addr", "add", &inner_addr, "dev", &inner])?;
        topology.ip(&["link", "set", &inner, "up"])?;
        topology.ip(&["link", "set", "lo", "up"])?;
        run("ip", &["route", "add", &dataplane_net, "via", &via])?;
        topology.sysctl("net/ipv4/ip_forward")?;
        Ok(topology)
    }

    fn host_veth(&self) -> String {
        format!("zsbh{}", std::process::id() % 100_000)
    }

    /// Runs `ip ARGS` inside the namespace.
    fn ip(&self, args: &[&str]) -> Result<(), TopologyError> {
        let mut all = vec!["-n", self.netns.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Sets the namespace's sysctl `key` (a path under /proc/sys) to 1.
    fn sysctl(&self, key: &str) -> Result<(), TopologyError> {
        let script = format!("echo 1 > /proc/sys/{key}");
        run("ip", &["netns", "exec", &self.netns, "sh", "-c", &script])
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
        let enter_error = |source| TopologyError::Enter {
            name: self.netns.clone(),
            source,
        };
        let netns = File::open(format!("/var/run/netns/{}", self.netns)).map_err(enter_error)?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(&netns, CloneFlags::CLONE_NEWNET)
                        .map_err(|errno| enter_error(errno.into()))?;
                    Ok(body())
                })
                .join()
                .unwrap_or(Err(TopologyError::Panicked))
        })
    }

    /// Gives the TAP device `tap` (created in the namespace by a
    /// dataplane) the namespace's side of the dataplane's subnet, brings
    /// it up and answers ARP for the client on it.
    pub fn attach_tap(&self, tap: &str) -> Result<(), TopologyError> {
        let gateway = format!("10.{}.0.1/24", self.subnet);
        self.ip(&["addr", "add", &gateway, "dev", tap])?;
        self.ip(&["link", "set", tap, "up"])?;
        self.sysctl(&format!("net/ipv4/conf/{tap}/proxy_arp"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Best effort: a failure leaves a namespace behind, not a wrong
        // result. Deleting the namespace deletes the veth pair.
        let _ = run("ip", &["netns", "del", &self.netns]);
        let _ = run("ip", &["link", "del", &self.host_veth()]);
    }
}
