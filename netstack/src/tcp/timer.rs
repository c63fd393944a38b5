//! A hashed timer wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
//! Wheels", scheme 4) with intrusive doubly linked slot lists: each
//! connection has exactly one node, indexed by its slab slot, linked into
//! the list of the tick of its earliest deadline. Arming moves the node in
//! O(1) (no stale entries are ever left behind), and the lists live in
//! storage sized by the connection count, so arming, firing and re-arming
//! timers never allocate (a per-slot vector grew whenever more deadlines
//! than ever before fell into one tick, at 10k connections a steady
//! trickle of allocations).
//!
//! [`TcpLayer`](super::TcpLayer) arms a connection with
//! [`TimerWheel::insert`] only when its deadline is earlier than the armed
//! one ([`TimerWheel::armed`]); a later deadline waits for the node to fire,
//! when the connection reports its true next deadline. `advance` moves the
//! due nodes to the expired list, which `pop_expired` drains.

use crate::event::ConnId;
use crate::time::{Duration, Instant, earliest};

/// Slot width.
pub(crate) const TICK: Duration = Duration::from_micros(100);
/// Number of slots (one rotation covers 409.6 ms).
const SLOTS: usize = 4096;
/// The list of nodes due, after the wheel's slots.
const EXPIRED: usize = SLOTS;
/// No node / no list.
const NIL: u32 = u32::MAX;

/// One connection's place in the wheel.
#[derive(Debug, Clone, Copy)]
struct Node {
    deadline: Instant,
    generation: u32,
    prev: u32,
    next: u32,
    /// The list holding the node (a slot, [`EXPIRED`]) or [`NIL`].
    list: u32,
}

const UNLINKED: Node = Node {
    deadline: Instant::ZERO,
    generation: 0,
    prev: NIL,
    next: NIL,
    list: NIL,
};

/// The wheel.
#[derive(Debug)]
pub(crate) struct TimerWheel {
    /// First node of each slot's list, then of the expired list.
    heads: Vec<u32>,
    /// Nodes by slab slot of their connection.
    nodes: Vec<Node>,
    /// Next tick to process.
    cursor: u64,
    /// Nodes linked in the slots (the expired list excluded).
    len: usize,
    /// A lower bound of the earliest node's deadline, recomputed only after
    /// nodes fired (so `poll` does not scan the wheel every time).
    earliest: Option<Instant>,
    /// One bit per non-empty slot, so finding the next node scans 64 words.
    occupied: [u64; SLOTS / 64],
}

fn tick_of(at: Instant) -> u64 {
    at.as_nanos() / TICK.as_nanos()
}

impl TimerWheel {
    /// An empty wheel with nodes for `connections` slab slots (more are
    /// added when the slab grows, at connection set-up).
    pub(crate) fn new(now: Instant, connections: usize) -> TimerWheel {
        TimerWheel {
            heads: vec![NIL; SLOTS + 1],
            nodes: vec![UNLINKED; connections],
            cursor: tick_of(now),
            len: 0,
            earliest: None,
            occupied: [0; SLOTS / 64],
        }
    }

    /// Bytes of wheel storage per connection (its node).
    pub(crate) const fn bytes_per_connection() -> usize {
        size_of::<Node>()
    }

    /// Nodes linked in the slots.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The deadline `conn` is armed at (None: not armed).
    pub(crate) fn armed(&self, conn: ConnId) -> Option<Instant> {
        let node = self.nodes.get(conn.slot as usize)?;
        (node.list != NIL && node.generation == conn.generation).then_some(node.deadline)
    }

    /// Arms `conn` at `deadline` (a deadline in the past fires at the next
    /// advance), replacing whatever its slab slot was armed at before.
    pub(crate) fn insert(&mut self, conn: ConnId, deadline: Instant) {
        let index = conn.slot as usize;
        if index >= self.nodes.len() {
            self.nodes.resize(index + 1, UNLINKED);
        }
        self.unlink(conn.slot);
        let tick = tick_of(deadline).max(self.cursor);
        let slot = (tick % SLOTS as u64) as usize;
        let node = &mut self.nodes[index];
        node.deadline = deadline;
        node.generation = conn.generation;
        self.link(conn.slot, slot);
        self.earliest = Some(self.earliest.map_or(deadline, |e| e.min(deadline)));
    }

    fn link(&mut self, at: u32, list: usize) {
        let head = self.heads[list];
        if head != NIL {
            self.nodes[head as usize].prev = at;
        }
        let node = &mut self.nodes[at as usize];
        node.prev = NIL;
        node.next = head;
        node.list = list as u32;
        self.heads[list] = at;
        if list != EXPIRED {
            self.len += 1;
            self.occupied[list / 64] |= 1 << (list % 64);
        }
    }

    fn unlink(&mut self, at: u32) {
        let Node {
            prev, next, list, ..
        } = self.nodes[at as usize];
        if list == NIL {
            return;
        }
        if prev == NIL {
            self.heads[list as usize] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[at as usize].list = NIL;
        let list = list as usize;
        if list != EXPIRED {
            self.len -= 1;
            if self.heads[list] == NIL {
                self.occupied[list / 64] &= !(1 << (list % 64));
            }
        }
    }

    /// Moves every node due at `now` to the expired list.
    pub(crate) fn advance(&mut self, now: Instant) {
        let target = tick_of(now);
        if target < self.cursor {
            return;
        }
        let ticks = (target - self.cursor + 1).min(SLOTS as u64);
        for step in 0..ticks {
            let slot = ((self.cursor + step) % SLOTS as u64) as usize;
            if self.occupied[slot / 64] & (1 << (slot % 64)) == 0 {
                continue;
            }
            let mut at = self.heads[slot];
            while at != NIL {
                let node = self.nodes[at as usize];
                if node.deadline <= now {
                    self.unlink(at);
                    self.link(at, EXPIRED);
                }
                at = node.next;
            }
        }
        // The current tick stays under the cursor: nodes of this tick whose
        // deadline is still ahead of `now` must be looked at again by the
        // next advance, not a whole rotation later.
        self.cursor = target;
        if self.earliest.is_some_and(|e| e <= now) {
            self.earliest = self.scan();
        }
    }

    /// Takes one connection whose deadline passed (after `advance`).
    pub(crate) fn pop_expired(&mut self) -> Option<ConnId> {
        let at = self.heads[EXPIRED];
        if at == NIL {
            return None;
        }
        self.unlink(at);
        Some(ConnId {
            slot: at,
            generation: self.nodes[at as usize].generation,
        })
    }

    /// When the next node may fire (None when empty).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        // Nothing fires before the tick the cursor has reached.
        let cursor_start = Instant::from_nanos(self.cursor * TICK.as_nanos());
        self.earliest.map(|earliest| earliest.max(cursor_start))
    }

    /// A lower bound of the earliest node's deadline: exact for the
    /// cursor's own tick, the start of the next occupied tick otherwise,
    /// looking at most one rotation ahead (a scan of the occupancy bitmap).
    /// After an advance it is later than that advance's `now` (the due
    /// nodes of the cursor's tick have fired), so a caller that sleeps
    /// until it (the `sim` platform) always makes progress.
    fn scan(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let current = (self.cursor % SLOTS as u64) as usize;
        let mut in_current = None;
        let mut at = self.heads[current];
        while at != NIL {
            let node = &self.nodes[at as usize];
            in_current = earliest(in_current, Some(node.deadline));
            at = node.next;
        }
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

    fn fired(wheel: &mut TimerWheel, now: Instant) -> Vec<ConnId> {
        wheel.advance(now);
        std::iter::from_fn(|| wheel.pop_expired()).collect()
    }

    #[test]
    fn fires_in_order_of_ticks_and_keeps_later_rotations() {
        let mut wheel = TimerWheel::new(Instant::ZERO, 2);
        wheel.insert(id(1), Instant::from_millis(5));
        wheel.insert(id(2), Instant::from_millis(1));
        let far = Instant::from_millis(1000);
        wheel.insert(id(3), far); // same slot index as some earlier tick, later rotation
        assert_eq!(fired(&mut wheel, Instant::from_millis(1)), vec![id(2)]);
        assert_eq!(wheel.next_deadline(), Some(Instant::from_millis(5)));
        assert_eq!(fired(&mut wheel, Instant::from_millis(999)), vec![id(1)]);
        assert_eq!(wheel.len(), 1);
        assert_eq!(fired(&mut wheel, far), vec![id(3)]);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn a_deadline_later_in_the_current_tick_fires_at_the_next_advance() {
        let start = Instant::from_micros(1_000);
        let mut wheel = TimerWheel::new(start, 2);
        let deadline = Instant::from_micros(1_050);
        wheel.insert(id(1), deadline);
        // A busy-polling core advances inside the deadline's tick, before it.
        assert!(fired(&mut wheel, Instant::from_micros(1_010)).is_empty());
        assert_eq!(fired(&mut wheel, Instant::from_micros(1_060)), vec![id(1)]);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn emptying_a_slot_clears_its_own_occupancy_bit() {
        let mut wheel = TimerWheel::new(Instant::ZERO, 2);
        let in_slot_five = Instant::from_micros(500);
        // Slot 0 of the next rotation holds a later entry.
        let next_rotation = Instant::from_nanos(SLOTS as u64 * TICK.as_nanos());
        wheel.insert(id(1), in_slot_five);
        wheel.insert(id(2), next_rotation);
        assert_eq!(fired(&mut wheel, in_slot_five), vec![id(1)]);
        assert_eq!(
            wheel.occupied[0] & (1 << 5),
            0,
            "slot 5 still marked occupied"
        );
        assert_ne!(wheel.occupied[0] & 1, 0, "slot 0 lost its occupancy bit");
        assert_eq!(fired(&mut wheel, next_rotation), vec![id(2)]);
    }

    #[test]
    fn re_arming_moves_the_one_node_of_a_connection() {
        let mut wheel = TimerWheel::new(Instant::ZERO, 1);
        wheel.insert(id(0), Instant::from_millis(50));
        wheel.insert(id(0), Instant::from_millis(2));
        assert_eq!(
            (wheel.len(), wheel.armed(id(0))),
            (1, Some(Instant::from_millis(2)))
        );
        // A new connection in the same slab slot replaces the old one's node;
        // the slab grows the node storage for slot 5.
        let reused = ConnId {
            slot: 0,
            generation: 1,
        };
        assert_eq!(wheel.armed(reused), None);
        wheel.insert(reused, Instant::from_millis(3));
        wheel.insert(id(5), Instant::from_millis(3));
        assert_eq!(wheel.len(), 2);
        assert!(fired(&mut wheel, Instant::from_millis(2)).is_empty());
        let mut due = fired(&mut wheel, Instant::from_millis(60));
        due.sort_by_key(|conn| conn.slot);
        assert_eq!(due, vec![reused, id(5)]);
        assert_eq!((wheel.len(), wheel.armed(reused)), (0, None));
    }
}
