//! The servers under test, each started inside the benchmark's network
//! namespace ([`super::topology`]) on a freshly loaded database: ours as a
//! dataplane (`zygos` or `partitioned` scheduling) on a multi-queue TAP
//! device, and the Linux-socket server of [`crate::linux`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bench::linux::ServerError;
use dataplane::counters::CounterSnapshot;
use dataplane::nic::NicSpec;
use dataplane::run::{Dataplane, DataplaneArgs, RunError};
use dataplane::sched::SchedMode;

use super::sweep::SweepPlan;
use super::topology::{Topology, TopologyError};
use crate::app::SiloApp;
use crate::linux::{LinuxScheduler, LinuxSiloConfig, LinuxSiloServer};
use crate::tpcc::Tpcc;

/// The TCP port every server listens on.
const PORT: u16 = 7070;

/// A server configuration under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Ours: the dataplane with this scheduler.
    Dataplane(SchedMode),
    /// The Linux-socket server with this layout.
    Linux(LinuxScheduler),
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKind::Dataplane(mode) => write!(f, "{mode}"),
            ServerKind::Linux(scheduler) => write!(f, "{scheduler}"),
        }
    }
}

/// Why a server did not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerStartError {
    /// The namespace could not be used.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// The dataplane failed.
    #[error("dataplane: {0}")]
    Dataplane(#[from] RunError),
    /// The Linux-socket server failed.
    #[error("linux server: {0}")]
    Linux(#[from] ServerError),
}

enum Handle {
    Dataplane(Dataplane),
    Linux(LinuxSiloServer),
}

/// A running server.
pub struct RunningServer {
    handle: Handle,
    addr: SocketAddr,
}

/// A TAP device name unique to this process and call (at most 15 bytes).
fn unique_tap_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "zsbt{}x{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed) % 100
    )
}

impl RunningServer {
    /// Starts `kind` on the plan's cores (dataplanes idling as it says)
    /// inside `topology`, serving `tpcc`.
    pub fn start(
        kind: ServerKind,
        plan: &SweepPlan,
        topology: &Topology,
        tpcc: Arc<Tpcc>,
    ) -> Result<RunningServer, ServerStartError> {
        let app = SiloApp::new(tpcc);
        match kind {
            ServerKind::Dataplane(sched) => {
                let tap = unique_tap_name();
                let mut args =
                    DataplaneArgs::new(NicSpec::Tap(tap.clone()), topology.dataplane_ip(), PORT);
                args.cores = plan.cores;
                args.sched = sched;
                args.park_after_us = plan.park_after_us;
                args.netmask_len = topology.dataplane_netmask_len();
                let dataplane = topology.inside(|| Dataplane::start(&args, app))??;
                let server = RunningServer {
                    handle: Handle::Dataplane(dataplane),
                    addr: SocketAddr::from((topology.dataplane_ip(), PORT)),
                };
                if let Err(error) = topology.attach_tap(&tap) {
                    // The attach error is the one worth reporting.
                    let _ = server.stop();
                    return Err(error.into());
                }
                Ok(server)
            }
            ServerKind::Linux(scheduler) => {
                let config = LinuxSiloConfig {
                    addr: SocketAddr::from((topology.veth_server_ip(), PORT)),
                    threads: plan.cores,
                    scheduler,
                    pin: true,
                };
                let server = topology.inside(|| LinuxSiloServer::start(config, app))??;
                Ok(RunningServer {
                    addr: server.local_addr(),
                    handle: Handle::Linux(server),
                })
            }
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server; returns the dataplane's counters summed over its
    /// cores (none for a Linux server).
    pub fn stop(self) -> Result<Option<CounterSnapshot>, ServerStartError> {
        match self.handle {
            Handle::Dataplane(dataplane) => Ok(Some(dataplane.stop()?.total())),
            Handle::Linux(server) => {
                server.stop()?;
                Ok(None)
            }
        }
    }
}
