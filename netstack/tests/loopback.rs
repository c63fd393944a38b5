//! Two stacks over the deterministic fault-injecting link: a 100 MB
//! transfer through 1% loss, 1% reordering and 1% duplication, checked
//! byte-exact by hash; graceful close of both sides.

mod common;

use std::time::Instant as WallClock;

use common::{handshake, link, transfer};
use netstack::sim::LinkConfig;
use netstack::{Duration, Event, State};

#[test]
fn hundred_megabytes_byte_exact_through_loss_reordering_and_duplication() {
    let mut link = link(LinkConfig {
        loss: 0.01,
        reorder: 0.01,
        duplicate: 0.01,
        seed: 0x5eed,
        ..LinkConfig::default()
    });
    let (client, server) = handshake(&mut link);
    let total = 100 * 1024 * 1024;
    let started = WallClock::now();
    let (sent, received) = transfer(&mut link, client, server, total, |_, _, conns| conns);
    let elapsed = started.elapsed();
    assert_eq!(sent.0, received.0, "byte stream differs");
    let faults = link.stats();
    let stats = link.a.stats();
    println!(
        "100 MiB in {elapsed:?} wall, {:?} virtual; link {faults:?}; sender retransmits {} (fast {}, timeouts {})",
        Duration(link.now.as_nanos()),
        stats.tcp_retransmits,
        stats.tcp_fast_retransmits,
        stats.tcp_timeouts
    );
    assert!(faults.lost > 100 && faults.reordered > 100 && faults.duplicated > 100);
    assert!(
        stats.tcp_fast_retransmits > 0,
        "losses repaired by fast retransmit"
    );
    assert!(
        link.b.stats().tcp_out_of_order > 0,
        "reordering reached the receiver"
    );
}

#[test]
fn both_sides_close_and_reach_closed() {
    let mut link = link(LinkConfig {
        loss: 0.05,
        seed: 7,
        ..LinkConfig::default()
    });
    let (client, server) = handshake(&mut link);
    link.a.send(client, b"last words").unwrap();
    link.a.close(client).unwrap();
    let (mut client_closed, mut server_peer_closed) = (false, false);
    for _ in 0..100_000 {
        link.step(link.now + Duration::from_secs(120));
        while let Some(event) = link.b.pop_event() {
            if event == Event::PeerClosed(server) {
                server_peer_closed = true;
                let mut buf = [0u8; 64];
                assert_eq!(link.b.recv(server, &mut buf), Ok(10));
                assert_eq!(&buf[..10], b"last words");
                link.b.close(server).unwrap();
            }
        }
        while let Some(event) = link.a.pop_event() {
            client_closed |= event == Event::Closed(client);
        }
        if client_closed && link.b.connection_count() == 0 {
            break;
        }
    }
    assert!(server_peer_closed && client_closed);
    assert_eq!(
        link.b.connection_count(),
        0,
        "server went LAST-ACK -> CLOSED"
    );
    assert_eq!(link.a.state(client), Some(State::TimeWait));
    link.advance(Duration::from_secs(61));
    assert_eq!(link.a.connection_count(), 0, "TIME-WAIT expired");
}
