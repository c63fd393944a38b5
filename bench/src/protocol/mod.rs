//! The application protocol a load generator speaks: what bytes a request
//! is, and where a response ends.
//!
//! The open-loop generator of [`crate::loadgen`] knows nothing of any
//! application. [`crate::loadgen::run_load_with`] takes two halves of a
//! protocol, used by two threads:
//!
//! - a [`RequestGenerator`], owned by the sender thread, appends the bytes
//!   of the next request to a buffer and says which *class* it belongs to
//!   (a memcached get or set; a TPC-C New-Order or Payment...). Latencies
//!   are reported per class as well as overall.
//! - a [`ResponseFramer`], shared with the receiver thread, finds the end
//!   of the first complete response in a connection's received bytes.
//!
//! Responses come back in request order on each connection (the servers
//! under test answer a connection's requests in order, as memcached and
//! ZygOS's per-socket ownership guarantee), so the generator matches the
//! n-th response of a connection to its n-th request: the framer is told
//! which request the next response answers, and it only has to say how
//! long that response is. A protocol that echoes a request id in its
//! responses (the synthetic one does) returns it in [`Frame::echoed_id`],
//! and the generator checks it against the request's.
//!
//! Implementing a protocol (an application crate depends on `bench` for
//! this, never the other way round):
//!
//! ```
//! use bench::protocol::{Frame, FrameError, PendingRequest, RequestClass, RequestGenerator, ResponseFramer};
//! use rand::{Rng, RngCore};
//!
//! /// `PING\n` or `ECHO n\n`, answered by one line each.
//! struct LineRequests;
//!
//! impl RequestGenerator for LineRequests {
//!     fn class_names(&self) -> &[&'static str] {
//!         &["ping", "echo"]
//!     }
//!     fn next_request(&mut self, rng: &mut dyn RngCore, _id: u64, out: &mut Vec<u8>) -> RequestClass {
//!         if rng.random_bool(0.5) {
//!             out.extend_from_slice(b"PING\n");
//!             0
//!         } else {
//!             out.extend_from_slice(b"ECHO 7\n");
//!             1
//!         }
//!     }
//! }
//!
//! struct LineResponses;
//!
//! impl ResponseFramer for LineResponses {
//!     fn frame(&self, _request: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError> {
//!         Ok(received.iter().position(|&b| b == b'\n').map(|end| Frame::new(end + 1)))
//!     }
//! }
//! ```
//!
//! [`SyntheticRequests`] and [`SyntheticResponses`] implement the
//! synthetic protocol of [`dataplane::synthetic_protocol`] (the server
//! spins for a service time carried in the request).

use rand::RngCore;

mod synthetic;
#[cfg(test)]
mod tests;

pub use synthetic::{SyntheticRequests, SyntheticResponses};

/// Index of a request class in [`RequestGenerator::class_names`].
pub type RequestClass = usize;

/// Most classes a generator may name (classes are logged as one byte per
/// request).
pub const MAX_CLASSES: usize = 256;

/// Produces the requests of an open-loop run, one at a time, on the
/// sender thread.
///
/// The sender calls [`next_request`](Self::next_request) once per
/// scheduled arrival, *before* waiting for that arrival's send time, so
/// the time spent here does not delay the send (it must still stay well
/// under the mean inter-arrival time). The bytes are written on one
/// connection, whole, in one go.
pub trait RequestGenerator: Send {
    /// The names of the request classes, indexed by [`RequestClass`]
    /// (at most [`MAX_CLASSES`]), as printed in per-class reports: e.g.
    /// `["get", "set"]`. A protocol with one kind of request names one.
    fn class_names(&self) -> &[&'static str];

    /// Appends the bytes of request number `id` (0, 1, 2... in send
    /// order) to `out`, which may already hold bytes (append, never clear
    /// or overwrite), and returns its class, an index into
    /// [`class_names`](Self::class_names).
    ///
    /// Draw every random choice from `rng` (seeded from the run's seed):
    /// two runs with the same seed then send the same requests. `id` is
    /// for protocols that carry it on the wire.
    fn next_request(&mut self, rng: &mut dyn RngCore, id: u64, out: &mut Vec<u8>) -> RequestClass;
}

/// The request a response is expected to answer: the oldest request still
/// unanswered on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRequest {
    /// The request's id (its index in send order).
    pub id: u64,
    /// The class [`RequestGenerator::next_request`] returned for it.
    pub class: RequestClass,
}

/// A complete response found at the start of a connection's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Its length in bytes (at least 1): the generator drops this many
    /// bytes and looks for the next response in the rest.
    pub len: usize,
    /// The request id the response carries, for protocols that echo one:
    /// the generator stops the run with an out-of-order error when it is
    /// not the pending request's id. `None` when the protocol has no ids.
    pub echoed_id: Option<u64>,
}

impl Frame {
    /// A response of `len` bytes carrying no request id.
    pub fn new(len: usize) -> Frame {
        Frame {
            len,
            echoed_id: None,
        }
    }
}

/// Received bytes that cannot start a valid response. The run stops with
/// this error: the server is broken or the framer does not match it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not a response of this protocol.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// A well-formed response that cannot answer the pending request
    /// (e.g. a store confirmation to a read), or an error the server
    /// returned instead of an answer.
    #[error("response {response:?} does not answer a {request} request")]
    Unexpected {
        /// The response (or its first line), lossily decoded.
        response: String,
        /// Class name of the pending request.
        request: &'static str,
    },
}

/// Finds where responses end in a connection's received bytes, on the
/// receiver thread. Shared (`Sync`): keep per-connection state out of it;
/// the received bytes and the pending request are all it gets.
pub trait ResponseFramer: Sync {
    /// Looks at the bytes received on one connection and not yet consumed
    /// (they start exactly at a response boundary) and returns:
    ///
    /// - `Ok(Some(frame))` when they start with a complete response to
    ///   `request`, `frame.len` being its length (≤ `received.len()`);
    /// - `Ok(None)` when they are a prefix of a valid response (more bytes
    ///   are needed; a response may arrive in any number of pieces);
    /// - `Err(_)` when they cannot start a valid response to `request`.
    ///
    /// Must never panic, whatever the bytes (a broken server must not
    /// crash the generator), and should return `Err` rather than `None`
    /// as soon as the bytes cannot become valid, so that garbage stops the
    /// run instead of waiting for its drain timeout.
    fn frame(&self, request: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError>;
}
