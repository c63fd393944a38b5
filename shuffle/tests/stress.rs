//! The shuffle on real threads: one home core pushes sequence-numbered
//! events on many connections while stealers take connections and send
//! their claims back through the remote queue, as a dataplane does. Checks
//! mutual exclusion (no two cores run one connection), per-connection order
//! and that every event is delivered exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use shuffle::{Claim, Home, Steal, remote_queue};

const CONNS: u32 = 64;
const EVENTS_PER_CONN: u64 = 2_000;
const STEALERS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(30);

/// Per-connection application state: the next expected sequence number.
type Conn = Claim<u32, u64, u64>;

/// Runs the "application" on a claim: checks exclusivity and order.
fn serve(claim: &mut Conn, running: &[AtomicBool], served: &AtomicU64) {
    let key = claim.key();
    let flag = &running[key as usize];
    assert!(
        !flag.swap(true, Ordering::AcqRel),
        "two cores run connection {key}"
    );
    let events: Vec<u64> = claim.drain_events().collect();
    for seq in events {
        let next = claim.state_mut();
        assert_eq!(seq, *next, "connection {key} out of order");
        *next += 1;
        served.fetch_add(1, Ordering::Relaxed);
    }
    flag.store(false, Ordering::Release);
}

#[test]
fn stealing_keeps_exclusive_ownership_and_order() {
    let mut home: Home<u32, u64, u64> = Home::new(0);
    let (remote_tx, mut remote_rx) = remote_queue::<Conn>();
    let running: Arc<Vec<AtomicBool>> =
        Arc::new((0..CONNS).map(|_| AtomicBool::new(false)).collect());
    let served = Arc::new(AtomicU64::new(0));
    let stolen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let total = u64::from(CONNS) * EVENTS_PER_CONN;
    for key in 0..CONNS {
        home.open(key, 0).unwrap();
    }
    let stealers: Vec<_> = (0..STEALERS)
        .map(|_| {
            let stealer = home.stealer();
            let remote_tx = remote_tx.clone();
            let running = Arc::clone(&running);
            let served = Arc::clone(&served);
            let stolen = Arc::clone(&stolen);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    match stealer.steal() {
                        Steal::Success(mut claim) => {
                            serve(&mut claim, &running, &served);
                            stolen.fetch_add(1, Ordering::AcqRel);
                            remote_tx.push(claim);
                        }
                        Steal::Empty | Steal::Retry => std::thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    let mut next_seq = vec![0u64; CONNS as usize];
    let deadline = Instant::now() + DEADLINE;
    while served.load(Ordering::Acquire) < total && Instant::now() < deadline {
        for (key, seq) in next_seq.iter_mut().enumerate() {
            if *seq < EVENTS_PER_CONN {
                home.push_event(key as u32, *seq).unwrap();
                *seq += 1;
            }
        }
        // The home core serves its own queue too, once the stealers have
        // shown up (on a loaded machine they may start late).
        if stolen.load(Ordering::Acquire) > 0
            && let Some(mut claim) = home.pop()
        {
            serve(&mut claim, &running, &served);
            home.release(claim).unwrap();
        }
        remote_rx.drain(|claim| {
            home.release(claim).unwrap();
        });
    }
    done.store(true, Ordering::Release);
    for stealer in stealers {
        stealer.join().unwrap();
    }
    remote_rx.drain(|claim| {
        home.release(claim).unwrap();
    });
    assert_eq!(
        served.load(Ordering::Acquire),
        total,
        "stealers never took work before the deadline"
    );
    for key in 0..CONNS {
        assert_eq!(home.remove(key), Ok(EVENTS_PER_CONN), "connection {key}");
    }
}
