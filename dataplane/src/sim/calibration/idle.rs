//! One pass of the idle loop (`idle_poll_ns`): the real [`Core::step`] of
//! core 0 of an N-core dataplane with nothing to do, on real NIC queues
//! (a fresh shm switch, the netstack on each queue) and a wall clock: it
//! completes no batch, finds no IPI, receives an empty burst, polls its
//! stack, finds no ready connection, tries to steal from every other
//! core's shuffle queue and checks their remote-syscall and NIC queues.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netstack::{Stack, StackConfig};

use super::ProbeError;
use super::wire::unique_name;
use crate::apps::Synthetic;
use crate::netstack_transport::NetstackTransport;
use crate::nic::shm::{PortConfig, ShmGeometry, ShmNic};
use crate::process::InlineCore;
use crate::runtime::{Core, CoreConfig, build_cores};

const MAC: [u8; 6] = [2, 0, 0, 0, 0x8a, 1];
const IP: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 1);

/// An idle N-core dataplane whose core 0 the probe steps.
pub struct IdleProbe {
    // Owns the shm region and port of the cores' queues.
    _nic: ShmNic,
    cores: Vec<Core<NetstackTransport, Synthetic>>,
    platform: InlineCore,
}

impl IdleProbe {
    /// An idle dataplane of `cores` cores (at least 2, at most 64).
    pub fn new(cores: usize) -> Result<IdleProbe, ProbeError> {
        let cores = cores.clamp(2, 64);
        let geometry = ShmGeometry {
            max_ports: 2,
            max_queues: cores,
            buffers_per_queue: 64,
        };
        let port = PortConfig {
            mac: MAC,
            ipv4: IP,
            queues: cores,
        };
        let mut nic = ShmNic::create(&unique_name(), geometry, port)?;
        let transports = nic
            .take_queues()
            .into_iter()
            .map(|queue| {
                let stack = Stack::new(StackConfig {
                    mac: MAC,
                    ipv4: IP,
                    ..StackConfig::default()
                })
                .map_err(|e| ProbeError::Stack(e.to_string()))?;
                Ok(NetstackTransport::new(stack, Box::new(queue)))
            })
            .collect::<Result<Vec<_>, ProbeError>>()?;
        Ok(IdleProbe {
            _nic: nic,
            cores: build_cores(transports, Arc::new(Synthetic), CoreConfig::default()),
            platform: InlineCore::new(cores),
        })
    }

    /// Time of `n` steps of core 0; `None` if a step found work (the
    /// dataplane was not idle).
    pub fn measure(&mut self, n: u64) -> Option<Duration> {
        let core = self.cores.first_mut()?;
        let start = Instant::now();
        let mut worked = false;
        for _ in 0..n {
            worked |= core.step(&mut self.platform);
        }
        let elapsed = start.elapsed();
        (!worked).then_some(elapsed)
    }
}
