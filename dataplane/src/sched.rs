//! The scheduling modes, one switch for the same runtime and application
//! code (thesis ch. 4.6 compares them).

use std::fmt;
use std::str::FromStr;

/// How cores share work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum SchedMode {
    /// ZygOS: idle cores steal ready connections and send IPIs to busy home
    /// cores that have pending packets or remote system calls.
    #[default]
    Zygos,
    /// ZygOS stealing without IPIs: pending work on a busy home core waits
    /// until its application code returns.
    ZygosNoipi,
    /// IX-like: each core runs its own connections to completion in batches
    /// of at most B, and never steals.
    Partitioned,
}

impl SchedMode {
    /// Whether idle cores steal from other cores' shuffle queues.
    pub fn steals(self) -> bool {
        !matches!(self, SchedMode::Partitioned)
    }

    /// Whether idle cores interrupt busy home cores.
    pub fn sends_ipis(self) -> bool {
        matches!(self, SchedMode::Zygos)
    }

    /// Ready connections a core runs per loop iteration: ZygOS takes one and
    /// goes back to polling (so the rest stays stealable); the partitioned
    /// mode runs a batch of up to `batch` to completion.
    pub fn claims_per_iteration(self, batch: usize) -> usize {
        match self {
            SchedMode::Zygos | SchedMode::ZygosNoipi => 1,
            SchedMode::Partitioned => batch.max(1),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SchedMode::Zygos => "zygos",
            SchedMode::ZygosNoipi => "zygos-noipi",
            SchedMode::Partitioned => "partitioned",
        }
    }
}

impl fmt::Display for SchedMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scheduling-mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheduling mode {0:?}: expected zygos, zygos-noipi or partitioned")]
pub struct UnknownSchedMode(String);

impl FromStr for SchedMode {
    type Err = UnknownSchedMode;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [
            SchedMode::Zygos,
            SchedMode::ZygosNoipi,
            SchedMode::Partitioned,
        ]
        .into_iter()
        .find(|mode| mode.name() == name)
        .ok_or_else(|| UnknownSchedMode(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_partitioned_never_steals() {
        for mode in [
            SchedMode::Zygos,
            SchedMode::ZygosNoipi,
            SchedMode::Partitioned,
        ] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
        assert!("ix".parse::<SchedMode>().is_err());
        assert!(!SchedMode::Partitioned.steals());
        assert!(SchedMode::ZygosNoipi.steals() && !SchedMode::ZygosNoipi.sends_ipis());
        assert_eq!(SchedMode::Partitioned.claims_per_iteration(8), 8);
        assert_eq!(SchedMode::Zygos.claims_per_iteration(8), 1);
    }
}
