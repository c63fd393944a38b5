//! The `shm` backend: a shared-memory multi-queue NIC with a software
//! switch, for a dataplane and a load generator in two processes (or any
//! number of endpoints in one).
//!
//! # Use
//!
//! ```text
//! // dataplane (creates /dev/shm/zygos-nic-NAME, takes port 0):
//! let mut nic = ShmNic::create("bench0", ShmGeometry::default(),
//!     PortConfig { mac, ipv4, queues: cores })?;
//! let queues = nic.take_queues();            // one ShmQueue per core
//! // load generator (another process, same machine), by name or by an
//! // inherited descriptor of the region (`nic.region_file()`):
//! let mut peer = ShmNic::attach("bench0", PortConfig { mac: mac2, ipv4: ip2, queues: 2 })?;
//! let mut peer = ShmNic::attach_file(inherited_file, PortConfig { .. })?;
//! let server = peer.ports().into_iter().find(|p| p.ipv4 == server_ip);
//! // migration / CRAB, from any thread or process:
//! nic.steering().set_override(flow, new_queue)?;
//! ```
//!
//! # Design
//!
//! The region (layout in `layout`) holds a switch with up to `max_ports`
//! ports; each port is one endpoint with a MAC, an IPv4 address and up to
//! `max_queues` queues. Each sending queue owns a pool of frame buffers;
//! for every (sending queue, receiving queue) pair there is one
//! single-producer/single-consumer descriptor ring (`ring`). Switching
//! happens inside the sender's transmit, with no switch thread: the
//! destination port is found by destination MAC (group addresses reach
//! every other port), the RX queue by the destination port's steering
//! tables (`steering`: exact-match override, else RSS Toeplitz hash through
//! a 128-entry indirection table, else queue 0). Frames are never copied:
//! the receiver reads them in the sender's buffers and releases them by
//! advancing the ring's head. No lock and no syscall per packet.
//!
//! The creator unlinks the region file when its device and queues are all
//! dropped; attached processes keep their mapping until they detach.
//! Limits: a process that dies without detaching keeps its port (and the
//! buffers of frames sent to it) until the region is recreated.

mod classify;
mod layout;
mod port;
mod queue;
mod ring;
mod steering;

pub use layout::ShmGeometry;
pub use port::{PortConfig, PortInfo};
pub use queue::ShmQueue;
pub use steering::{MAX_OVERRIDES, ShmSteering};

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::layout::{MAX_FRAME_LEN, Mapping};
use self::port::{PortLease, active_ports};
use super::spec::{MAX_SHM_NAME_LEN, validate_name};
use super::{Capabilities, ChecksumDuty, NicSpecError};

/// Directory holding the region files (tmpfs).
const REGION_DIR: &str = "/dev/shm";
/// Prefix of region file names.
const REGION_PREFIX: &str = "zygos-nic-";

/// Why a shm NIC could not be created or attached.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// The region name is not usable.
    #[error(transparent)]
    BadName(#[from] NicSpecError),
    /// Creating a region whose file exists.
    #[error(
        "shm NIC region {0} already exists (another dataplane uses this name; if none does, remove the file)"
    )]
    Exists(PathBuf),
    /// Attaching to a region that does not exist.
    #[error("no shm NIC region at {0}: start the dataplane that creates it first")]
    NotFound(PathBuf),
    /// Another I/O error on the region file.
    #[error("shm NIC region {path}: {source}")]
    Io {
        /// The region file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The creator has not finished initialising the region.
    #[error("shm NIC region {0} is still being initialised; retry")]
    NotReady(PathBuf),
    /// The file is not a shm NIC region.
    #[error("{0} is not a zygos shm NIC region")]
    NotAZygosNic(PathBuf),
    /// The region was made by an incompatible build.
    #[error("shm NIC region layout version {found}, this build uses {expected}")]
    VersionMismatch {
        /// Version in the region.
        found: u32,
        /// Version of this build.
        expected: u32,
    },
    /// The file length does not match the geometry in its header.
    #[error("shm NIC region is {file_len} bytes, its header implies {expected}")]
    SizeMismatch {
        /// Length of the file.
        file_len: usize,
        /// Length implied by the header.
        expected: usize,
    },
    /// Geometry out of the supported ranges.
    #[error(
        "unsupported shm geometry {0:?}: 2..=64 ports, 1..=64 queues, a power of two 2..=65536 buffers"
    )]
    BadGeometry(ShmGeometry),
    /// A port asked for no queue or more than the region allows.
    #[error("a port needs 1..={max} queues, {requested} requested")]
    BadQueueCount {
        /// Requested queue count.
        requested: usize,
        /// The region's `max_queues`.
        max: usize,
    },
    /// A port MAC must be unicast.
    #[error("port MAC {0:02x?} is a group address")]
    GroupMac([u8; 6]),
    /// Another attached port has this MAC.
    #[error("port MAC {0:02x?} is already attached")]
    MacInUse([u8; 6]),
    /// Every port is taken.
    #[error("all {max_ports} ports of the shm switch are attached")]
    NoFreePort {
        /// The region's `max_ports`.
        max_ports: usize,
    },
    /// A port index out of range.
    #[error("port {port} does not exist (the switch has {max_ports})")]
    NoSuchPort {
        /// Requested port.
        port: usize,
        /// The region's `max_ports`.
        max_ports: usize,
    },
}

impl ShmError {
    fn io(path: &Path, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::AlreadyExists => Self::Exists(path.to_owned()),
            io::ErrorKind::NotFound => Self::NotFound(path.to_owned()),
            _ => Self::Io {
                path: path.to_owned(),
                source,
            },
        }
    }
}

/// One endpoint's attachment to a shm switch: its port and its queues.
pub struct ShmNic {
    lease: Arc<PortLease>,
    queues: Vec<ShmQueue>,
}

impl ShmNic {
    /// The file backing region `name`.
    pub fn region_path(name: &str) -> PathBuf {
        Path::new(REGION_DIR).join(format!("{REGION_PREFIX}{name}"))
    }

    /// Creates region `name` and attaches to its first port.
    pub fn create(name: &str, geometry: ShmGeometry, port: PortConfig) -> Result<Self, ShmError> {
        validate_name("shm", name, MAX_SHM_NAME_LEN)?;
        let mapping = Mapping::create(Self::region_path(name), geometry)?;
        Self::join(Arc::new(mapping), &port)
    }

    /// Attaches to a free port of the existing region `name`.
    pub fn attach(name: &str, port: PortConfig) -> Result<Self, ShmError> {
        validate_name("shm", name, MAX_SHM_NAME_LEN)?;
        let mapping = Mapping::attach(Self::region_path(name))?;
        Self::join(Arc::new(mapping), &port)
    }

    /// Attaches to a free port of the region open as `file`: a descriptor
    /// inherited from, or passed over a Unix socket by, a process that has
    /// the region (see [`region_file`](Self::region_file)).
    pub fn attach_file(file: File, port: PortConfig) -> Result<Self, ShmError> {
        let label = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let mapping = Mapping::attach_file(file, label)?;
        Self::join(Arc::new(mapping), &port)
    }

    /// A new descriptor of the region file (close-on-exec, like every file
    /// Rust opens: clear `FD_CLOEXEC` to pass it to a child at exec, or send
    /// it with `SCM_RIGHTS`), for [`attach_file`](Self::attach_file).
    pub fn region_file(&self) -> io::Result<File> {
        self.lease.mapping.file.try_clone()
    }

    fn join(mapping: Arc<Mapping>, port: &PortConfig) -> Result<Self, ShmError> {
        let lease = Arc::new(PortLease::claim(mapping, port)?);
        let queues = (0..port.queues)
            .map(|queue| ShmQueue::new(Arc::clone(&lease), queue))
            .collect();
        Ok(Self { lease, queues })
    }

    /// What the shm NIC offers: 1514-byte frames, checksums computed by the
    /// sender and not re-verified (frames cross memory, nothing corrupts
    /// them), programmable steering.
    pub fn capabilities() -> Capabilities {
        Capabilities {
            max_frame_len: MAX_FRAME_LEN,
            ipv4_checksum: ChecksumDuty::TxOnly,
            tcp_checksum: ChecksumDuty::TxOnly,
            udp_checksum: ChecksumDuty::TxOnly,
            icmp_checksum: ChecksumDuty::TxOnly,
            programmable_steering: true,
        }
    }

    /// The switch port this endpoint holds.
    pub fn port_index(&self) -> usize {
        self.lease.index
    }

    /// The region's geometry.
    pub fn geometry(&self) -> ShmGeometry {
        self.lease.mapping.layout.geometry
    }

    /// Hands out the queue handles (all of them on the first call, none
    /// after); the port stays attached until they and `self` are dropped.
    pub fn take_queues(&mut self) -> Vec<ShmQueue> {
        std::mem::take(&mut self.queues)
    }

    /// Steering control of this endpoint's port.
    pub fn steering(&self) -> ShmSteering {
        ShmSteering::new(Arc::clone(&self.lease.mapping), self.lease.index)
    }

    /// Steering control of any port of the switch (e.g. a load balancer
    /// steering a server's flows).
    pub fn steering_of(&self, port: usize) -> Result<ShmSteering, ShmError> {
        let max_ports = self.geometry().max_ports;
        if port < max_ports {
            Ok(ShmSteering::new(Arc::clone(&self.lease.mapping), port))
        } else {
            Err(ShmError::NoSuchPort { port, max_ports })
        }
    }

    /// The ports attached now, this one included.
    pub fn ports(&self) -> Vec<PortInfo> {
        active_ports(&self.lease.mapping).collect()
    }
}

#[cfg(test)]
mod tests;
