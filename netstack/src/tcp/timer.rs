//! A hashed timer wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
//! Wheels", scheme 4): each connection has at most one live entry, in the
//! slot of its earliest deadline. Re-arming later is free (the entry fires,
//! the connection reports its true next deadline, and is re-inserted);
//! arming earlier adds an entry and the stale one is recognised by its
//! deadline when it fires.

use crate::event::ConnId;
use crate::time::{Duration, Instant, earliest};

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
            let mut position = 0;
            while position < slot.len() {
                if slot[position].deadline <= now {
                    due.push(slot.swap_remove(position));
                } else {
                    position += 1;
                }
            }
            self.len -= before - slot.len();
            if slot.is_empty() {
                self.occupied[index / 64] &= !(1 << (index % 64));
            }
        }
        // The current tick stays under the cursor: entries of this tick whose
        // deadline is still ahead of `now` must be looked at again by the
        // next advance, not a whole rotation later.
        self.cursor = target;
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

    /// A lower bound of the earliest entry's deadline: exact for the
    /// cursor's own tick, the start of the next occupied tick otherwise,
    /// looking at most one rotation ahead (a scan of the occupancy bitmap).
    /// After an advance it is later than that advance's `now` (the due
    /// entries of the cursor's tick have fired), so a caller that sleeps
    /// until it (the `sim` platform) always makes progress.
    fn scan(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let current = (self.cursor % SLOTS as u64) as usize;
        let in_current = self.slots[current].iter().map(|e| e.deadline).min();
        let later = self
            .next_occupied_tick_after_cursor()
            .map(|ahead| Instant::from_nanos((self.cursor + ahead as u64) * TICK.as_nanos()));
        earliest(in_current, later)
    }

    /// How many ticks after the cursor the next occupied slot other than
    /// the cursor's own lies (1..SLOTS), if any.
    fn next_occupied_tick_after_cursor(&self) -> Option<usize> {
        let current = (self.cursor % SLOTS as u64) as usize;
        let start = (current + 1) % SLOTS;
        let words = SLOTS / 64;
        for step in 0..=words {
            let word_index = (start / 64 + step) % words;
            let mut word = self.occupied[word_index];
            if step == 0 {
                word &= u64::MAX << (start % 64);
            }
            if word_index == current / 64 {
                word &= !(1 << (current % 64));
            }
            if word != 0 {
                let slot = word_index * 64 + word.trailing_zeros() as usize;
                return Some((slot + SLOTS - current) % SLOTS);
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
    #[test]
    fn a_deadline_later_in_the_current_tick_fires_at_the_next_advance() {
        let start = Instant::from_micros(1_000);
        let mut wheel = TimerWheel::new(start);
        let deadline = Instant::from_micros(1_050);
        wheel.insert(id(1), deadline);
        let mut due = Vec::new();
        // A busy-polling core advances inside the deadline's tick, before it.
        wheel.advance(Instant::from_micros(1_010), &mut due);
        assert!(due.is_empty());
        wheel.advance(Instant::from_micros(1_060), &mut due);
        assert_eq!(due.iter().map(|e| e.conn).collect::<Vec<_>>(), vec![id(1)]);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn emptying_a_slot_clears_its_own_occupancy_bit() {
        let mut wheel = TimerWheel::new(Instant::ZERO);
        let in_slot_five = Instant::from_micros(500);
        // Slot 0 of the next rotation holds a later entry.
        let next_rotation = Instant::from_nanos(SLOTS as u64 * TICK.as_nanos());
        wheel.insert(id(1), in_slot_five);
        wheel.insert(id(2), next_rotation);
        let mut due = Vec::new();
        wheel.advance(in_slot_five, &mut due);
        assert_eq!(due.iter().map(|e| e.conn).collect::<Vec<_>>(), vec![id(1)]);
        assert_eq!(
            wheel.occupied[0] & (1 << 5),
            0,
            "slot 5 still marked occupied"
        );
        assert_ne!(wheel.occupied[0] & 1, 0, "slot 0 lost its occupancy bit");
        due.clear();
        wheel.advance(next_rotation, &mut due);
        assert_eq!(due.iter().map(|e| e.conn).collect::<Vec<_>>(), vec![id(2)]);
    }
}
