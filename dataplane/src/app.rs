//! The application API (thesis ch. 4.4.2, execution layer): an application
//! is event-driven. The runtime hands it, one connection at a time, the
//! batch of events pending on that connection ([`AppEvent`]) and collects
//! the batch of calls it makes ([`Calls`]); the calls are executed on the
//! connection's home core (directly, or as remote system calls when the
//! connection was stolen).
//!
//! An application implements [`App`]: one shared value (`&self`, so its
//! global state must be `Sync`) and one [`App::Conn`] per connection, which
//! the runtime owns and moves with the connection when another core steals
//! it. The same code runs in every scheduling mode and on every platform;
//! service time is spent through [`Cpu::spin`], which busy-waits on real
//! cores and advances the virtual clock in the simulator.

use crate::payload::{Payload, PayloadPool};

/// An event delivered to the application for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// The connection was accepted on `local_port`.
    Opened {
        /// Listening port it arrived on.
        local_port: u16,
    },
    /// Bytes received, in order (copied out of the stack on the home core
    /// so that any core can run the application on them; the buffer goes
    /// back to the home core's pool when dropped).
    Data(Payload),
    /// The peer closed its sending side; no more data will arrive.
    PeerClosed,
    /// The connection is gone (closed or reset); its state is dropped after
    /// this batch.
    Closed,
}

/// A call the application makes on the connection it is running on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Send these bytes, after every byte sent before on this connection.
    Send(Payload),
    /// Close the connection once everything sent has been handed to TCP.
    Close,
}

/// The batch of calls made while handling one connection's events: the
/// bytes to send, in order, in one buffer, then possibly a close.
///
/// Consecutive sends are one send of their concatenation, and nothing can
/// be sent after a close, so this is every batch an application can make;
/// it needs no allocation per batch (the buffer comes from the running
/// core's pool). Sends made after the close are counted, not sent.
#[derive(Debug, Default)]
pub struct Calls {
    data: Option<Payload>,
    close: bool,
    sends_after_close: u32,
    pool: Option<PayloadPool>,
}

impl Calls {
    /// An empty batch whose send buffer is drawn from `pool`.
    pub fn pooled(pool: PayloadPool) -> Self {
        Calls {
            pool: Some(pool),
            ..Calls::default()
        }
    }

    /// Queues `data` for sending.
    pub fn send(&mut self, data: &[u8]) {
        if self.close {
            self.sends_after_close += 1;
            return;
        }
        if data.is_empty() {
            return;
        }
        let pool = &self.pool;
        self.data
            .get_or_insert_with(|| pool.as_ref().map(PayloadPool::take).unwrap_or_default())
            .extend_from_slice(data);
    }

    /// Queues a close.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// The bytes to send (empty when none).
    pub fn data(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// Whether the batch ends with a close.
    pub fn closes(&self) -> bool {
        self.close
    }

    /// Sends made after the close, which are not executed.
    pub fn sends_after_close(&self) -> u32 {
        self.sends_after_close
    }

    /// Number of calls made: a send, a close, and the sends after it.
    pub fn len(&self) -> usize {
        usize::from(self.data.is_some()) + usize::from(self.close) + self.sends_after_close as usize
    }

    /// Whether no call was made.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The calls in execution order (a send, then a close).
    pub fn into_vec(mut self) -> Vec<Call> {
        let send = self.data.take().map(Call::Send);
        send.into_iter()
            .chain(self.close.then_some(Call::Close))
            .collect()
    }
}

/// The core the application runs on, as the application sees it.
pub trait Cpu {
    /// The core's clock, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Spends `ns` nanoseconds of service time on this core (a busy loop on
    /// a real core, with IPI safe points; virtual time in the simulator).
    fn spin(&mut self, ns: u64);

    /// An IPI safe point: if another core interrupted this one, does the
    /// work it asked for now (receive, so that idle cores can steal the
    /// connections waiting here; remote system calls; transmit), then
    /// returns. Application code that runs long without spinning (a
    /// database transaction) calls it between steps; the interrupt itself
    /// only flags the core, since it may arrive inside the allocator or a
    /// lock (thesis §4.4.5; see `process::signal`). A CPU without
    /// interrupts has nothing to do.
    fn safe_point(&mut self) {}
}

/// An event-driven application served by the dataplane.
pub trait App: Send + Sync + 'static {
    /// Per-connection state, owned by the runtime and moved with the
    /// connection to whichever core runs it.
    type Conn: Send + 'static;

    /// Creates the state of a connection accepted on `local_port`.
    fn open(&self, local_port: u16) -> Self::Conn;

    /// Handles one event of `conn`, appending calls to `calls`. The events
    /// of a batch are delivered in order, and no other core runs this
    /// connection until the batch's calls have been executed.
    fn on_event(
        &self,
        conn: &mut Self::Conn,
        event: AppEvent,
        calls: &mut Calls,
        cpu: &mut dyn Cpu,
    );
}
