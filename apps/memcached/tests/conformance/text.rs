//! Text protocol cases (memcached doc/protocol.txt and the behaviour of
//! memcached 1.6.18's proto_text.c).

use std::time::Duration;

use crate::servers::unix_now;
use crate::transport::{Client, Transport, show};

fn stats(client: &mut Client) -> Vec<(String, String)> {
    client.send(b"stats\r\n");
    let text = String::from_utf8(client.read_until(b"END\r\n")).expect("stats are text");
    text.lines()
        .filter_map(|line| line.strip_prefix("STAT "))
        .filter_map(|line| line.split_once(' '))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn stat(stats: &[(String, String)], name: &str) -> u64 {
    let value = stats
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("stat {name} missing"));
    value
        .1
        .parse()
        .unwrap_or_else(|_| panic!("stat {name} = {} is not a number", value.1))
}

pub fn text_storage_commands(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(b"set k 5 0 3\r\nabc\r\n", b"STORED\r\n");
    c.expect(b"get k\r\n", b"VALUE k 5 3\r\nabc\r\nEND\r\n");
    c.expect(b"add k 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.expect(b"add n 0 0 1\r\nx\r\n", b"STORED\r\n");
    c.expect(b"replace missing 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.expect(b"replace n 7 0 2\r\nyy\r\n", b"STORED\r\n");
    c.expect(b"append k 9 0 2\r\nde\r\n", b"STORED\r\n");
    c.expect(b"prepend k 9 0 1\r\n_\r\n", b"STORED\r\n");
    c.expect(b"append missing 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.expect(b"prepend missing 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.expect(
        b"get k n missing\r\n",
        b"VALUE k 5 6\r\n_abcde\r\nVALUE n 7 2\r\nyy\r\nEND\r\n",
    );
    c.expect(b"set empty 0 0 0\r\n\r\n", b"STORED\r\n");
    c.expect(b"get empty\r\n", b"VALUE empty 0 0\r\n\r\nEND\r\n");
    c.expect(b"set big 4294967295 0 1\r\nx\r\n", b"STORED\r\n");
    c.expect(b"get big\r\n", b"VALUE big 4294967295 1\r\nx\r\nEND\r\n");
    c.expect(
        b"set bare 0 0 1\nx\r\nget bare\n",
        b"STORED\r\nVALUE bare 0 1\r\nx\r\nEND\r\n",
    );
    c.expect(
        b"get  k   n \r\n",
        b"VALUE k 5 6\r\n_abcde\r\nVALUE n 7 2\r\nyy\r\nEND\r\n",
    );
    c.expect_idle();
}

pub fn text_gets_and_cas(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(b"set k 1 0 1\r\na\r\n", b"STORED\r\n");
    c.send(b"gets k\r\n");
    let reply = String::from_utf8(c.read_until(b"END\r\n")).expect("text");
    let header = reply.lines().next().expect("a VALUE line");
    let cas: u64 = header
        .strip_prefix("VALUE k 1 1 ")
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{header}"));
    c.expect(
        format!("cas k 2 0 1 {}\r\nb\r\n", cas + 1).as_bytes(),
        b"EXISTS\r\n",
    );
    c.expect(
        format!("cas k 2 0 1 {cas}\r\nb\r\n").as_bytes(),
        b"STORED\r\n",
    );
    c.expect(
        format!("cas k 2 0 1 {cas}\r\nc\r\n").as_bytes(),
        b"EXISTS\r\n",
    );
    c.expect(b"cas missing 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n");
    c.expect(b"get k\r\n", b"VALUE k 2 1\r\nb\r\nEND\r\n");
    c.send(b"gets k\r\n");
    let again = String::from_utf8(c.read_until(b"END\r\n")).expect("text");
    let new_cas: u64 = again
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|c| c.parse().ok())
        .expect("cas");
    assert_ne!(new_cas, cas, "{}: a store changes the CAS id", c.server());
    c.expect(b"cas k 0 0 1\r\nx\r\n", b"ERROR\r\nERROR\r\n");
    c.expect(
        b"cas k 0 0 1 -1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.expect(b"cas k 0 0 1 x noreply\r\nx\r\n", b"ERROR\r\n");
    c.expect_idle();
}

pub fn text_incr_decr(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(b"set n 3 0 2\r\n10\r\n", b"STORED\r\n");
    c.expect(b"incr n 5\r\n", b"15\r\n");
    c.expect(b"decr n 10\r\n", b"5\r\n");
    c.expect(b"get n\r\n", b"VALUE n 3 2\r\n5 \r\nEND\r\n");
    c.expect(b"incr n 100\r\n", b"105\r\n");
    c.expect(b"get n\r\n", b"VALUE n 3 3\r\n105\r\nEND\r\n");
    c.expect(b"decr n 1000\r\n", b"0\r\n");
    c.expect(b"set m 0 0 20\r\n18446744073709551615\r\n", b"STORED\r\n");
    c.expect(b"incr m 2\r\n", b"1\r\n");
    c.expect(
        b"incr m 18446744073709551616\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.expect(
        b"incr m -1\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.expect(
        b"incr m 0x1\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.expect(b"incr missing 1\r\n", b"NOT_FOUND\r\n");
    c.expect(b"decr missing 1\r\n", b"NOT_FOUND\r\n");
    c.expect(b"set s 0 0 3\r\n1ab\r\n", b"STORED\r\n");
    c.expect(
        b"incr s 1\r\n",
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.expect(b"set e 0 0 0\r\n\r\n", b"STORED\r\n");
    c.expect(
        b"decr e 1\r\n",
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.expect(b"set w 0 0 2\r\n 5\r\n", b"STORED\r\n");
    c.expect(b"incr w 1\r\n", b"6\r\n");
    c.expect(b"incr n 1 noreply\r\n", b"");
    c.expect(b"incr n 1 extra\r\n", b"2\r\n");
    c.expect(b"incr n\r\n", b"ERROR\r\n");
    c.expect_idle();
}

pub fn text_delete_forms(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(
        b"set a 0 0 1\r\nx\r\nset b 0 0 1\r\nx\r\nset c 0 0 1\r\nx\r\n",
        b"STORED\r\nSTORED\r\nSTORED\r\n",
    );
    c.expect(b"delete a\r\n", b"DELETED\r\n");
    c.expect(b"delete a\r\n", b"NOT_FOUND\r\n");
    c.expect(b"delete b 0\r\n", b"DELETED\r\n");
    c.expect(b"delete c 0 noreply\r\n", b"");
    c.expect(b"get a b c\r\n", b"END\r\n");
    let usage = b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
    c.expect(b"delete a 1\r\n", usage);
    c.expect(b"delete a 0 x\r\n", usage);
    c.expect(b"delete a x noreply\r\n", b"");
    c.expect(b"delete\r\n", b"ERROR\r\n");
    c.expect(b"delete a 0 noreply x\r\n", b"ERROR\r\n");
    c.expect_idle();
}

pub fn text_touch_and_gat(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(b"set t 4 0 2\r\nhi\r\n", b"STORED\r\n");
    c.expect(b"touch t 100\r\n", b"TOUCHED\r\n");
    c.expect(b"touch missing 100\r\n", b"NOT_FOUND\r\n");
    c.expect(
        b"touch t x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.expect(b"touch t 1 ignored\r\n", b"TOUCHED\r\n");
    c.expect(b"touch t 100 noreply\r\n", b"");
    c.expect(b"touch t\r\n", b"ERROR\r\n");
    c.expect(b"gat 100 t missing\r\n", b"VALUE t 4 2\r\nhi\r\nEND\r\n");
    c.send(b"gats 100 t\r\n");
    let reply = c.read_until(b"END\r\n");
    assert!(
        reply.starts_with(b"VALUE t 4 2 ") && reply.ends_with(b"\r\nhi\r\nEND\r\n"),
        "{}",
        show(&reply)
    );
    c.expect(b"gat t\r\n", b"CLIENT_ERROR invalid exptime argument\r\n");
    c.expect(b"gat x t\r\n", b"CLIENT_ERROR invalid exptime argument\r\n");
    c.expect(b"gat\r\n", b"ERROR\r\n");
    c.expect(b"gat -1 t\r\n", b"VALUE t 4 2\r\nhi\r\nEND\r\n");
    c.expect(b"get t\r\n", b"END\r\n");
    c.expect_idle();
}

/// Negative exptime, absolute exptime in the past, relative expiry,
/// flush_all with and without a delay (one wait of about 3 s).
pub fn text_expiry_and_flush(server: &dyn Transport) {
    let mut c = server.connect();
    let now = unix_now();
    c.expect(b"set neg 0 -1 1\r\nx\r\n", b"STORED\r\n");
    c.expect(b"get neg\r\n", b"END\r\n");
    c.expect(
        format!("set past 0 {} 1\r\nx\r\n", now - 10).as_bytes(),
        b"STORED\r\n",
    );
    c.expect(b"get past\r\n", b"END\r\n");
    c.expect(
        format!("set future 0 {} 1\r\nf\r\n", now + 100).as_bytes(),
        b"STORED\r\n",
    );
    c.expect(b"set short 0 1 1\r\ns\r\n", b"STORED\r\n");
    c.expect(b"set long 0 2592000 1\r\nl\r\n", b"STORED\r\n");
    c.expect(
        b"get future long\r\n",
        b"VALUE future 0 1\r\nf\r\nVALUE long 0 1\r\nl\r\nEND\r\n",
    );
    c.expect(b"flush_all 0 x\r\n", b"OK\r\n");
    c.expect(b"get future long short\r\n", b"END\r\n");
    c.expect(b"set kept 0 0 1\r\nk\r\n", b"STORED\r\n");
    c.expect(b"get kept\r\n", b"VALUE kept 0 1\r\nk\r\nEND\r\n");
    c.expect(b"set short 0 1 1\r\ns\r\n", b"STORED\r\n");
    c.expect(b"flush_all 2\r\n", b"OK\r\n");
    c.expect(b"get kept\r\n", b"VALUE kept 0 1\r\nk\r\nEND\r\n");
    std::thread::sleep(Duration::from_millis(3100));
    c.expect(b"get kept short\r\n", b"END\r\n");
    c.expect(b"set after 0 0 1\r\na\r\n", b"STORED\r\n");
    c.expect(b"get after\r\n", b"VALUE after 0 1\r\na\r\nEND\r\n");
    c.expect(b"flush_all noreply\r\n", b"");
    c.expect(b"get after\r\n", b"END\r\n");
    c.expect(
        b"flush_all x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.expect(
        b"flush_all noreply x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.expect(b"flush_all 0 0 0\r\n", b"ERROR\r\n");
    c.expect_idle();
}

pub fn text_key_limits(server: &dyn Transport) {
    let mut c = server.connect();
    let longest = "k".repeat(250);
    let too_long = "k".repeat(251);
    c.expect(
        format!("set {longest} 0 0 1\r\nx\r\n").as_bytes(),
        b"STORED\r\n",
    );
    c.expect(
        format!("get {longest}\r\n").as_bytes(),
        format!("VALUE {longest} 0 1\r\nx\r\nEND\r\n").as_bytes(),
    );
    let bad = b"CLIENT_ERROR bad command line format\r\n";
    c.expect(format!("get {too_long}\r\n").as_bytes(), bad);
    c.expect(format!("get {longest} {too_long}\r\n").as_bytes(), bad);
    c.expect(
        format!("set {too_long} 0 0 1\r\nx\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.expect(format!("incr {too_long} 1\r\n").as_bytes(), bad);
    c.expect(format!("delete {too_long}\r\n").as_bytes(), bad);
    c.expect(format!("touch {too_long} 1\r\n").as_bytes(), bad);
    // Keys are split on spaces only: control characters are key bytes.
    c.expect(b"set a\x01b\tc 0 0 1\r\nx\r\n", b"STORED\r\n");
    c.expect(b"get a\x01b\tc\r\n", b"VALUE a\x01b\tc 0 1\r\nx\r\nEND\r\n");
    c.expect_idle();
}

pub fn text_item_size_limit(server: &dyn Transport) {
    let mut c = server.connect();
    // memcached's item_size_ok: 48-byte header + 8-byte CAS + key + NUL +
    // value + CRLF must fit in -I (1 MB).
    let fits = (1 << 20) - 48 - 8 - 1 - 1 - 2;
    let mut request = format!("set a 0 0 {fits}\r\n").into_bytes();
    request.extend(vec![b'v'; fits]);
    request.extend(b"\r\n");
    c.expect(&request, b"STORED\r\n");
    let mut request = format!("set a 0 0 {}\r\n", fits + 1).into_bytes();
    request.extend(vec![b'w'; fits + 1]);
    request.extend(b"\r\n");
    c.expect(&request, b"SERVER_ERROR object too large for cache\r\n");
    c.expect(b"get a\r\n", b"END\r\n");
    c.expect(b"set b 0 0 1\r\nb\r\n", b"STORED\r\n");
    let mut request = format!("add b 0 0 {}\r\n", 2 << 20).into_bytes();
    request.extend(vec![b'x'; 2 << 20]);
    request.extend(b"\r\n");
    c.expect(&request, b"SERVER_ERROR object too large for cache\r\n");
    c.expect(b"get b\r\n", b"VALUE b 0 1\r\nb\r\nEND\r\n");
    let mut request = format!("set q 0 0 {} noreply\r\n", 2 << 20).into_bytes();
    request.extend(vec![b'x'; 2 << 20]);
    request.extend(b"\r\n");
    c.expect(&request, b"");
    c.expect_idle();
}

pub fn text_malformed_commands(server: &dyn Transport) {
    let mut c = server.connect();
    for request in [
        &b"foo\r\n"[..],
        b"\r\n",
        b"GET a\r\n",
        b"get\r\n",
        b"set\r\n",
        b"set a 0 0 1 2 3\r\n",
        b"g\r\n",
    ] {
        c.expect(request, b"ERROR\r\n");
    }
    let bad = b"CLIENT_ERROR bad command line format\r\n";
    c.expect(b"set a 0 0 -1\r\n", bad);
    c.expect(b"set a 0 0 x\r\n", bad);
    c.expect(
        b"set a x 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.expect(
        b"set a -1 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.expect(
        b"set a 0x1 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.expect(
        b"set a 0 0 1\r\nxyz\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    c.expect(b"set a 0 0 1 noreply\r\nxyz\r\n", b"ERROR\r\n");
    c.expect(b"set a 0 0 1 whatever\r\nx\r\n", b"STORED\r\n");
    c.expect(b"set a 00 0 01\r\ny\r\n", b"STORED\r\n");
    c.expect(b" get a\r\n", b"VALUE a 0 1\r\ny\r\nEND\r\n");
    c.expect(b"verbosity\r\n", b"ERROR\r\n");
    c.expect(b"verbosity x\r\n", bad);
    c.expect(b"verbosity 1\r\n", b"OK\r\n");
    c.expect(b"verbosity 1 2\r\n", b"OK\r\n");
    c.expect(b"verbosity 1 noreply\r\n", b"");
    c.expect(b"stats nonsense\r\n", b"ERROR\r\n");
    c.expect_idle();
}

pub fn text_noreply_everywhere(server: &dyn Transport) {
    let mut c = server.connect();
    let quiet = b"set a 0 0 1 noreply\r\n1\r\nadd b 0 0 1 noreply\r\n2\r\nadd a 0 0 1 noreply\r\nx\r\n\
        replace b 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n0\r\n\
        incr b 5 noreply\r\ndecr b 1 noreply\r\ntouch a 100 noreply\r\ncas a 0 0 1 1 noreply\r\nz\r\n\
        set c 0 0 1 noreply\r\nc\r\ndelete c noreply\r\nverbosity 0 noreply\r\n";
    c.expect(quiet, b"");
    c.expect(
        b"get a b c\r\n",
        b"VALUE a 0 3\r\n014\r\nVALUE b 0 1\r\n7\r\nEND\r\n",
    );
    c.expect(b"flush_all noreply\r\n", b"");
    c.expect(b"get a\r\n", b"END\r\n");
    c.expect_idle();
}

pub fn text_pipelined_and_split(server: &dyn Transport) {
    let mut c = server.connect();
    let mut pipeline = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        pipeline.extend(
            format!(
                "set key{i} {i} 0 {}\r\n{}\r\nget key{i}\r\n",
                i.to_string().len(),
                i
            )
            .as_bytes(),
        );
        expected.extend(
            format!(
                "STORED\r\nVALUE key{i} {i} {}\r\n{i}\r\nEND\r\n",
                i.to_string().len()
            )
            .as_bytes(),
        );
    }
    c.expect(&pipeline, &expected);
    let request = b"set split 0 0 10\r\n0123456789\r\nget split\r\n";
    for byte in request.iter() {
        c.send(&[*byte]);
        std::thread::sleep(Duration::from_micros(200));
    }
    let got = c.read(b"STORED\r\nVALUE split 0 10\r\n0123456789\r\nEND\r\n".len());
    assert_eq!(
        show(&got),
        show(b"STORED\r\nVALUE split 0 10\r\n0123456789\r\nEND\r\n"),
        "{}",
        c.server()
    );
    c.expect_idle();
}

pub fn text_version_and_quit(server: &dyn Transport) {
    let mut c = server.connect();
    c.expect(b"version\r\n", b"VERSION 1.6.18\r\n");
    c.expect(b"version extra\r\n", b"VERSION 1.6.18\r\n");
    c.send(b"quit\r\nversion\r\n");
    c.expect_closed();
}

pub fn text_long_line_closes(server: &dyn Transport) {
    let mut c = server.connect();
    c.send(&vec![b'x'; 3000]);
    c.expect_closed();
    let mut c = server.connect();
    let mut line = b"get ".to_vec();
    line.extend(vec![b'k'; 3000]);
    c.send(&line);
    c.expect(b"\r\n", b"CLIENT_ERROR bad command line format\r\n");
    c.expect_idle();
}

pub fn text_stats_counters(server: &dyn Transport) {
    let mut c = server.connect();
    let before = stats(&mut c);
    for name in [
        "pid",
        "uptime",
        "time",
        "version",
        "curr_connections",
        "total_connections",
        "cmd_get",
        "cmd_set",
        "cmd_flush",
        "cmd_touch",
        "get_hits",
        "get_misses",
        "get_expired",
        "get_flushed",
        "delete_misses",
        "delete_hits",
        "incr_misses",
        "incr_hits",
        "decr_misses",
        "decr_hits",
        "cas_misses",
        "cas_hits",
        "cas_badval",
        "touch_hits",
        "touch_misses",
        "threads",
        "bytes",
        "curr_items",
        "total_items",
        "evictions",
        "reclaimed",
        "limit_maxbytes",
    ] {
        assert!(
            before.iter().any(|(n, _)| n == name),
            "{}: stat {name} missing",
            c.server()
        );
    }
    assert_eq!(stat(&before, "limit_maxbytes"), 64 << 20);
    let time = stat(&before, "time");
    assert!(
        time.abs_diff(u64::from(unix_now())) <= 2,
        "{}: time {time}",
        c.server()
    );
    c.expect(
        b"set a 0 0 1\r\n1\r\nget a\r\nget a b\r\ndelete a\r\ndelete a\r\n",
        b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nVALUE a 0 1\r\n1\r\nEND\r\nDELETED\r\nNOT_FOUND\r\n",
    );
    c.expect(
        b"incr a 1\r\nset n 0 0 1\r\n1\r\nincr n 1\r\ndecr n 1\r\ndecr x 1\r\n",
        b"NOT_FOUND\r\nSTORED\r\n2\r\n1\r\nNOT_FOUND\r\n",
    );
    c.expect(
        b"touch n 0\r\ntouch x 0\r\ncas x 0 0 1 1\r\nx\r\ncas n 0 0 1 999999\r\nx\r\n",
        b"TOUCHED\r\nNOT_FOUND\r\nNOT_FOUND\r\nEXISTS\r\n",
    );
    c.expect(b"flush_all\r\n", b"OK\r\n");
    let after = stats(&mut c);
    let delta = |name: &str| stat(&after, name) - stat(&before, name);
    let expected = [
        ("cmd_get", 3),
        ("get_hits", 2),
        ("get_misses", 1),
        ("cmd_set", 4),
        ("delete_hits", 1),
        ("delete_misses", 1),
        ("incr_misses", 1),
        ("incr_hits", 1),
        ("decr_hits", 1),
        ("decr_misses", 1),
        ("touch_hits", 1),
        ("touch_misses", 1),
        ("cmd_touch", 2),
        ("cas_misses", 1),
        ("cas_badval", 1),
        ("cas_hits", 0),
        ("cmd_flush", 1),
        ("total_items", 2),
    ];
    for (name, want) in expected {
        assert_eq!(delta(name), want, "{}: change of {name}", c.server());
    }
    c.send(b"stats settings\r\n");
    let settings = String::from_utf8(c.read_until(b"END\r\n")).expect("text");
    assert!(
        settings.contains("STAT maxbytes 67108864\r\n"),
        "{settings}"
    );
    assert!(
        settings.contains("STAT item_size_max 1048576\r\n"),
        "{settings}"
    );
    c.expect(b"stats reset\r\n", b"RESET\r\n");
    assert_eq!(stat(&stats(&mut c), "get_hits"), 0);
    c.expect_idle();
}

/// Writing 5 times the memory limit evicts the oldest items first and
/// counts the evictions (run with -m 2).
pub fn text_evictions_under_memory_limit(server: &dyn Transport) {
    let mut c = server.connect();
    let value = vec![b'e'; 10_000];
    for i in 0..1000 {
        let mut request = format!("set key{i} 0 0 {} noreply\r\n", value.len()).into_bytes();
        request.extend(&value);
        request.extend(b"\r\n");
        c.send(&request);
    }
    c.expect_idle();
    c.expect(b"get key0\r\n", b"END\r\n");
    c.send(b"get key999\r\n");
    let reply = c.read_until(b"END\r\n");
    assert!(
        reply.starts_with(b"VALUE key999 0 10000\r\n"),
        "{}: newest item evicted",
        c.server()
    );
    let after = stats(&mut c);
    assert!(
        stat(&after, "evictions") > 700,
        "{}: evictions {}",
        c.server(),
        stat(&after, "evictions")
    );
    assert!(
        stat(&after, "bytes") <= 2 << 20,
        "{}: bytes {}",
        c.server(),
        stat(&after, "bytes")
    );
}
