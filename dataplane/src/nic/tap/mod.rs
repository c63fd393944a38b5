//! The `tap` backend: a Linux TAP device with `IFF_MULTI_QUEUE`, one
//! non-blocking fd per queue, to talk to real Linux peers (the kernel's
//! TCP, curl, memcached clients) in a network namespace.
//!
//! # Use
//!
//! ```text
//! // in the namespace where the Linux peer owns the other side of NAME:
//! let mut nic = TapNic::open("zy0", cores)?;   // creates zy0 if absent
//! let queues = nic.take_queues();
//! // peer side: ip addr add 10.0.0.1/24 dev zy0; ip link set zy0 up
//! ```
//!
//! What the kernel does (seen on this machine, see DESIGN.md): `TUNSETIFF`
//! names the device in the caller's network namespace, creating it if
//! absent; the multi-queue flag must match an existing device, else
//! `EINVAL`; a non-persistent device vanishes with its last fd. The kernel
//! steers a flow's frames to the queue the program last transmitted that
//! flow on, so each connection should be sent on its home core's queue;
//! until then frames spread over queues, so every queue must be polled.
//! The device must be up (`ip link set NAME up`) for transmits to pass;
//! while it is down they are dropped and counted.

mod queue;
mod sys;

pub use queue::TapQueue;

use std::io;

use super::spec::{MAX_TAP_NAME_LEN, validate_name};
use super::{Capabilities, ChecksumDuty, NicSpecError};

/// Most queues of one TAP device (the kernel's `MAX_TAP_QUEUES`).
pub const MAX_TAP_QUEUES: usize = 256;

/// Why a TAP device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The device name is not usable.
    #[error(transparent)]
    BadName(#[from] NicSpecError),
    /// A queue count of zero or above the kernel's limit.
    #[error("a TAP device needs 1..={MAX_TAP_QUEUES} queues, {0} requested")]
    BadQueueCount(usize),
    /// `/dev/net/tun` is missing or not accessible.
    #[error("cannot open /dev/net/tun: {0} (is the tun module loaded, are we allowed to use it?)")]
    CloneDevice(#[source] io::Error),
    /// Not allowed to create or attach to the device.
    #[error("not permitted to open TAP device {name}: CAP_NET_ADMIN is needed to create it")]
    NotPermitted {
        /// The device.
        name: String,
    },
    /// The name belongs to a device that is not a multi-queue TAP.
    #[error(
        "{name} exists but is not a multi-queue TAP device (delete it, or create it with `ip tuntap add mode tap multi_queue name {name}`)"
    )]
    NotMultiQueueTap {
        /// The device.
        name: String,
    },
    /// Another failure of `TUNSETIFF` on queue `queue`.
    #[error("opening queue {queue} of TAP device {name}: {source}")]
    Queue {
        /// The device.
        name: String,
        /// The queue that failed.
        queue: usize,
        /// The OS error.
        source: io::Error,
    },
}

/// An opened multi-queue TAP device.
pub struct TapNic {
    name: String,
    queues: Vec<TapQueue>,
}

impl TapNic {
    /// Opens (creating if absent) TAP device `name` in the calling thread's
    /// network namespace with `queues` queues.
    pub fn open(name: &str, queues: usize) -> Result<Self, TapError> {
        validate_name("tap", name, MAX_TAP_NAME_LEN)?;
        if queues == 0 || queues > MAX_TAP_QUEUES {
            return Err(TapError::BadQueueCount(queues));
        }
        let queues = (0..queues)
            .map(|queue| {
                sys::open_queue(name)
                    .map(|fd| TapQueue::new(fd, queue))
                    .map_err(|source| open_error(name, queue, source))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: name.to_owned(),
            queues,
        })
    }

    /// What a TAP device offers: standard 1514-byte frames; the kernel
    /// neither computes nor needs our checksums verified (no offloads are
    /// negotiated, so it sends complete checksums and checks ours).
    pub fn capabilities() -> Capabilities {
        Capabilities {
            max_frame_len: 1514,
            ipv4_checksum: ChecksumDuty::TxOnly,
            tcp_checksum: ChecksumDuty::TxOnly,
            udp_checksum: ChecksumDuty::TxOnly,
            icmp_checksum: ChecksumDuty::TxOnly,
            programmable_steering: false,
        }
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands out the queue handles (all of them on the first call, none
    /// after). The device lives while any of them is open.
    pub fn take_queues(&mut self) -> Vec<TapQueue> {
        std::mem::take(&mut self.queues)
    }
}

fn open_error(name: &str, queue: usize, source: io::Error) -> TapError {
    let name = name.to_owned();
    match source.raw_os_error() {
        Some(libc::ENOENT | libc::ENODEV | libc::ENXIO) => TapError::CloneDevice(source),
        Some(libc::EPERM | libc::EACCES) => TapError::NotPermitted { name },
        Some(libc::EINVAL) => TapError::NotMultiQueueTap { name },
        _ => TapError::Queue {
            name,
            queue,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_fail_before_any_system_call() {
        assert!(matches!(
            TapNic::open("zy0", 0),
            Err(TapError::BadQueueCount(0))
        ));
        assert!(matches!(
            TapNic::open("zy0", MAX_TAP_QUEUES + 1),
            Err(TapError::BadQueueCount(257))
        ));
        assert!(matches!(
            TapNic::open("name-longer-than-15", 1),
            Err(TapError::BadName(NicSpecError::NameTooLong { .. }))
        ));
    }

    #[test]
    fn kernel_errors_are_explained() {
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert!(matches!(
            open_error("a", 0, einval),
            TapError::NotMultiQueueTap { .. }
        ));
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        assert!(matches!(
            open_error("a", 0, eperm),
            TapError::NotPermitted { .. }
        ));
        let ebusy = io::Error::from_raw_os_error(libc::EBUSY);
        assert!(matches!(
            open_error("a", 3, ebusy),
            TapError::Queue { queue: 3, .. }
        ));
    }
}
