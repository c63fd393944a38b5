//! Single-threaded behaviour of the shuffle queue and the remote queue.

use shuffle::{ConnState, Home, Released, ShuffleError, Steal, remote_queue};

#[test]
fn events_make_a_connection_ready_once_and_travel_with_the_claim() {
    let mut home: Home<u32, u8, &str> = Home::new(0);
    home.open(7, "state").unwrap();
    assert_eq!(home.state(7), Some(ConnState::Idle));
    home.push_event(7, 1).unwrap();
    home.push_event(7, 2).unwrap();
    assert_eq!(home.state(7), Some(ConnState::Ready));
    assert_eq!(home.ready_hint(), 1, "a connection is queued once");
    let mut claim = home.pop().unwrap();
    assert_eq!((claim.key(), claim.home()), (7, 0));
    assert_eq!(claim.events(), &[1, 2]);
    assert_eq!(*claim.state_mut(), "state");
    assert!(home.pop().is_none());
    assert_eq!(home.release(claim), Ok(Released::Idle));
    assert_eq!(home.state(7), Some(ConnState::Idle));
}

#[test]
fn events_arriving_while_busy_wait_for_the_release() {
    let mut home: Home<u32, u8, u64> = Home::new(3);
    home.open(1, 0).unwrap();
    home.push_event(1, 10).unwrap();
    let stealer = home.stealer();
    let Steal::Success(mut claim) = stealer.steal() else {
        panic!("a ready connection must be stealable");
    };
    assert_eq!(claim.drain_events().collect::<Vec<_>>(), vec![10]);
    *claim.state_mut() += 1;
    home.push_event(1, 11).unwrap();
    assert_eq!(home.state(1), Some(ConnState::Busy));
    assert!(
        home.pop().is_none(),
        "a busy connection is not in the queue"
    );
    assert!(matches!(stealer.steal(), Steal::Empty));
    assert_eq!(home.release(claim), Ok(Released::Requeued));
    let mut again = home.pop().unwrap();
    assert_eq!(again.events(), &[11]);
    assert_eq!(*again.state_mut(), 1, "state moved back with the release");
    assert_eq!(home.remove(1), Err(ShuffleError::NotIdle(ConnState::Busy)));
    home.release(again).unwrap();
    assert_eq!(home.remove(1), Ok(1));
    assert!(home.is_empty());
}

#[test]
fn misuse_is_reported_not_a_panic() {
    let mut home: Home<u32, u8, ()> = Home::new(0);
    let mut other: Home<u32, u8, ()> = Home::new(1);
    assert_eq!(home.push_event(9, 0), Err(ShuffleError::UnknownConnection));
    home.open(9, ()).unwrap();
    assert_eq!(home.open(9, ()), Err(ShuffleError::AlreadyOpen));
    home.push_event(9, 0).unwrap();
    other.open(9, ()).unwrap();
    let claim = home.pop().unwrap();
    assert_eq!(
        other.release(claim),
        Err(ShuffleError::ForeignClaim {
            claim_home: 0,
            core: 1
        })
    );
    assert_eq!(home.remove(4), Err(ShuffleError::UnknownConnection));
}

#[test]
fn ready_connections_are_served_in_arrival_order() {
    let mut home: Home<u32, u32, ()> = Home::new(0);
    for key in 0..5 {
        home.open(key, ()).unwrap();
    }
    for key in [3, 1, 4, 0, 2] {
        home.push_event(key, key).unwrap();
    }
    let order: Vec<u32> = std::iter::from_fn(|| home.pop().map(|c| c.key())).collect();
    assert_eq!(order, vec![3, 1, 4, 0, 2]);
}

#[test]
fn remote_queue_delivers_in_push_order() {
    let (tx, mut rx) = remote_queue();
    let tx2 = tx.clone();
    tx.push(1);
    tx2.push(2);
    tx.push(3);
    assert_eq!(rx.pending(), 3);
    let mut seen = Vec::new();
    assert_eq!(rx.drain(|x| seen.push(x)), 3);
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(rx.drain(|x| seen.push(x)), 0);
    assert_eq!(tx.pending(), 0);
}
