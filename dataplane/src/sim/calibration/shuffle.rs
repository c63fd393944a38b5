//! The shuffle layer's costs (thesis ch. 4.4-4.5), on the real
//! [`shuffle`] types the runtime uses.
//!
//! [`ShuffleProbe`] (one thread): pushing an event that makes an idle
//! connection ready, and a home core's dispatch of a ready connection
//! (pop it, mark the core in application code, take the events, release
//! the claim). [`RemoteProbe`] (two threads, one per CPU): the remote
//! system call round trip. The home thread pushes an event; the other
//! thread steals the connection and sends its calls back through the home
//! core's remote-syscall queue; the home thread drains the queue, executes
//! the calls (drops the reply bytes) and releases the claim, then pushes
//! the next event. Timed separately: the successful steal (on the thief),
//! and the drain and release (on the home core).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shuffle::{Claim, Home, RemoteReceiver, RemoteSender, Steal, Stealer, remote_queue};

use super::{PARTNER_TIMEOUT, Pinned, cpu_pair, spin_until};
use crate::platform::IpiBoard;
use crate::process::pin_to_cpu;

/// The connection every probe uses.
const CONN: u32 = 7;
/// The bytes of one request event and one reply call.
const REQUEST: [u8; 16] = [7; 16];
const REPLY: [u8; 8] = [9; 8];

type Queue = Home<u32, Vec<u8>, u64>;
type Batch = (Claim<u32, Vec<u8>, u64>, Vec<u8>);

/// One core's shuffle queue with one connection.
pub struct ShuffleProbe {
    home: Queue,
    board: IpiBoard,
}

impl Default for ShuffleProbe {
    fn default() -> Self {
        let mut home = Home::new(0);
        // A fresh queue accepts a new connection.
        let _ = home.open(CONN, 0);
        ShuffleProbe {
            home,
            board: IpiBoard::new(1, 0),
        }
    }
}

impl ShuffleProbe {
    /// Time of `n` event pushes that each make the connection ready.
    pub fn measure_push(&mut self, n: u64) -> Duration {
        let mut spent = Duration::ZERO;
        for _ in 0..n {
            let event = REQUEST.to_vec();
            let start = Instant::now();
            let pushed = self.home.push_event(CONN, event);
            spent += start.elapsed();
            if pushed.is_ok()
                && let Some(claim) = self.home.pop()
            {
                let _ = self.home.release(claim);
            }
        }
        spent
    }

    /// Time of `n` dispatches of a ready connection: pop, in-application
    /// flag, events taken, flag cleared, release.
    pub fn measure_dispatch(&mut self, n: u64) -> Duration {
        let mut spent = Duration::ZERO;
        for _ in 0..n {
            let _ = self.home.push_event(CONN, REQUEST.to_vec());
            let start = Instant::now();
            if let Some(mut claim) = self.home.pop() {
                self.board.set_in_app(0, true);
                let (events, state) = claim.split();
                *state += events.map(|bytes| bytes.len() as u64).sum::<u64>();
                self.board.set_in_app(0, false);
                let _ = self.home.release(claim);
            }
            spent += start.elapsed();
        }
        spent
    }
}

/// Times of [`RemoteProbe::measure`] for its `n` round trips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteTimes {
    /// Whole cycles: event pushed, stolen, calls sent home, executed,
    /// released (wall time of the loop).
    pub round_trip: Duration,
    /// Each successful steal, ns (thief side).
    pub steal_ns: Vec<u64>,
    /// Each drain of the remote-syscall queue and release, ns (home side).
    pub home_execute_ns: Vec<u64>,
    /// Round trips completed (fewer than asked when the partner stalled
    /// for [`PARTNER_TIMEOUT`]).
    pub completed: u64,
}

/// The remote system call round trip between two threads.
#[derive(Debug, Default)]
pub struct RemoteProbe;

impl RemoteProbe {
    /// Runs `n` round trips (module docs).
    pub fn measure(&self, n: u64) -> RemoteTimes {
        let mut home: Queue = Home::new(0);
        let _ = home.open(CONN, 0);
        let stealer = home.stealer();
        let (sender, receiver) = remote_queue::<Batch>();
        let (here, there) = cpu_pair();
        let completed = AtomicU64::new(0);
        std::thread::scope(|scope| {
            let home_side = scope.spawn(|| {
                pin_to_cpu(there);
                home_loop(home, receiver, n, &completed)
            });
            let _pinned = Pinned::to(here);
            let start = Instant::now();
            let steal_ns = thief_loop(&stealer, &sender, n, &completed);
            let round_trip = start.elapsed();
            RemoteTimes {
                round_trip,
                steal_ns,
                home_execute_ns: home_side.join().unwrap_or_default(),
                completed: completed.load(Ordering::Acquire),
            }
        })
    }
}

/// The home core's side: push an event, wait for the batch, execute and
/// release; returns the time of each drain and release, ns.
fn home_loop(
    mut home: Queue,
    mut receiver: RemoteReceiver<Batch>,
    n: u64,
    completed: &AtomicU64,
) -> Vec<u64> {
    let mut spent = Vec::with_capacity(n as usize);
    let mut batches = Vec::with_capacity(1);
    for _ in 0..n {
        if home.push_event(CONN, REQUEST.to_vec()).is_err()
            || !spin_until(PARTNER_TIMEOUT, || receiver.pending() > 0)
        {
            break;
        }
        let start = Instant::now();
        receiver.drain(|batch| batches.push(batch));
        for (claim, reply) in batches.drain(..) {
            std::hint::black_box(reply);
            let _ = home.release(claim);
        }
        spent.push(start.elapsed().as_nanos() as u64);
        completed.fetch_add(1, Ordering::Release);
    }
    spent
}

/// The stealing core's side: steal, run, send the calls home; returns the
/// time of each successful steal, ns.
fn thief_loop(
    stealer: &Stealer<u32, Vec<u8>, u64>,
    sender: &RemoteSender<Batch>,
    n: u64,
    completed: &AtomicU64,
) -> Vec<u64> {
    let mut spent = Vec::with_capacity(n as usize);
    for round in 0..n {
        let mut stolen = None;
        let found = spin_until(PARTNER_TIMEOUT, || {
            let start = Instant::now();
            match stealer.steal() {
                Steal::Success(claim) => {
                    spent.push(start.elapsed().as_nanos() as u64);
                    stolen = Some(claim);
                    true
                }
                Steal::Empty | Steal::Retry => false,
            }
        });
        let Some(mut claim) = stolen.filter(|_| found) else {
            break;
        };
        let (events, state) = claim.split();
        *state += events.count() as u64;
        sender.push((claim, REPLY.to_vec()));
        // The next event comes after the home core released this claim.
        if !spin_until(PARTNER_TIMEOUT, || {
            completed.load(Ordering::Acquire) > round
        }) {
            break;
        }
    }
    spent
}
