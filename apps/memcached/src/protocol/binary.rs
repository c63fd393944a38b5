//! The binary protocol (memcached's proto_bin.c and the "Memcache Binary
//! Protocol" draft): every opcode memcached 1.6 serves without SASL, quiet
//! variants included, with its per-command length checks (a malformed
//! header is answered "Invalid arguments" and the connection closed; an
//! unknown opcode is answered and its body discarded).

use super::Step;
use super::binary_header::{HEADER_LEN, Magic, Opcode, RequestHeader, ResponseHeader, Status};
use super::stats::{self, StatsGroup};
use crate::server::{Server, VERSION};
use crate::store::{DeleteOutcome, Delta, DeltaOutcome, StoreMode, StoreOutcome, UnixTime};

use super::text::KEY_MAX_LENGTH;

/// A binary connection keeps no state between requests: a request is
/// handled once whole, straight from the buffer.
pub(super) struct BinaryEngine;

/// Writes responses to one request.
struct Responder<'a> {
    out: &'a mut Vec<u8>,
    opcode: u8,
    opaque: u32,
}

impl Responder<'_> {
    fn send(&mut self, status: Status, cas: u64, extras: &[u8], key: &[u8], value: &[u8]) {
        let header = ResponseHeader {
            opcode: self.opcode,
            key_len: key.len() as u16,
            extras_len: extras.len() as u8,
            status: status as u16,
            body_len: (extras.len() + key.len() + value.len()) as u32,
            opaque: self.opaque,
            cas,
        };
        header.emit(self.out);
        self.out.extend_from_slice(extras);
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(value);
    }

    fn error(&mut self, status: Status) {
        self.send(status, 0, &[], &[], status.message());
    }

    fn success(&mut self, quiet: bool, cas: u64) {
        if !quiet {
            self.send(Status::Success, cas, &[], &[], &[]);
        }
    }
}

/// The parts of a whole request.
struct Request<'a> {
    command: Opcode,
    quiet: bool,
    cas: u64,
    extras: &'a [u8],
    key: &'a [u8],
    value: &'a [u8],
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes(b.try_into().expect("four bytes")))
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes.get(..8).map_or(0, |b| {
        u64::from_be_bytes(b.try_into().expect("eight bytes"))
    })
}

/// memcached's dispatch_bin_command length rules per command.
fn lengths_valid(command: Opcode, extras: usize, key: usize, body: usize) -> bool {
    match command {
        Opcode::Version | Opcode::Noop | Opcode::Quit => extras == 0 && key == 0 && body == 0,
        Opcode::Flush => key == 0 && body == extras && (extras == 0 || extras == 4),
        Opcode::Set | Opcode::Add | Opcode::Replace => extras == 8 && key != 0 && body >= key + 8,
        Opcode::Get | Opcode::GetK => extras == 0 && body == key && key > 0,
        Opcode::Delete => key > 0 && extras == 0 && body == key,
        Opcode::Increment | Opcode::Decrement => key > 0 && extras == 20 && body == key + extras,
        Opcode::Append | Opcode::Prepend => key > 0 && extras == 0,
        Opcode::Stat => extras == 0,
        Opcode::Touch | Opcode::Gat | Opcode::GatK => extras == 4 && key != 0,
        Opcode::SaslListMechs => extras == 0 && key == 0 && body == 0,
        Opcode::SaslAuth | Opcode::SaslStep => extras == 0 && key != 0,
        _ => false,
    }
}

fn carries_value(command: Opcode) -> bool {
    matches!(
        command,
        Opcode::Set | Opcode::Add | Opcode::Replace | Opcode::Append | Opcode::Prepend
    )
}

impl BinaryEngine {
    pub(super) fn step(
        &mut self,
        input: &[u8],
        server: &Server,
        now: UnixTime,
        out: &mut Vec<u8>,
    ) -> Step {
        let Some(header) = RequestHeader::parse(input) else {
            return Step::NeedMore;
        };
        if header.magic != Magic::Request as u8 {
            return Step::Close;
        }
        let mut responder = Responder {
            out,
            opcode: header.opcode,
            opaque: header.opaque,
        };
        let (extras_len, key_len, body_len) = (
            usize::from(header.extras_len),
            usize::from(header.key_len),
            header.body_len as usize,
        );
        if key_len + extras_len > body_len {
            responder.error(Status::UnknownCommand);
            return Step::Close;
        }
        if key_len > KEY_MAX_LENGTH {
            responder.error(Status::InvalidArguments);
            return Step::Close;
        }
        let Some((command, quiet)) = Opcode::from_u8(header.opcode).map(Opcode::loud) else {
            responder.error(Status::UnknownCommand);
            // memcached 1.6 reads the extras and key of an unknown command
            // and then discards a further body length: a client sending
            // one with a key or extras loses that many following bytes.
            let discard = extras_len + key_len + body_len;
            return Step::Discard {
                consumed: HEADER_LEN,
                discard,
            };
        };
        if !lengths_valid(command, extras_len, key_len, body_len) {
            responder.error(Status::InvalidArguments);
            return Step::Close;
        }
        if matches!(
            command,
            Opcode::SaslListMechs | Opcode::SaslAuth | Opcode::SaslStep
        ) {
            // SASL is not enabled (memcached without -S).
            responder.error(Status::UnknownCommand);
            return Step::Discard {
                consumed: HEADER_LEN,
                discard: body_len,
            };
        }
        let prefix = HEADER_LEN + extras_len + key_len;
        if input.len() < prefix {
            return Step::NeedMore;
        }
        let extras = &input[HEADER_LEN..HEADER_LEN + extras_len];
        let key = &input[HEADER_LEN + extras_len..prefix];
        let value_len = if carries_value(command) {
            body_len - extras_len - key_len
        } else {
            0
        };
        if carries_value(command) {
            let flags = if command == Opcode::Append || command == Opcode::Prepend {
                0
            } else {
                be_u32(extras)
            };
            if !server.store.item_fits(key_len, flags, value_len) {
                responder.error(Status::TooLarge);
                if command == Opcode::Set {
                    server.store.unlink(key);
                }
                return Step::Discard {
                    consumed: prefix,
                    discard: value_len,
                };
            }
            if input.len() < prefix + value_len {
                return Step::NeedMore;
            }
        }
        let request = Request {
            command,
            quiet,
            cas: header.cas,
            extras,
            key,
            value: &input[prefix..prefix + value_len],
        };
        if execute(&request, &mut responder, server, now) {
            Step::Consumed(prefix + value_len)
        } else {
            Step::Close
        }
    }
}

/// Runs a whole request; returns false when the connection must close.
fn execute(
    request: &Request<'_>,
    responder: &mut Responder<'_>,
    server: &Server,
    now: UnixTime,
) -> bool {
    let store = &server.store;
    let Request {
        command,
        quiet,
        cas,
        extras,
        key,
        value,
    } = *request;
    match command {
        Opcode::Get | Opcode::GetK => retrieve(request, responder, store.get(key, now)),
        Opcode::Touch | Opcode::Gat | Opcode::GatK => {
            let found = store.touch(key, i64::from(be_u32(extras)), now);
            retrieve(request, responder, found)
        }
        Opcode::Set | Opcode::Add | Opcode::Replace | Opcode::Append | Opcode::Prepend => {
            let mode = match command {
                Opcode::Append => StoreMode::Append(cas),
                Opcode::Prepend => StoreMode::Prepend(cas),
                _ if cas != 0 => StoreMode::Cas(cas),
                Opcode::Set => StoreMode::Set,
                Opcode::Add => StoreMode::Add,
                _ => StoreMode::Replace,
            };
            let flags = if extras.is_empty() { 0 } else { be_u32(extras) };
            let exptime = i64::from(be_u32(extras.get(4..).unwrap_or_default()));
            let stored = store.store(mode, key, flags, exptime, value, now);
            // proto_bin.c process_bin_update: a refused add is "exists", a
            // refused replace "not found".
            match stored.outcome {
                StoreOutcome::Stored => responder.success(quiet, stored.cas),
                StoreOutcome::Exists => responder.error(Status::KeyExists),
                StoreOutcome::NotFound => responder.error(Status::KeyNotFound),
                _ if command == Opcode::Add => responder.error(Status::KeyExists),
                _ if command == Opcode::Replace => responder.error(Status::KeyNotFound),
                _ => responder.error(Status::NotStored),
            }
        }
        Opcode::Delete => match store.delete(key, cas, now) {
            DeleteOutcome::Deleted => responder.success(quiet, 0),
            DeleteOutcome::NotFound => responder.error(Status::KeyNotFound),
            DeleteOutcome::Exists => responder.error(Status::KeyExists),
        },
        Opcode::Increment | Opcode::Decrement => {
            let exptime = be_u32(&extras[16..]);
            let create = (exptime != u32::MAX).then(|| (be_u64(&extras[8..]), i64::from(exptime)));
            let request = Delta {
                key,
                increment: command == Opcode::Increment,
                amount: be_u64(extras),
                cas,
                create,
            };
            match store.delta(request, now) {
                DeltaOutcome::Value(value, cas) if !quiet => {
                    responder.send(Status::Success, cas, &[], &[], &value.to_be_bytes())
                }
                DeltaOutcome::Value(..) => {}
                DeltaOutcome::NotFound => responder.error(Status::KeyNotFound),
                DeltaOutcome::NonNumeric => responder.error(Status::DeltaBadValue),
                DeltaOutcome::Exists => responder.error(Status::KeyExists),
                DeltaOutcome::NotStored => responder.error(Status::NotStored),
            }
        }
        Opcode::Quit => {
            responder.success(quiet, 0);
            return false;
        }
        Opcode::Flush => {
            store.flush(i64::from(be_u32(extras)), now);
            responder.success(quiet, 0);
        }
        Opcode::Noop => responder.success(false, 0),
        Opcode::Version => responder.send(Status::Success, 0, &[], &[], VERSION.as_bytes()),
        Opcode::Stat => stat(key, responder, server, now),
        _ => responder.error(Status::UnknownCommand),
    }
    true
}

/// The reply of a get, getk, touch, gat or gatk (proto_bin.c
/// process_bin_get_or_touch): flags as extras, the key for the K variants,
/// no value for touch; a quiet miss sends nothing, a K miss sends the key.
fn retrieve(
    request: &Request<'_>,
    responder: &mut Responder<'_>,
    found: Option<crate::store::Item>,
) {
    let with_key = matches!(request.command, Opcode::GetK | Opcode::GatK);
    let key = if with_key { request.key } else { &[] };
    match found {
        Some(item) => {
            let value = if request.command == Opcode::Touch {
                &[][..]
            } else {
                &item.value[..]
            };
            responder.send(
                Status::Success,
                item.cas,
                &item.flags.to_be_bytes(),
                key,
                value,
            );
        }
        None if request.quiet => {}
        None if with_key => responder.send(Status::KeyNotFound, 0, &[], key, &[]),
        None => responder.error(Status::KeyNotFound),
    }
}

/// Stat: one response per statistic, then an empty one.
fn stat(key: &[u8], responder: &mut Responder<'_>, server: &Server, now: UnixTime) {
    if key == b"reset" {
        server.store.reset_counters();
    } else {
        let Some(group) = StatsGroup::parse(key) else {
            return responder.error(Status::KeyNotFound);
        };
        for (name, value) in stats::report(server, group, now) {
            responder.send(Status::Success, 0, &[], name.as_bytes(), value.as_bytes());
        }
    }
    responder.send(Status::Success, 0, &[], &[], &[]);
}
