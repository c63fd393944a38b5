//! The multi-queue NIC layer: one device, one RX/TX queue pair per core.
//!
//! # How the runtime uses it
//!
//! ```text
//! let spec: NicSpec = "shm:bench0".parse()?;          // from `--nic`
//! let device = nic::open(&spec, &NicOptions { queues: cores, mac, ipv4, ..Default::default() })?;
//! let probes: Vec<RxProbe> = device.queues.iter().map(|q| q.rx_probe()).collect();
//! for (core, queue) in device.queues.into_iter().enumerate() {
//!     // move `queue` (Send, not Sync) into core `core`'s thread; only that
//!     // core ever touches it.
//! }
//! // in core c's loop:
//! {
//!     let burst = queue.rx_burst(MAX_BURST);       // zero-copy views
//!     for frame in &burst { stack.handle_frame(now, frame); }
//! }                                                // dropped: slots released
//! stack.poll(now, &mut sink_over(&mut queue));     // send_frame() per frame
//! queue.flush_tx();                                // publish the TX burst
//! // in core d's idle loop (ZygOS, thesis §5.4): probes[c].has_pending()
//! // tells whether core c has frames waiting, without consuming them.
//! ```
//!
//! # The contract
//!
//! - A [`NicQueue`] is the owned handle of one queue of one device. It is
//!   `Send` (moved once to its core) and deliberately `!Sync`: receive and
//!   transmit are single-consumer / single-producer operations on that
//!   core's rings, so nothing on the per-packet path needs a lock.
//! - Receive is by bursts ([`NicQueue::rx_burst`]) of at most [`MAX_BURST`]
//!   frames. The returned [`RxBurst`] lends borrowed views of the frames in
//!   place (in the shared-memory ring slots, or in the queue's own buffer
//!   pool for TAP): no copy and no allocation per packet. The frames are
//!   released back to the ring when the burst is dropped; views cannot
//!   outlive the burst. The burst borrows the queue, so a core transmits
//!   after dropping it (the netstack's `handle_frame` then `poll` order).
//! - Transmit builds each frame in place in a TX buffer
//!   ([`NicQueue::send_frame`], the same shape as the netstack's
//!   `FrameSink::send_frame`, so the runtime's adapter is one line), and
//!   [`NicQueue::flush_tx`] publishes the frames built so far as one burst.
//!   A full queue is back-pressure (`false` / [`TxError::Full`]), never a
//!   silent drop by this layer.
//! - [`RxProbe`] is the cheap `Sync` question "are frames waiting on this
//!   RX queue?" that other cores ask in their idle loop before sending an
//!   IPI to the home core (ZygOS idle loop, thesis §5.3-5.4). It never
//!   consumes anything.
//! - [`Capabilities`] say what software must do (checksums) and what the
//!   device carries (maximum frame length, queue count).
//! - [`FlowSteering`] is the run-time steering control of a device that has
//!   one (the shm switch): the RSS indirection table and the exact-match
//!   override table used by connection migration and CRAB.
//!
//! The backends are `shm` (a shared-memory multi-queue NIC with a software
//! switch; the default and the benchmark path) and `tap` (Linux TAP with
//! `IFF_MULTI_QUEUE`). [`NicSpec`] parses the `--nic` argument naming one.

mod burst;
mod open;
pub mod rss;
pub mod shm;
mod spec;
pub mod tap;

pub use burst::{RxBurst, RxRelease};
pub use open::{NicDevice, NicOptions, OpenError, open};
pub use spec::{MAX_SHM_NAME_LEN, MAX_TAP_NAME_LEN, NicSpec, NicSpecError};

use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// The largest number of frames one [`NicQueue::rx_burst`] returns (the IX
/// and ZygOS batch bound).
pub const MAX_BURST: usize = 64;

/// Which directions software must handle one checksum in (the rest is done
/// by the device, or unnecessary because the medium cannot corrupt frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumDuty {
    /// Compute on transmit and verify on receive.
    Both,
    /// Compute on transmit; received frames need not be verified (the
    /// medium is memory, or the device verified them).
    TxOnly,
    /// Verify on receive; the device fills it on transmit.
    RxOnly,
    /// Neither: the device computes and verifies it.
    None,
}

impl ChecksumDuty {
    /// Whether software must compute this checksum before transmitting.
    pub fn compute_on_tx(self) -> bool {
        matches!(self, Self::Both | Self::TxOnly)
    }

    /// Whether software must verify this checksum on received frames.
    pub fn verify_on_rx(self) -> bool {
        matches!(self, Self::Both | Self::RxOnly)
    }
}

/// What a device offers and what it leaves to software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Largest Ethernet frame (header + payload, no FCS) one queue carries.
    pub max_frame_len: usize,
    /// IPv4 header checksum duty.
    pub ipv4_checksum: ChecksumDuty,
    /// TCP checksum duty.
    pub tcp_checksum: ChecksumDuty,
    /// UDP checksum duty.
    pub udp_checksum: ChecksumDuty,
    /// ICMP checksum duty.
    pub icmp_checksum: ChecksumDuty,
    /// Whether the device steers flows to queues by RSS and accepts steering
    /// changes ([`FlowSteering`]); false when the steering is outside our
    /// control (TAP: the kernel follows the queue a flow was last sent on).
    pub programmable_steering: bool,
}

/// Why a frame could not be queued for transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No free TX buffer: retry after the peer drains (back-pressure).
    #[error("transmit queue full")]
    Full,
    /// The frame is longer than the device carries.
    #[error("frame of {len} bytes exceeds the device maximum of {max}")]
    TooLong {
        /// Requested frame length.
        len: usize,
        /// [`Capabilities::max_frame_len`].
        max: usize,
    },
}

/// Per-queue counters, read by the owning core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Frames handed out by `rx_burst`.
    pub rx_frames: u64,
    /// Frames accepted by `send_frame`.
    pub tx_frames: u64,
    /// `send_frame` calls refused because the queue was full.
    pub tx_full: u64,
    /// Frames refused because they exceeded the maximum frame length.
    pub tx_too_long: u64,
    /// Frames accepted but discarded by the device (no port has the
    /// destination MAC, or the frame is shorter than an Ethernet header),
    /// as a wire with nobody listening would.
    pub tx_dropped: u64,
    /// Frames the device dropped on the way in, when it can tell (a
    /// malformed shm descriptor, a truncated TAP read).
    pub rx_dropped: u64,
    /// Receive calls that failed (a TAP device that went away).
    pub rx_errors: u64,
}

/// The owned handle of one RX/TX queue pair, used only by the core it was
/// given to (`Send`, and `!Sync` in every backend).
pub trait NicQueue: Send {
    /// Index of this queue within its device (the core it belongs to).
    fn queue_index(&self) -> usize;

    /// What the device offers (same for every queue of a device).
    fn capabilities(&self) -> Capabilities;

    /// Receives up to `max` (capped at [`MAX_BURST`]) frames without copying
    /// them. The frames stay owned by the ring until the returned burst is
    /// dropped. An empty burst means nothing was waiting.
    fn rx_burst(&mut self, max: usize) -> RxBurst<'_>;

    /// Builds one frame of `len` bytes in place: `fill` receives the TX
    /// buffer (exactly `len` bytes, contents unspecified) and writes the
    /// frame into it. The frame is published at the latest by the next
    /// [`flush_tx`](Self::flush_tx). `fill` is not called on error.
    fn try_send_frame(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), TxError>;

    /// [`try_send_frame`](Self::try_send_frame) with the netstack's
    /// `FrameSink::send_frame` shape: false when the frame was not queued
    /// (full, or longer than [`Capabilities::max_frame_len`], which a
    /// caller honouring the capabilities never asks for; both are counted
    /// in [`QueueStats`]).
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.try_send_frame(len, fill).is_ok()
    }

    /// Publishes every frame built since the last flush (one release store
    /// per ring for shm; a no-op where each frame is written immediately).
    fn flush_tx(&mut self);

    /// A probe other cores may call to ask whether frames are waiting here.
    fn rx_probe(&self) -> RxProbe;

    /// This queue's counters.
    fn stats(&self) -> QueueStats;

    /// How frames arriving on this queue wake a core parked on it; `None`
    /// when they cannot, and the core must not park.
    fn wakeup(&self) -> Option<Wakeup<'_>> {
        None
    }

    /// Announces (`Some`) or withdraws (`None`) the thread parked on this
    /// queue, for [`Wakeup::Interrupt`] backends: the next sender that
    /// publishes frames to the queue interrupts it once and withdraws it.
    /// The announcement is ordered before the caller's next loads (it looks
    /// for frames after announcing, so none are missed).
    fn announce_sleeper(&self, _sleeper: Option<Sleeper>) {}
}

/// How frames arriving on an idle queue wake the core parked on it.
#[derive(Debug, Clone, Copy)]
pub enum Wakeup<'a> {
    /// The kernel makes a descriptor ready (TAP): block in `poll(2)` on it.
    Fd(WaitFd<'a>),
    /// The sender interrupts the announced [`Sleeper`] with the IPI signal
    /// (shm: the sender may be another process).
    Interrupt,
}

/// What a core parked on a TAP queue polls.
#[derive(Debug, Clone, Copy)]
pub struct WaitFd<'a> {
    /// Readable when frames arrive.
    pub fd: BorrowedFd<'a>,
    /// Wake also when it becomes writable: frames wait to be sent.
    pub writable: bool,
}

/// A thread parked on a queue, interrupted by whoever sends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sleeper {
    /// Its process.
    pub pid: u32,
    /// Its thread.
    pub tid: u32,
}

/// The backend side of an [`RxProbe`]: answers without consuming frames.
pub trait PendingFrames: Send + Sync {
    /// Whether at least one frame is waiting on the probed RX queue. May be
    /// stale by the time the caller acts on it (frames can arrive or be
    /// consumed concurrently); it never consumes anything.
    fn has_pending(&self) -> bool;

    /// Whether frames are waiting that do not by themselves wake a core
    /// blocked on its queue's [`WaitFd`]: another core that sees them must
    /// wake it. Backends whose arrivals make the descriptor readable answer
    /// false without a system call.
    fn needs_wakeup(&self) -> bool {
        self.has_pending()
    }
}

/// A cheap, cloneable, `Sync` handle answering "are frames waiting on this
/// RX queue?" for one queue; other cores call it from their idle loop.
#[derive(Clone)]
pub struct RxProbe {
    queue: usize,
    inner: Arc<dyn PendingFrames>,
}

impl RxProbe {
    /// Wraps a backend's probe for queue `queue`.
    pub fn new(queue: usize, inner: Arc<dyn PendingFrames>) -> Self {
        Self { queue, inner }
    }

    /// The probed queue's index.
    pub fn queue_index(&self) -> usize {
        self.queue
    }

    /// Whether frames are waiting (see [`PendingFrames::has_pending`]).
    pub fn has_pending(&self) -> bool {
        self.inner.has_pending()
    }

    /// Whether a parked home core must be woken for waiting frames (see
    /// [`PendingFrames::needs_wakeup`]).
    pub fn needs_wakeup(&self) -> bool {
        self.inner.needs_wakeup()
    }
}

impl std::fmt::Debug for RxProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxProbe")
            .field("queue", &self.queue)
            .finish()
    }
}

/// The IPv4 TCP/UDP 4-tuple of a flow as seen by the receiving side: `src`
/// is the sender of the frame, `dst` the receiving endpoint. This is the
/// key of both RSS hashing and the steering override table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Source address of the frame.
    pub src_ip: Ipv4Addr,
    /// Destination address of the frame.
    pub dst_ip: Ipv4Addr,
    /// Source TCP/UDP port.
    pub src_port: u16,
    /// Destination TCP/UDP port.
    pub dst_port: u16,
}

/// Number of entries of an RSS indirection table (the common hardware size,
/// and the one Microsoft's RSS specification uses as its example).
pub const INDIRECTION_ENTRIES: usize = 128;

/// Why a steering change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SteeringError {
    /// The target queue does not exist on this port.
    #[error("queue {queue} does not exist (the port has {queues} queues)")]
    NoSuchQueue {
        /// Requested queue.
        queue: usize,
        /// Queue count of the port.
        queues: usize,
    },
    /// The indirection table index is out of range.
    #[error("indirection index {index} out of range (table has {INDIRECTION_ENTRIES} entries)")]
    NoSuchEntry {
        /// Requested entry.
        index: usize,
    },
    /// The override table has no free slot left.
    #[error("steering override table full ({capacity} entries)")]
    OverridesFull {
        /// Capacity of the table.
        capacity: usize,
    },
}

/// Run-time control of how one port's received frames are spread over its
/// RX queues: an exact-match override per 4-tuple (checked first), else the
/// RSS hash through the indirection table. Safe to call from any thread or
/// process at any time; a change applies to the frames delivered after it.
pub trait FlowSteering: Send + Sync {
    /// Number of RX queues of the port.
    fn queue_count(&self) -> usize;

    /// Steers `flow` to `queue`, replacing any override of the same flow.
    fn set_override(&self, flow: FourTuple, queue: usize) -> Result<(), SteeringError>;

    /// Removes the override of `flow`; returns whether there was one.
    fn clear_override(&self, flow: FourTuple) -> bool;

    /// The queue `flow` is overridden to, if any.
    fn override_for(&self, flow: FourTuple) -> Option<usize>;

    /// Points indirection entry `index` at `queue`.
    fn set_indirection(&self, index: usize, queue: usize) -> Result<(), SteeringError>;

    /// The queue indirection entry `index` points at.
    fn indirection(&self, index: usize) -> Result<usize, SteeringError>;

    /// The RX queue a frame of `flow` is delivered to now (override, else
    /// RSS through the indirection table).
    fn queue_for(&self, flow: FourTuple) -> usize;
}
