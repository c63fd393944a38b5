//! TPC-C (revision 5.11) on the Silo engine: schema, loader, input
//! generation, the five transactions and the consistency conditions.
//!
//! Use: [`Tpcc::load`] a population ([`Scale::spec`] for the spec's, or a
//! scaled-down one in tests), draw inputs with an [`InputGenerator`], run
//! them with [`run`] from any number of threads, then
//! [`check_consistency`].

mod consistency;
mod input;
pub mod keys;
mod load;
mod random;
pub mod rows;
mod schema;
mod txn;

#[cfg(test)]
mod tests;

pub use consistency::{ConsistencyError, check_consistency};
pub use input::{
    CustomerSelector, DeliveryInput, InputGenerator, NewOrderInput, OrderLineInput,
    OrderStatusInput, PaymentInput, StockLevelInput, TxnInput, TxnKind,
};
pub use random::NurandConstants;
pub use schema::{Scale, Tables, Tpcc};
pub use txn::{Completed, TxnError, run, run_once};
