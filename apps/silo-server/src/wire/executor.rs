//! Runs one decoded request against the TPC-C database: the function the
//! server calls for every request, on whichever core runs the connection.

use crate::engine::Abort;
use crate::tpcc::{Tpcc, TxnError, run};

use super::codec::{Request, Response, Status};

/// Attempts per request before answering [`Status::Aborted`] (Silo retries
/// conflicting transactions; the bound keeps a pathological request from
/// holding a core forever).
pub const MAX_ATTEMPTS: u32 = 64;

/// Executes `request`, retrying conflicts, and builds its response.
pub fn execute(tpcc: &Tpcc, request: &Request) -> Response {
    let done = run(tpcc, &request.input, MAX_ATTEMPTS);
    let (status, figure) = match done.result {
        Ok(figure) => (Status::Committed, figure),
        Err(TxnError::Abort(Abort::Rollback)) => (Status::RolledBack, 0),
        Err(TxnError::Abort(_)) => (Status::Aborted, 0),
        Err(TxnError::Missing { .. }) => (Status::Failed, 0),
    };
    Response {
        id: request.id,
        status,
        figure,
        retries: done.retries,
    }
}
