//! The text protocol (memcached doc/protocol.txt), with the exact replies
//! and corner cases of memcached 1.6's proto_text.c: tokens split on single
//! spaces, a `noreply` last token silences the one reply of a command,
//! malformed storage commands leave their data line to be read as a
//! command, values over the item size limit are read and discarded.

use super::stats::{self, StatsGroup};
use super::{Flow, Step};
use crate::server::{Server, VERSION};
use crate::store::{
    DeleteOutcome, Delta, DeltaOutcome, StoreMode, StoreOutcome, UnixTime, parse_i32,
    parse_u64_prefix,
};

/// Longest key (memcached's KEY_MAX_LENGTH).
pub const KEY_MAX_LENGTH: usize = 250;
/// A line longer than this without a newline closes the connection unless
/// it is a get (memcached's try_read_command_ascii).
const LINE_SOFT_LIMIT: usize = 2048;
/// memcached's MAX_TOKENS: the tokenizer stops after 23 tokens.
const MAX_TOKENS: usize = 24;

/// Reading state of a text connection.
#[derive(Default)]
pub(super) struct TextEngine {
    state: State,
    /// Length of the data block of a refused storage command, to discard.
    refused_value: usize,
}

#[derive(Default)]
enum State {
    #[default]
    Line,
    /// Reading the data block of a storage command.
    Value(PendingStore),
}

struct PendingStore {
    mode: StoreMode,
    key: Vec<u8>,
    flags: u32,
    exptime: i64,
    /// Data length plus the CRLF.
    len: usize,
    noreply: bool,
}

/// The tokens of a command line, as memcached's `tokenize_command` counts
/// them (`count` includes the terminating empty token).
struct Tokens<'a> {
    words: [&'a [u8]; MAX_TOKENS - 1],
    count: usize,
}

impl<'a> Tokens<'a> {
    fn split(line: &'a [u8]) -> Self {
        let mut tokens = Tokens {
            words: [&[]; MAX_TOKENS - 1],
            count: 1,
        };
        for word in line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .take(MAX_TOKENS - 1)
        {
            tokens.words[tokens.count - 1] = word;
            tokens.count += 1;
        }
        tokens
    }

    fn get(&self, index: usize) -> &'a [u8] {
        if index + 1 < self.count {
            self.words[index]
        } else {
            &[]
        }
    }

    /// memcached's `set_noreply_maybe`: a last token "noreply".
    fn noreply(&self) -> bool {
        self.count >= 2 && self.words[self.count - 2] == b"noreply"
    }
}

fn reply(out: &mut Vec<u8>, noreply: bool, text: &[u8]) {
    if !noreply {
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

const ERROR: &[u8] = b"ERROR";
const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format";
const BAD_EXPTIME: &[u8] = b"CLIENT_ERROR invalid exptime argument";

impl TextEngine {
    pub(super) fn step(
        &mut self,
        input: &[u8],
        server: &Server,
        now: UnixTime,
        out: &mut Vec<u8>,
    ) -> Step {
        match &self.state {
            State::Line => self.line(input, server, now, out),
            State::Value(pending) if input.len() < pending.len => Step::NeedMore,
            State::Value(pending) => {
                let data = &input[..pending.len];
                match data.strip_suffix(b"\r\n") {
                    Some(value) => {
                        let stored = server.store.store(
                            pending.mode,
                            &pending.key,
                            pending.flags,
                            pending.exptime,
                            value,
                            now,
                        );
                        reply(out, pending.noreply, store_reply(stored.outcome));
                    }
                    None => reply(out, pending.noreply, b"CLIENT_ERROR bad data chunk"),
                }
                let consumed = pending.len;
                self.state = State::Line;
                Step::Consumed(consumed)
            }
        }
    }

    fn line(&mut self, input: &[u8], server: &Server, now: UnixTime, out: &mut Vec<u8>) -> Step {
        let Some(newline) = input.iter().position(|&b| b == b'\n') else {
            return if line_may_grow(input, server) {
                Step::NeedMore
            } else {
                Step::Close
            };
        };
        let mut line = &input[..newline];
        if line.len() > 1 && line.ends_with(b"\r") {
            line = &line[..line.len() - 1];
        }
        match self.command(line, server, now, out) {
            Flow::Close => Step::Close,
            Flow::Open => match std::mem::take(&mut self.refused_value) {
                0 => Step::Consumed(newline + 1),
                discard => Step::Discard {
                    consumed: newline + 1,
                    discard,
                },
            },
        }
    }

    fn command(&mut self, line: &[u8], server: &Server, now: UnixTime, out: &mut Vec<u8>) -> Flow {
        let tokens = Tokens::split(line);
        let n = tokens.count;
        let name = tokens.get(0);
        // memcached's dispatch checks the token count of each command
        // (WANT_TOKENS) and answers ERROR to anything it does not know.
        let known = match name {
            b"get" | b"gets" | b"gat" | b"gats" => n >= 3,
            b"set" | b"add" | b"replace" | b"append" | b"prepend" => n == 6 || n == 7,
            b"cas" => n == 7 || n == 8,
            b"incr" | b"decr" | b"touch" => n == 4 || n == 5,
            b"delete" => (3..=5).contains(&n),
            b"flush_all" => (2..=4).contains(&n),
            b"verbosity" => n == 3 || n == 4,
            b"stats" | b"version" | b"quit" => true,
            _ => false,
        };
        if !known || n < 2 || name.len() < 2 {
            reply(out, false, ERROR);
            return Flow::Open;
        }
        match name {
            b"get" | b"gets" | b"gat" | b"gats" => retrieve(line, name, server, now, out),
            b"incr" | b"decr" => arithmetic(&tokens, server, now, out),
            b"delete" => delete(&tokens, server, now, out),
            b"touch" => touch(&tokens, server, now, out),
            b"flush_all" => flush_all(&tokens, server, now, out),
            b"verbosity" => {
                let valid = parse_u64_prefix(tokens.get(1)).is_some();
                reply(
                    out,
                    tokens.noreply(),
                    if valid { b"OK" } else { BAD_FORMAT },
                );
            }
            b"stats" => stats_command(&tokens, server, now, out),
            b"version" => out.extend_from_slice(format!("VERSION {VERSION}\r\n").as_bytes()),
            b"quit" => return Flow::Close,
            _ => self.update(&tokens, server, out),
        }
        Flow::Open
    }

    /// set/add/replace/append/prepend/cas: memcached's
    /// process_update_command (the checks in its order).
    fn update(&mut self, tokens: &Tokens<'_>, server: &Server, out: &mut Vec<u8>) {
        let noreply = tokens.noreply();
        let key = tokens.get(1);
        let is_cas = tokens.get(0) == b"cas";
        let parsed = (
            parse_u64_prefix(tokens.get(2)),
            parse_i32(tokens.get(3)),
            parse_i32(tokens.get(4)),
            if is_cas {
                parse_u64_prefix(tokens.get(5))
            } else {
                Some(0)
            },
        );
        let (Some(flags), Some(exptime), Some(length), Some(cas)) = parsed else {
            return reply(out, noreply, BAD_FORMAT);
        };
        if key.len() > KEY_MAX_LENGTH || !(0..=i32::MAX - 2).contains(&length) {
            return reply(out, noreply, BAD_FORMAT);
        }
        // memcached's client flags are 32 bits; strtoul's wider result is
        // truncated as the C assignment does.
        let flags = flags as u32;
        let length = length as usize;
        let mode = match tokens.get(0) {
            b"set" => StoreMode::Set,
            b"add" => StoreMode::Add,
            b"replace" => StoreMode::Replace,
            b"append" => StoreMode::Append(0),
            b"prepend" => StoreMode::Prepend(0),
            _ => StoreMode::Cas(cas),
        };
        if !server.store.item_fits(key.len(), flags, length) {
            reply(out, noreply, b"SERVER_ERROR object too large for cache");
            if mode == StoreMode::Set {
                // Never leave the old value visible after a failed set.
                server.store.unlink(key);
            }
            self.refused_value = length + 2;
            return;
        }
        self.state = State::Value(PendingStore {
            mode,
            key: key.to_vec(),
            flags,
            exptime: i64::from(exptime),
            len: length + 2,
            noreply,
        });
    }
}

/// Whether a line without its newline may still be waited for: memcached
/// closes a connection sending over 2048 bytes without a newline unless it
/// is a get; a get line is bounded here by the item size limit.
fn line_may_grow(input: &[u8], server: &Server) -> bool {
    if input.len() <= LINE_SOFT_LIMIT {
        return true;
    }
    let spaces = input.iter().take_while(|&&b| b == b' ').count();
    let rest = &input[spaces..];
    spaces <= 100
        && (rest.starts_with(b"get ") || rest.starts_with(b"gets "))
        && input.len() <= server.config().store.item_size_max
}

fn store_reply(outcome: StoreOutcome) -> &'static [u8] {
    match outcome {
        StoreOutcome::Stored => b"STORED",
        StoreOutcome::NotStored => b"NOT_STORED",
        StoreOutcome::Exists => b"EXISTS",
        StoreOutcome::NotFound => b"NOT_FOUND",
        StoreOutcome::TooLarge => b"SERVER_ERROR object too large for cache",
        StoreOutcome::NoMemory => b"SERVER_ERROR out of memory storing object",
    }
}

/// get/gets/gat/gats over every key of the line; a key over the limit
/// discards this command's partial output, as memcached 1.6 does.
fn retrieve(line: &[u8], name: &[u8], server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).skip(1);
    let touch = name.starts_with(b"gat");
    let with_cas = name.ends_with(b"s");
    let exptime = if touch {
        match words.next().and_then(parse_i32) {
            Some(exptime) => Some(i64::from(exptime)),
            None => return reply(out, false, BAD_EXPTIME),
        }
    } else {
        None
    };
    let start = out.len();
    for key in words {
        if key.len() > KEY_MAX_LENGTH {
            out.truncate(start);
            return reply(out, false, BAD_FORMAT);
        }
        let found = match exptime {
            Some(exptime) => server.store.touch(key, exptime, now),
            None => server.store.get(key, now),
        };
        if let Some(item) = found {
            out.extend_from_slice(b"VALUE ");
            out.extend_from_slice(key);
            push_number(out, u64::from(item.flags));
            push_number(out, item.value.len() as u64);
            if with_cas {
                push_number(out, item.cas);
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&item.value);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"END\r\n");
}

/// Appends a space and `value` in decimal, without allocating (the get
/// path's VALUE line).
fn push_number(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.push(b' ');
    out.extend_from_slice(&digits[start..]);
}

fn arithmetic(tokens: &Tokens<'_>, server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let noreply = tokens.noreply();
    let key = tokens.get(1);
    if key.len() > KEY_MAX_LENGTH {
        return reply(out, noreply, BAD_FORMAT);
    }
    let Some(amount) = parse_u64_prefix(tokens.get(2)) else {
        return reply(out, noreply, b"CLIENT_ERROR invalid numeric delta argument");
    };
    let request = Delta {
        key,
        increment: tokens.get(0) == b"incr",
        amount,
        cas: 0,
        create: None,
    };
    match server.store.delta(request, now) {
        DeltaOutcome::Value(value, _) => reply(out, noreply, value.to_string().as_bytes()),
        DeltaOutcome::NonNumeric => reply(
            out,
            noreply,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value",
        ),
        DeltaOutcome::NotFound | DeltaOutcome::Exists | DeltaOutcome::NotStored => {
            reply(out, noreply, b"NOT_FOUND")
        }
    }
}

fn delete(tokens: &Tokens<'_>, server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let noreply = tokens.noreply();
    if tokens.count > 3 {
        let hold_is_zero = tokens.get(2) == b"0";
        let valid = (tokens.count == 4 && (hold_is_zero || noreply))
            || (tokens.count == 5 && hold_is_zero && noreply);
        if !valid {
            return reply(
                out,
                noreply,
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
            );
        }
    }
    let key = tokens.get(1);
    if key.len() > KEY_MAX_LENGTH {
        return reply(out, noreply, BAD_FORMAT);
    }
    let text: &[u8] = match server.store.delete(key, 0, now) {
        DeleteOutcome::Deleted => b"DELETED",
        DeleteOutcome::NotFound | DeleteOutcome::Exists => b"NOT_FOUND",
    };
    reply(out, noreply, text);
}

fn touch(tokens: &Tokens<'_>, server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let noreply = tokens.noreply();
    let key = tokens.get(1);
    if key.len() > KEY_MAX_LENGTH {
        return reply(out, noreply, BAD_FORMAT);
    }
    let Some(exptime) = parse_i32(tokens.get(2)) else {
        return reply(out, noreply, BAD_EXPTIME);
    };
    let touched = server.store.touch(key, i64::from(exptime), now).is_some();
    reply(
        out,
        noreply,
        if touched { b"TOUCHED" } else { b"NOT_FOUND" },
    );
}

fn flush_all(tokens: &Tokens<'_>, server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let noreply = tokens.noreply();
    let delay = if tokens.count == if noreply { 3 } else { 2 } {
        0
    } else {
        match parse_i32(tokens.get(1)) {
            Some(delay) => delay,
            None => return reply(out, noreply, BAD_EXPTIME),
        }
    };
    server.store.flush(i64::from(delay), now);
    reply(out, noreply, b"OK");
}

fn stats_command(tokens: &Tokens<'_>, server: &Server, now: UnixTime, out: &mut Vec<u8>) {
    let argument = tokens.get(1);
    if argument == b"reset" {
        server.store.reset_counters();
        return reply(out, false, b"RESET");
    }
    let Some(group) = StatsGroup::parse(argument) else {
        return reply(out, false, ERROR);
    };
    for (name, value) in stats::report(server, group, now) {
        out.extend_from_slice(format!("STAT {name} {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"END\r\n");
}
