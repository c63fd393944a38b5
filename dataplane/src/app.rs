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

/// An event delivered to the application for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// The connection was accepted on `local_port`.
    Opened {
        /// Listening port it arrived on.
        local_port: u16,
    },
    /// Bytes received, in order (copied out of the stack on the home core
    /// so that any core can run the application on them).
    Data(Vec<u8>),
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
    Send(Vec<u8>),
    /// Close the connection once everything sent has been handed to TCP.
    Close,
}

/// The batch of calls made while handling one connection's events.
#[derive(Debug, Default)]
pub struct Calls {
    calls: Vec<Call>,
}

impl Calls {
    /// Queues `data` for sending.
    pub fn send(&mut self, data: &[u8]) {
        match self.calls.last_mut() {
            Some(Call::Send(pending)) => pending.extend_from_slice(data),
            _ => self.calls.push(Call::Send(data.to_vec())),
        }
    }

    /// Queues a close.
    pub fn close(&mut self) {
        self.calls.push(Call::Close);
    }

    /// The calls queued so far, oldest first.
    pub fn as_slice(&self) -> &[Call] {
        &self.calls
    }

    /// Whether no call was made.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls, oldest first.
    pub fn into_vec(self) -> Vec<Call> {
        self.calls
    }
}

/// The core the application runs on, as the application sees it.
pub trait Cpu {
    /// The core's clock, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Spends `ns` nanoseconds of service time on this core (a busy loop on
    /// a real core, with IPI safe points; virtual time in the simulator).
    fn spin(&mut self, ns: u64);
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
