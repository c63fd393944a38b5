//! Transaction identifiers and the per-record TID word (Silo, SOSP'13 §4.2).
//!
//! Every record carries one 64-bit word that is both its version and its
//! lock. The high bits hold the TID of the transaction that last wrote the
//! record (epoch, then a sequence number inside the epoch); the three low
//! bits are status bits:
//!
//! * `LOCK`: held by a committing transaction during phases 1-3;
//! * `LATEST`: the record is still linked in its index (cleared when a
//!   deleted record is unlinked, so a writer holding a stale pointer aborts);
//! * `ABSENT`: the record is a logical "not present" (a deleted row, or the
//!   placeholder of an insert that has not installed its value yet).
//!
//! Readers use the word as a seqlock: read it, read the value, read it again.

use std::sync::atomic::{AtomicU64, Ordering};

use super::backoff::wait_unlocked;

/// Status bit: the record is locked by a committing transaction.
pub(crate) const LOCK: u64 = 1;
/// Status bit: the record is linked in its index.
pub(crate) const LATEST: u64 = 1 << 1;
/// Status bit: the record holds no row (deleted or not yet inserted).
pub(crate) const ABSENT: u64 = 1 << 2;
const STATUS_BITS: u32 = 3;
const STATUS_MASK: u64 = (1 << STATUS_BITS) - 1;
const EPOCH_SHIFT: u32 = 32;
const SEQUENCE_MASK: u64 = (1 << (EPOCH_SHIFT - STATUS_BITS)) - 1;

/// A commit TID: an epoch number and a sequence number within the epoch.
///
/// TIDs are totally ordered; a later epoch always orders after an earlier
/// one, which is what makes epochs the serialization boundary of group
/// commit in Silo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid(u64);

impl Tid {
    /// The TID with the given epoch and sequence number (the sequence is
    /// truncated to its 29 bits).
    pub const fn new(epoch: u32, sequence: u64) -> Tid {
        Tid(((epoch as u64) << EPOCH_SHIFT) | ((sequence & SEQUENCE_MASK) << STATUS_BITS))
    }

    /// The TID stored in a TID word (status bits removed).
    pub(crate) fn of_word(word: u64) -> Tid {
        Tid(word & !STATUS_MASK)
    }

    /// The epoch this TID was committed in.
    pub fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }

    /// The sequence number inside the epoch.
    pub fn sequence(self) -> u64 {
        (self.0 >> STATUS_BITS) & SEQUENCE_MASK
    }

    /// The raw bits, status bits zero.
    pub(crate) fn bits(self) -> u64 {
        self.0
    }

    /// Silo's TID choice (§4.2): the smallest TID that is (a) larger than
    /// every TID the transaction read or overwrote and than the worker's
    /// previous TID, both summarised in `floor`, and (b) in epoch `epoch`.
    pub(crate) fn next_after(floor: Tid, epoch: u32) -> Tid {
        if floor.epoch() < epoch {
            Tid::new(epoch, 0)
        } else {
            Tid::new(floor.epoch(), floor.sequence() + 1)
        }
    }
}

/// The TID word of one record.
#[derive(Debug)]
pub(crate) struct TidWord(AtomicU64);

impl TidWord {
    /// A word for a record created locked and absent by an inserting
    /// transaction (the placeholder of Silo's insert protocol).
    pub(crate) fn new_locked_placeholder() -> TidWord {
        TidWord(AtomicU64::new(LOCK | LATEST | ABSENT))
    }

    /// The current word.
    pub(crate) fn load(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits until the word is unlocked and returns it. Readers call this
    /// before reading a value; locks are held only for the short commit
    /// phases, so the wait is bounded by one commit.
    pub(crate) fn stable(&self) -> u64 {
        wait_unlocked(|| self.load(), |word| word & LOCK != 0)
    }

    /// Takes the lock, waiting for it; returns the word before locking.
    /// Callers take these locks in a global order (record address) so the
    /// waits cannot form a cycle.
    pub(crate) fn lock(&self) -> u64 {
        loop {
            let word = self.stable();
            if self.cas(word, word | LOCK) {
                return word;
            }
        }
    }

    /// Takes the lock only if it is free right now.
    pub(crate) fn try_lock(&self) -> Option<u64> {
        let word = self.load();
        (word & LOCK == 0 && self.cas(word, word | LOCK)).then_some(word)
    }

    fn cas(&self, current: u64, new: u64) -> bool {
        self.0
            .compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Releases the lock and publishes `tid` with the given status bits.
    pub(crate) fn unlock_with(&self, tid: Tid, status: u64) {
        debug_assert_eq!(status & LOCK, 0);
        self.0.store(tid.bits() | status, Ordering::SeqCst);
    }

    /// Releases the lock without changing the record (abort path).
    pub(crate) fn unlock(&self) {
        self.0.fetch_and(!LOCK, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_fields_round_trip_and_order_by_epoch_first() {
        let tid = Tid::new(7, 12345);
        assert_eq!((tid.epoch(), tid.sequence()), (7, 12345));
        assert!(Tid::new(8, 0) > Tid::new(7, SEQUENCE_MASK));
        assert_eq!(Tid::of_word(tid.bits() | LOCK | ABSENT), tid);
    }

    #[test]
    fn next_tid_is_larger_and_in_the_current_epoch() {
        assert_eq!(Tid::next_after(Tid::new(3, 9), 5), Tid::new(5, 0));
        assert_eq!(Tid::next_after(Tid::new(5, 9), 5), Tid::new(5, 10));
    }

    #[test]
    fn word_lock_protocol() {
        let word = TidWord::new_locked_placeholder();
        assert!(word.try_lock().is_none());
        word.unlock_with(Tid::new(1, 1), LATEST);
        assert_eq!(word.load(), Tid::new(1, 1).bits() | LATEST);
        let before = word.lock();
        assert_eq!(before & LOCK, 0);
        assert!(word.try_lock().is_none());
        word.unlock();
        assert_eq!(word.stable(), before);
    }
}
