//! Client half-close (RFC 9293 section 3.6): the client sends its requests
//! and closes at once; the server answers each request as it reads it,
//! including after PeerClosed (CLOSE-WAIT), then closes. Every reply must
//! reach the client application byte-exact, with and without loss, before
//! its Closed event.

mod common;

use common::{handshake, link};
use netstack::sim::{Link, LinkConfig};
use netstack::{ConnId, Duration, Event, Stack};

const REQUESTS: usize = 64;
const REQUEST_LEN: usize = 16;
const REPLY_LEN: usize = 300;

fn request(index: usize) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    let text = format!("request {index:07}\n");
    out.copy_from_slice(text.as_bytes());
    out
}

fn reply(index: usize) -> Vec<u8> {
    (0..REPLY_LEN)
        .map(|i| (index as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// Reads everything queued on `conn` into `out`, like the runtime does:
/// until the end of stream (0) or until the connection is gone (a reader
/// that already saw the end of stream of an event batch may be handed a
/// later event of the same batch).
fn drain(stack: &mut Stack, conn: ConnId, out: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stack.recv(conn, &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
}

/// The server side: answers every complete request read so far, and
/// closes once the peer closed and everything is answered.
struct Server {
    conn: ConnId,
    received: Vec<u8>,
    answered: usize,
    peer_closed: bool,
    closed: bool,
}

impl Server {
    fn on_event(&mut self, stack: &mut Stack, event: Event) {
        match event {
            Event::Readable(conn) if conn == self.conn => {
                drain(stack, conn, &mut self.received);
            }
            Event::PeerClosed(conn) if conn == self.conn => {
                drain(stack, conn, &mut self.received);
                self.peer_closed = true;
            }
            _ => return,
        }
        while (self.answered + 1) * REQUEST_LEN <= self.received.len() {
            let start = self.answered * REQUEST_LEN;
            assert_eq!(
                self.received[start..start + REQUEST_LEN],
                request(self.answered)
            );
            let sent = stack.send(self.conn, &reply(self.answered)).unwrap();
            assert_eq!(sent, REPLY_LEN, "server send buffer holds every reply");
            self.answered += 1;
        }
        if self.peer_closed && self.answered == REQUESTS && !self.closed {
            stack.close(self.conn).unwrap();
            self.closed = true;
        }
    }
}

/// Runs the exchange; returns the bytes the client application read.
fn exchange(link: &mut Link) -> Vec<u8> {
    let (client, server_conn) = handshake(link);
    for index in 0..REQUESTS {
        assert_eq!(link.a.send(client, &request(index)), Ok(REQUEST_LEN));
    }
    link.a.close(client).unwrap();
    let mut server = Server {
        conn: server_conn,
        received: Vec::new(),
        answered: 0,
        peer_closed: false,
        closed: false,
    };
    let mut replies = Vec::new();
    for _ in 0..1_000_000 {
        link.step(link.now + Duration::from_secs(120));
        while let Some(event) = link.b.pop_event() {
            server.on_event(&mut link.b, event);
        }
        while let Some(event) = link.a.pop_event() {
            match event {
                Event::Readable(conn) | Event::PeerClosed(conn) if conn == client => {
                    drain(&mut link.a, client, &mut replies);
                }
                Event::Closed(conn) if conn == client => return replies,
                Event::Reset(conn) if conn == client => panic!("client connection reset"),
                _ => {}
            }
        }
    }
    panic!(
        "no Closed on the client after {} of {} reply bytes",
        replies.len(),
        REQUESTS * REPLY_LEN
    );
}

fn check(config: LinkConfig) {
    let mut link = link(config);
    let replies = exchange(&mut link);
    let expected: Vec<u8> = (0..REQUESTS).flat_map(reply).collect();
    assert_eq!(
        replies.len(),
        expected.len(),
        "client read {} of {} reply bytes before Closed",
        replies.len(),
        expected.len()
    );
    assert!(replies == expected, "reply bytes differ");
    link.advance(Duration::from_secs(61));
    assert_eq!(link.a.connection_count(), 0, "client TIME-WAIT expired");
    assert_eq!(link.b.connection_count(), 0, "server LAST-ACK -> CLOSED");
}

#[test]
fn replies_after_client_half_close_all_arrive() {
    check(LinkConfig::default());
}

#[test]
fn replies_after_client_half_close_all_arrive_through_loss() {
    for seed in 1..=20 {
        check(LinkConfig {
            loss: 0.05,
            reorder: 0.02,
            duplicate: 0.01,
            seed,
            ..LinkConfig::default()
        });
    }
}

#[test]
fn fin_wait_2_timeout_keeps_unread_bytes_until_end_of_stream_is_read() {
    let mut link = link(LinkConfig::default());
    let (client, server) = handshake(&mut link);
    link.a.close(client).unwrap();
    link.run_until_idle(1_000);
    assert_eq!(link.b.send(server, &reply(0)), Ok(REPLY_LEN));
    // The server never closes: FIN-WAIT-2 times out with the reply unread.
    link.advance(Duration::from_secs(61));
    let mut events = Vec::new();
    while let Some(event) = link.a.pop_event() {
        events.push(event);
    }
    assert_eq!(
        events,
        [Event::Readable(client)],
        "no Closed before the read"
    );
    assert_eq!(link.a.connection_count(), 1, "block kept for the read");
    let mut replies = Vec::new();
    drain(&mut link.a, client, &mut replies);
    assert_eq!(replies, reply(0));
    assert_eq!(link.a.pop_event(), Some(Event::Closed(client)));
    assert_eq!(
        link.a.connection_count(),
        0,
        "freed with the deferred Closed"
    );
}
