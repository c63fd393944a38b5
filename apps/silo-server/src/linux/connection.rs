//! One server-side connection: the kernel's stream plus the dataplane
//! application's per-connection state, fed the bytes read from the stream
//! as [`AppEvent::Data`] and whose calls are carried out on the stream.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use bench::linux::connection::{Progress, spin_for, write_all_nonblocking};
use dataplane::app::{App, AppEvent, Call, Calls, Cpu};

use crate::app::{SiloApp, SiloConn};

/// The thread's CPU as the application sees it: the wall clock, and
/// service time spent by busy-waiting.
pub(super) struct ThreadCpu(Instant);

impl ThreadCpu {
    pub(super) fn new() -> ThreadCpu {
        ThreadCpu(Instant::now())
    }
}

impl Cpu for ThreadCpu {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }

    fn spin(&mut self, ns: u64) {
        spin_for(std::time::Duration::from_nanos(ns));
    }
}

/// A connection's stream and application state.
pub(super) struct LinuxConn {
    stream: TcpStream,
    state: SiloConn,
}

impl LinuxConn {
    /// Wraps an accepted stream (made non-blocking, Nagle off).
    pub(super) fn new(stream: TcpStream, app: &SiloApp) -> io::Result<LinuxConn> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(LinuxConn {
            stream,
            state: app.open(0),
        })
    }

    /// Reads everything available, hands it to the application and
    /// carries out its calls.
    pub(super) fn serve_available(&mut self, app: &SiloApp, cpu: &mut ThreadCpu) -> Progress {
        let mut chunk = [0u8; 4096];
        loop {
            let event = match self.stream.read(&mut chunk) {
                Ok(0) => AppEvent::PeerClosed,
                Ok(read) => AppEvent::Data(chunk[..read].to_vec().into()),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Progress::Open,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Progress::Closed,
            };
            let peer_closed = matches!(event, AppEvent::PeerClosed);
            let mut calls = Calls::default();
            app.on_event(&mut self.state, event, &mut calls, cpu);
            if self.carry_out(calls) == Progress::Closed || peer_closed {
                return Progress::Closed;
            }
        }
    }

    fn carry_out(&self, calls: Calls) -> Progress {
        for call in calls.into_vec() {
            match call {
                Call::Send(bytes) => {
                    if write_all_nonblocking(&self.stream, &bytes).is_err() {
                        return Progress::Closed;
                    }
                }
                Call::Close => return Progress::Closed,
            }
        }
        Progress::Open
    }
}

impl AsRawFd for LinuxConn {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}
