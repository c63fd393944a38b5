//! Wire format of the synthetic benchmark (ZygOS SOSP'17 §6; thesis ch. 6.3):
//! every request carries the service time the server must spend on it, so
//! the load generator controls the service-time distribution exactly.
//!
//! A request is 16 bytes: the request id (u64, little-endian) then the
//! service time in nanoseconds (u64, little-endian). The response is the
//! 8-byte request id, so a client can match responses and check that they
//! come back in request order on each connection.

/// Length in bytes of an encoded request.
pub const REQUEST_LEN: usize = 16;
/// Length in bytes of an encoded response.
pub const RESPONSE_LEN: usize = 8;

/// One synthetic request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Identifier chosen by the client, echoed in the response.
    pub id: u64,
    /// Time the server spends on the request, in nanoseconds.
    pub service_ns: u64,
}

impl Request {
    /// Encodes the request into its 16-byte wire form.
    pub fn encode(&self) -> [u8; REQUEST_LEN] {
        let mut out = [0; REQUEST_LEN];
        out[..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..].copy_from_slice(&self.service_ns.to_le_bytes());
        out
    }

    /// Decodes the first request of `buf`; `None` when fewer than
    /// [`REQUEST_LEN`] bytes are available (the request is incomplete).
    pub fn decode(buf: &[u8]) -> Option<Request> {
        let bytes: &[u8; REQUEST_LEN] = buf.get(..REQUEST_LEN)?.try_into().ok()?;
        let (id, service) = bytes.split_at(8);
        Some(Request {
            id: u64::from_le_bytes(id.try_into().ok()?),
            service_ns: u64::from_le_bytes(service.try_into().ok()?),
        })
    }

    /// The response the server sends once the request is served.
    pub fn response(&self) -> [u8; RESPONSE_LEN] {
        self.id.to_le_bytes()
    }
}

/// Decodes the request id of a response; `None` when `buf` is shorter than
/// [`RESPONSE_LEN`].
pub fn decode_response(buf: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(
        buf.get(..RESPONSE_LEN)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_in_little_endian() {
        let req = Request {
            id: 0x0102_0304_0506_0708,
            service_ns: 10_000,
        };
        let wire = req.encode();
        assert_eq!(wire[0], 0x08);
        assert_eq!(wire[8..], 10_000u64.to_le_bytes());
        assert_eq!(Request::decode(&wire), Some(req));
        assert_eq!(decode_response(&req.response()), Some(req.id));
    }

    #[test]
    fn short_input_is_incomplete_not_a_panic() {
        let wire = Request {
            id: 1,
            service_ns: 2,
        }
        .encode();
        for len in 0..REQUEST_LEN {
            assert_eq!(Request::decode(&wire[..len]), None);
        }
        assert_eq!(decode_response(&[1, 2, 3]), None);
    }
}
