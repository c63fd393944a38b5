//! A deterministic, fault-injecting wire between two stacks, in virtual
//! time: frames are delayed, and with seeded probabilities lost, duplicated
//! or reordered (held back by an extra delay). Used by the loss tests, the
//! migration test and the benchmarks; runs as fast as the stacks do.
//!
//! ```
//! use netstack::sim::{Link, LinkConfig};
//! use netstack::{Stack, StackConfig};
//! let a = Stack::new(StackConfig::default()).unwrap();
//! let b = Stack::new(StackConfig {
//!     mac: [2, 0, 0, 0, 0, 2],
//!     ipv4: "10.0.0.2".parse().unwrap(),
//!     ..StackConfig::default()
//! })
//! .unwrap();
//! let mut link = Link::new(a, b, LinkConfig::default());
//! link.run_until_idle(1_000);
//! ```

use std::collections::BinaryHeap;

use crate::sink::FrameSink;
use crate::stack::Stack;
use crate::time::{Duration, Instant};

/// Fault model of a [`Link`].
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// One-way delay of every frame.
    pub delay: Duration,
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability a frame is held back by `reorder_delay` (so later frames
    /// overtake it).
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// PRNG seed: equal seeds give identical runs.
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            delay: Duration::from_micros(10),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_micros(30),
            seed: 1,
        }
    }
}

/// Which stack of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The first stack.
    A,
    /// The second stack.
    B,
}

/// Counters of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to the link.
    pub sent: u64,
    /// Frames lost.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames held back.
    pub reordered: u64,
    /// Frames delivered.
    pub delivered: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    /// Reversed so the heap pops the earliest.
    due: core::cmp::Reverse<(Instant, u64)>,
    to: Side,
    frame: Vec<u8>,
}

/// splitmix64: tiny, seedable, good enough for fault injection.
#[derive(Debug, Clone)]
struct Prng(u64);

impl Prng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Two stacks joined by a faulty wire.
#[derive(Debug)]
pub struct Link {
    /// The first stack.
    pub a: Stack,
    /// The second stack.
    pub b: Stack,
    /// Virtual time.
    pub now: Instant,
    config: LinkConfig,
    rng: Prng,
    wire: BinaryHeap<InFlight>,
    order: u64,
    stats: LinkStats,
    spare: Vec<Vec<u8>>,
}

/// Collects frames from a stack into recycled buffers.
struct Collector<'a> {
    out: &'a mut Vec<Vec<u8>>,
    spare: &'a mut Vec<Vec<u8>>,
}

impl FrameSink for Collector<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let mut frame = self.spare.pop().unwrap_or_default();
        frame.clear();
        frame.resize(len, 0);
        fill(&mut frame);
        self.out.push(frame);
        true
    }
}

impl Link {
    /// Joins `a` and `b`.
    pub fn new(a: Stack, b: Stack, config: LinkConfig) -> Link {
        Link {
            a,
            b,
            now: Instant::ZERO,
            rng: Prng(config.seed),
            config,
            wire: BinaryHeap::new(),
            order: 0,
            stats: LinkStats::default(),
            spare: Vec::new(),
        }
    }

    /// Link counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The stack on `side`.
    pub fn stack(&mut self, side: Side) -> &mut Stack {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn put(&mut self, to: Side, frame: Vec<u8>, delay: Duration) {
        self.order += 1;
        self.wire.push(InFlight {
            due: core::cmp::Reverse((self.now + delay, self.order)),
            to,
            frame,
        });
    }

    fn transmit(&mut self, to: Side, frames: &mut Vec<Vec<u8>>) {
        for frame in frames.drain(..) {
            self.stats.sent += 1;
            if self.rng.chance(self.config.loss) {
                self.stats.lost += 1;
                self.spare.push(frame);
                continue;
            }
            let mut delay = self.config.delay;
            if self.rng.chance(self.config.reorder) {
                self.stats.reordered += 1;
                delay = delay + self.config.reorder_delay;
            }
            if self.rng.chance(self.config.duplicate) {
                self.stats.duplicated += 1;
                self.put(to, frame.clone(), delay);
            }
            self.put(to, frame, delay);
        }
    }

    /// Polls both stacks at the current time and puts their frames on the
    /// wire; returns the earliest timer deadline of the two.
    pub fn poll(&mut self) -> Option<Instant> {
        let mut frames = Vec::new();
        let now = self.now;
        let deadline_a = self.a.poll(
            now,
            &mut Collector {
                out: &mut frames,
                spare: &mut self.spare,
            },
        );
        self.transmit(Side::B, &mut frames);
        let deadline_b = self.b.poll(
            now,
            &mut Collector {
                out: &mut frames,
                spare: &mut self.spare,
            },
        );
        self.transmit(Side::A, &mut frames);
        match (deadline_a, deadline_b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Delivers every frame due by the current time.
    pub fn deliver(&mut self) -> usize {
        let mut delivered = 0;
        while self.wire.peek().is_some_and(|f| f.due.0.0 <= self.now) {
            let Some(in_flight) = self.wire.pop() else {
                break;
            };
            let now = self.now;
            self.stack(in_flight.to).handle_frame(now, &in_flight.frame);
            self.spare.push(in_flight.frame);
            delivered += 1;
        }
        self.stats.delivered += delivered as u64;
        delivered
    }

    /// One step: poll, deliver what is due, then advance time to the next
    /// frame arrival or timer (never past `limit`). Returns false when
    /// nothing is pending at all.
    pub fn step(&mut self, limit: Instant) -> bool {
        let timer = self.poll();
        if self.deliver() > 0 {
            return true;
        }
        let next_frame = self.wire.peek().map(|f| f.due.0.0);
        let next = match (timer, next_frame) {
            (Some(t), Some(f)) => t.min(f),
            (t, f) => match t.or(f) {
                Some(next) => next,
                None => return false,
            },
        };
        self.now = next.max(self.now).min(limit);
        true
    }

    /// Polls and delivers until no frame is in flight (pending timers are
    /// not waited for), at most `max_steps` times; returns the steps taken.
    pub fn run_until_idle(&mut self, max_steps: usize) -> usize {
        for steps in 0..max_steps {
            self.poll();
            if self.deliver() > 0 {
                continue;
            }
            match self.wire.peek() {
                Some(f) => self.now = f.due.0.0.max(self.now),
                None => return steps,
            }
        }
        max_steps
    }

    /// Advances virtual time by `by` (e.g. to fire timers), stepping as needed.
    pub fn advance(&mut self, by: Duration) {
        let limit = self.now + by;
        while self.now < limit {
            if !self.step(limit) {
                self.now = limit;
            }
            if self.now >= limit {
                self.poll();
                self.deliver();
            }
        }
    }
}
