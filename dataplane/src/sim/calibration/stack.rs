//! The netstack's share of the data path: two real stacks exchanging
//! synthetic requests and replies in memory on one connection. Timed: the
//! receiving stack's `handle_frame` per frame (`packet_ns`), and turning
//! a received request into an application event, as the runtime's home
//! core does (`event_ns`: `recv` the bytes, copy them into an owned
//! buffer, push the event on the shuffle queue).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as WallClock};

use netstack::{ConnId, Event, FrameSink, Instant, Stack, StackConfig};
use shuffle::Home;

use super::ProbeError;
use crate::synthetic_protocol::{REQUEST_LEN, RESPONSE_LEN};

/// Frames a stack transmits, in reused buffers.
#[derive(Default)]
struct Frames {
    frames: Vec<Vec<u8>>,
    used: usize,
}

impl FrameSink for Frames {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        if self.used == self.frames.len() {
            self.frames.push(Vec::with_capacity(1514));
        }
        let frame = &mut self.frames[self.used];
        frame.clear();
        frame.resize(len, 0);
        fill(frame);
        self.used += 1;
        true
    }
}

/// A client and a server stack with one open connection.
pub struct StackPair {
    client: Stack,
    server: Stack,
    client_conn: ConnId,
    server_conn: ConnId,
    wire: Frames,
    epoch: WallClock,
    buf: Vec<u8>,
    shuffle: Home<ConnId, Vec<u8>, ()>,
}

fn stack(last: u8) -> Result<Stack, ProbeError> {
    Stack::new(StackConfig {
        mac: [2, 0, 0, 0, 0x88, last],
        ipv4: Ipv4Addr::new(10, 88, 0, last),
        ..StackConfig::default()
    })
    .map_err(|e| ProbeError::Stack(e.to_string()))
}

impl StackPair {
    /// Two stacks, connected.
    pub fn new() -> Result<StackPair, ProbeError> {
        let stack_error = |e: &dyn std::fmt::Display| ProbeError::Stack(e.to_string());
        let (mut server, mut client) = (stack(1)?, stack(2)?);
        server.listen(7000).map_err(|e| stack_error(&e))?;
        let epoch = WallClock::now();
        let now = || Instant(epoch.elapsed().as_nanos() as u64);
        let to = SocketAddrV4::new(Ipv4Addr::new(10, 88, 0, 1), 7000);
        let client_conn = client.connect(now(), to).map_err(|e| stack_error(&e))?;
        let mut wire = Frames::default();
        let mut accepted = None;
        for _ in 0..10 {
            Self::deliver(&mut client, &mut server, &mut wire, now());
            Self::deliver(&mut server, &mut client, &mut wire, now());
            while let Some(event) = server.pop_event() {
                if let Event::Accepted { conn, .. } = event {
                    accepted = Some(conn);
                }
            }
        }
        let server_conn = accepted.ok_or_else(|| ProbeError::Stack("no handshake".to_owned()))?;
        let mut shuffle = Home::new(0);
        shuffle.open(server_conn, ()).map_err(|e| stack_error(&e))?;
        Ok(StackPair {
            client,
            server,
            client_conn,
            server_conn,
            wire,
            epoch,
            buf: vec![0; 2048],
            shuffle,
        })
    }

    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Hands what `from` transmits to `to`; returns (frames, time spent in
    /// `to.handle_frame`).
    fn deliver(
        from: &mut Stack,
        to: &mut Stack,
        wire: &mut Frames,
        now: Instant,
    ) -> (u64, Duration) {
        wire.used = 0;
        from.poll(now, wire);
        let start = WallClock::now();
        for frame in &wire.frames[..wire.used] {
            to.handle_frame(now, frame);
        }
        (wire.used as u64, start.elapsed())
    }

    fn client_to_server(&mut self) -> (u64, Duration) {
        let now = self.now();
        Self::deliver(&mut self.client, &mut self.server, &mut self.wire, now)
    }

    fn server_to_client(&mut self) -> (u64, Duration) {
        let now = self.now();
        Self::deliver(&mut self.server, &mut self.client, &mut self.wire, now)
    }

    /// Sends one request to the server; returns the frames delivered and
    /// the time the server's stack spent on them.
    fn request(&mut self) -> Result<(u64, Duration), ProbeError> {
        self.client
            .send(self.client_conn, &[7u8; REQUEST_LEN])
            .map_err(|e| ProbeError::Stack(e.to_string()))?;
        Ok(self.client_to_server())
    }

    /// Replies to the request, delivers the reply; returns as [`Self::request`].
    fn reply(&mut self) -> Result<(u64, Duration), ProbeError> {
        self.server
            .send(self.server_conn, &[9u8; RESPONSE_LEN])
            .map_err(|e| ProbeError::Stack(e.to_string()))?;
        let delivered = self.server_to_client();
        while self
            .client
            .recv(self.client_conn, &mut self.buf)
            .is_ok_and(|n| n > 0)
        {}
        while self.client.pop_event().is_some() {}
        while self.server.pop_event().is_some() {}
        Ok(delivered)
    }

    /// Time to receive `frames` frames (requests, replies and their ACKs,
    /// both directions), counting only `handle_frame`.
    pub fn measure_frames(&mut self, frames: u64) -> Result<Duration, ProbeError> {
        let (mut seen, mut spent) = (0, Duration::ZERO);
        while seen < frames.max(1) {
            let (f, t) = self.request()?;
            while self
                .server
                .recv(self.server_conn, &mut self.buf)
                .is_ok_and(|n| n > 0)
            {}
            let (g, u) = self.reply()?;
            seen += f + g;
            spent += t + u;
        }
        // Scale to exactly `frames` (the last exchange may overshoot).
        Ok(spent.mul_f64(frames as f64 / seen as f64))
    }

    /// Time to turn `events` received requests into shuffle-queue events:
    /// `recv` from the stack, copy into an owned buffer, `push_event`.
    pub fn measure_events(&mut self, events: u64) -> Result<Duration, ProbeError> {
        let mut spent = Duration::ZERO;
        for _ in 0..events {
            self.request()?;
            let start = WallClock::now();
            let mut bytes = Vec::new();
            while let Ok(n @ 1..) = self.server.recv(self.server_conn, &mut self.buf) {
                bytes.extend_from_slice(&self.buf[..n]);
            }
            let pushed = self.shuffle.push_event(self.server_conn, bytes);
            spent += start.elapsed();
            pushed.map_err(|e| ProbeError::Stack(e.to_string()))?;
            let claim = self
                .shuffle
                .pop()
                .ok_or_else(|| ProbeError::Stack("pushed event not ready".to_owned()))?;
            self.shuffle
                .release(claim)
                .map_err(|e| ProbeError::Stack(e.to_string()))?;
            self.reply()?;
        }
        Ok(spent)
    }
}
