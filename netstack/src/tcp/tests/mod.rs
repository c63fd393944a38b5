//! TCP unit tests: scripted state transitions (`states`), retransmission,
//! reordering and flow control (`recovery`), and two full stacks over the
//! simulated link (`pairs`).

mod drill;
mod recovery;
mod states;
