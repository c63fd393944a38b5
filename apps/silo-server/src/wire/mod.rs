//! The request/response protocol of the Silo server over TCP: one TPC-C
//! transaction per request, its generated inputs carried in the request,
//! and a response with the commit status.
//!
//! Frames are length-prefixed, integers little-endian:
//!
//! ```text
//! request  = len:u32  id:u64  kind:u8  body          (len counts id..end)
//! response = len:u32  id:u64  status:u8  figure:i64  retries:u32
//! ```
//!
//! Request bodies by kind (1 New-Order, 2 Payment, 3 Order-Status,
//! 4 Delivery, 5 Stock-Level):
//!
//! ```text
//! new-order    w:u32 d:u8 c:u32 n:u8 n × (item:u32 supply_w:u32 quantity:u8)
//! payment      w:u32 d:u8 c_w:u32 c_d:u8 amount:i64 customer
//! order-status w:u32 d:u8 customer
//! delivery     w:u32 carrier:u8
//! stock-level  w:u32 d:u8 threshold:u8
//! customer     0:u8 c:u32  |  1:u8 len:u8 len × ASCII byte (C_LAST)
//! ```
//!
//! A server feeds received bytes to [`decode_request`], which returns a
//! request and the bytes it used, `Ok(None)` for an incomplete frame, or a
//! [`WireError`] (the server then closes the connection). Field ranges are
//! checked at decode so every decoded request maps to valid keys.
//! [`execute`] runs one request against the database.

mod codec;
mod executor;

#[cfg(test)]
mod tests;

pub use codec::{
    MAX_FRAME_LEN, Request, Response, Status, WireError, decode_request, decode_response,
};
pub use executor::{MAX_ATTEMPTS, execute};
