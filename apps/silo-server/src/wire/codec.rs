//! Encoding and decoding of requests and responses (format in the
//! [module docs](super)). Decoding never panics: every read is bounds
//! checked and every field range validated.

use crate::tpcc::{
    CustomerSelector, DeliveryInput, NewOrderInput, OrderLineInput, OrderStatusInput, PaymentInput,
    StockLevelInput, TxnInput,
};

/// Largest accepted frame body (a New-Order with 15 lines is 150 bytes).
pub const MAX_FRAME_LEN: u32 = 512;
const LEN_PREFIX: usize = 4;
/// Warehouse ids must fit the 20 bits the keys give them.
const MAX_WAREHOUSE: u32 = (1 << 20) - 1;
/// Customer ids must fit 12 bits, item ids 20 bits (see `tpcc::keys`).
const MAX_CUSTOMER: u32 = (1 << 12) - 1;
const MAX_ITEM: u32 = (1 << 20) - 1;
const MAX_LAST_NAME: usize = 16;

/// Why bytes are not a valid frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The length prefix exceeds [`MAX_FRAME_LEN`].
    #[error("frame length {0} exceeds the maximum {MAX_FRAME_LEN}")]
    FrameTooLong(u32),
    /// The frame ended before a field.
    #[error("frame body ends inside the {0} field")]
    Truncated(&'static str),
    /// The frame has bytes after its last field.
    #[error("{0} unexpected bytes after the last field")]
    TrailingBytes(usize),
    /// Unknown transaction kind.
    #[error("unknown transaction kind {0}")]
    UnknownKind(u8),
    /// Unknown response status.
    #[error("unknown response status {0}")]
    UnknownStatus(u8),
    /// Unknown customer selector tag.
    #[error("unknown customer selector {0}")]
    UnknownSelector(u8),
    /// A field outside its allowed range.
    #[error("field {field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A last name that is not ASCII.
    #[error("customer last name is not ASCII")]
    NameNotAscii,
}

/// One request: a client-chosen id (echoed) and a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Echoed in the response.
    pub id: u64,
    /// The transaction and its inputs.
    pub input: TxnInput,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Committed.
    Committed = 0,
    /// Rolled back by the transaction logic (New-Order's invalid item).
    RolledBack = 1,
    /// Aborted on conflicts on every attempt.
    Aborted = 2,
    /// A row the inputs name does not exist.
    Failed = 3,
}

/// The response to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// How it ended.
    pub status: Status,
    /// The transaction's figure when committed (see `tpcc::run_once`).
    pub figure: i64,
    /// Attempts aborted on conflicts before the last one.
    pub retries: u32,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(WireError::Truncated(field))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.take::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.take(field)?))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.take(field)?))
    }

    fn slice(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < len {
            return Err(WireError::Truncated(field));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    /// A u32 field checked against `min..=max`.
    fn ranged_u32(&mut self, field: &'static str, min: u32, max: u32) -> Result<u32, WireError> {
        let value = self.u32(field)?;
        check(field, i64::from(value), i64::from(min), i64::from(max))?;
        Ok(value)
    }

    /// A u8 field checked against `min..=max`.
    fn ranged_u8(&mut self, field: &'static str, min: u8, max: u8) -> Result<u8, WireError> {
        let value = self.u8(field)?;
        check(field, i64::from(value), i64::from(min), i64::from(max))?;
        Ok(value)
    }

    fn warehouse(&mut self, field: &'static str) -> Result<u32, WireError> {
        self.ranged_u32(field, 1, MAX_WAREHOUSE)
    }

    fn district(&mut self, field: &'static str) -> Result<u8, WireError> {
        self.ranged_u8(field, 1, 10)
    }

    fn customer(&mut self) -> Result<CustomerSelector, WireError> {
        match self.u8("customer selector")? {
            0 => Ok(CustomerSelector::Id(self.ranged_u32(
                "customer id",
                1,
                MAX_CUSTOMER,
            )?)),
            1 => {
                let len = self.ranged_u8("last name length", 1, MAX_LAST_NAME as u8)?;
                let bytes = self.slice(usize::from(len), "last name")?;
                let name = std::str::from_utf8(bytes)
                    .ok()
                    .filter(|name| name.is_ascii())
                    .ok_or(WireError::NameNotAscii)?;
                Ok(CustomerSelector::LastName(name.to_owned()))
            }
            tag => Err(WireError::UnknownSelector(tag)),
        }
    }
}

fn check(field: &'static str, value: i64, min: i64, max: i64) -> Result<(), WireError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(WireError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Splits the first frame off `buf`: `Ok(None)` while incomplete, else its
/// body and the total bytes it occupies.
fn frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, WireError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<LEN_PREFIX>() else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(*prefix);
    if len > MAX_FRAME_LEN {
        return Err(WireError::FrameTooLong(len));
    }
    let len = len as usize;
    Ok(rest.get(..len).map(|body| (body, LEN_PREFIX + len)))
}

fn finish<T>(reader: Reader<'_>, value: T) -> Result<T, WireError> {
    match reader.bytes.len() {
        0 => Ok(value),
        extra => Err(WireError::TrailingBytes(extra)),
    }
}

/// Decodes the first request in `buf`; returns it and the number of bytes
/// it used, or `Ok(None)` if `buf` does not hold a whole frame yet.
pub fn decode_request(buf: &[u8]) -> Result<Option<(Request, usize)>, WireError> {
    let Some((body, used)) = frame(buf)? else {
        return Ok(None);
    };
    let mut r = Reader { bytes: body };
    let id = r.u64("request id")?;
    let input = match r.u8("transaction kind")? {
        1 => {
            let warehouse = r.warehouse("warehouse")?;
            let district = r.district("district")?;
            let customer = r.ranged_u32("customer id", 1, MAX_CUSTOMER)?;
            let count = r.ranged_u8("order line count", 1, 15)?;
            let lines = (0..count)
                .map(|_| {
                    Ok(OrderLineInput {
                        item: r.ranged_u32("item", 1, MAX_ITEM)?,
                        supply_warehouse: r.warehouse("supply warehouse")?,
                        quantity: u32::from(r.ranged_u8("quantity", 1, 10)?),
                    })
                })
                .collect::<Result<_, WireError>>()?;
            TxnInput::NewOrder(NewOrderInput {
                warehouse,
                district,
                customer,
                lines,
            })
        }
        2 => TxnInput::Payment(PaymentInput {
            warehouse: r.warehouse("warehouse")?,
            district: r.district("district")?,
            customer_warehouse: r.warehouse("customer warehouse")?,
            customer_district: r.district("customer district")?,
            amount: {
                let amount = r.i64("amount")?;
                check("amount", amount, 1, 500_000)?;
                amount
            },
            customer: r.customer()?,
        }),
        3 => TxnInput::OrderStatus(OrderStatusInput {
            warehouse: r.warehouse("warehouse")?,
            district: r.district("district")?,
            customer: r.customer()?,
        }),
        4 => TxnInput::Delivery(DeliveryInput {
            warehouse: r.warehouse("warehouse")?,
            carrier: r.ranged_u8("carrier", 1, 10)?,
        }),
        5 => TxnInput::StockLevel(StockLevelInput {
            warehouse: r.warehouse("warehouse")?,
            district: r.district("district")?,
            threshold: u32::from(r.ranged_u8("threshold", 10, 20)?),
        }),
        kind => return Err(WireError::UnknownKind(kind)),
    };
    finish(r, Some((Request { id, input }, used)))
}

fn customer_bytes(out: &mut Vec<u8>, customer: &CustomerSelector) {
    match customer {
        CustomerSelector::Id(id) => {
            out.push(0);
            out.extend_from_slice(&id.to_le_bytes());
        }
        CustomerSelector::LastName(name) => {
            let name = &name.as_bytes()[..name.len().min(MAX_LAST_NAME)];
            out.push(1);
            out.push(name.len() as u8);
            out.extend_from_slice(name);
        }
    }
}

/// Writes a length prefix for the body that `body` appends.
fn framed(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; LEN_PREFIX]);
    body(out);
    let len = (out.len() - start - LEN_PREFIX) as u32;
    out[start..start + LEN_PREFIX].copy_from_slice(&len.to_le_bytes());
}

impl Request {
    /// Appends the request's frame to `out`. Inputs that the decoder would
    /// reject (e.g. more than 15 lines) encode to frames it rejects.
    pub fn encode(&self, out: &mut Vec<u8>) {
        framed(out, |out| {
            out.extend_from_slice(&self.id.to_le_bytes());
            match &self.input {
                TxnInput::NewOrder(input) => {
                    out.push(1);
                    out.extend_from_slice(&input.warehouse.to_le_bytes());
                    out.push(input.district);
                    out.extend_from_slice(&input.customer.to_le_bytes());
                    out.push(input.lines.len().min(usize::from(u8::MAX)) as u8);
                    for line in &input.lines {
                        out.extend_from_slice(&line.item.to_le_bytes());
                        out.extend_from_slice(&line.supply_warehouse.to_le_bytes());
                        out.push(line.quantity.min(u32::from(u8::MAX)) as u8);
                    }
                }
                TxnInput::Payment(input) => {
                    out.push(2);
                    out.extend_from_slice(&input.warehouse.to_le_bytes());
                    out.push(input.district);
                    out.extend_from_slice(&input.customer_warehouse.to_le_bytes());
                    out.push(input.customer_district);
                    out.extend_from_slice(&input.amount.to_le_bytes());
                    customer_bytes(out, &input.customer);
                }
                TxnInput::OrderStatus(input) => {
                    out.push(3);
                    out.extend_from_slice(&input.warehouse.to_le_bytes());
                    out.push(input.district);
                    customer_bytes(out, &input.customer);
                }
                TxnInput::Delivery(input) => {
                    out.push(4);
                    out.extend_from_slice(&input.warehouse.to_le_bytes());
                    out.push(input.carrier);
                }
                TxnInput::StockLevel(input) => {
                    out.push(5);
                    out.extend_from_slice(&input.warehouse.to_le_bytes());
                    out.push(input.district);
                    out.push(input.threshold.min(u32::from(u8::MAX)) as u8);
                }
            }
        });
    }
}

impl Response {
    /// Appends the response's frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        framed(out, |out| {
            out.extend_from_slice(&self.id.to_le_bytes());
            out.push(self.status as u8);
            out.extend_from_slice(&self.figure.to_le_bytes());
            out.extend_from_slice(&self.retries.to_le_bytes());
        });
    }
}

/// Decodes the first response in `buf` (as [`decode_request`]).
pub fn decode_response(buf: &[u8]) -> Result<Option<(Response, usize)>, WireError> {
    let Some((body, used)) = frame(buf)? else {
        return Ok(None);
    };
    let mut r = Reader { bytes: body };
    let id = r.u64("response id")?;
    let status = match r.u8("status")? {
        0 => Status::Committed,
        1 => Status::RolledBack,
        2 => Status::Aborted,
        3 => Status::Failed,
        other => return Err(WireError::UnknownStatus(other)),
    };
    let response = Response {
        id,
        status,
        figure: r.i64("figure")?,
        retries: r.u32("retries")?,
    };
    finish(r, Some((response, used)))
}
