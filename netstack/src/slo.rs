//! SLO-aware flow control (thesis chapter 5, section "Implementation"): the
//! 16-bit TCP window field is overloaded. With its most significant bit
//! clear, the low 15 bits are a number of request tokens the client may
//! send; with it set, they are the number of µs the connection must stay
//! idle. The server sets it with [`crate::Stack::set_slo_window`]; a client
//! that understands it calls [`crate::Stack::set_slo_peer`] (so its TCP no
//! longer reads the field as bytes) and reads it with
//! [`crate::Stack::peer_slo_window`].

use thiserror::Error;

use crate::time::Duration;

/// Mode bit of the window field.
const IDLE_BIT: u16 = 0x8000;
/// Largest value of the 15-bit payload.
pub const MAX_SLO_VALUE: u16 = 0x7fff;

/// What an SLO-aware window field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloWindow {
    /// The client may send this many more requests.
    Tokens(u16),
    /// The client must stay idle this long (µs resolution, at most 32.767 ms).
    Idle(Duration),
}

/// A value that does not fit the 15-bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SloWindowError {
    /// More than 32,767 tokens.
    #[error("{0} tokens exceed the 15-bit field")]
    TooManyTokens(u16),
    /// An idle time of 32,768 µs or more.
    #[error("idle time of {0} µs exceeds the 15-bit field")]
    IdleTooLong(u64),
}

impl SloWindow {
    /// The raw 16-bit window field.
    pub fn to_raw(self) -> Result<u16, SloWindowError> {
        match self {
            SloWindow::Tokens(tokens) if tokens <= MAX_SLO_VALUE => Ok(tokens),
            SloWindow::Tokens(tokens) => Err(SloWindowError::TooManyTokens(tokens)),
            SloWindow::Idle(time) => {
                let micros = time.as_nanos() / 1_000;
                match u16::try_from(micros) {
                    Ok(micros) if micros <= MAX_SLO_VALUE => Ok(IDLE_BIT | micros),
                    _ => Err(SloWindowError::IdleTooLong(micros)),
                }
            }
        }
    }

    /// Decodes a raw window field.
    pub fn from_raw(raw: u16) -> SloWindow {
        if raw & IDLE_BIT == 0 {
            SloWindow::Tokens(raw)
        } else {
            SloWindow::Idle(Duration::from_micros(u64::from(raw & MAX_SLO_VALUE)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_tokens_and_idle_time_with_the_mode_bit() {
        assert_eq!(SloWindow::Tokens(5).to_raw(), Ok(5));
        assert_eq!(
            SloWindow::Idle(Duration::from_micros(250)).to_raw(),
            Ok(0x8000 | 250)
        );
        assert_eq!(
            SloWindow::from_raw(0x8000 | 250),
            SloWindow::Idle(Duration::from_micros(250))
        );
        assert_eq!(SloWindow::from_raw(7), SloWindow::Tokens(7));
        assert_eq!(
            SloWindow::Tokens(0x8000).to_raw(),
            Err(SloWindowError::TooManyTokens(0x8000))
        );
        assert_eq!(
            SloWindow::Idle(Duration::from_micros(32_768)).to_raw(),
            Err(SloWindowError::IdleTooLong(32_768))
        );
        for raw in [0, 1, 0x7fff, 0x8000, 0xffff] {
            assert_eq!(
                SloWindow::from_raw(raw).to_raw(),
                Ok(raw),
                "round trip of {raw:#x}"
            );
        }
    }
}
