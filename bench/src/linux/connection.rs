//! One server-side connection of the synthetic protocol
//! ([`dataplane::synthetic_protocol`]): buffer the byte stream, serve each
//! complete request in order by spinning for its service time, reply.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dataplane::synthetic_protocol::{REQUEST_LEN, Request};

/// Longest service time a request may ask for; a longer one is a protocol
/// error and closes the connection (a server thread must not be captured).
pub const MAX_SERVICE: Duration = Duration::from_secs(1);

/// Whether a connection stays open after serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Open; wait for more bytes.
    Open,
    /// Closed by the peer, an I/O error or a protocol error.
    Closed,
}

/// Counters shared by a server's threads.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Requests served (counted just before the reply is written).
    pub served: AtomicU64,
    /// Connections closed for asking more than [`MAX_SERVICE`].
    pub protocol_errors: AtomicU64,
}

/// Busy-waits for `duration` (the synthetic server's "work").
pub fn spin_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// Writes all of `bytes` to a non-blocking stream, yielding while the
/// send buffer is full.
pub fn write_all_nonblocking(mut stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A connection and its partial request bytes.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Connection {
    /// Wraps an accepted stream (made non-blocking, Nagle off).
    pub fn new(stream: TcpStream) -> io::Result<Connection> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            pending: Vec::with_capacity(4 * REQUEST_LEN),
        })
    }

    /// Reads all available bytes and serves every complete request.
    pub fn serve_available(&mut self, counters: &ServerCounters) -> Progress {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Progress::Closed,
                Ok(read) => {
                    self.pending.extend_from_slice(&chunk[..read]);
                    if self.serve_pending(counters) == Progress::Closed {
                        return Progress::Closed;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Progress::Open,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Closed,
            }
        }
    }

    fn serve_pending(&mut self, counters: &ServerCounters) -> Progress {
        let mut consumed = 0;
        while let Some(request) = Request::decode(&self.pending[consumed..]) {
            consumed += REQUEST_LEN;
            let service = Duration::from_nanos(request.service_ns);
            if service > MAX_SERVICE {
                counters.protocol_errors.fetch_add(1, Ordering::Relaxed);
                return Progress::Closed;
            }
            spin_for(service);
            // Counted before the reply leaves, so a client holding the
            // reply always sees it counted.
            counters.served.fetch_add(1, Ordering::Relaxed);
            if write_all_nonblocking(&self.stream, &request.response()).is_err() {
                return Progress::Closed;
            }
        }
        self.pending.drain(..consumed);
        Progress::Open
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}
