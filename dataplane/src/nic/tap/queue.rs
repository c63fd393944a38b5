//! [`TapQueue`]: one core's queue of a multi-queue TAP device.
//!
//! Receive reads up to a burst of frames with one `read` each into the
//! queue's own buffer pool (allocated once) and lends them in place; the
//! pool is reused by the next burst, so releasing is free. Transmit builds
//! the frame in the queue's TX pool and writes it at once; a frame the
//! kernel cannot take now (`EAGAIN`) stays in the pool, in order, and is
//! retried by the next transmit or flush.

use std::cell::Cell;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use super::{TapNic, sys};
use crate::nic::{
    Capabilities, MAX_BURST, NicQueue, PendingFrames, QueueStats, RxBurst, RxProbe, TxError,
    WaitFd, Wakeup,
};

/// Bytes of one pool slot: larger than the largest frame we deliver, so a
/// longer frame (the device MTU raised beyond 1500) is seen and dropped,
/// never delivered truncated.
const SLOT_SIZE: usize = 2048;
/// Frames a TX pool holds while the kernel refuses them.
const TX_SLOTS: usize = MAX_BURST;

/// The owned handle of one TAP queue (`Send`, `!Sync`).
pub struct TapQueue {
    fd: Arc<OwnedFd>,
    index: usize,
    rx_pool: Box<[u8]>,
    tx_pool: Box<[u8]>,
    tx_lens: [usize; TX_SLOTS],
    /// Oldest frame not yet written, and how many are waiting.
    tx_first: usize,
    tx_waiting: usize,
    stats: QueueStats,
    _not_sync: PhantomData<Cell<()>>,
}

impl TapQueue {
    pub(super) fn new(fd: OwnedFd, index: usize) -> Self {
        Self {
            fd: Arc::new(fd),
            index,
            rx_pool: vec![0; MAX_BURST * SLOT_SIZE].into_boxed_slice(),
            tx_pool: vec![0; TX_SLOTS * SLOT_SIZE].into_boxed_slice(),
            tx_lens: [0; TX_SLOTS],
            tx_first: 0,
            tx_waiting: 0,
            stats: QueueStats::default(),
            _not_sync: PhantomData,
        }
    }

    /// Writes waiting frames in order until the kernel refuses one.
    fn drain_tx(&mut self) {
        while self.tx_waiting > 0 {
            let slot = self.tx_first;
            let frame = &self.tx_pool[slot * SLOT_SIZE..][..self.tx_lens[slot]];
            match sys::write_frame(&self.fd, frame) {
                Ok(None) => return,
                Ok(Some(_)) => {}
                // EIO: the interface is down; like a wire with no link, the
                // frame is gone. Other errors likewise drop the frame.
                Err(_) => self.stats.tx_dropped += 1,
            }
            self.tx_first = (self.tx_first + 1) % TX_SLOTS;
            self.tx_waiting -= 1;
        }
    }
}

impl NicQueue for TapQueue {
    fn queue_index(&self) -> usize {
        self.index
    }

    fn capabilities(&self) -> Capabilities {
        TapNic::capabilities()
    }

    fn rx_burst(&mut self, max: usize) -> RxBurst<'_> {
        let max_len = TapNic::capabilities().max_frame_len;
        let mut lens = [0usize; MAX_BURST];
        let mut count = 0;
        // One read per frame, at most `max` reads: a dropped frame uses up
        // a read but not a slot.
        for _ in 0..max.min(MAX_BURST) {
            let slot = &mut self.rx_pool[count * SLOT_SIZE..][..SLOT_SIZE];
            match sys::read_frame(&self.fd, slot) {
                Ok(Some(len)) if (1..=max_len).contains(&len) => {
                    lens[count] = len;
                    count += 1;
                }
                // Longer than the device maximum (possibly truncated by the
                // kernel), or empty: dropped, never delivered.
                Ok(Some(_)) => self.stats.rx_dropped += 1,
                Ok(None) => break,
                Err(_) => {
                    self.stats.rx_errors += 1;
                    break;
                }
            }
        }
        let mut burst = RxBurst::new(None);
        for (index, &len) in lens[..count].iter().enumerate() {
            burst.push(&self.rx_pool[index * SLOT_SIZE..][..len]);
        }
        self.stats.rx_frames += count as u64;
        burst
    }

    fn try_send_frame(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), TxError> {
        let max = TapNic::capabilities().max_frame_len;
        if len > max {
            self.stats.tx_too_long += 1;
            return Err(TxError::TooLong { len, max });
        }
        if self.tx_waiting == TX_SLOTS {
            self.drain_tx();
            if self.tx_waiting == TX_SLOTS {
                self.stats.tx_full += 1;
                return Err(TxError::Full);
            }
        }
        let slot = (self.tx_first + self.tx_waiting) % TX_SLOTS;
        fill(&mut self.tx_pool[slot * SLOT_SIZE..][..len]);
        self.tx_lens[slot] = len;
        self.tx_waiting += 1;
        self.stats.tx_frames += 1;
        self.drain_tx();
        Ok(())
    }

    fn flush_tx(&mut self) {
        self.drain_tx();
    }

    fn rx_probe(&self) -> RxProbe {
        RxProbe::new(
            self.index,
            Arc::new(TapPending {
                fd: Arc::clone(&self.fd),
            }),
        )
    }

    fn stats(&self) -> QueueStats {
        self.stats
    }

    fn wakeup(&self) -> Option<Wakeup<'_>> {
        Some(Wakeup::Fd(WaitFd {
            fd: self.fd.as_fd(),
            writable: self.tx_waiting > 0,
        }))
    }
}

/// The probe of one TAP queue: a zero-timeout `poll` of its fd (a syscall,
/// acceptable on the idle path).
struct TapPending {
    fd: Arc<OwnedFd>,
}

impl PendingFrames for TapPending {
    fn has_pending(&self) -> bool {
        sys::readable(&self.fd)
    }

    fn needs_wakeup(&self) -> bool {
        false
    }
}
