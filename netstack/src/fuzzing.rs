//! Entry points of the fuzz targets (`netstack/fuzz/`), also run over the
//! seed corpus and mutated inputs by the unit tests: any byte string must be
//! handled without a panic, and parsers must round-trip what they accept.

use std::net::SocketAddrV4;

use crate::config::StackConfig;
use crate::event::{ConnId, Event};
use crate::sim::{Link, LinkConfig};
use crate::stack::Stack;
use crate::tcp::options::{MAX_OPTIONS_LEN, TcpOptions};
use crate::time::Duration;

/// The fixture of [`frame_target`]: a server stack at 10.0.0.2 listening on
/// port 80 with one established connection from 10.0.0.1, built the same
/// way every time (so captured frames match its sequence numbers).
#[derive(Debug)]
pub struct Fixture {
    /// Client (10.0.0.1) and server (10.0.0.2) on a clean link.
    pub link: Link,
    /// The server side of the established connection.
    pub server_conn: ConnId,
    /// The client side.
    pub client_conn: ConnId,
}

/// Listening port of the fixture's server.
pub const FIXTURE_PORT: u16 = 80;

impl Fixture {
    /// Builds the fixture (small buffers, so it is cheap).
    pub fn new() -> Fixture {
        let small = |mac: [u8; 6], ip: [u8; 4]| StackConfig {
            mac,
            ipv4: ip.into(),
            rx_buffer: 4096,
            tx_buffer: 4096,
            max_connections: 64,
            ..StackConfig::default()
        };
        let client = Stack::new(small([2, 0, 0, 0, 0, 1], [10, 0, 0, 1]))
            .unwrap_or_else(|e| unreachable!("fixed configuration is valid: {e}"));
        let server = Stack::new(small([2, 0, 0, 0, 0, 2], [10, 0, 0, 2]))
            .unwrap_or_else(|e| unreachable!("fixed configuration is valid: {e}"));
        let mut link = Link::new(client, server, LinkConfig::default());
        let _ = link.b.listen(FIXTURE_PORT);
        let _ = link.b.bind_udp(7);
        let server_addr = SocketAddrV4::new([10, 0, 0, 2].into(), FIXTURE_PORT);
        let client_conn = link
            .a
            .connect(link.now, server_addr)
            .unwrap_or_else(|e| unreachable!("the fixture's table is empty: {e}"));
        link.run_until_idle(100);
        let server_conn = std::iter::from_fn(|| link.b.pop_event())
            .find_map(|event| match event {
                Event::Accepted { conn, .. } => Some(conn),
                _ => None,
            })
            .unwrap_or_else(|| unreachable!("the clean link completes the handshake"));
        while link.a.pop_event().is_some() {}
        Fixture {
            link,
            server_conn,
            client_conn,
        }
    }
}

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::new()
    }
}

/// Fuzz target `frame`: hands `data` as one frame to the fixture's server,
/// then lets both stacks run (timers included) and the server application
/// read and write, as a runtime would.
pub fn frame_target(data: &[u8]) {
    let mut fixture = Fixture::new();
    let link = &mut fixture.link;
    let now = link.now;
    link.b.handle_frame(now, data);
    let mut buf = [0u8; 512];
    for _ in 0..4 {
        while let Some(event) = link.b.pop_event() {
            if let Event::Readable(conn) | Event::Accepted { conn, .. } = event {
                while let Ok(n) = link.b.recv(conn, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = link.b.send(conn, &buf[..n]);
                }
            }
            if let Event::UdpReadable { port } = event {
                while let Ok(Some(_)) = link.b.recv_udp(port, &mut buf) {}
            }
        }
        link.advance(Duration::from_millis(300));
    }
}

/// Fuzz target `options`: parses `data` as a TCP option list; whatever
/// parses must survive writing and parsing again unchanged.
pub fn options_target(data: &[u8]) {
    let Ok(options) = TcpOptions::parse(data) else {
        return;
    };
    let mut out = [0u8; MAX_OPTIONS_LEN + 8];
    let len = options.write(&mut out);
    assert_eq!(
        TcpOptions::parse(&out[..len]),
        Ok(options),
        "options round trip"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seed corpus of a target.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("seed corpus {}: {e}", dir.display()))
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 4, "seed corpus of {target} too small");
        seeds
    }

    /// Deterministic mutations: bit flips, byte overwrites, truncation and
    /// extension, in the style of a fuzzer's havoc stage.
    fn mutate(seed: &[u8], state: &mut u64) -> Vec<u8> {
        let mut next = || {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state
        };
        let mut input = seed.to_vec();
        for _ in 0..1 + next() % 4 {
            let r = next();
            match r % 5 {
                0 if !input.is_empty() => {
                    let at = (r >> 8) as usize % input.len();
                    input[at] ^= 1 << ((r >> 40) % 8);
                }
                1 if !input.is_empty() => {
                    let at = (r >> 8) as usize % input.len();
                    input[at] = (r >> 32) as u8;
                }
                2 => input.truncate((r >> 8) as usize % (input.len() + 1)),
                3 => input.extend((0..(r >> 8) % 16).map(|i| (r >> i) as u8)),
                _ => {
                    let at = (r >> 8) as usize % (input.len() + 1);
                    input.insert(at, (r >> 24) as u8);
                }
            }
        }
        input
    }

    fn short_run(target: &str, run: fn(&[u8]), iterations: usize) {
        let seeds = corpus(target);
        for seed in &seeds {
            run(seed);
        }
        let mut state = 0x2545_f491_4f6c_dd1d;
        for i in 0..iterations {
            run(&mutate(&seeds[i % seeds.len()], &mut state));
        }
    }

    #[test]
    fn frame_target_short_run() {
        short_run("frame", frame_target, 3_000);
    }

    #[test]
    fn options_target_short_run() {
        short_run("options", options_target, 20_000);
    }

    #[test]
    fn fixture_is_established() {
        let mut fixture = Fixture::new();
        assert_eq!(
            fixture.link.b.state(fixture.server_conn),
            Some(crate::State::Established)
        );
        assert_eq!(fixture.link.a.send(fixture.client_conn, b"x"), Ok(1));
    }
}
