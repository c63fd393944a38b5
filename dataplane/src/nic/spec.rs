//! Parsing of the `--nic` argument: `shm:NAME` or `tap:NAME`.

use std::fmt;
use std::str::FromStr;

/// Longest shm region name (it becomes `/dev/shm/zygos-nic-NAME`).
pub const MAX_SHM_NAME_LEN: usize = 200;
/// Longest Linux interface name (`IFNAMSIZ` - 1).
pub const MAX_TAP_NAME_LEN: usize = 15;

/// Which NIC backend to open, and the device name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NicSpec {
    /// The shared-memory NIC region `NAME` (created by the dataplane,
    /// attached to by the load generator).
    Shm(String),
    /// The TAP device `NAME` in the current network namespace (created when
    /// absent).
    Tap(String),
}

/// Why a `--nic` argument was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NicSpecError {
    /// No `KIND:` prefix.
    #[error("expected KIND:NAME with KIND one of shm, tap (got {0:?})")]
    MissingKind(String),
    /// A kind other than `shm` or `tap`.
    #[error("unknown NIC kind {0:?}: expected shm or tap")]
    UnknownKind(String),
    /// `KIND:` with nothing after it.
    #[error("empty device name after {kind}:")]
    EmptyName {
        /// The kind given.
        kind: &'static str,
    },
    /// A name longer than the backend accepts.
    #[error("{kind} device name is {len} bytes long, the maximum is {max}")]
    NameTooLong {
        /// The kind given.
        kind: &'static str,
        /// Length of the name.
        len: usize,
        /// Longest accepted name.
        max: usize,
    },
    /// A character the backend cannot use in a name.
    #[error("{kind} device name contains {character:?}: use letters, digits, '-', '_' and '.'")]
    BadCharacter {
        /// The kind given.
        kind: &'static str,
        /// The first rejected character.
        character: char,
    },
    /// `.` or `..`, which are not device names.
    #[error("{0:?} is not a device name")]
    ReservedName(String),
}

impl NicSpec {
    /// The device name.
    pub fn name(&self) -> &str {
        match self {
            Self::Shm(name) | Self::Tap(name) => name,
        }
    }

    /// The backend's name as written in the argument.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Shm(_) => "shm",
            Self::Tap(_) => "tap",
        }
    }
}

impl FromStr for NicSpec {
    type Err = NicSpecError;

    fn from_str(argument: &str) -> Result<Self, Self::Err> {
        let (kind, name) = argument
            .split_once(':')
            .ok_or_else(|| NicSpecError::MissingKind(argument.to_owned()))?;
        let (kind, max, build): (_, _, fn(String) -> NicSpec) = match kind {
            "shm" => ("shm", MAX_SHM_NAME_LEN, NicSpec::Shm),
            "tap" => ("tap", MAX_TAP_NAME_LEN, NicSpec::Tap),
            other => return Err(NicSpecError::UnknownKind(other.to_owned())),
        };
        validate_name(kind, name, max)?;
        Ok(build(name.to_owned()))
    }
}

impl fmt::Display for NicSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// Checks a device name for backend `kind` (also used by the constructors).
pub(crate) fn validate_name(
    kind: &'static str,
    name: &str,
    max: usize,
) -> Result<(), NicSpecError> {
    if name.is_empty() {
        return Err(NicSpecError::EmptyName { kind });
    }
    if name.len() > max {
        return Err(NicSpecError::NameTooLong {
            kind,
            len: name.len(),
            max,
        });
    }
    if let Some(character) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(NicSpecError::BadCharacter { kind, character });
    }
    if name == "." || name == ".." {
        return Err(NicSpecError::ReservedName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_round_trips() {
        for (text, spec) in [
            ("shm:bench0", NicSpec::Shm("bench0".into())),
            ("tap:zy-tap.1", NicSpec::Tap("zy-tap.1".into())),
        ] {
            let parsed: NicSpec = text.parse().unwrap();
            assert_eq!(parsed, spec);
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_arguments_with_the_reason() {
        let cases = [
            ("bench0", NicSpecError::MissingKind("bench0".into())),
            ("dpdk:0", NicSpecError::UnknownKind("dpdk".into())),
            ("tap:", NicSpecError::EmptyName { kind: "tap" }),
            (
                "tap:sixteen-chars-xy",
                NicSpecError::NameTooLong {
                    kind: "tap",
                    len: 16,
                    max: MAX_TAP_NAME_LEN,
                },
            ),
            (
                "shm:a/b",
                NicSpecError::BadCharacter {
                    kind: "shm",
                    character: '/',
                },
            ),
            ("shm:..", NicSpecError::ReservedName("..".into())),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<NicSpec>(), Err(error), "{text}");
        }
    }

    #[test]
    fn shm_names_may_be_long() {
        let name = "n".repeat(MAX_SHM_NAME_LEN);
        assert_eq!(format!("shm:{name}").parse(), Ok(NicSpec::Shm(name)));
    }

    /// Random arguments over an alphabet rich in separators: never a panic;
    /// every accepted one round-trips and names a valid device.
    #[test]
    fn random_arguments_parse_or_fail_cleanly() {
        const ALPHABET: &[char] = &[
            's', 'h', 'm', 't', 'a', 'p', ':', '/', '.', '-', '_', ' ', '0', 'é', '\0',
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut accepted = 0;
        for _ in 0..5000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let argument: String = (0..len)
                .map(|i| ALPHABET[((state >> (i % 8 * 8)) as usize + i) % ALPHABET.len()])
                .collect();
            let argument = match state % 3 {
                0 => format!("tap:{argument}"),
                1 => format!("shm:{argument}"),
                _ => argument,
            };
            if let Ok(spec) = argument.parse::<NicSpec>() {
                accepted += 1;
                assert_eq!(spec.to_string(), argument);
                assert!(!spec.name().is_empty() && spec.name().is_ascii());
            }
        }
        assert!(accepted > 0);
    }
}
