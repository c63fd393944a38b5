//! Interoperability of netstack with the Linux TCP stack over a TAP device
//! in a private network namespace (needs root and /dev/net/tun, else it
//! prints "skipped"):
//! (a) Linux `nc` sends 10 MiB to a sink server on our stack, checked by hash;
//! (b) our client sends 10 MiB to a Linux (python3) server, checked byte-exact;
//! (c) 1,000 concurrent Linux connections are accepted and echoed by our stack;
//! (d) Linux `ping` gets ICMP echo replies.
//!
//! Our stack runs in its own thread, moved into the namespace with
//! `setns`, on queue 0 of a TAP device it opens there; Linux owns 10.77.0.1
//! on that device and our stack 10.77.0.2.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant as WallClock};

use dataplane::netns::{NetNamespace, privileges_missing};
use dataplane::nic::tap::TapNic;
use dataplane::nic::{MAX_BURST, NicQueue};
use netstack::{ConnId, Event, FrameSink, Instant, Stack, StackConfig};

const LINUX_IP: &str = "10.77.0.1";
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const SINK_PORT: u16 = 5000;
const LINUX_SERVER_PORT: u16 = 5001;
const ECHO_PORT: u16 = 5002;
const STREAM_LEN: usize = 10 * 1024 * 1024 + 12_345;
const CONCURRENT: usize = 1_000;

fn skip_reason() -> Option<String> {
    if let Some(reason) = privileges_missing() {
        return Some(reason.into());
    }
    for tool in ["ip", "nc", "python3", "ping"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// Byte `i` of the test stream.
fn stream(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let mut z = (i as u64 / 8).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> ((i % 8) * 8)) as u8
        })
        .collect()
}

fn fnv(bytes: &[u8], mut hash: u64) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

struct QueueSink<'a>(&'a mut dyn NicQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

/// What the main thread asks of the stack thread.
enum Command2 {
    /// Dial the Linux server and stream this many bytes, then close.
    Dial(Vec<u8>),
    Stop,
}

/// What the stack thread reports.
#[derive(Debug, PartialEq)]
enum Report {
    /// A sink connection ended: (bytes, FNV hash).
    SinkDone(usize, u64),
    /// Our client finished sending and closing.
    DialDone,
    /// Connections accepted on the echo port so far (sent at stop).
    EchoAccepted(usize),
}

/// Runs inside the namespace.
fn stack_thread(
    commands: mpsc::Receiver<Command2>,
    reports: mpsc::Sender<Report>,
    opened: mpsc::Sender<()>,
) {
    let mut nic = TapNic::open("zt0", 1).expect("open TAP in the namespace");
    let mut queue = nic.take_queues().pop().expect("one queue");
    opened.send(()).unwrap();
    let mut stack = Stack::new(StackConfig {
        mac: [2, 0, 0, 0, 0x77, 2],
        ipv4: OUR_IP,
        max_connections: 4096,
        rx_buffer: 256 * 1024,
        tx_buffer: 256 * 1024,
        syn_backlog: 2048,
        ..StackConfig::default()
    })
    .unwrap();
    stack.listen(SINK_PORT).unwrap();
    stack.listen(ECHO_PORT).unwrap();
    let epoch = WallClock::now();
    let mut sinks: HashMap<ConnId, (usize, u64)> = HashMap::new();
    let mut echo_accepted = 0;
    let mut dial: Option<(ConnId, Vec<u8>, usize)> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
        {
            let burst = queue.rx_burst(MAX_BURST);
            for frame in &burst {
                stack.handle_frame(now, frame);
            }
        }
        match commands.try_recv() {
            Ok(Command2::Dial(data)) => {
                let to = SocketAddrV4::new(LINUX_IP.parse().unwrap(), LINUX_SERVER_PORT);
                dial = Some((stack.connect(now, to).unwrap(), data, 0));
            }
            Ok(Command2::Stop) => {
                reports.send(Report::EchoAccepted(echo_accepted)).unwrap();
                return;
            }
            Err(_) => {}
        }
        while let Some(event) = stack.pop_event() {
            match event {
                Event::Accepted {
                    conn,
                    local_port: SINK_PORT,
                } => {
                    sinks.insert(conn, (0, FNV_START));
                }
                Event::Accepted {
                    local_port: ECHO_PORT,
                    ..
                } => echo_accepted += 1,
                Event::Readable(conn) | Event::PeerClosed(conn) => {
                    while let Ok(n) = stack.recv(conn, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        if let Some((len, hash)) = sinks.get_mut(&conn) {
                            *len += n;
                            *hash = fnv(&buf[..n], *hash);
                        } else if dial.as_ref().is_none_or(|d| d.0 != conn) {
                            assert_eq!(stack.send(conn, &buf[..n]), Ok(n), "echo fits");
                        }
                    }
                    if event == Event::PeerClosed(conn) {
                        if let Some((len, hash)) = sinks.remove(&conn) {
                            reports.send(Report::SinkDone(len, hash)).unwrap();
                        }
                        let _ = stack.close(conn);
                    }
                }
                Event::Connected(_) | Event::Writable(_) | Event::Closed(_) | Event::Reset(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        if let Some((conn, data, sent)) = dial.as_mut()
            && *sent < data.len()
        {
            *sent += stack.send(*conn, &data[*sent..]).unwrap_or(0);
            if *sent == data.len() {
                stack.close(*conn).unwrap();
                reports.send(Report::DialDone).unwrap();
            }
        }
        stack.poll(now, &mut QueueSink(&mut queue));
        queue.flush_tx();
    }
}

const LINUX_SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
with open(sys.argv[3], "wb") as f:
    while True:
        d = c.recv(65536)
        if not d:
            break
        f.write(d)
c.close()
"#;

const MANY_CLIENTS: &str = r#"
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conns = []
for i in range(count):
    c = socket.create_connection((host, port), timeout=20)
    conns.append(c)
for i, c in enumerate(conns):
    c.sendall(i.to_bytes(4, "big") * 16)
for i, c in enumerate(conns):
    want = i.to_bytes(4, "big") * 16
    got = b""
    while len(got) < len(want):
        d = c.recv(len(want) - len(got))
        if not d:
            sys.exit("connection %d closed early" % i)
        got += d
    if got != want:
        sys.exit("connection %d: wrong echo" % i)
for c in conns:
    c.close()
print("ok", count)
"#;

#[test]
fn linux_peers_interoperate_with_netstack_over_tap() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let netns = NetNamespace::create("interop").expect("network namespace");
    let (command_tx, command_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel();
    let (opened_tx, opened_rx) = mpsc::channel();
    let stack = netns.spawn(move || stack_thread(command_rx, report_tx, opened_tx));
    opened_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("TAP opened");
    netns
        .ip(&["addr", "add", "10.77.0.1/24", "dev", "zt0"])
        .and_then(|()| netns.ip(&["link", "set", "zt0", "up"]))
        .expect("configure the kernel side of the TAP device");
    let dir = std::env::temp_dir().join(format!("zy-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = stream(STREAM_LEN);

    // (a) Linux nc -> our sink.
    let input = dir.join("to-us.bin");
    std::fs::write(&input, &data).unwrap();
    let started = WallClock::now();
    let nc = netns
        .command("sh")
        .args([
            "-c",
            &format!("nc -N -w 20 10.77.0.2 {SINK_PORT} < {}", input.display()),
        ])
        .status()
        .unwrap();
    assert!(nc.success(), "nc failed: {nc}");
    let report = report_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sink finished");
    assert_eq!(report, Report::SinkDone(STREAM_LEN, fnv(&data, FNV_START)));
    println!(
        "(a) nc -> netstack: {STREAM_LEN} bytes in {:?}, hash equal",
        started.elapsed()
    );

    // (b) our client -> Linux python3 server.
    let output = dir.join("from-us.bin");
    let mut server = netns
        .command("python3")
        .args([
            "-c",
            LINUX_SERVER,
            LINUX_IP,
            &LINUX_SERVER_PORT.to_string(),
            output.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let started = WallClock::now();
    command_tx.send(Command2::Dial(data.clone())).unwrap();
    assert_eq!(
        report_rx.recv_timeout(Duration::from_secs(30)),
        Ok(Report::DialDone)
    );
    let status = server.wait().unwrap();
    assert!(status.success(), "python server: {status}");
    let received = std::fs::read(&output).unwrap();
    assert_eq!(received.len(), STREAM_LEN);
    assert!(received == data, "stream received by Linux differs");
    println!(
        "(b) netstack -> python3: {STREAM_LEN} bytes in {:?}, byte-exact",
        started.elapsed()
    );

    // (c) 1,000 concurrent Linux connections echoed.
    let started = WallClock::now();
    let clients = netns
        .command("python3")
        .args([
            "-c",
            MANY_CLIENTS,
            "10.77.0.2",
            &ECHO_PORT.to_string(),
            &CONCURRENT.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        clients.status.success(),
        "clients: {} {}",
        String::from_utf8_lossy(&clients.stdout),
        String::from_utf8_lossy(&clients.stderr)
    );
    println!(
        "(c) {CONCURRENT} concurrent Linux connections echoed in {:?}",
        started.elapsed()
    );

    // (d) Linux ping: ICMP echo answered by our stack.
    let ping = netns
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2"])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "ping: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    println!("(d) ping answered");
    command_tx.send(Command2::Stop).unwrap();
    assert_eq!(
        report_rx.recv_timeout(Duration::from_secs(10)),
        Ok(Report::EchoAccepted(CONCURRENT))
    );
    stack.join().unwrap().expect("enter the namespace");
    let _ = std::fs::remove_dir_all(&dir);
    std::io::stdout().flush().unwrap();
}
