//! TCP options (RFC 9293 section 3.2 and 3.7.1, RFC 7323): MSS, window
//! scale, SACK-permitted (parsed, never offered), timestamps, and the CRAB
//! Connection Redirect option (kind 42, length 6, a 4-byte IPv4 address;
//! thesis section 7.3) sent as NOP, NOP, 42, 6, addr.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const TIMESTAMP: u8 = 8;
    pub const CRAB_REDIRECT: u8 = 42;
}

/// Longest option list (TCP data offset of 15 words minus the 5-word header).
pub const MAX_OPTIONS_LEN: usize = 40;
/// Bytes a timestamp option occupies in every segment (NOP, NOP, 10 bytes).
pub(crate) const TIMESTAMP_SPACE: usize = 12;
/// Largest window-scale shift (RFC 7323 section 2.3).
pub(crate) const MAX_WINDOW_SCALE: u8 = 14;

/// Why an option list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OptionError {
    /// An option's length byte is missing, below 2, or runs past the list.
    #[error("option of kind {kind} at offset {offset} has a bad length")]
    BadLength {
        /// Option kind.
        kind: u8,
        /// Offset of the option in the list.
        offset: usize,
    },
    /// A known option with the wrong fixed length.
    #[error("option of kind {kind} must be {expected} bytes long")]
    WrongSize {
        /// Option kind.
        kind: u8,
        /// Its fixed length.
        expected: u8,
    },
}

/// The options of one segment that this stack acts on (others are skipped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only).
    pub mss: Option<u16>,
    /// Window-scale shift (SYN only), clamped to 14.
    pub window_scale: Option<u8>,
    /// SACK permitted (SYN only; recognised, not used).
    pub sack_permitted: bool,
    /// Timestamps: (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// CRAB Connection Redirect: the address the client first dialled.
    pub crab_redirect: Option<Ipv4Addr>,
}

fn fixed(kind: u8, body: &[u8], expected: u8) -> Result<&[u8], OptionError> {
    if body.len() + 2 != usize::from(expected) {
        return Err(OptionError::WrongSize { kind, expected });
    }
    Ok(body)
}

impl TcpOptions {
    /// Parses an option list (RFC 9293 section 3.1 "Options"). Unknown
    /// kinds are skipped by their length; the list ends at END or its last byte.
    pub fn parse(mut list: &[u8]) -> Result<TcpOptions, OptionError> {
        let mut options = TcpOptions::default();
        let total = list.len();
        while let Some(&kind) = list.first() {
            let offset = total - list.len();
            match kind {
                kind::END => break,
                kind::NOP => {
                    list = &list[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*list.get(1).ok_or(OptionError::BadLength { kind, offset })?);
            if len < 2 || len > list.len() {
                return Err(OptionError::BadLength { kind, offset });
            }
            let body = &list[2..len];
            match kind {
                kind::MSS => {
                    let b = fixed(kind, body, 4)?;
                    options.mss = Some(u16::from_be_bytes([b[0], b[1]]));
                }
                kind::WINDOW_SCALE => {
                    let b = fixed(kind, body, 3)?;
                    // RFC 7323 section 2.3: a shift above 14 is used as 14.
                    options.window_scale = Some(b[0].min(MAX_WINDOW_SCALE));
                }
                kind::SACK_PERMITTED => {
                    fixed(kind, body, 2)?;
                    options.sack_permitted = true;
                }
                kind::TIMESTAMP => {
                    let b = fixed(kind, body, 10)?;
                    let tsval = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let tsecr = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                    options.timestamp = Some((tsval, tsecr));
                }
                kind::CRAB_REDIRECT => {
                    let b = fixed(kind, body, 6)?;
                    options.crab_redirect = Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
                }
                _ => {}
            }
            list = &list[len..];
        }
        Ok(options)
    }

    /// Bytes [`TcpOptions::write`] produces (a multiple of 4).
    pub fn len(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        if self.sack_permitted {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += TIMESTAMP_SPACE;
        }
        if self.crab_redirect.is_some() {
            len += 8;
        }
        len
    }

    /// True when no option is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the options, each padded with NOPs to 32-bit alignment, into
    /// `out` (at least [`TcpOptions::len`] bytes); returns the length.
    pub fn write(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            put(&[kind::MSS, 4, hi, lo]);
        }
        if let Some(shift) = self.window_scale {
            put(&[kind::NOP, kind::WINDOW_SCALE, 3, shift]);
        }
        if self.sack_permitted {
            put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);
        }
        if let Some((tsval, tsecr)) = self.timestamp {
            put(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
            put(&tsval.to_be_bytes());
            put(&tsecr.to_be_bytes());
        }
        if let Some(addr) = self.crab_redirect {
            put(&[kind::NOP, kind::NOP, kind::CRAB_REDIRECT, 6]);
            put(&addr.octets());
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_linux_syn_option_list() {
        // MSS 1460, SACK-permitted, TS 0x01020304/0, NOP, WS 7 (Linux order).
        let list = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let options = TcpOptions::parse(&list).unwrap();
        assert_eq!(
            options,
            TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamp: Some((0x0102_0304, 0)),
                crab_redirect: None,
            }
        );
    }

    #[test]
    fn crab_option_is_written_as_nop_nop_42_6_addr() {
        let options = TcpOptions {
            crab_redirect: Some(Ipv4Addr::new(10, 9, 8, 7)),
            ..Default::default()
        };
        let mut out = [0xa5; 8];
        assert_eq!(options.write(&mut out), 8);
        assert_eq!(out, [1, 1, 42, 6, 10, 9, 8, 7]);
        assert_eq!(TcpOptions::parse(&out).unwrap(), options);
    }

    #[test]
    fn round_trips_every_option() {
        let options = TcpOptions {
            mss: Some(1400),
            window_scale: Some(3),
            sack_permitted: true,
            timestamp: Some((7, 9)),
            crab_redirect: Some(Ipv4Addr::new(1, 2, 3, 4)),
        };
        let mut out = [0xa5; MAX_OPTIONS_LEN];
        let len = options.write(&mut out);
        assert_eq!(len, options.len());
        assert_eq!(len % 4, 0);
        assert!(len <= MAX_OPTIONS_LEN);
        assert_eq!(TcpOptions::parse(&out[..len]).unwrap(), options);
    }

    #[test]
    fn rejects_bad_lengths_and_clamps_scale() {
        assert_eq!(
            TcpOptions::parse(&[2, 4, 5]),
            Err(OptionError::BadLength { kind: 2, offset: 0 })
        );
        assert_eq!(
            TcpOptions::parse(&[1, 99]),
            Err(OptionError::BadLength {
                kind: 99,
                offset: 1
            })
        );
        assert_eq!(
            TcpOptions::parse(&[30, 1]),
            Err(OptionError::BadLength {
                kind: 30,
                offset: 0
            })
        );
        assert_eq!(
            TcpOptions::parse(&[42, 5, 1, 2, 3]),
            Err(OptionError::WrongSize {
                kind: 42,
                expected: 6
            })
        );
        assert_eq!(
            TcpOptions::parse(&[3, 3, 30]).unwrap().window_scale,
            Some(14)
        );
        assert_eq!(
            TcpOptions::parse(&[30, 3, 0, 0, 2, 4, 1, 0]).unwrap().mss,
            None,
            "END stops"
        );
    }
}
