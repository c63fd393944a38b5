//! A hashed timer wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
//! Wheels", scheme 4): each connection has at most one live entry, in the
//! slot of its earliest deadline. Re-arming later is free (the entry fires,
//! the connection reports its true next deadline, and is re-inserted);
//! arming earlier adds an entry and the stale one is recognised by its
//! deadline when it fires.

use crate::event::ConnId;
use crate::time::{Duration, Instant};

/// Slot width.
pub(crate) const TICK: Duration = Duration::from_micros(100);
/// Number of slots (one rotation covers 409.6 ms).
const SLOTS: usize = 4096;
/// Entries each slot holds before its first growth (allocated up front, so
/// arming timers allocates nothing until a slot gets busier than this).
const SLOT_CAPACITY: usize = 4;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub conn: ConnId,
    pub deadline: Instant,
}

/// The wheel.
#[derive(Debug)]
pub(crate) struct TimerWheel {
    slots: Vec<Vec<Entry>>,
    /// Next tick to process.
    cursor: u64,
    len: usize,
    /// A lower bound of the earliest entry's deadline, recomputed only after
    /// entries fired (so `poll` does not scan the wheel every time).
    earliest: Option<Instant>,
    /// One bit per non-empty slot, so finding the next entry scans 64 words.
    occupied: [u64; SLOTS / 64],
}

fn tick_of(at: Instant) -> u64 {
    at.as_nanos() / TICK.as_nanos()
}

impl TimerWheel {
    pub(crate) fn new(now: Instant) -> TimerWheel {
        TimerWheel {
            slots: (0..SLOTS)
                .map(|_| Vec::with_capacity(SLOT_CAPACITY))
                .collect(),
            cursor: tick_of(now),
            len: 0,
            earliest: None,
            occupied: [0; SLOTS / 64],
        }
    }

    /// Entries held (live and stale).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds an entry (a deadline in the past fires at the next advance).
    pub(crate) fn insert(&mut self, conn: ConnId, deadline: Instant) {
        let tick = tick_of(deadline).max(self.cursor);
        let slot = (tick % SLOTS as u64) as usize;
        self.slots[slot].push(Entry { conn, deadline });
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.len += 1;
        self.earliest = Some(self.earliest.map_or(deadline, |e| e.min(deadline)));
    }

    /// Moves every entry due at `now` into `due` (callers check staleness).
    pub(crate) fn advance(&mut self, now: Instant, due: &mut Vec<Entry>) {
        let target = tick_of(now);
        if target < self.cursor {
            return;
        }
        let ticks = (target - self.cursor + 1).min(SLOTS as u64);
        for step in 0..ticks {
            let index = ((self.cursor + step) % SLOTS as u64) as usize;
            if self.occupied[index / 64] & (1 << (index % 64)) == 0 {
                continue;
            }
            let slot = &mut self.slots[index];
            let before = slot.len();
            let mut index = 0;
            while index < slot.len() {
                if slot[index].deadline <= now {
                    due.push(slot.swap_remove(index));
                } else {
                    index += 1;
                }
            }
            self.len -= before - slot.len();
            if slot.is_empty() {
                self.occupied[index / 64] &= !(1 << (index % 64));
            }
        }
        self.cursor = target + 1;
        if self.earliest.is_some_and(|e| e <= now) {
            self.earliest = self.scan();
        }
    }

    /// When the next entry may fire (None when empty).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        // Nothing fires before the tick the cursor has reached.
        let cursor_start = Instant::from_nanos(self.cursor * TICK.as_nanos());
        self.earliest.map(|earliest| earliest.max(cursor_start))
    }

    /// The start of the next tick holding an entry, looking at most one
    /// rotation ahead (a scan of the occupancy bitmap).
    fn scan(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let start = (self.cursor % SLOTS as u64) as usize;
        let words = SLOTS / 64;
        for step in 0..=words {
            let word_index = (start / 64 + step) % words;
            let mut word = self.occupied[word_index];
            if step == 0 {
                word &= u64::MAX << (start % 64);
            }
            if word != 0 {
                let slot = word_index * 64 + word.trailing_zeros() as usize;
                let ahead = (slot + SLOTS - start) % SLOTS;
                return Some(Instant::from_nanos(
                    (self.cursor + ahead as u64) * TICK.as_nanos(),
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(slot: u32) -> ConnId {
        ConnId {
            slot,
            generation: 0,
        }
    }

    #[test]
    fn fires_in_order_of_ticks_and_keeps_later_rotations() {
        let mut wheel = TimerWheel::new(Instant::ZERO);
        wheel.insert(id(1), Instant::from_millis(5));
        wheel.insert(id(2), Instant::from_millis(1));
        let far = Instant::from_millis(1000);
        wheel.insert(id(3), far); // same slot index as some earlier tick, later rotation
        let mut due = Vec::new();
        wheel.advance(Instant::from_millis(1), &mut due);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].conn, id(2));
        assert_eq!(wheel.next_deadline(), Some(Instant::from_millis(5)));
        due.clear();
        wheel.advance(Instant::from_millis(999), &mut due);
        assert_eq!(due.iter().map(|e| e.conn).collect::<Vec<_>>(), vec![id(1)]);
        assert_eq!(wheel.len(), 1);
        due.clear();
        wheel.advance(far, &mut due);
        assert_eq!(due.len(), 1);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }
}
