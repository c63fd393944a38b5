//! Decimal parsing with the C library semantics memcached relies on
//! (`safe_strtoull`, `safe_strtol` in memcached's util.c): leading
//! whitespace and a sign are accepted, the number must be followed by the
//! end or by whitespace, and overflow is an error.

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits off leading whitespace and a sign; returns (negative, digits and
/// the rest).
fn sign_and_rest(bytes: &[u8]) -> (bool, &[u8]) {
    let start = bytes
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(bytes.len());
    match bytes[start..].split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, &bytes[start..]),
    }
}

/// Parses the digits at the front of `digits`, requiring at least one and
/// that whatever follows starts with whitespace.
fn magnitude(digits: &[u8]) -> Option<u64> {
    let len = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if len == 0 || digits.get(len).is_some_and(|&b| !is_c_space(b)) {
        return None;
    }
    digits[..len].iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `safe_strtoull`: an unsigned 64-bit number; a minus sign is only
/// rejected when the wrapped result would look negative, as in memcached.
pub fn parse_u64_prefix(bytes: &[u8]) -> Option<u64> {
    let (negative, rest) = sign_and_rest(bytes);
    let value = magnitude(rest)?;
    let wrapped = if negative {
        value.wrapping_neg()
    } else {
        value
    };
    if negative && (wrapped as i64) < 0 {
        return None;
    }
    Some(wrapped)
}

/// `safe_strtol` on a 32-bit int: a signed number in i32 range.
pub fn parse_i32(bytes: &[u8]) -> Option<i32> {
    let (negative, rest) = sign_and_rest(bytes);
    let value = i64::try_from(magnitude(rest)?).ok()?;
    i32::try_from(if negative { -value } else { value }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_semantics() {
        assert_eq!(parse_u64_prefix(b"10"), Some(10));
        assert_eq!(parse_u64_prefix(b" 5"), Some(5));
        assert_eq!(parse_u64_prefix(b"5 "), Some(5));
        assert_eq!(parse_u64_prefix(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_prefix(b"18446744073709551616"), None);
        assert_eq!(parse_u64_prefix(b"-1"), None);
        assert_eq!(parse_u64_prefix(b"-0"), Some(0));
        assert_eq!(parse_u64_prefix(b"1ab"), None);
        assert_eq!(parse_u64_prefix(b"0x1"), None);
        assert_eq!(parse_u64_prefix(b""), None);
        assert_eq!(parse_u64_prefix(b" "), None);
    }

    #[test]
    fn strtol_semantics() {
        assert_eq!(parse_i32(b"-1"), Some(-1));
        assert_eq!(parse_i32(b"+7"), Some(7));
        assert_eq!(parse_i32(b"2147483647"), Some(i32::MAX));
        assert_eq!(parse_i32(b"2147483648"), None);
        assert_eq!(parse_i32(b"x"), None);
    }
}
