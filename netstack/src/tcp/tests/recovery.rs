//! Retransmission (RFC 6298), fast retransmit (RFC 5681/6582), reordering,
//! delayed ACKs, zero-window probing and send back-pressure.

use super::drill::Drill;
use crate::{ConnId, Duration, Event, StackConfig};

fn config() -> StackConfig {
    StackConfig {
        window_scaling: false,
        timestamps: false,
        mss: 1000,
        rto_initial: Duration::from_millis(300),
        rto_min: Duration::from_millis(300),
        ..StackConfig::default()
    }
}

fn established(config: StackConfig) -> (Drill, ConnId) {
    let mut d = Drill::server(config);
    let conn = d.accept();
    (d, conn)
}

#[test]
fn retransmits_with_exponential_backoff_then_resets() {
    let (mut d, conn) = established(StackConfig {
        max_retransmissions: 2,
        ..config()
    });
    d.stack.send(conn, b"hello").unwrap();
    d.expect("P. seq=1 len=5");
    d.expect_after(Duration::from_millis(300), "P. seq=1 len=5");
    d.expect_after(Duration::from_millis(600), "P. seq=1 len=5");
    d.expect_after(Duration::from_millis(1200), "R seq=6");
    assert_eq!(d.events(), vec![Event::Reset(conn), Event::Closed(conn)]);
    assert_eq!(d.stack.stats().tcp_timeout_resets, 1);
}

#[test]
fn rto_follows_measured_rtt() {
    let mut d = Drill::server(StackConfig {
        rto_min: Duration::from_millis(1),
        ..config()
    });
    d.inject("S seq=1000");
    d.expect("S. seq=0 ack=1001");
    d.advance(Duration::from_millis(10));
    d.inject(". seq=1001 ack=1");
    let conn = d.accepted();
    // First sample R = 10 ms (the SYN-ACK): RTO = R + 4 * R/2 = 30 ms.
    d.stack.send(conn, b"b").unwrap();
    d.expect("P. seq=1 len=1");
    d.expect_after(Duration::from_millis(30), "P. seq=1 len=1");
}

#[test]
fn syn_ack_is_retransmitted() {
    let mut d = Drill::server(config());
    d.inject("S seq=1000");
    d.expect("S. seq=0 ack=1001");
    d.advance(Duration::from_millis(300));
    d.expect("S. seq=0 ack=1001");
}

#[test]
fn fast_retransmit_on_three_duplicate_acks_and_newreno_partial_ack() {
    let (mut d, conn) = established(config());
    d.stack.send(conn, &[9u8; 4000]).unwrap();
    for seq in [1, 1001, 2001, 3001] {
        d.expect(&format!("P. seq={seq} len=1000"));
    }
    d.inject(". seq=1001 ack=1001"); // first segment arrived
    d.expect_nothing();
    for _ in 0..3 {
        d.inject(". seq=1001 ack=1001");
    }
    d.expect("P. seq=1001 len=1000");
    assert_eq!(d.stack.stats().tcp_fast_retransmits, 1);
    // Partial ACK (RFC 6582): the next hole is retransmitted at once.
    d.inject(". seq=1001 ack=2001");
    d.expect("P. seq=2001 len=1000");
    d.inject(". seq=1001 ack=4001");
    d.expect_nothing();
}

#[test]
fn out_of_order_segments_are_reassembled() {
    let (mut d, conn) = established(config());
    d.inject("P. seq=1101 ack=1 len=100"); // second 100 bytes first
    d.expect(". seq=1 ack=1001");
    assert_eq!(d.stack.recv_queue(conn), Ok(0));
    assert!(d.events().is_empty());
    d.inject("P. seq=1301 ack=1 len=100"); // a second hole
    d.expect(". ack=1001");
    d.inject("P. seq=1001 ack=1 len=100");
    d.expect(". ack=1201");
    d.inject("P. seq=1201 ack=1 len=100");
    d.expect(". ack=1401");
    assert_eq!(d.events(), vec![Event::Readable(conn)]);
    let mut buf = [0u8; 1000];
    assert_eq!(d.stack.recv(conn, &mut buf), Ok(400));
    let expected: Vec<u8> = (0..4)
        .flat_map(|_| (0..100).map(|i| b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(&buf[..400], &expected[..]);
    assert!(d.stack.stats().tcp_out_of_order >= 2);
}

#[test]
fn delayed_ack_and_every_second_segment() {
    let (mut d, conn) = established(config());
    d.inject("P. seq=1001 ack=1 len=10");
    d.expect_nothing();
    d.advance(Duration::from_millis(1));
    d.expect(". ack=1011");
    d.inject("P. seq=1011 ack=1 len=10");
    d.inject("P. seq=1021 ack=1 len=10");
    d.expect(". ack=1031");
    // An ACK piggybacks on data.
    d.inject("P. seq=1031 ack=1 len=10");
    d.stack.send(conn, b"reply").unwrap();
    d.expect("P. seq=1 ack=1041 len=5");
    d.advance(Duration::from_millis(2));
    d.expect_nothing();
}

#[test]
fn a_reply_in_the_same_poll_keeps_the_delayed_ack_out_of_the_timer_wheel() {
    let (mut d, conn) = established(config());
    let armed = |d: &Drill| d.stack.tcp.wheel.armed(conn);
    // The handshake's retransmission timer fires and finds nothing due.
    d.advance(Duration::from_millis(400));
    assert_eq!(armed(&d), None, "an idle connection has no timer");
    d.inject("P. seq=1001 ack=1 len=10");
    let mut buf = [0u8; 10];
    assert_eq!(d.stack.recv(conn, &mut buf), Ok(10));
    d.stack.send(conn, &buf).unwrap();
    d.expect("P. seq=1 ack=1011 len=10");
    // Only the reply's retransmission timer is armed: the delayed ACK the
    // request armed was cancelled by the piggybacked ACK before the wheel
    // saw it.
    let rto = d.stack.tcp.table.get(conn).unwrap().rtt.rto();
    assert_eq!(armed(&d), Some(d.now + rto));
    d.inject(". seq=1011 ack=11");
    d.poll();
    assert_eq!(
        armed(&d),
        Some(d.now + rto),
        "fires once, finds nothing due"
    );
    d.advance(rto);
    assert_eq!(armed(&d), None);
    d.expect_nothing();
}

#[test]
fn zero_window_is_probed_and_reopened() {
    let (mut d, conn) = established(config());
    d.inject(". seq=1001 ack=1 win=0");
    d.stack.send(conn, b"0123456789").unwrap();
    d.expect_nothing();
    d.advance(Duration::from_millis(300));
    d.expect("P. seq=1 len=1");
    d.inject(". seq=1001 ack=1 win=0"); // probe refused
    d.advance(Duration::from_millis(600));
    d.expect("P. seq=1 len=1");
    d.inject(". seq=1001 ack=2 win=100"); // accepted, window open
    d.expect("P. seq=2 len=9");
    assert!(
        d.stack.state(conn).is_some(),
        "probing never resets the connection"
    );
}

#[test]
fn our_zero_window_refuses_data_but_takes_acks() {
    let (mut d, conn) = established(StackConfig {
        rx_buffer: 1000,
        ..config()
    });
    d.inject("P. seq=1001 ack=1 len=1000");
    d.advance(Duration::from_millis(1));
    d.expect(". ack=2001 win=0");
    d.inject("P. seq=2001 ack=1 len=1"); // peer's probe
    d.expect(". ack=2001 win=0");
    let mut buf = [0u8; 600];
    assert_eq!(d.stack.recv(conn, &mut buf), Ok(600));
    d.expect(". ack=2001 win=600"); // window update after a large read
}

#[test]
fn send_back_pressure_then_writable() {
    let (mut d, conn) = established(StackConfig {
        tx_buffer: 1000,
        ..config()
    });
    assert_eq!(d.stack.send(conn, &[1u8; 1500]), Ok(1000));
    assert_eq!(d.stack.send(conn, b"x"), Ok(0));
    d.expect("P. seq=1 len=1000");
    d.inject(". seq=1001 ack=501");
    assert_eq!(d.events(), vec![Event::Writable(conn)]);
    assert_eq!(d.stack.send(conn, &[1u8; 600]), Ok(500));
}
