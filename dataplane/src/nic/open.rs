//! Opening the device named by `--nic` with one queue per core.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::shm::{PortConfig, ShmError, ShmGeometry, ShmNic};
use super::tap::{TapError, TapNic};
use super::{Capabilities, FlowSteering, NicQueue, NicSpec};

/// What the dataplane asks of its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicOptions {
    /// Queues to open: one per dataplane core.
    pub queues: usize,
    /// The dataplane's MAC address (its shm switch port; on TAP, the
    /// address the netstack uses on the wire).
    pub mac: [u8; 6],
    /// The dataplane's IPv4 address (published on its shm port).
    pub ipv4: Ipv4Addr,
    /// Geometry of a shm region created by [`open`].
    pub shm_geometry: ShmGeometry,
}

impl Default for NicOptions {
    fn default() -> Self {
        Self {
            queues: 1,
            mac: [0x02, 0x00, 0x5a, 0x79, 0x67, 0x01],
            ipv4: Ipv4Addr::new(10, 0, 0, 2),
            shm_geometry: ShmGeometry::default(),
        }
    }
}

/// Why [`open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The shm backend refused.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// The TAP backend refused.
    #[error(transparent)]
    Tap(#[from] TapError),
}

/// An opened device: its queues (hand one to each core) and controls.
pub struct NicDevice {
    /// The device as given on the command line.
    pub spec: NicSpec,
    /// What it offers.
    pub capabilities: Capabilities,
    /// One queue per core, in core order.
    pub queues: Vec<Box<dyn NicQueue>>,
    /// Run-time steering of the dataplane's receive queues, where the
    /// device has it (shm; not TAP).
    pub steering: Option<Arc<dyn FlowSteering>>,
}

/// Opens `spec` for the dataplane: `shm:NAME` creates region NAME and takes
/// its first port; `tap:NAME` opens (creating if absent) TAP device NAME in
/// the current network namespace.
pub fn open(spec: &NicSpec, options: &NicOptions) -> Result<NicDevice, OpenError> {
    match spec {
        NicSpec::Shm(name) => {
            let port = PortConfig {
                mac: options.mac,
                ipv4: options.ipv4,
                queues: options.queues,
            };
            let mut nic = ShmNic::create(name, options.shm_geometry, port)?;
            let steering: Arc<dyn FlowSteering> = Arc::new(nic.steering());
            Ok(NicDevice {
                spec: spec.clone(),
                capabilities: ShmNic::capabilities(),
                queues: boxed(nic.take_queues()),
                steering: Some(steering),
            })
        }
        NicSpec::Tap(name) => {
            let mut nic = TapNic::open(name, options.queues)?;
            Ok(NicDevice {
                spec: spec.clone(),
                capabilities: TapNic::capabilities(),
                queues: boxed(nic.take_queues()),
                steering: None,
            })
        }
    }
}

fn boxed<Q: NicQueue + 'static>(queues: Vec<Q>) -> Vec<Box<dyn NicQueue>> {
    queues
        .into_iter()
        .map(|queue| Box::new(queue) as Box<dyn NicQueue>)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_shm_device_with_one_queue_per_core() {
        let spec: NicSpec = format!("shm:open-test-{}", std::process::id())
            .parse()
            .unwrap();
        let options = NicOptions {
            queues: 3,
            ..NicOptions::default()
        };
        let device = open(&spec, &options).unwrap();
        assert_eq!(device.queues.len(), 3);
        let indices: Vec<usize> = device.queues.iter().map(|q| q.queue_index()).collect();
        assert_eq!(indices, [0, 1, 2]);
        assert_eq!(device.steering.as_ref().unwrap().queue_count(), 3);
        assert!(device.capabilities.programmable_steering);
        // The name is taken while the device lives.
        assert!(matches!(
            open(&spec, &options),
            Err(OpenError::Shm(ShmError::Exists(_)))
        ));
    }

    #[test]
    fn tap_errors_surface_unchanged() {
        let spec = NicSpec::Tap("zy-open".into());
        let options = NicOptions {
            queues: 0,
            ..NicOptions::default()
        };
        assert!(matches!(
            open(&spec, &options),
            Err(OpenError::Tap(TapError::BadQueueCount(0)))
        ));
    }
}
