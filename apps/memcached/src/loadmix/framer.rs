//! Where a memcached text-protocol response ends, for the load generator
//! ([`bench::protocol::ResponseFramer`]).
//!
//! A get of one key is answered `VALUE <key> <flags> <bytes>[ <cas>]\r\n`,
//! the data block, `\r\n`, then `END\r\n` (a hit), or `END\r\n` alone (a
//! miss); a set is answered `STORED\r\n` (memcached's protocol.txt,
//! "Retrieval command" and "Storage commands"). Any other reply memcached
//! can send (`NOT_STORED`, `ERROR`, `CLIENT_ERROR ...`, `SERVER_ERROR
//! ...`) stops the run as an unexpected answer; bytes that cannot start a
//! reply stop it as malformed. Hits and misses are counted.

use std::sync::atomic::{AtomicU64, Ordering};

use bench::protocol::{Frame, FrameError, PendingRequest, ResponseFramer};

use super::mix::{GET, SET};

/// Longest reply line accepted (a VALUE line with a 250-byte key, flags,
/// length and CAS is under 320 bytes).
const MAX_LINE: usize = 512;
/// Largest value length believed (memcached's largest item limit, 1 GB).
const MAX_VALUE: usize = 1 << 30;
/// Replies memcached may send to any command: complete lines starting
/// with these are errors, not garbage.
const ERROR_REPLIES: [&[u8]; 6] = [
    b"ERROR",
    b"CLIENT_ERROR",
    b"SERVER_ERROR",
    b"NOT_STORED",
    b"EXISTS",
    b"NOT_FOUND",
];

/// Frames text-protocol replies to single-key gets and sets.
#[derive(Debug, Default)]
pub struct TextResponses {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl TextResponses {
    /// Gets answered with a value.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Gets answered `END` alone.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

fn malformed(what: &str, bytes: &[u8]) -> FrameError {
    let shown = &bytes[..bytes.len().min(64)];
    FrameError::Malformed(format!("{what}: {:?}", String::from_utf8_lossy(shown)))
}

/// Whether `partial` (no line end yet) can still become one of the
/// `starts`, or a reply line beginning with one of them.
fn may_start(partial: &[u8], starts: &[&[u8]]) -> bool {
    starts
        .iter()
        .any(|start| start.starts_with(partial) || partial.starts_with(start))
}

/// Parses the byte count of a `VALUE <key> <flags> <bytes>[ <cas>]` line.
fn value_length(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line.strip_prefix(b"VALUE ")?).ok()?;
    let fields: Vec<&str> = text.split(' ').collect();
    let [_key, flags, bytes, ..] = fields[..] else {
        return None;
    };
    if fields.len() > 4 || flags.parse::<u32>().is_err() {
        return None;
    }
    bytes.parse().ok()
}

impl TextResponses {
    /// Frames the reply to a get.
    fn get(&self, received: &[u8]) -> Result<Option<Frame>, FrameError> {
        const STARTS: [&[u8]; 2] = [b"VALUE ", b"END\r\n"];
        let Some(line_end) = line_end(received, &STARTS)? else {
            return Ok(None);
        };
        let line = &received[..line_end];
        if line == b"END" {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Frame::new(line_end + 2)));
        }
        if !line.starts_with(b"VALUE ") {
            return Err(unexpected(line, "get"));
        }
        let bytes = value_length(line)
            .filter(|&bytes| bytes <= MAX_VALUE)
            .ok_or_else(|| malformed("bad VALUE line", line))?;
        let data_end = line_end + 2 + bytes;
        let total = data_end + b"\r\nEND\r\n".len();
        let tail = &received[data_end.min(received.len())..total.min(received.len())];
        if !b"\r\nEND\r\n".starts_with(tail) {
            return Err(malformed("no END after the value", tail));
        }
        if received.len() < total {
            return Ok(None);
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Frame::new(total)))
    }

    /// Frames the reply to a set.
    fn set(&self, received: &[u8]) -> Result<Option<Frame>, FrameError> {
        const STARTS: [&[u8]; 1] = [b"STORED\r\n"];
        let Some(line_end) = line_end(received, &STARTS)? else {
            return Ok(None);
        };
        match &received[..line_end] {
            b"STORED" => Ok(Some(Frame::new(line_end + 2))),
            line => Err(unexpected(line, "set")),
        }
    }
}

/// The end of the first line (`\r\n`), `None` while it may still come,
/// or an error when the bytes cannot start a reply.
fn line_end(received: &[u8], starts: &[&[u8]]) -> Result<Option<usize>, FrameError> {
    let window = &received[..received.len().min(MAX_LINE)];
    if let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") {
        return Ok(Some(end));
    }
    if received.len() >= MAX_LINE {
        return Err(malformed("no line end", received));
    }
    if may_start(received, starts) || may_start(received, &ERROR_REPLIES) {
        Ok(None)
    } else {
        Err(malformed("not a reply", received))
    }
}

/// A complete line that is not the expected reply: a memcached error
/// reply is unexpected, anything else malformed.
fn unexpected(line: &[u8], request: &'static str) -> FrameError {
    if ERROR_REPLIES.iter().any(|reply| line.starts_with(reply)) {
        FrameError::Unexpected {
            response: String::from_utf8_lossy(line).into_owned(),
            request,
        }
    } else {
        malformed("not a reply", line)
    }
}

impl ResponseFramer for TextResponses {
    fn frame(&self, request: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError> {
        match request.class {
            GET => self.get(received),
            SET => self.set(received),
            other => Err(FrameError::Malformed(format!(
                "request class {other} is neither get nor set"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_REQUEST: PendingRequest = PendingRequest { id: 0, class: GET };
    const SET_REQUEST: PendingRequest = PendingRequest { id: 0, class: SET };
    const HIT: &[u8] = b"VALUE 0000042 0 2\r\nvv\r\nEND\r\n";

    #[test]
    fn whole_replies_are_framed_and_counted() {
        let framer = TextResponses::default();
        let mut two = HIT.to_vec();
        two.extend_from_slice(b"END\r\n");
        assert_eq!(
            framer.frame(GET_REQUEST, &two),
            Ok(Some(Frame::new(HIT.len())))
        );
        assert_eq!(
            framer.frame(GET_REQUEST, b"END\r\n"),
            Ok(Some(Frame::new(5)))
        );
        assert_eq!(
            framer.frame(SET_REQUEST, b"STORED\r\nEND"),
            Ok(Some(Frame::new(8)))
        );
        let with_cas = b"VALUE k 5 3 77\r\n\r\n\r\r\nEND\r\n";
        assert_eq!(
            framer.frame(GET_REQUEST, with_cas),
            Ok(Some(Frame::new(with_cas.len()))),
            "data may hold CR and LF"
        );
        assert_eq!((framer.hits(), framer.misses()), (2, 1));
    }

    #[test]
    fn every_split_of_a_reply_is_incomplete_until_its_last_byte() {
        let framer = TextResponses::default();
        for (request, reply) in [
            (GET_REQUEST, HIT),
            (GET_REQUEST, b"END\r\n"),
            (SET_REQUEST, b"STORED\r\n"),
        ] {
            for cut in 0..reply.len() {
                assert_eq!(framer.frame(request, &reply[..cut]), Ok(None), "{cut}");
            }
        }
    }

    #[test]
    fn error_replies_are_unexpected_and_garbage_malformed() {
        let framer = TextResponses::default();
        let error = framer.frame(
            SET_REQUEST,
            b"SERVER_ERROR out of memory storing object\r\n",
        );
        assert!(
            matches!(error, Err(FrameError::Unexpected { request: "set", .. })),
            "{error:?}"
        );
        let error = framer.frame(GET_REQUEST, b"STORED\r\n");
        assert!(matches!(error, Err(FrameError::Malformed(_))), "{error:?}");
        assert!(matches!(
            framer.frame(GET_REQUEST, b"ERROR\r\n"),
            Err(FrameError::Unexpected { .. })
        ));
        for garbage in [
            &b"HTTP/1.1"[..],
            b"VALUE k x 2\r\n",
            b"VALUE k 0 2\r\nvvXX",
            b"VALUE k 0 -1\r\n",
            b"VALUE k 0 99999999999999\r\n",
            b"\x00\x01",
        ] {
            let framed = framer.frame(GET_REQUEST, garbage);
            assert!(
                matches!(framed, Err(FrameError::Malformed(_))),
                "{garbage:?}: {framed:?}"
            );
        }
        assert!(
            framer.frame(GET_REQUEST, &[b'V'; MAX_LINE]).is_err(),
            "an endless line"
        );
        assert!(
            framer
                .frame(PendingRequest { id: 0, class: 9 }, b"END\r\n")
                .is_err()
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let framer = TextResponses::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        let alphabet = b"VALUE END\r\n0123 STORED";
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            for request in [GET_REQUEST, SET_REQUEST] {
                if let Ok(Some(frame)) = framer.frame(request, &bytes) {
                    assert!(frame.len <= bytes.len());
                }
            }
        }
    }
}
