//! Shared helpers of the netstack integration tests: two stack
//! configurations on one subnet, a deterministic byte stream and its hash.

#![allow(dead_code)] // each test binary uses a subset

use std::net::{Ipv4Addr, SocketAddrV4};

use netstack::sim::{Link, LinkConfig};
use netstack::{ConnId, Event, Stack, StackConfig};

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PORT: u16 = 80;

pub fn client_config() -> StackConfig {
    StackConfig {
        mac: [2, 0, 0, 0, 0, 1],
        ipv4: CLIENT_IP,
        ..StackConfig::default()
    }
}

pub fn server_config() -> StackConfig {
    StackConfig {
        mac: [2, 0, 0, 0, 0, 2],
        ipv4: SERVER_IP,
        ..StackConfig::default()
    }
}

pub fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(SERVER_IP, PORT)
}

/// Byte `i` of the test stream (splitmix64 of i / 8).
pub fn stream_bytes(start: u64, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().enumerate() {
        let pos = start + i as u64;
        let mut z = (pos / 8).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        *byte = (z >> ((pos % 8) * 8)) as u8;
    }
}

/// FNV-1a, 64 bit, streaming.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Connects the client of `link` to the server's port 80; returns
/// (client conn, server conn) once both sides report the handshake.
pub fn handshake(link: &mut Link) -> (ConnId, ConnId) {
    link.b.listen(PORT).unwrap();
    let now = link.now;
    let client = link.a.connect(now, server_addr()).unwrap();
    let mut server = None;
    let mut connected = false;
    for _ in 0..10_000 {
        link.step(link.now + netstack::Duration::from_secs(10));
        while let Some(event) = link.a.pop_event() {
            connected |= event == Event::Connected(client);
        }
        while let Some(event) = link.b.pop_event() {
            if let Event::Accepted { conn, .. } = event {
                server = Some(conn);
            }
        }
        if connected && let Some(server) = server {
            return (client, server);
        }
    }
    panic!("handshake did not complete");
}

pub fn link(config: LinkConfig) -> Link {
    Link::new(
        Stack::new(client_config()).unwrap(),
        Stack::new(server_config()).unwrap(),
        config,
    )
}

/// Streams `total` bytes from the client to the server; returns the
/// (sent, received) hashes. `on_progress(link, received, (client,
/// server))` runs every step and returns the connections to use from then
/// on (it may swap a stack of the link and import the connection there).
pub fn transfer(
    link: &mut Link,
    mut client: ConnId,
    mut server: ConnId,
    total: u64,
    mut on_progress: impl FnMut(&mut Link, u64, (ConnId, ConnId)) -> (ConnId, ConnId),
) -> (Fnv, Fnv) {
    let (mut sent, mut received) = (0u64, 0u64);
    let (mut sent_hash, mut received_hash) = (Fnv::default(), Fnv::default());
    let mut chunk = vec![0u8; 256 * 1024];
    let mut pending = 0..0;
    let mut buf = vec![0u8; 256 * 1024];
    let mut steps = 0u64;
    while received < total {
        steps += 1;
        assert!(
            steps < 2_000_000,
            "transfer stalled at {received} of {total} bytes: client {:?} {:#?} server {:?} {:#?}",
            link.a.state(client),
            link.a.stats(),
            link.b.state(server),
            link.b.stats()
        );
        if pending.is_empty() && sent < total {
            let len = (total - sent).min(chunk.len() as u64) as usize;
            stream_bytes(sent, &mut chunk[..len]);
            pending = 0..len;
        }
        while !pending.is_empty() {
            let n = link.a.send(client, &chunk[pending.clone()]).unwrap();
            if n == 0 {
                break;
            }
            sent_hash.update(&chunk[pending.start..pending.start + n]);
            sent += n as u64;
            pending.start += n;
        }
        loop {
            let n = link.b.recv(server, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            received_hash.update(&buf[..n]);
            received += n as u64;
        }
        while link.a.pop_event().is_some() {}
        while link.b.pop_event().is_some() {}
        (client, server) = on_progress(link, received, (client, server));
        let limit = link.now + netstack::Duration::from_secs(120);
        link.step(limit);
    }
    (sent_hash, received_hash)
}
