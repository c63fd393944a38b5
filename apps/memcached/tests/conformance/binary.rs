//! Binary protocol cases (the "Memcache Binary Protocol" draft and the
//! behaviour of memcached 1.6.18's proto_bin.c).

use memcached::protocol::{Opcode, ResponseHeader, Status};

use crate::transport::{Client, Request, Response, Transport, show};

fn set_extras(flags: u32, exptime: u32) -> Vec<u8> {
    [flags.to_be_bytes(), exptime.to_be_bytes()].concat()
}

fn delta_extras(amount: u64, initial: u64, exptime: u32) -> Vec<u8> {
    [
        &amount.to_be_bytes()[..],
        &initial.to_be_bytes(),
        &exptime.to_be_bytes(),
    ]
    .concat()
}

fn set(key: &[u8], value: &[u8]) -> Request {
    Request::new(Opcode::Set as u8, key)
        .extras(&set_extras(0, 0))
        .value(value)
}

#[track_caller]
fn expect_status(response: &Response, status: Status, server: &str) {
    assert_eq!(
        response.header.status, status as u16,
        "{server}: {response:?}"
    );
    if status != Status::Success {
        assert_eq!(
            show(&response.value),
            show(status.message()),
            "{server}: error text"
        );
    }
}

/// Sends `requests` then a no-op, and returns every response before the
/// no-op's (quiet commands answer only errors and hits).
fn pipeline(c: &mut Client, requests: &[Request]) -> Vec<Response> {
    let mut bytes: Vec<u8> = requests.iter().flat_map(|r| r.bytes()).collect();
    bytes.extend(Request::new(Opcode::Noop as u8, b"").bytes());
    c.send(&bytes);
    let mut responses = Vec::new();
    loop {
        let response = c.response();
        if response.header.opcode == Opcode::Noop as u8 {
            return responses;
        }
        responses.push(response);
    }
}

pub fn binary_storage_and_get(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let stored = c.call(
        &Request::new(Opcode::Set as u8, b"k")
            .extras(&set_extras(0xdead_beef, 0))
            .value(b"value"),
    );
    expect_status(&stored, Status::Success, n);
    assert_eq!(stored.header.opaque, 0xa5a5_0001, "{n}: opaque echoed");
    assert_ne!(stored.header.cas, 0, "{n}: set returns the CAS id");
    let got = c.call(&Request::new(Opcode::Get as u8, b"k"));
    expect_status(&got, Status::Success, n);
    assert_eq!(
        (
            got.extras.as_slice(),
            got.key.as_slice(),
            got.value.as_slice()
        ),
        (&0xdead_beefu32.to_be_bytes()[..], &b""[..], &b"value"[..]),
        "{n}"
    );
    assert_eq!(got.header.cas, stored.header.cas, "{n}");
    let with_key = c.call(&Request::new(Opcode::GetK as u8, b"k"));
    assert_eq!(
        (with_key.key.as_slice(), with_key.value.as_slice()),
        (&b"k"[..], &b"value"[..]),
        "{n}"
    );
    expect_status(
        &c.call(&Request::new(Opcode::Get as u8, b"missing")),
        Status::KeyNotFound,
        n,
    );
    let miss_k = c.call(&Request::new(Opcode::GetK as u8, b"missing"));
    assert_eq!(
        (
            miss_k.header.status,
            miss_k.key.as_slice(),
            miss_k.value.as_slice()
        ),
        (Status::KeyNotFound as u16, &b"missing"[..], &b""[..]),
        "{n}: GetK miss carries the key"
    );
    let add = Request::new(Opcode::Add as u8, b"k")
        .extras(&set_extras(0, 0))
        .value(b"x");
    expect_status(&c.call(&add), Status::KeyExists, n);
    let replace = Request::new(Opcode::Replace as u8, b"nope")
        .extras(&set_extras(0, 0))
        .value(b"x");
    expect_status(&c.call(&replace), Status::KeyNotFound, n);
    expect_status(
        &c.call(&Request::new(Opcode::Append as u8, b"k").value(b"++")),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Prepend as u8, b"k").value(b"--")),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Append as u8, b"nope").value(b"x")),
        Status::NotStored,
        n,
    );
    assert_eq!(
        c.call(&Request::new(Opcode::Get as u8, b"k")).value,
        b"--value++",
        "{n}"
    );
    expect_status(
        &c.call(&Request::new(Opcode::Delete as u8, b"k")),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Delete as u8, b"k")),
        Status::KeyNotFound,
        n,
    );
    c.send(&Request::new(Opcode::Version as u8, b"").bytes());
    let version = c.response();
    assert_eq!(version.value, b"1.6.18", "{n}");
}

pub fn binary_cas(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let cas = c.call(&set(b"k", b"1")).header.cas;
    expect_status(&c.call(&set(b"k", b"2").cas(cas + 1)), Status::KeyExists, n);
    expect_status(
        &c.call(&set(b"missing", b"2").cas(cas)),
        Status::KeyNotFound,
        n,
    );
    let swapped = c.call(&set(b"k", b"3").cas(cas));
    expect_status(&swapped, Status::Success, n);
    let add_cas = Request::new(Opcode::Add as u8, b"k")
        .extras(&set_extras(0, 0))
        .value(b"x")
        .cas(cas);
    expect_status(&c.call(&add_cas), Status::KeyExists, n);
    expect_status(
        &c.call(
            &Request::new(Opcode::Append as u8, b"k")
                .value(b"x")
                .cas(cas),
        ),
        Status::KeyExists,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Delete as u8, b"k").cas(cas)),
        Status::KeyExists,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Delete as u8, b"k").cas(swapped.header.cas)),
        Status::Success,
        n,
    );
}

pub fn binary_incr_decr(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let call = |c: &mut Client, op: Opcode, key: &[u8], amount, initial, exptime| {
        c.call(&Request::new(op as u8, key).extras(&delta_extras(amount, initial, exptime)))
    };
    let created = call(&mut c, Opcode::Increment, b"n", 5, 10, 0);
    expect_status(&created, Status::Success, n);
    assert_eq!(
        created.value,
        10u64.to_be_bytes(),
        "{n}: a missing counter starts at the initial value"
    );
    assert_eq!(
        call(&mut c, Opcode::Increment, b"n", 5, 10, 0).value,
        15u64.to_be_bytes(),
        "{n}"
    );
    assert_eq!(
        call(&mut c, Opcode::Decrement, b"n", 100, 0, 0).value,
        0u64.to_be_bytes(),
        "{n}"
    );
    expect_status(
        &call(&mut c, Opcode::Decrement, b"none", 1, 0, u32::MAX),
        Status::KeyNotFound,
        n,
    );
    c.call(&set(b"text", b"abc"));
    expect_status(
        &call(&mut c, Opcode::Increment, b"text", 1, 0, 0),
        Status::DeltaBadValue,
        n,
    );
    let get = c.call(&Request::new(Opcode::Get as u8, b"n"));
    assert_eq!(
        get.value, b"0 ",
        "{n}: the decremented value is padded in place"
    );
    let quiet: Vec<Request> = vec![
        Request::new(Opcode::IncrementQ as u8, b"n").extras(&delta_extras(7, 0, 0)),
        Request::new(Opcode::DecrementQ as u8, b"text").extras(&delta_extras(1, 0, 0)),
    ];
    let responses = pipeline(&mut c, &quiet);
    assert_eq!(
        responses.len(),
        1,
        "{n}: only the error of the quiet pair answers: {responses:?}"
    );
    expect_status(&responses[0], Status::DeltaBadValue, n);
    assert_eq!(
        c.call(&Request::new(Opcode::Get as u8, b"n")).value,
        b"7 ",
        "{n}"
    );
}

pub fn binary_quiet_variants(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let requests = vec![
        Request::new(Opcode::SetQ as u8, b"a")
            .extras(&set_extras(1, 0))
            .value(b"A"),
        Request::new(Opcode::AddQ as u8, b"a")
            .extras(&set_extras(0, 0))
            .value(b"x"),
        Request::new(Opcode::ReplaceQ as u8, b"none")
            .extras(&set_extras(0, 0))
            .value(b"x"),
        Request::new(Opcode::AppendQ as u8, b"a").value(b"B"),
        Request::new(Opcode::PrependQ as u8, b"a").value(b"_"),
        Request::new(Opcode::GetQ as u8, b"none"),
        Request::new(Opcode::GetKQ as u8, b"none"),
        Request::new(Opcode::GetQ as u8, b"a"),
        Request::new(Opcode::GetKQ as u8, b"a"),
        Request::new(Opcode::DeleteQ as u8, b"none"),
        Request::new(Opcode::SetQ as u8, b"d")
            .extras(&set_extras(0, 0))
            .value(b"D"),
        Request::new(Opcode::DeleteQ as u8, b"d"),
    ];
    let responses = pipeline(&mut c, &requests);
    let summary: Vec<(u8, u16, Vec<u8>, Vec<u8>)> = responses
        .iter()
        .map(|r| {
            (
                r.header.opcode,
                r.header.status,
                r.key.clone(),
                r.value.clone(),
            )
        })
        .collect();
    let not_found = Status::KeyNotFound.message().to_vec();
    let expected = vec![
        (
            Opcode::AddQ as u8,
            Status::KeyExists as u16,
            vec![],
            Status::KeyExists.message().to_vec(),
        ),
        (
            Opcode::ReplaceQ as u8,
            Status::KeyNotFound as u16,
            vec![],
            not_found.clone(),
        ),
        (Opcode::GetQ as u8, 0, vec![], b"_AB".to_vec()),
        (Opcode::GetKQ as u8, 0, b"a".to_vec(), b"_AB".to_vec()),
        (
            Opcode::DeleteQ as u8,
            Status::KeyNotFound as u16,
            vec![],
            not_found,
        ),
    ];
    assert_eq!(summary, expected, "{n}");
    let flushq = pipeline(&mut c, &[Request::new(Opcode::FlushQ as u8, b"")]);
    assert!(flushq.is_empty(), "{n}: {flushq:?}");
    expect_status(
        &c.call(&Request::new(Opcode::Get as u8, b"a")),
        Status::KeyNotFound,
        n,
    );
}

pub fn binary_touch_and_gat(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let cas = c
        .call(
            &Request::new(Opcode::Set as u8, b"t")
                .extras(&set_extras(9, 0))
                .value(b"tv"),
        )
        .header
        .cas;
    let exptime = 100u32.to_be_bytes();
    let touched = c.call(&Request::new(Opcode::Touch as u8, b"t").extras(&exptime));
    expect_status(&touched, Status::Success, n);
    assert_eq!(
        (
            touched.extras.as_slice(),
            touched.value.as_slice(),
            touched.header.cas
        ),
        (&9u32.to_be_bytes()[..], &b""[..], cas),
        "{n}"
    );
    expect_status(
        &c.call(&Request::new(Opcode::Touch as u8, b"none").extras(&exptime)),
        Status::KeyNotFound,
        n,
    );
    let gat = c.call(&Request::new(Opcode::Gat as u8, b"t").extras(&exptime));
    assert_eq!(
        (gat.key.as_slice(), gat.value.as_slice()),
        (&b""[..], &b"tv"[..]),
        "{n}"
    );
    let gatk = c.call(&Request::new(Opcode::GatK as u8, b"t").extras(&exptime));
    assert_eq!(
        (gatk.key.as_slice(), gatk.value.as_slice()),
        (&b"t"[..], &b"tv"[..]),
        "{n}"
    );
    let quiet = pipeline(
        &mut c,
        &[
            Request::new(Opcode::GatQ as u8, b"none").extras(&exptime),
            Request::new(Opcode::GatKQ as u8, b"t").extras(&exptime),
        ],
    );
    assert_eq!(quiet.len(), 1, "{n}: {quiet:?}");
    assert_eq!(
        (quiet[0].key.as_slice(), quiet[0].value.as_slice()),
        (&b"t"[..], &b"tv"[..]),
        "{n}"
    );
}

pub fn binary_flush_stat_version_quit(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    c.call(&set(b"f", b"1"));
    expect_status(
        &c.call(&Request::new(Opcode::Flush as u8, b"")),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Get as u8, b"f")),
        Status::KeyNotFound,
        n,
    );
    c.call(&set(b"f", b"2"));
    expect_status(
        &c.call(&Request::new(Opcode::Flush as u8, b"").extras(&100u32.to_be_bytes())),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Get as u8, b"f")),
        Status::Success,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Noop as u8, b"")),
        Status::Success,
        n,
    );
    c.send(&Request::new(Opcode::Stat as u8, b"").bytes());
    let mut names = Vec::new();
    loop {
        let r = c.response();
        assert_eq!(r.header.opcode, Opcode::Stat as u8, "{n}");
        if r.key.is_empty() {
            assert!(r.value.is_empty(), "{n}");
            break;
        }
        names.push(String::from_utf8(r.key).expect("stat names are text"));
    }
    for name in [
        "pid",
        "version",
        "cmd_get",
        "get_hits",
        "curr_items",
        "evictions",
        "limit_maxbytes",
    ] {
        assert!(
            names.iter().any(|s| s == name),
            "{n}: binary stat {name} missing"
        );
    }
    c.send(&Request::new(Opcode::Stat as u8, b"settings").bytes());
    let first = c.response();
    assert_eq!(first.key, b"maxbytes", "{n}");
    while !c.response().key.is_empty() {}
    expect_status(
        &c.call(&Request::new(Opcode::Stat as u8, b"nonsense")),
        Status::KeyNotFound,
        n,
    );
    let quit = c.call(&Request::new(Opcode::Quit as u8, b""));
    expect_status(&quit, Status::Success, n);
    c.expect_closed();
    let mut q = server.connect();
    q.send(&Request::new(Opcode::QuitQ as u8, b"").bytes());
    q.expect_closed();
}

pub fn binary_unknown_commands_keep_the_connection(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    let unknown = [
        Request::new(0x1b, b"").value(b"ignored body"),
        Request::new(0x50, b"").value(b"ignored body"),
        Request::new(Opcode::SaslListMechs as u8, b""),
        Request::new(Opcode::SaslAuth as u8, b"PLAIN").value(b"\0user\0password"),
        Request::new(Opcode::SaslStep as u8, b"PLAIN").value(b"\0user\0password"),
    ];
    for request in unknown {
        let reply = c.call(&request);
        expect_status(&reply, Status::UnknownCommand, n);
    }
    expect_status(
        &c.call(&Request::new(Opcode::Noop as u8, b"")),
        Status::Success,
        n,
    );
    // memcached discards the extras and key of an unknown command twice:
    // the byte after its body is lost.
    let mut with_key = Request::new(0xfe, b"k").value(b"body").bytes();
    with_key.push(b'!');
    c.send(&with_key);
    expect_status(&c.response(), Status::UnknownCommand, n);
    expect_status(
        &c.call(&Request::new(Opcode::Noop as u8, b"")),
        Status::Success,
        n,
    );
}

pub fn binary_malformed_requests_close(server: &dyn Transport) {
    let long_key = vec![b'k'; 251];
    let malformed = [
        Request::new(Opcode::Get as u8, &long_key),
        Request::new(Opcode::Get as u8, b"k").extras(b"\0\0\0\0"),
        Request::new(Opcode::Set as u8, b"k").value(b"no extras"),
        Request::new(Opcode::Increment as u8, b"k").extras(b"short"),
        Request::new(Opcode::Version as u8, b"k"),
        Request::new(Opcode::Touch as u8, b"k"),
        Request::new(Opcode::Delete as u8, b""),
        Request::new(Opcode::SaslListMechs as u8, b"").value(b"x"),
        Request::new(Opcode::SaslAuth as u8, b""),
    ];
    for request in malformed {
        let mut c = server.connect();
        let reply = c.call(&request);
        expect_status(&reply, Status::InvalidArguments, c.server());
        c.expect_closed();
    }
    let mut c = server.connect();
    let mut bytes = Request::new(Opcode::Noop as u8, b"").bytes();
    bytes.extend(Request::new(Opcode::Noop as u8, b"").bytes());
    bytes[24] = 0x42;
    c.send(&bytes);
    let noop = ResponseHeader::parse(&c.read(24)).expect("header");
    assert_eq!(noop.opcode, Opcode::Noop as u8);
    c.expect_closed();
}

pub fn binary_value_too_large(server: &dyn Transport) {
    let mut c = server.connect();
    let n = c.server();
    c.call(&set(b"big", b"small"));
    let fits = (1 << 20) - 48 - 8 - 3 - 1 - 2;
    expect_status(&c.call(&set(b"big", &vec![b'v'; fits])), Status::Success, n);
    expect_status(
        &c.call(&set(b"big", &vec![b'v'; fits + 1])),
        Status::TooLarge,
        n,
    );
    expect_status(
        &c.call(&Request::new(Opcode::Get as u8, b"big")),
        Status::KeyNotFound,
        n,
    );
    c.call(&set(b"kept", b"k"));
    expect_status(
        &c.call(&Request::new(Opcode::Append as u8, b"kept").value(&vec![b'v'; 2 << 20])),
        Status::TooLarge,
        n,
    );
    assert_eq!(
        c.call(&Request::new(Opcode::Get as u8, b"kept")).value,
        b"k",
        "{n}"
    );
}
