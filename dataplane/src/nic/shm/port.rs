//! Claiming and releasing a switch port.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::classify::{mac_from_u64, mac_to_u64};
use super::layout::{Mapping, PORT_ACTIVE, PORT_CLAIMED, PORT_FREE};
use super::{ShmError, ring, steering};

/// The identity of the endpoint attaching to a switch port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// Unicast MAC address of the endpoint (unique on the switch).
    pub mac: [u8; 6],
    /// IPv4 address of the endpoint (informational: switching is by MAC;
    /// peers read it from [`PortInfo`] to learn each other).
    pub ipv4: Ipv4Addr,
    /// Number of queues (one per core), at most the region's `max_queues`.
    pub queues: usize,
}

/// An attached port as listed by [`ShmNic::ports`](super::ShmNic::ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortInfo {
    /// Index of the port on the switch.
    pub index: usize,
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ipv4: Ipv4Addr,
    /// Number of queues.
    pub queues: usize,
    /// Process that attached it.
    pub pid: u32,
}

/// Ownership of one port: the port is marked free again when the last
/// holder (the device and its queues) is dropped.
pub(super) struct PortLease {
    pub mapping: Arc<Mapping>,
    pub index: usize,
}

impl PortLease {
    /// Claims a free port for `config`.
    pub fn claim(mapping: Arc<Mapping>, config: &PortConfig) -> Result<Self, ShmError> {
        let max_queues = mapping.layout.geometry.max_queues;
        if config.queues == 0 || config.queues > max_queues {
            return Err(ShmError::BadQueueCount {
                requested: config.queues,
                max: max_queues,
            });
        }
        let mac = mac_to_u64(config.mac);
        if config.mac[0] & 1 == 1 {
            return Err(ShmError::GroupMac(config.mac));
        }
        if active_ports(&mapping).any(|info| info.mac == config.mac) {
            return Err(ShmError::MacInUse(config.mac));
        }
        let index = mapping
            .ports()
            .find(|(_, block)| {
                block
                    .state
                    .compare_exchange(
                        PORT_FREE,
                        PORT_CLAIMED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            })
            .map(|(index, _)| index)
            .ok_or(ShmError::NoFreePort {
                max_ports: mapping.layout.geometry.max_ports,
            })?;
        let block = mapping.port(index);
        block.mac.store(mac, Ordering::Relaxed);
        block.ipv4.store(config.ipv4.to_bits(), Ordering::Relaxed);
        block.owner_pid.store(std::process::id(), Ordering::Relaxed);
        block.queues.store(config.queues as u32, Ordering::Relaxed);
        steering::reset(block, config.queues);
        for sleeper in &block.sleepers {
            sleeper.store(0, Ordering::Relaxed);
        }
        block.state.store(PORT_ACTIVE, Ordering::Release);
        mapping.header().generation.fetch_add(1, Ordering::Release);
        Ok(Self { mapping, index })
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let block = self.mapping.port(self.index);
        block.state.store(PORT_FREE, Ordering::Release);
        self.mapping
            .header()
            .generation
            .fetch_add(1, Ordering::Release);
        // Hand back to their senders the buffers of frames nobody will read.
        let layout = self.mapping.layout;
        let queues = block.queues.load(Ordering::Relaxed) as usize;
        for (src_port, src) in self.mapping.ports() {
            let src_queues = src.queues.load(Ordering::Acquire) as usize;
            for src_queue in 0..src_queues.min(layout.geometry.max_queues) {
                for queue in 0..queues {
                    let index = layout.ring_index(src_port, src_queue, self.index, queue);
                    ring::discard_unread(self.mapping.ring(index).0);
                }
            }
        }
    }
}

/// The ports currently attached.
pub(super) fn active_ports(mapping: &Mapping) -> impl Iterator<Item = PortInfo> + '_ {
    mapping
        .ports()
        .filter(|(_, block)| block.state.load(Ordering::Acquire) == PORT_ACTIVE)
        .map(|(index, block)| PortInfo {
            index,
            mac: mac_from_u64(block.mac.load(Ordering::Relaxed)),
            ipv4: block.ipv4.load(Ordering::Relaxed).into(),
            queues: block.queues.load(Ordering::Relaxed) as usize,
            pid: block.owner_pid.load(Ordering::Relaxed),
        })
}
