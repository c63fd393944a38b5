//! The Linux baselines of thesis §6.3.3, real epoll servers for the
//! synthetic protocol:
//! - `linux-partitioned` (partitioned FCFS): one thread per core, each
//!   with its own SO_REUSEPORT listener and epoll set; the kernel spreads
//!   connections over the listeners and a connection stays on its thread;
//! - `linux-floating` (centralised FCFS): all threads wait on one shared
//!   epoll set, one event at a time. Each connection is registered
//!   EPOLLONESHOT, so the thread that takes its event owns it until it
//!   re-arms it (the per-socket serialisation of the thesis, which keeps
//!   replies in order); the shared listener is registered EPOLLEXCLUSIVE
//!   so a new connection wakes one waiter.
//!
//! Usage: [`LinuxServer::start`] binds and spawns the threads, returns the
//! bound address; dropping the server (or [`LinuxServer::stop`]) joins them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::connection::{Connection, Progress, ServerCounters};
use super::epoll::{Epoll, Ready, flags};

/// Which Linux baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LinuxScheduler {
    /// One epoll thread per core, SO_REUSEPORT.
    Partitioned,
    /// Threads sharing one epoll set.
    Floating,
}

impl LinuxScheduler {
    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            LinuxScheduler::Partitioned => "linux-partitioned",
            LinuxScheduler::Floating => "linux-floating",
        }
    }
}

impl fmt::Display for LinuxScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LinuxScheduler {
    type Err = ServerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "linux-partitioned" => Ok(LinuxScheduler::Partitioned),
            "linux-floating" => Ok(LinuxScheduler::Floating),
            other => Err(ServerError::UnknownScheduler(other.to_owned())),
        }
    }
}

/// Errors starting or running a server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Socket or epoll set-up failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A worker thread failed or panicked.
    #[error("server thread failed: {0}")]
    Worker(String),
    /// Not a Linux baseline name.
    #[error("unknown Linux scheduler {0:?} (linux-partitioned, linux-floating)")]
    UnknownScheduler(String),
    /// Zero threads asked for.
    #[error("a server needs at least one thread")]
    NoThreads,
}

fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> ServerError {
    move |source| ServerError::Io { what, source }
}

/// How a server is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxServerConfig {
    /// Address to bind (port 0 picks one).
    pub addr: SocketAddr,
    /// Worker threads (one per core).
    pub threads: usize,
    /// Which baseline.
    pub scheduler: LinuxScheduler,
}

/// A running baseline server.
#[derive(Debug)]
pub struct LinuxServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    counters: Arc<ServerCounters>,
    workers: Vec<JoinHandle<io::Result<()>>>,
}

const LISTENER: u64 = u64::MAX;
/// How often idle workers look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);

fn listener(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, ServerError> {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(io_error("socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(io_error("SO_REUSEADDR"))?;
    if reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(io_error("SO_REUSEPORT"))?;
    }
    socket.bind(&addr.into()).map_err(io_error("bind"))?;
    socket.listen(1024).map_err(io_error("listen"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_error("O_NONBLOCK"))?;
    Ok(socket.into())
}

/// Where a worker keeps its connections, keyed by fd.
trait ConnectionTable {
    fn insert(&self, connection: Connection);
    /// Serves the connection of `token`; `None` when it is gone.
    fn serve(&self, token: u64, counters: &ServerCounters) -> Option<Progress>;
    /// Runs `f` on the connection of `token` (nothing when it is gone).
    fn with_connection(
        &self,
        token: u64,
        f: &mut dyn FnMut(&Connection) -> io::Result<()>,
    ) -> io::Result<()>;
    fn remove(&self, token: u64);
}

/// One thread's private connections (partitioned).
#[derive(Default)]
struct PrivateTable(RefCell<HashMap<u64, Connection>>);

impl ConnectionTable for PrivateTable {
    fn insert(&self, connection: Connection) {
        let token = connection.as_raw_fd() as u64;
        self.0.borrow_mut().insert(token, connection);
    }

    fn serve(&self, token: u64, counters: &ServerCounters) -> Option<Progress> {
        Some(
            self.0
                .borrow_mut()
                .get_mut(&token)?
                .serve_available(counters),
        )
    }

    fn with_connection(
        &self,
        token: u64,
        f: &mut dyn FnMut(&Connection) -> io::Result<()>,
    ) -> io::Result<()> {
        self.0.borrow().get(&token).map_or(Ok(()), f)
    }

    fn remove(&self, token: u64) {
        self.0.borrow_mut().remove(&token);
    }
}

/// Connections shared by all threads (floating); one-shot registration
/// means one thread at a time holds a connection's lock.
#[derive(Default)]
struct SharedTable(Mutex<HashMap<u64, Arc<Mutex<Connection>>>>);

impl SharedTable {
    fn get(&self, token: u64) -> Option<Arc<Mutex<Connection>>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&token)
            .cloned()
    }
}

impl ConnectionTable for SharedTable {
    fn insert(&self, connection: Connection) {
        let token = connection.as_raw_fd() as u64;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, Arc::new(Mutex::new(connection)));
    }

    fn serve(&self, token: u64, counters: &ServerCounters) -> Option<Progress> {
        let connection = self.get(token)?;
        let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
        Some(connection.serve_available(counters))
    }

    fn with_connection(
        &self,
        token: u64,
        f: &mut dyn FnMut(&Connection) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.get(token) {
            Some(connection) => f(&connection.lock().unwrap_or_else(|e| e.into_inner())),
            None => Ok(()),
        }
    }

    fn remove(&self, token: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
    }
}

/// What one worker thread runs over.
struct Worker<'a, T> {
    epoll: &'a Epoll,
    listener: &'a TcpListener,
    table: &'a T,
    /// Events connections are registered with.
    interest: u32,
    counters: &'a ServerCounters,
    stop: &'a AtomicBool,
}

impl<T: ConnectionTable> Worker<'_, T> {
    fn accept_all(&self) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let connection = Connection::new(stream)?;
                    let token = connection.as_raw_fd() as u64;
                    // Into the table before into the epoll set: another
                    // thread may take the first (one-shot) event at once,
                    // and an event for an unknown token would be lost.
                    self.table.insert(connection);
                    let added = self.table.with_connection(token, &mut |connection| {
                        self.epoll.add(connection, self.interest, token)
                    });
                    if let Err(error) = added {
                        self.table.remove(token);
                        return Err(error);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits for one event at a time until stopped.
    fn run(&self) -> io::Result<()> {
        let mut ready = [Ready {
            token: 0,
            events: 0,
        }];
        while !self.stop.load(Ordering::Relaxed) {
            if self.epoll.wait(&mut ready, STOP_POLL)? == 0 {
                continue;
            }
            let token = ready[0].token;
            if token == LISTENER {
                self.accept_all()?;
                continue;
            }
            match self.table.serve(token, self.counters) {
                Some(Progress::Open) if self.interest & flags::ONESHOT != 0 => {
                    self.table.with_connection(token, &mut |connection| {
                        self.epoll.modify(connection, self.interest, token)
                    })?
                }
                Some(Progress::Closed) => self.table.remove(token),
                Some(Progress::Open) | None => {}
            }
        }
        Ok(())
    }
}

impl LinuxServer {
    /// Binds and starts `config.threads` workers.
    pub fn start(config: LinuxServerConfig) -> Result<LinuxServer, ServerError> {
        if config.threads == 0 {
            return Err(ServerError::NoThreads);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ServerCounters::default());
        let spawn = |body: Box<dyn FnOnce() -> io::Result<()> + Send>| {
            std::thread::Builder::new()
                .name(config.scheduler.name().to_owned())
                .spawn(body)
                .map_err(io_error("spawn"))
        };
        let mut workers = Vec::with_capacity(config.threads);
        let addr;
        match config.scheduler {
            LinuxScheduler::Partitioned => {
                let first = listener(config.addr, true)?;
                addr = first.local_addr().map_err(io_error("getsockname"))?;
                let mut listeners = vec![first];
                for _ in 1..config.threads {
                    listeners.push(listener(addr, true)?);
                }
                for listener in listeners {
                    let epoll = Epoll::new().map_err(io_error("epoll_create"))?;
                    epoll
                        .add(&listener, flags::IN, LISTENER)
                        .map_err(io_error("epoll_ctl"))?;
                    let (stop, counters) = (stop.clone(), counters.clone());
                    workers.push(spawn(Box::new(move || {
                        Worker {
                            epoll: &epoll,
                            listener: &listener,
                            table: &PrivateTable::default(),
                            interest: flags::IN | flags::RDHUP,
                            counters: &counters,
                            stop: &stop,
                        }
                        .run()
                    }))?);
                }
            }
            LinuxScheduler::Floating => {
                let listener = Arc::new(listener(config.addr, false)?);
                addr = listener.local_addr().map_err(io_error("getsockname"))?;
                let epoll = Arc::new(Epoll::new().map_err(io_error("epoll_create"))?);
                epoll
                    .add(&*listener, flags::IN | flags::EXCLUSIVE, LISTENER)
                    .map_err(io_error("epoll_ctl"))?;
                let table = Arc::new(SharedTable::default());
                for _ in 0..config.threads {
                    let (stop, counters) = (stop.clone(), counters.clone());
                    let (epoll, listener, table) = (epoll.clone(), listener.clone(), table.clone());
                    workers.push(spawn(Box::new(move || {
                        Worker {
                            epoll: &epoll,
                            listener: &listener,
                            table: &*table,
                            interest: flags::IN | flags::RDHUP | flags::ONESHOT,
                            counters: &counters,
                            stop: &stop,
                        }
                        .run()
                    }))?);
                }
            }
        }
        Ok(LinuxServer {
            addr,
            stop,
            counters,
            workers,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests served so far (each counted before its reply is written).
    pub fn served(&self) -> u64 {
        self.counters.served.load(Ordering::Relaxed)
    }

    /// Connections closed for asking an over-long service time.
    pub fn protocol_errors(&self) -> u64 {
        self.counters.protocol_errors.load(Ordering::Relaxed)
    }

    /// Stops the workers and reports the first failure.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServerError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for worker in self.workers.drain(..) {
            let outcome = match worker.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(ServerError::Worker(error.to_string())),
                Err(_) => Err(ServerError::Worker("panicked".to_owned())),
            };
            result = result.and(outcome);
        }
        result
    }
}

impl Drop for LinuxServer {
    fn drop(&mut self) {
        // Errors were reportable through `stop`; dropping only joins.
        let _ = self.shutdown();
    }
}
