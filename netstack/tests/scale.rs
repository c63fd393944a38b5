//! 10,000 concurrent connections between two stacks: every one accepted,
//! each carrying a 64-byte request and its echo, then all closed; memory
//! per connection reported (configured and measured resident).

mod common;

use std::collections::HashMap;
use std::time::Instant as WallClock;

use common::{PORT, server_addr};
use netstack::sim::{Link, LinkConfig};
use netstack::{ConnId, Event, Stack, StackConfig};

const CONNECTIONS: usize = 10_000;

fn config(base: StackConfig) -> StackConfig {
    StackConfig {
        rx_buffer: 8 * 1024,
        tx_buffer: 8 * 1024,
        syn_backlog: CONNECTIONS,
        control_queue_len: 4 * CONNECTIONS,
        ..base
    }
}

/// Resident set size of this process, bytes (0 where /proc is missing).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn ten_thousand_connections_accepted_served_and_closed() {
    let rss_before = resident_bytes();
    let started = WallClock::now();
    let client = Stack::new(config(common::client_config())).unwrap();
    let server = Stack::new(config(common::server_config())).unwrap();
    let mut link = Link::new(client, server, LinkConfig::default());
    link.b.listen(PORT).unwrap();
    let now = link.now;
    let clients: Vec<ConnId> = (0..CONNECTIONS)
        .map(|_| link.a.connect(now, server_addr()).unwrap())
        .collect();
    let mut accepted = Vec::new();
    let mut connected = 0;
    let mut echoed: HashMap<ConnId, usize> = HashMap::new();
    let request = [0x5au8; 64];
    let mut buf = [0u8; 128];
    for _ in 0..1_000_000 {
        link.step(link.now + netstack::Duration::from_secs(5));
        while let Some(event) = link.a.pop_event() {
            match event {
                Event::Connected(conn) => {
                    connected += 1;
                    assert_eq!(link.a.send(conn, &request), Ok(64));
                }
                Event::Readable(conn) => {
                    let n = link.a.recv(conn, &mut buf).unwrap();
                    *echoed.entry(conn).or_default() += n;
                }
                other => panic!("client: unexpected {other:?}"),
            }
        }
        while let Some(event) = link.b.pop_event() {
            match event {
                Event::Accepted { conn, .. } => accepted.push(conn),
                Event::Readable(conn) => {
                    let n = link.b.recv(conn, &mut buf).unwrap();
                    assert_eq!(link.b.send(conn, &buf[..n]), Ok(n));
                }
                other => panic!("server: unexpected {other:?}"),
            }
        }
        if echoed.values().filter(|&&n| n == 64).count() == CONNECTIONS {
            break;
        }
    }
    assert_eq!((connected, accepted.len()), (CONNECTIONS, CONNECTIONS));
    assert_eq!(link.b.connection_count(), CONNECTIONS);
    let rss_during = resident_bytes();
    let configured = link.b.memory_per_connection();
    let measured = rss_during.saturating_sub(rss_before) / (2 * CONNECTIONS);
    println!(
        "{CONNECTIONS} connections served in {:?}: configured {configured} B/connection \
         (8 KiB rx + 8 KiB tx + table and timer wheel), measured resident {measured} B/connection per stack",
        started.elapsed()
    );
    for conn in &clients {
        link.a.close(*conn).unwrap();
    }
    let mut server_closed = 0;
    for _ in 0..100_000 {
        link.step(link.now + netstack::Duration::from_secs(5));
        while link.a.pop_event().is_some() {}
        while let Some(event) = link.b.pop_event() {
            match event {
                Event::PeerClosed(conn) => link.b.close(conn).unwrap(),
                Event::Closed(_) => server_closed += 1,
                _ => {}
            }
        }
        if server_closed == CONNECTIONS {
            break;
        }
    }
    assert_eq!(server_closed, CONNECTIONS);
    assert_eq!(link.b.connection_count(), 0, "server side fully closed");
    assert_eq!(
        link.a.connection_count(),
        CONNECTIONS,
        "client side lingers in TIME-WAIT"
    );
}
