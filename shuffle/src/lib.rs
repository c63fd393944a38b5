//! The shuffle layer of ZygOS (Prekas, Kogias, Bugnion, SOSP'17; Kogias'
//! thesis ch. 4.4-4.5): per-core queues of ready connections, per-socket
//! ownership, stealing and remote-syscall queues. Pure data structures: no
//! I/O, no threads.
//!
//! How a dataplane uses it, per core `i`:
//! - at start, [`Home::new`]`(i)` and [`remote_queue`]; every other core gets
//!   this core's [`Stealer`] and [`RemoteSender`];
//! - the network stack's events go in with [`Home::push_event`] (after
//!   [`Home::open`] for a new connection);
//! - the core takes work with [`Home::pop`], or when idle from another core
//!   with [`Stealer::steal`], and runs the application on the [`Claim`];
//! - calls made on its own connection run at once and the claim is
//!   [`Home::release`]d; calls on a stolen connection travel with the claim
//!   through the home core's [`RemoteSender`], and the home core runs them
//!   and releases the claim when it drains its [`RemoteReceiver`].
//!
//! Ordering invariant: a connection has at most one [`Claim`] at a time and
//! only the home core ends it after executing its calls, so one core at a
//! time runs the application on a connection, and its replies leave in
//! request order. `RUSTFLAGS="--cfg loom" cargo test -p shuffle --release
//! --test loom` model-checks these types; `tests/stress.rs` runs them on
//! real threads.

mod conn_state;
mod primitive;
mod queue;
mod remote;

pub use conn_state::ConnState;
pub use queue::{Claim, Home, Released, ShuffleError, Steal, Stealer};
pub use remote::{RemoteReceiver, RemoteSender, remote_queue};
