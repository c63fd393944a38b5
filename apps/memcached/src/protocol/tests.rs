use std::sync::Arc;

use super::*;
use crate::server::{Admission, ServerConfig};

const NOW: UnixTime = 1_700_000_000;

fn server() -> Arc<Server> {
    Server::new(ServerConfig::default(), NOW)
}

fn session(server: &Arc<Server>) -> Session {
    match server.connect() {
        Admission::Accepted(session) => session,
        Admission::Refused(_) => panic!("refused"),
    }
}

fn replies(session: &mut Session, chunks: &[&[u8]]) -> (Vec<u8>, Flow) {
    let mut out = Vec::new();
    let mut flow = Flow::Open;
    for chunk in chunks {
        flow = session.receive(chunk, NOW, &mut out);
    }
    (out, flow)
}

const SCRIPT: &[u8] =
    b"set a 1 0 5\r\nhello\r\nget a b\r\nincr n 1\r\nappend a 0 0 1\r\n!\r\ngets a\r\ndelete a\r\n";

#[test]
fn requests_split_at_every_byte_give_the_same_replies() {
    let whole = replies(&mut session(&server()), &[SCRIPT]).0;
    assert!(whole.starts_with(
        b"STORED\r\nVALUE a 1 5\r\nhello\r\nEND\r\nNOT_FOUND\r\nSTORED\r\nVALUE a 1 6 "
    ));
    for split in 1..SCRIPT.len() {
        let (head, tail) = SCRIPT.split_at(split);
        let (out, flow) = replies(&mut session(&server()), &[head, tail]);
        assert_eq!(
            out.escape_ascii().to_string(),
            whole.escape_ascii().to_string(),
            "split at {split}"
        );
        assert_eq!(flow, Flow::Open);
    }
    let bytes: Vec<&[u8]> = SCRIPT.chunks(1).collect();
    assert_eq!(replies(&mut session(&server()), &bytes).0, whole);
}

#[test]
fn buffering_is_bounded() {
    let server = server();
    let mut value_reader = session(&server);
    let (out, _) = replies(
        &mut value_reader,
        &[b"set big 0 0 5000000\r\n", &vec![b'x'; 3_000_000]],
    );
    assert_eq!(out, b"SERVER_ERROR object too large for cache\r\n");
    assert_eq!(
        value_reader.buffered(),
        0,
        "a refused value is discarded, not buffered"
    );
    let (out, _) = replies(
        &mut value_reader,
        &[&vec![b'x'; 2_000_000], b"\r\nversion\r\n"],
    );
    assert_eq!(out, b"VERSION 1.6.18\r\n");
    let mut line_reader = session(&server);
    let (_, flow) = replies(&mut line_reader, &[&vec![b'z'; 2048]]);
    assert_eq!((flow, line_reader.buffered()), (Flow::Open, 2048));
    let (_, flow) = replies(&mut line_reader, &[b"z"]);
    assert_eq!(
        flow,
        Flow::Close,
        "a line over 2048 bytes that is not a get closes"
    );
    let mut get_reader = session(&server);
    let mut get = b"get ".to_vec();
    get.extend(vec![b'k'; 1 << 20]);
    assert_eq!(
        replies(&mut get_reader, &[&get]).1,
        Flow::Close,
        "get lines are bounded by the item size"
    );
}

#[test]
fn connection_limit_and_counts() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(config, NOW);
    let first = session(&server);
    let second = session(&server);
    assert!(matches!(
        server.connect(),
        Admission::Refused(b"ERROR Too many open connections\r\n")
    ));
    drop(first);
    let third = session(&server);
    let counts = server.connections();
    assert_eq!((counts.current, counts.total, counts.rejected), (2, 3, 1));
    drop((second, third));
    assert_eq!(server.connections().current, 0);
}

#[test]
fn binary_get_split_across_reads() {
    let server = server();
    server
        .store
        .store(crate::store::StoreMode::Set, b"key", 7, 0, b"value", NOW);
    let mut request = Vec::new();
    RequestHeader {
        magic: 0x80,
        opcode: Opcode::GetK as u8,
        key_len: 3,
        extras_len: 0,
        data_type: 0,
        vbucket: 0,
        body_len: 3,
        opaque: 9,
        cas: 0,
    }
    .emit(&mut request);
    request.extend(b"key");
    for split in 1..request.len() {
        let (head, tail) = request.split_at(split);
        let mut s = session(&server);
        let (out, flow) = replies(&mut s, &[head, tail]);
        let header = ResponseHeader::parse(&out).expect("a response");
        assert_eq!(
            (header.status, header.opaque, header.key_len, flow),
            (0, 9, 3, Flow::Open)
        );
        assert_eq!(&out[HEADER_LEN..], b"\0\0\0\x07keyvalue");
    }
}

#[test]
fn binary_set_with_a_huge_body_is_refused_and_discarded() {
    let server = server();
    let mut s = session(&server);
    let mut request = Vec::new();
    let header = RequestHeader {
        magic: 0x80,
        opcode: Opcode::Set as u8,
        key_len: 1,
        extras_len: 8,
        data_type: 0,
        vbucket: 0,
        body_len: u32::MAX,
        opaque: 1,
        cas: 0,
    };
    header.emit(&mut request);
    request.extend([0; 8]);
    request.push(b'k');
    let (out, flow) = replies(&mut s, &[&request, &vec![b'v'; 1 << 20]]);
    let response = ResponseHeader::parse(&out).expect("a response");
    assert_eq!(
        (response.status, &out[HEADER_LEN..], flow),
        (Status::TooLarge as u16, &b"Too large."[..], Flow::Open)
    );
    assert_eq!(s.buffered(), 0, "the body is discarded as it arrives");
}
