//! Expiration times as memcached interprets them (protocol.txt, "Expiration
//! times"): 0 never expires, a value up to 30 days is relative to now, a
//! larger one is an absolute unix time, and a negative one means the item is
//! already expired.

/// Seconds since the unix epoch, as passed in by the caller: the store never
/// reads a clock itself, so tests control time.
pub type UnixTime = u32;

/// The largest relative expiration time; anything above is absolute.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// When an item stops being visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Never expires.
    Never,
    /// Expires when the clock reaches this unix time.
    At(UnixTime),
}

impl Expiry {
    /// Converts a protocol exptime, received at `now`, into an expiry.
    pub fn from_exptime(exptime: i64, now: UnixTime) -> Self {
        match exptime {
            0 => Expiry::Never,
            e if e < 0 => Expiry::At(0),
            e if e > REALTIME_MAXDELTA => Expiry::At(e.min(i64::from(u32::MAX)) as u32),
            e => Expiry::At(now.saturating_add(e as u32)),
        }
    }

    /// Whether an item with this expiry is expired at `now`.
    pub fn is_expired(self, now: UnixTime) -> bool {
        match self {
            Expiry::Never => false,
            Expiry::At(t) => t <= now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_absolute_and_negative() {
        let now = 1_000_000_000;
        assert_eq!(Expiry::from_exptime(0, now), Expiry::Never);
        assert_eq!(Expiry::from_exptime(10, now), Expiry::At(now + 10));
        assert_eq!(
            Expiry::from_exptime(REALTIME_MAXDELTA, now),
            Expiry::At(now + 2_592_000)
        );
        assert_eq!(
            Expiry::from_exptime(REALTIME_MAXDELTA + 1, now),
            Expiry::At(2_592_001)
        );
        assert!(Expiry::from_exptime(REALTIME_MAXDELTA + 1, now).is_expired(now));
        assert!(Expiry::from_exptime(-1, now).is_expired(now));
        assert!(!Expiry::from_exptime(1, now).is_expired(now));
        assert!(Expiry::from_exptime(1, now).is_expired(now + 1));
    }
}
