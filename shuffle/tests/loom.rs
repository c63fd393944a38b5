//! Model checks of the shuffle with loom: every interleaving of the home
//! core and stealing cores is explored on the same code as the normal build.
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p shuffle --release --test loom`.
#![cfg(loom)]

use loom::thread;
use shuffle::{Claim, Home, Steal, remote_queue};

#[test]
fn a_ready_connection_is_claimed_by_exactly_one_core() {
    loom::model(|| {
        let mut home: Home<u8, u8, ()> = Home::new(0);
        home.open(1, ()).unwrap();
        home.push_event(1, 0).unwrap();
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let stealer = home.stealer();
                thread::spawn(move || match stealer.steal() {
                    Steal::Success(claim) => Some(claim),
                    Steal::Empty | Steal::Retry => None,
                })
            })
            .collect();
        let mine = home.pop();
        let mut claims: Vec<Claim<u8, u8, ()>> = thieves
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        claims.extend(mine);
        assert!(claims.len() <= 1, "connection claimed twice");
        // A steal may only fail by Retry while the home core holds the lock;
        // then the home core got it, so exactly one claim exists.
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].events(), &[0]);
    });
}

#[test]
fn events_pushed_during_a_steal_are_delivered_once_and_in_order() {
    loom::model(|| {
        let mut home: Home<u8, u8, u8> = Home::new(0);
        let (tx, mut rx) = remote_queue::<Claim<u8, u8, u8>>();
        home.open(1, 0).unwrap();
        home.push_event(1, 0).unwrap();
        let stealer = home.stealer();
        let thief = thread::spawn(move || {
            if let Steal::Success(mut claim) = stealer.steal() {
                let seen: Vec<u8> = claim.drain_events().collect();
                *claim.state_mut() += seen.len() as u8;
                tx.push(claim);
                seen
            } else {
                Vec::new()
            }
        });
        home.push_event(1, 1).unwrap();
        home.push_event(1, 2).unwrap();
        let mut seen = Vec::new();
        if let Some(mut claim) = home.pop() {
            seen.extend(claim.drain_events());
            *claim.state_mut() += seen.len() as u8;
            home.release(claim).unwrap();
        }
        let stolen = thief.join().unwrap();
        rx.drain(|claim| {
            home.release(claim).unwrap();
        });
        while let Some(mut claim) = home.pop() {
            seen.extend(claim.drain_events());
            home.release(claim).unwrap();
        }
        // The thief ran first whenever it stole: its events precede ours.
        let all: Vec<u8> = stolen.iter().chain(seen.iter()).copied().collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2], "each event exactly once");
        assert_eq!(stolen, all[..stolen.len()].to_vec());
        assert!(all.windows(2).all(|w| w[0] < w[1]), "out of order: {all:?}");
        assert_eq!(home.state(1), Some(shuffle::ConnState::Idle));
    });
}

#[test]
fn remote_queue_loses_nothing_under_concurrent_drain() {
    loom::model(|| {
        let (tx, mut rx) = remote_queue::<u8>();
        let producers: Vec<_> = (0..2u8)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.push(p * 10);
                    tx.push(p * 10 + 1);
                })
            })
            .collect();
        let mut got = Vec::new();
        rx.drain(|x| got.push(x));
        for p in producers {
            p.join().unwrap();
        }
        rx.drain(|x| got.push(x));
        for p in 0..2u8 {
            let mine: Vec<u8> = got.iter().copied().filter(|x| x / 10 == p).collect();
            assert_eq!(mine, vec![p * 10, p * 10 + 1], "per-producer FIFO");
        }
        assert_eq!(got.len(), 4);
    });
}
