//! How the suite reaches a server under test: a [`Transport`] names the
//! server and hands out client connections to it. The same cases run over
//! every transport: the real memcached, ours over a loopback TCP adapter,
//! ours on the shm NIC through a bridge, and ours over TAP inside a network
//! namespace (where connections and client programs must be started from
//! inside the namespace: [`Transport::open`] and [`Transport::command`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use memcached::protocol::{HEADER_LEN, Magic, RequestHeader, ResponseHeader};

/// A server the suite can talk to.
pub trait Transport: Sync {
    /// Which server this is, for messages.
    fn name(&self) -> &'static str;
    /// Where it listens.
    fn address(&self) -> SocketAddr;
    /// A new TCP connection to the server.
    fn open(&self) -> TcpStream {
        TcpStream::connect(self.address()).expect("connect to the server under test")
    }
    /// A command running `program` (an absolute path) where it can reach
    /// the server.
    fn command(&self, program: &str) -> Command {
        Command::new(program)
    }
    /// A new client connection.
    fn connect(&self) -> Client {
        let stream = self.open();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            server: self.name(),
        }
    }
}

/// Shows bytes as an escaped string in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// One client connection.
pub struct Client {
    stream: TcpStream,
    server: &'static str,
}

/// A binary protocol response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The header.
    pub header: ResponseHeader,
    /// Extras.
    pub extras: Vec<u8>,
    /// Key.
    pub key: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
}

/// A binary protocol request, built with [`Request::new`] and setters.
#[derive(Clone, Debug, Default)]
pub struct Request {
    opcode: u8,
    key: Vec<u8>,
    extras: Vec<u8>,
    value: Vec<u8>,
    cas: u64,
    opaque: u32,
}

impl Request {
    /// A request with this opcode and key.
    pub fn new(opcode: u8, key: &[u8]) -> Self {
        Request {
            opcode,
            key: key.to_vec(),
            opaque: 0xa5a5_0000 | u32::from(opcode),
            ..Default::default()
        }
    }
    /// Sets the extras.
    pub fn extras(mut self, extras: &[u8]) -> Self {
        self.extras = extras.to_vec();
        self
    }
    /// Sets the value.
    pub fn value(mut self, value: &[u8]) -> Self {
        self.value = value.to_vec();
        self
    }
    /// Sets the CAS id.
    pub fn cas(mut self, cas: u64) -> Self {
        self.cas = cas;
        self
    }
    /// The wire bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let header = RequestHeader {
            magic: Magic::Request as u8,
            opcode: self.opcode,
            key_len: self.key.len() as u16,
            extras_len: self.extras.len() as u8,
            data_type: 0,
            vbucket: 0,
            body_len: (self.key.len() + self.extras.len() + self.value.len()) as u32,
            opaque: self.opaque,
            cas: self.cas,
        };
        let mut out = Vec::new();
        header.emit(&mut out);
        out.extend_from_slice(&self.extras);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.value);
        out
    }
}

impl Client {
    /// The server's name.
    pub fn server(&self) -> &'static str {
        self.server
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the server");
    }

    /// Reads exactly `n` bytes.
    pub fn read(&mut self, n: usize) -> Vec<u8> {
        let mut buffer = vec![0; n];
        let mut filled = 0;
        while filled < n {
            match self.stream.read(&mut buffer[filled..]) {
                Ok(0) => panic!(
                    "{}: connection closed after {}",
                    self.server,
                    show(&buffer[..filled])
                ),
                Ok(got) => filled += got,
                Err(e) => panic!(
                    "{}: read failed ({e}) after {}",
                    self.server,
                    show(&buffer[..filled])
                ),
            }
        }
        buffer
    }

    /// Reads until the data read ends with `suffix`.
    pub fn read_until(&mut self, suffix: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        while !data.ends_with(suffix) {
            data.extend(self.read(1));
        }
        data
    }

    /// Sends `request` and checks the reply is exactly `reply`.
    #[track_caller]
    pub fn expect(&mut self, request: &[u8], reply: &[u8]) {
        self.send(request);
        let got = self.read(reply.len());
        assert_eq!(
            show(&got),
            show(reply),
            "{}: reply to {}",
            self.server,
            show(request)
        );
    }

    /// Checks that nothing more was sent: a version request is answered
    /// right away.
    #[track_caller]
    pub fn expect_idle(&mut self) {
        self.expect(b"version\r\n", b"VERSION 1.6.18\r\n");
    }

    /// Checks the server closed the connection (end of file or reset),
    /// after sending nothing more.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!(
                "{}: expected a close, got byte {}",
                self.server,
                show(&byte)
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{}: expected a close, got {e}", self.server),
        }
    }

    /// Reads one binary response.
    pub fn response(&mut self) -> Response {
        let header = ResponseHeader::parse(&self.read(HEADER_LEN)).expect("whole header");
        let body = self.read(header.body_len as usize);
        let (extras, rest) = body.split_at(usize::from(header.extras_len));
        let (key, value) = rest.split_at(usize::from(header.key_len));
        Response {
            header,
            extras: extras.to_vec(),
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    /// Sends a binary request and reads one response.
    pub fn call(&mut self, request: &Request) -> Response {
        self.send(&request.bytes());
        self.response()
    }
}
