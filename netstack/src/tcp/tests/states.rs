//! One test per state transition of RFC 9293 section 3.3.2 (figure 5),
//! plus the RFC 5961 reset and SYN rules.

use super::drill::{Drill, PEER_IP, PEER_PORT};
use crate::{Duration, Event, StackConfig, StackStats, State};

fn config() -> StackConfig {
    StackConfig {
        window_scaling: false,
        timestamps: false,
        ..StackConfig::default()
    }
}

#[test]
fn listen_to_syn_received_to_established() {
    let mut d = Drill::server(config());
    d.inject("S seq=1000 mss=1200");
    let syn_ack = d.expect("S. seq=0 ack=1001 mss=1460");
    assert_eq!(
        syn_ack.options.window_scale, None,
        "no WS without the peer's"
    );
    assert!(
        d.events().is_empty(),
        "not accepted before the handshake completes"
    );
    d.inject(". seq=1001 ack=1");
    let conn = d.accepted();
    assert_eq!(d.stack.state(conn), Some(State::Established));
    let (local, remote) = d.stack.four_tuple(conn).unwrap();
    assert_eq!(
        (local.port(), *remote.ip(), remote.port()),
        (80, PEER_IP, PEER_PORT)
    );
    // Data obeys the peer's MSS of 1200.
    assert_eq!(d.stack.send(conn, &[7u8; 2000]), Ok(2000));
    d.expect(". seq=1 ack=1001 len=1200");
    d.expect(". seq=1201 ack=1001 len=800");
}

#[test]
fn syn_sent_to_established() {
    let (mut d, conn) = Drill::client(config());
    d.expect("S seq=0 mss=1460");
    assert_eq!(d.stack.state(conn), Some(State::SynSent));
    d.inject("S. seq=5000 ack=1 mss=1460");
    d.expect(". seq=1 ack=5001");
    assert_eq!(d.events(), vec![Event::Connected(conn)]);
    assert_eq!(d.stack.state(conn), Some(State::Established));
}

#[test]
fn syn_sent_refused_by_rst_and_bad_ack_answered_by_rst() {
    let (mut d, conn) = Drill::client(config());
    d.expect("S seq=0");
    d.inject("S. seq=5000 ack=77"); // acknowledges something we never sent
    d.expect("R seq=77");
    d.inject("R. seq=0 ack=1");
    assert_eq!(d.events(), vec![Event::Reset(conn), Event::Closed(conn)]);
    assert_eq!(d.stack.connection_count(), 0);
}

#[test]
fn simultaneous_open() {
    let (mut d, conn) = Drill::client(config());
    d.expect("S seq=0");
    d.inject("S seq=5000"); // the peer's own SYN crosses ours
    d.expect("S. seq=0 ack=5001");
    assert_eq!(d.stack.state(conn), Some(State::SynReceived));
    d.inject("S. seq=5000 ack=1"); // the peer's SYN-ACK
    assert_eq!(d.stack.state(conn), Some(State::Established));
    assert_eq!(d.events(), vec![Event::Connected(conn)]);
}

#[test]
fn active_close_through_fin_wait_and_time_wait() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.stack.close(conn).unwrap();
    assert_eq!(d.stack.state(conn), Some(State::FinWait1));
    d.expect("F. seq=1 ack=1001");
    d.inject(". seq=1001 ack=2");
    assert_eq!(d.stack.state(conn), Some(State::FinWait2));
    d.inject("F. seq=1001 ack=2");
    d.expect(". seq=2 ack=1002");
    assert_eq!(d.stack.state(conn), Some(State::TimeWait));
    let lingering = d.stack.tcp.table.get(conn).unwrap();
    assert_eq!(
        (lingering.rx.capacity(), lingering.tx.capacity()),
        (0, 0),
        "buffers pooled"
    );
    assert_eq!(
        d.events(),
        vec![Event::PeerClosed(conn), Event::Closed(conn)]
    );
    assert!(
        d.stack.send(conn, b"x").is_err(),
        "handle dead after Closed"
    );
    // A retransmitted FIN is acknowledged again.
    d.inject("F. seq=1001 ack=2");
    d.expect(". seq=2 ack=1002");
    d.advance(Duration::from_secs(61));
    assert_eq!(
        d.stack.connection_count(),
        0,
        "TIME-WAIT expired after 2 MSL"
    );
}

#[test]
fn passive_close_through_close_wait_and_last_ack() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.inject("F. seq=1001 ack=1");
    d.expect(". seq=1 ack=1002");
    assert_eq!(d.stack.state(conn), Some(State::CloseWait));
    assert_eq!(d.events(), vec![Event::PeerClosed(conn)]);
    let mut buf = [0u8; 8];
    assert_eq!(d.stack.recv(conn, &mut buf), Ok(0), "end of stream");
    d.stack.send(conn, b"bye").unwrap();
    d.stack.close(conn).unwrap();
    assert_eq!(d.stack.state(conn), Some(State::LastAck));
    d.expect("F. seq=1 ack=1002 len=3");
    d.inject(". seq=1002 ack=5");
    assert_eq!(d.events(), vec![Event::Closed(conn)]);
    assert_eq!(d.stack.connection_count(), 0);
}

#[test]
fn simultaneous_close_through_closing() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.stack.close(conn).unwrap();
    d.expect("F. seq=1 ack=1001");
    d.inject("F. seq=1001 ack=1"); // the peer's FIN, not acknowledging ours
    d.expect(". seq=2 ack=1002");
    assert_eq!(d.stack.state(conn), Some(State::Closing));
    d.inject(". seq=1002 ack=2");
    assert_eq!(d.stack.state(conn), Some(State::TimeWait));
}

#[test]
fn fin_wait_1_straight_to_time_wait_when_fin_and_ack_arrive_together() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.stack.close(conn).unwrap();
    d.expect("F. seq=1 ack=1001");
    d.inject("F. seq=1001 ack=2");
    d.expect(". seq=2 ack=1002");
    assert_eq!(d.stack.state(conn), Some(State::TimeWait));
}

#[test]
fn rst_rules_of_rfc5961() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.inject("R seq=1500"); // in window, not RCV.NXT: challenge ACK
    d.expect(". seq=1 ack=1001");
    d.inject("R seq=900000"); // outside the window: dropped
    d.expect_nothing();
    d.inject("S seq=3000"); // SYN on an established connection: challenge ACK
    d.expect(". seq=1 ack=1001");
    d.inject(". seq=1001 ack=9999"); // acknowledges unsent data: ACK, dropped
    d.expect(". seq=1 ack=1001");
    assert_eq!(d.stack.stats().tcp_challenge_acks, 3);
    assert_eq!(d.stack.state(conn), Some(State::Established));
    d.inject("R seq=1001"); // exact: reset
    assert_eq!(d.events(), vec![Event::Reset(conn), Event::Closed(conn)]);
    assert_eq!(d.stack.connection_count(), 0);
}

#[test]
fn closed_port_answers_rst_and_listen_rejects_acks() {
    let mut d = Drill::server(config());
    d.local_port = 81;
    d.inject("S seq=10");
    d.expect("R. seq=0 ack=11");
    d.local_port = 80;
    d.inject(". seq=10 ack=500");
    d.expect("R seq=500");
    d.inject("R seq=10");
    d.expect_nothing();
}

#[test]
fn syn_backlog_is_bounded() {
    let mut d = Drill::server(StackConfig {
        syn_backlog: 2,
        ..config()
    });
    for port in 1..=3 {
        d.peer_port = port;
        d.inject("S seq=100");
    }
    d.expect("S. ack=101");
    d.expect("S. ack=101");
    d.expect_nothing();
    assert_eq!(d.stack.stats().tcp_syn_dropped, 1);
    // Completing one handshake frees a backlog slot.
    d.peer_port = 1;
    d.iss = None;
    d.inject("S seq=100"); // retransmitted SYN: the SYN-ACK is repeated
    let again = d.expect("S. ack=101");
    assert_eq!(again.seq, Some(0));
    d.inject(". seq=101 ack=1");
    d.peer_port = 3;
    d.inject("S seq=100");
    d.expect("S. ack=101");
}

#[test]
fn syn_received_returns_to_listen_on_rst() {
    let mut d = Drill::server(config());
    d.inject("S seq=100");
    d.expect("S. ack=101");
    d.inject("R seq=101");
    assert_eq!(d.stack.connection_count(), 0);
    assert!(d.events().is_empty(), "the application never saw it");
}

#[test]
fn options_negotiated_window_scale_timestamps_and_paws() {
    let mut d = Drill::server(StackConfig::default());
    d.inject("S seq=1000 mss=1460 ws=7 ts=500,0");
    let syn_ack = d.expect("S. ack=1001 ws=1 ts=*,500");
    assert!(syn_ack.options.timestamp.is_some());
    let tsval = syn_ack.options.timestamp.unwrap().0;
    d.inject(&format!(". seq=1001 ack=1 win=2 ts=501,{tsval}"));
    let conn = d.accepted();
    // Peer window 2 << 7 = 256 bytes; segments carry timestamps, so each
    // holds MSS - 12 bytes at most.
    d.stack.send(conn, &[1u8; 1000]).unwrap();
    d.expect(". seq=1 len=256 ts=*,501");
    // Our 64 KiB buffer advertised with shift 1.
    d.inject(&format!(". seq=1001 ack=257 win=100 ts=502,{tsval}"));
    let seg = d.expect(". seq=257 len=744");
    assert_eq!(seg.win, Some(32_768));
    // PAWS: an older timestamp is dropped and answered with an ACK.
    d.inject(&format!("P. seq=1001 ack=1001 len=10 ts=400,{tsval}"));
    d.expect(". ack=1001");
    assert_eq!(d.stack.recv_queue(conn), Ok(0));
    assert_eq!(
        d.stack.stats(),
        &StackStats {
            tcp_unacceptable: 1,
            ..d.stack.stats().clone()
        }
    );
}

#[test]
fn window_override_is_advertised_raw_and_peer_window_is_readable() {
    let mut d = Drill::server(config());
    let conn = d.accept();
    assert_eq!(d.stack.peer_window(conn), Some(65_535));
    d.stack
        .set_window_override(conn, Some(0x8000 | 250))
        .unwrap();
    d.expect(". seq=1 ack=1001 win=33018");
    d.inject(". seq=1001 ack=1 win=7");
    assert_eq!(d.stack.peer_window(conn), Some(7));
    d.stack.set_window_override(conn, None).unwrap();
    d.expect(". win=65535");
}

#[test]
fn crab_option_is_echoed_on_syn_ack() {
    let mut d = Drill::server(config());
    d.inject("S seq=1000 crab=192.168.1.1");
    d.expect("S. ack=1001 crab=192.168.1.1");
    d.inject(". seq=1001 ack=1");
    let conn = d.accepted();
    assert_eq!(
        d.stack.crab_redirect(conn),
        Some("192.168.1.1".parse().unwrap())
    );
}

#[test]
fn slo_window_signals_replace_byte_flow_control_on_both_sides() {
    use crate::{Duration as Span, SloWindow};
    // Server side: tokens and idle time in the window field.
    let mut d = Drill::server(config());
    let conn = d.accept();
    d.stack.set_slo_window(conn, SloWindow::Tokens(5)).unwrap();
    d.expect(". win=5");
    d.stack
        .set_slo_window(conn, SloWindow::Idle(Span::from_micros(300)))
        .unwrap();
    d.expect(". win=33068");
    assert!(
        d.stack
            .set_slo_window(conn, SloWindow::Tokens(40_000))
            .is_err()
    );
    // Client side: a window of 3 is 3 tokens, not 3 bytes.
    let (mut c, client) = Drill::client(config());
    c.expect("S seq=0");
    c.inject("S. seq=5000 ack=1 mss=1460 win=3");
    c.expect(". ack=5001");
    c.stack.set_slo_peer(client, true).unwrap();
    c.inject(". seq=5001 ack=1 win=3");
    assert_eq!(c.stack.peer_slo_window(client), Some(SloWindow::Tokens(3)));
    c.stack.send(client, &[1u8; 2000]).unwrap();
    c.expect(". seq=1 len=1460");
    c.expect(". seq=1461 len=540");
    c.inject(". seq=5001 ack=2001 win=32868");
    assert_eq!(
        c.stack.peer_slo_window(client),
        Some(SloWindow::Idle(Span::from_micros(100)))
    );
}
