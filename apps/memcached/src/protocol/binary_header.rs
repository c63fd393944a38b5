//! The 24-byte header of the binary protocol (memcached's
//! protocol_binary.h and the "Memcache Binary Protocol" draft, section 3):
//! request and response headers as checked values with `parse` and `emit`,
//! field offsets named in [`field`], all integers big-endian.

/// Header length in bytes.
pub const HEADER_LEN: usize = 24;

/// Byte offsets of the header fields (draft section 3.1, 3.2).
mod field {
    use std::ops::Range;
    pub const MAGIC: usize = 0;
    pub const OPCODE: usize = 1;
    pub const KEY_LEN: Range<usize> = 2..4;
    pub const EXTRAS_LEN: usize = 4;
    pub const DATA_TYPE: usize = 5;
    /// vbucket id in requests, status in responses.
    pub const VBUCKET_OR_STATUS: Range<usize> = 6..8;
    pub const BODY_LEN: Range<usize> = 8..12;
    pub const OPAQUE: Range<usize> = 12..16;
    pub const CAS: Range<usize> = 16..24;
}

/// The first byte of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Magic {
    /// A request.
    Request = 0x80,
    /// A response.
    Response = 0x81,
}

/// The commands memcached 1.6 implements (draft section 3.3; the Q
/// variants are quiet: no reply on success, and for gets none on a miss).
/// Verbosity (0x1b) is absent: memcached 1.6 answers it "Unknown command",
/// as it answers the SASL commands when SASL is not enabled (after their
/// length checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    /// Get.
    Get = 0x00,
    /// Set.
    Set = 0x01,
    /// Add.
    Add = 0x02,
    /// Replace.
    Replace = 0x03,
    /// Delete.
    Delete = 0x04,
    /// Increment.
    Increment = 0x05,
    /// Decrement.
    Decrement = 0x06,
    /// Quit.
    Quit = 0x07,
    /// Flush.
    Flush = 0x08,
    /// GetQ.
    GetQ = 0x09,
    /// No-op.
    Noop = 0x0a,
    /// Version.
    Version = 0x0b,
    /// GetK (the reply carries the key).
    GetK = 0x0c,
    /// GetKQ.
    GetKQ = 0x0d,
    /// Append.
    Append = 0x0e,
    /// Prepend.
    Prepend = 0x0f,
    /// Stat.
    Stat = 0x10,
    /// SetQ.
    SetQ = 0x11,
    /// AddQ.
    AddQ = 0x12,
    /// ReplaceQ.
    ReplaceQ = 0x13,
    /// DeleteQ.
    DeleteQ = 0x14,
    /// IncrementQ.
    IncrementQ = 0x15,
    /// DecrementQ.
    DecrementQ = 0x16,
    /// QuitQ.
    QuitQ = 0x17,
    /// FlushQ.
    FlushQ = 0x18,
    /// AppendQ.
    AppendQ = 0x19,
    /// PrependQ.
    PrependQ = 0x1a,
    /// Touch.
    Touch = 0x1c,
    /// Get and touch.
    Gat = 0x1d,
    /// GatQ.
    GatQ = 0x1e,
    /// SASL list mechanisms.
    SaslListMechs = 0x20,
    /// SASL authenticate.
    SaslAuth = 0x21,
    /// SASL step.
    SaslStep = 0x22,
    /// GatK.
    GatK = 0x23,
    /// GatKQ.
    GatKQ = 0x24,
}

impl Opcode {
    /// Every opcode, for decoding.
    pub const ALL: [Opcode; 35] = [
        Opcode::Get,
        Opcode::Set,
        Opcode::Add,
        Opcode::Replace,
        Opcode::Delete,
        Opcode::Increment,
        Opcode::Decrement,
        Opcode::Quit,
        Opcode::Flush,
        Opcode::GetQ,
        Opcode::Noop,
        Opcode::Version,
        Opcode::GetK,
        Opcode::GetKQ,
        Opcode::Append,
        Opcode::Prepend,
        Opcode::Stat,
        Opcode::SetQ,
        Opcode::AddQ,
        Opcode::ReplaceQ,
        Opcode::DeleteQ,
        Opcode::IncrementQ,
        Opcode::DecrementQ,
        Opcode::QuitQ,
        Opcode::FlushQ,
        Opcode::AppendQ,
        Opcode::PrependQ,
        Opcode::Touch,
        Opcode::Gat,
        Opcode::GatQ,
        Opcode::SaslListMechs,
        Opcode::SaslAuth,
        Opcode::SaslStep,
        Opcode::GatK,
        Opcode::GatKQ,
    ];

    /// The opcode with this value, if memcached implements it.
    pub fn from_u8(value: u8) -> Option<Self> {
        Opcode::ALL.iter().copied().find(|&op| op as u8 == value)
    }

    /// The loud command a quiet one is a variant of, and whether it was
    /// quiet (memcached's dispatch_bin_command remaps them the same way).
    pub fn loud(self) -> (Opcode, bool) {
        let loud = match self {
            Opcode::GetQ => Opcode::Get,
            Opcode::GetKQ => Opcode::GetK,
            Opcode::SetQ => Opcode::Set,
            Opcode::AddQ => Opcode::Add,
            Opcode::ReplaceQ => Opcode::Replace,
            Opcode::DeleteQ => Opcode::Delete,
            Opcode::IncrementQ => Opcode::Increment,
            Opcode::DecrementQ => Opcode::Decrement,
            Opcode::QuitQ => Opcode::Quit,
            Opcode::FlushQ => Opcode::Flush,
            Opcode::AppendQ => Opcode::Append,
            Opcode::PrependQ => Opcode::Prepend,
            Opcode::GatQ => Opcode::Gat,
            Opcode::GatKQ => Opcode::GatK,
            loud => return (loud, false),
        };
        (loud, true)
    }
}

/// Response status (draft section 3.2), with memcached's error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Status {
    /// No error.
    Success = 0x00,
    /// Key not found.
    KeyNotFound = 0x01,
    /// Key exists.
    KeyExists = 0x02,
    /// Value too large.
    TooLarge = 0x03,
    /// Invalid arguments.
    InvalidArguments = 0x04,
    /// Item not stored.
    NotStored = 0x05,
    /// Incr/Decr on a non-numeric value.
    DeltaBadValue = 0x06,
    /// Unknown command.
    UnknownCommand = 0x81,
    /// Out of memory.
    OutOfMemory = 0x82,
}

impl Status {
    /// The body memcached sends with this error (write_bin_error).
    pub fn message(self) -> &'static [u8] {
        match self {
            Status::Success => b"",
            Status::KeyNotFound => b"Not found",
            Status::KeyExists => b"Data exists for key.",
            Status::TooLarge => b"Too large.",
            Status::InvalidArguments => b"Invalid arguments",
            Status::NotStored => b"Not stored.",
            Status::DeltaBadValue => b"Non-numeric server-side value for incr or decr",
            Status::UnknownCommand => b"Unknown command",
            Status::OutOfMemory => b"Out of memory",
        }
    }
}

fn u16_at(bytes: &[u8], range: std::ops::Range<usize>) -> u16 {
    u16::from_be_bytes(bytes[range].try_into().expect("two-byte field"))
}

fn u32_at(bytes: &[u8], range: std::ops::Range<usize>) -> u32 {
    u32::from_be_bytes(bytes[range].try_into().expect("four-byte field"))
}

fn u64_at(bytes: &[u8], range: std::ops::Range<usize>) -> u64 {
    u64::from_be_bytes(bytes[range].try_into().expect("eight-byte field"))
}

/// A request header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    /// Magic byte (0x80 for a valid request).
    pub magic: u8,
    /// Command byte.
    pub opcode: u8,
    /// Key length.
    pub key_len: u16,
    /// Extras length.
    pub extras_len: u8,
    /// Data type (0).
    pub data_type: u8,
    /// vbucket id.
    pub vbucket: u16,
    /// Extras, key and value lengths together.
    pub body_len: u32,
    /// Copied into the response.
    pub opaque: u32,
    /// CAS id (0: none).
    pub cas: u64,
}

impl RequestHeader {
    /// Reads a header from the first [`HEADER_LEN`] bytes, or `None` if
    /// fewer are given. Never panics.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.get(..HEADER_LEN)?;
        Some(RequestHeader {
            magic: bytes[field::MAGIC],
            opcode: bytes[field::OPCODE],
            key_len: u16_at(bytes, field::KEY_LEN),
            extras_len: bytes[field::EXTRAS_LEN],
            data_type: bytes[field::DATA_TYPE],
            vbucket: u16_at(bytes, field::VBUCKET_OR_STATUS),
            body_len: u32_at(bytes, field::BODY_LEN),
            opaque: u32_at(bytes, field::OPAQUE),
            cas: u64_at(bytes, field::CAS),
        })
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        emit(
            out,
            self.magic,
            self.opcode,
            self.key_len,
            self.extras_len,
            self.data_type,
            self.vbucket,
            self.body_len,
            self.opaque,
            self.cas,
        );
    }
}

/// A response header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Command byte of the request.
    pub opcode: u8,
    /// Key length.
    pub key_len: u16,
    /// Extras length.
    pub extras_len: u8,
    /// Status (raw, so unknown statuses survive parsing).
    pub status: u16,
    /// Extras, key and value lengths together.
    pub body_len: u32,
    /// The request's opaque.
    pub opaque: u32,
    /// CAS id of the item.
    pub cas: u64,
}

impl ResponseHeader {
    /// Reads a response header (any magic) from the first [`HEADER_LEN`]
    /// bytes, or `None` if fewer are given.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.get(..HEADER_LEN)?;
        Some(ResponseHeader {
            opcode: bytes[field::OPCODE],
            key_len: u16_at(bytes, field::KEY_LEN),
            extras_len: bytes[field::EXTRAS_LEN],
            status: u16_at(bytes, field::VBUCKET_OR_STATUS),
            body_len: u32_at(bytes, field::BODY_LEN),
            opaque: u32_at(bytes, field::OPAQUE),
            cas: u64_at(bytes, field::CAS),
        })
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let magic = Magic::Response as u8;
        emit(
            out,
            magic,
            self.opcode,
            self.key_len,
            self.extras_len,
            0,
            self.status,
            self.body_len,
            self.opaque,
            self.cas,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn emit(
    out: &mut Vec<u8>,
    magic: u8,
    opcode: u8,
    key_len: u16,
    extras_len: u8,
    data_type: u8,
    word: u16,
    body_len: u32,
    opaque: u32,
    cas: u64,
) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    let header = &mut out[start..];
    header[field::MAGIC] = magic;
    header[field::OPCODE] = opcode;
    header[field::KEY_LEN].copy_from_slice(&key_len.to_be_bytes());
    header[field::EXTRAS_LEN] = extras_len;
    header[field::DATA_TYPE] = data_type;
    header[field::VBUCKET_OR_STATUS].copy_from_slice(&word.to_be_bytes());
    header[field::BODY_LEN].copy_from_slice(&body_len.to_be_bytes());
    header[field::OPAQUE].copy_from_slice(&opaque.to_be_bytes());
    header[field::CAS].copy_from_slice(&cas.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GET request for "Hello" from the binary protocol draft,
    /// section 4.2.1.
    const GET_HELLO: [u8; 29] = [
        0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, b'H', b'e', b'l', b'l', b'o',
    ];

    #[test]
    fn parses_and_emits_the_draft_example() {
        let header = RequestHeader::parse(&GET_HELLO).expect("whole header");
        assert_eq!(
            (header.magic, header.opcode, header.key_len, header.body_len),
            (0x80, 0, 5, 5)
        );
        let mut out = vec![0xa5; 3];
        header.emit(&mut out);
        assert_eq!(&out[3..], &GET_HELLO[..HEADER_LEN]);
        assert_eq!(RequestHeader::parse(&GET_HELLO[..23]), None);
    }

    #[test]
    fn response_round_trip() {
        let response = ResponseHeader {
            opcode: 0x0c,
            key_len: 5,
            extras_len: 4,
            status: 1,
            body_len: 300,
            opaque: 0xdead_beef,
            cas: 77,
        };
        let mut out = vec![0xa5; HEADER_LEN];
        out.clear();
        response.emit(&mut out);
        assert_eq!(out[0], 0x81);
        assert_eq!(ResponseHeader::parse(&out), Some(response));
    }

    #[test]
    fn opcodes_decode_and_quiet_variants_map_to_loud_ones() {
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
        }
        assert_eq!(
            Opcode::from_u8(0x1b),
            None,
            "memcached 1.6 answers binary verbosity as unknown"
        );
        assert_eq!(Opcode::GatKQ.loud(), (Opcode::GatK, true));
        assert_eq!(Opcode::Stat.loud(), (Opcode::Stat, false));
    }
}
