//! The per-connection protocol engine: bytes in, replies out.
//!
//! A transport calls [`Session::receive`] with whatever arrived on the
//! connection (a request may be split across calls, and one call may hold
//! several pipelined requests) and sends what the call appended to `out`.
//! When it returns [`Flow::Close`] the transport sends `out` and closes the
//! connection. The session buffers at most one request (a command line up
//! to memcached's limits, or one value no larger than the item size limit);
//! larger values are read and discarded as memcached does.
//!
//! As in memcached (`try_read_command_negotiate`), the first byte decides
//! the protocol for the whole connection: 0x80 is the binary protocol,
//! anything else the text protocol.

mod binary;
mod binary_header;
mod stats;
mod text;

use std::sync::Arc;

use crate::server::Server;
use crate::store::UnixTime;

pub use binary_header::{HEADER_LEN, Magic, Opcode, RequestHeader, ResponseHeader, Status};
pub use stats::{StatsGroup, report as stats_report};

/// Largest input buffer a connection keeps once it has nothing pending.
const IDLE_BUFFER_KEPT: usize = 64 << 10;

/// Whether the connection stays open after a [`Session::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Flow {
    /// Keep reading.
    Open,
    /// Send the replies, then close the connection.
    Close,
}

/// What one step of an engine did with the buffered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Handled a request of this many bytes; never 0.
    Consumed(usize),
    /// Handled a request of `consumed` bytes, and the `discard` bytes that
    /// follow it are to be read and dropped (a refused value).
    Discard {
        /// Bytes of the request.
        consumed: usize,
        /// Bytes to drop after it.
        discard: usize,
    },
    /// The buffered bytes do not hold a whole request yet.
    NeedMore,
    /// Close the connection.
    Close,
}

enum Engine {
    Undecided,
    Text(text::TextEngine),
    Binary(binary::BinaryEngine),
}

/// One client connection's protocol state.
pub struct Session {
    server: Arc<Server>,
    engine: Engine,
    pending: Vec<u8>,
    discard: usize,
    closed: bool,
}

impl Session {
    /// A session for a connection admitted by [`Server::connect`].
    pub(crate) fn new(server: Arc<Server>) -> Self {
        Session {
            server,
            engine: Engine::Undecided,
            pending: Vec::new(),
            discard: 0,
            closed: false,
        }
    }

    /// Bytes buffered while waiting for the rest of a request.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Handles `data` received at `now`, appending replies to `out`.
    pub fn receive(&mut self, data: &[u8], now: UnixTime, out: &mut Vec<u8>) -> Flow {
        if self.closed {
            return Flow::Close;
        }
        if self.pending.is_empty() {
            let consumed = self.run(data, now, out);
            self.pending.extend_from_slice(&data[consumed..]);
        } else {
            let mut buffer = std::mem::take(&mut self.pending);
            buffer.extend_from_slice(data);
            let consumed = self.run(&buffer, now, out);
            buffer.drain(..consumed);
            // An idle connection does not keep the room a large value took.
            if buffer.is_empty() && buffer.capacity() > IDLE_BUFFER_KEPT {
                buffer = Vec::new();
            }
            self.pending = buffer;
        }
        if self.closed {
            self.pending = Vec::new();
            Flow::Close
        } else {
            Flow::Open
        }
    }

    /// Runs requests from `buffer` until it holds no whole request; returns
    /// the bytes consumed.
    fn run(&mut self, buffer: &[u8], now: UnixTime, out: &mut Vec<u8>) -> usize {
        let mut position = 0;
        while position < buffer.len() {
            let input = &buffer[position..];
            if self.discard > 0 {
                let n = self.discard.min(input.len());
                self.discard -= n;
                position += n;
                continue;
            }
            let step = match &mut self.engine {
                Engine::Undecided => {
                    self.engine = if input[0] == Magic::Request as u8 {
                        Engine::Binary(binary::BinaryEngine)
                    } else {
                        Engine::Text(text::TextEngine::default())
                    };
                    continue;
                }
                Engine::Text(engine) => engine.step(input, &self.server, now, out),
                Engine::Binary(engine) => engine.step(input, &self.server, now, out),
            };
            match step {
                Step::Consumed(n) => position += n,
                Step::Discard { consumed, discard } => {
                    position += consumed;
                    self.discard = discard;
                }
                Step::NeedMore => break,
                Step::Close => {
                    self.closed = true;
                    break;
                }
            }
        }
        position
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.server.disconnected();
    }
}

#[cfg(test)]
mod tests;
