//! What a dataplane core does when it finds no work, as benchmarks name it
//! (`--server-idle poll|park:US`): poll forever (ZygOS), or park after US
//! microseconds (`zygos run --park-after-us US`; see [`crate::process`]).

use std::fmt;
use std::str::FromStr;

/// An idle core's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleMode {
    /// Poll forever, as ZygOS does on cores it owns.
    Poll,
    /// Block in the kernel after this many microseconds without work.
    Park {
        /// The idle time before parking, µs.
        after_us: u64,
    },
}

impl IdleMode {
    /// The value of `--park-after-us` (`None`: poll).
    pub fn park_after_us(self) -> Option<u64> {
        match self {
            IdleMode::Poll => None,
            IdleMode::Park { after_us } => Some(after_us),
        }
    }
}

impl fmt::Display for IdleMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdleMode::Poll => f.write_str("poll"),
            IdleMode::Park { after_us } => write!(f, "park:{after_us}"),
        }
    }
}

/// A string that names no [`IdleMode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an idle mode (poll, or park:US with US the idle microseconds)")]
pub struct IdleModeError(String);

impl FromStr for IdleMode {
    type Err = IdleModeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "poll" {
            return Ok(IdleMode::Poll);
        }
        text.strip_prefix("park:")
            .and_then(|us| us.parse().ok())
            .map(|after_us| IdleMode::Park { after_us })
            .ok_or_else(|| IdleModeError(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_back() {
        for text in ["poll", "park:0", "park:20"] {
            assert_eq!(text.parse::<IdleMode>().unwrap().to_string(), text);
        }
        assert_eq!("poll".parse::<IdleMode>().unwrap().park_after_us(), None);
        assert_eq!(
            "park:20".parse::<IdleMode>().unwrap().park_after_us(),
            Some(20)
        );
        for bad in ["", "park", "park:", "park:-1", "park:x", "spin", "poll:1"] {
            assert!(bad.parse::<IdleMode>().is_err(), "{bad:?} accepted");
        }
    }
}
