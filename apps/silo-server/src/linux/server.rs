//! The epoll threads (layouts in the [module docs](super)).
//!
//! A [`Shard`] is one listening socket, one epoll set and the connections
//! registered in it; its threads wait on the set one event at a time. The
//! floating layout is one shard served by every thread with one-shot
//! registrations; the partitioned layout is one shard per thread with
//! level-triggered registrations.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bench::linux::ServerError;
use bench::linux::connection::Progress;
use bench::linux::epoll::{Epoll, Ready, flags};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use socket2::{Domain, Socket, Type};

use super::LinuxScheduler;
use super::connection::{LinuxConn, ThreadCpu};
use crate::app::SiloApp;

/// How a server is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxSiloConfig {
    /// Address to bind (port 0 picks one).
    pub addr: SocketAddr,
    /// Worker threads.
    pub threads: usize,
    /// Which layout.
    pub scheduler: LinuxScheduler,
    /// Pin thread `i` to CPU `i` (modulo the CPUs), as the dataplane pins
    /// its cores.
    pub pin: bool,
}

/// A running server.
pub struct LinuxSiloServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<io::Result<()>>>,
}

/// The token of the listening socket in every epoll set.
const LISTENER: u64 = u64::MAX;
/// How often idle workers look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);
/// Backlog of each listening socket.
const BACKLOG: i32 = 1024;

fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> ServerError {
    move |source| ServerError::Io { what, source }
}

fn bind(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, ServerError> {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(io_error("socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(io_error("SO_REUSEADDR"))?;
    socket
        .set_reuse_port(reuse_port)
        .map_err(io_error("SO_REUSEPORT"))?;
    socket.bind(&addr.into()).map_err(io_error("bind"))?;
    socket.listen(BACKLOG).map_err(io_error("listen"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_error("O_NONBLOCK"))?;
    Ok(socket.into())
}

/// Pins the calling thread to `cpu` modulo the CPUs available; returns
/// whether it could (a restricted cpuset only costs precision).
pub fn pin_to_cpu(cpu: usize) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut set = CpuSet::new();
    set.set(cpu % cpus).is_ok() && sched_setaffinity(Pid::from_raw(0), &set).is_ok()
}

type SharedConn = Arc<Mutex<LinuxConn>>;

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One listener, its epoll set and its connections.
struct Shard {
    epoll: Epoll,
    listener: TcpListener,
    connections: Mutex<HashMap<u64, SharedConn>>,
    /// Events connections are registered with.
    interest: u32,
    next_token: AtomicU64,
}

impl Shard {
    fn new(
        listener: TcpListener,
        interest: u32,
        listener_events: u32,
    ) -> Result<Shard, ServerError> {
        let epoll = Epoll::new().map_err(io_error("epoll_create"))?;
        epoll
            .add(&listener, listener_events, LISTENER)
            .map_err(io_error("epoll_ctl"))?;
        Ok(Shard {
            epoll,
            listener,
            connections: Mutex::default(),
            interest,
            next_token: AtomicU64::new(0),
        })
    }

    fn accept_all(&self, app: &SiloApp) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let connection = LinuxConn::new(stream, app)?;
                    let token = self.next_token.fetch_add(1, Ordering::Relaxed);
                    let connection = Arc::new(Mutex::new(connection));
                    // Into the table before into the epoll set: another
                    // thread may take the first event at once.
                    locked(&self.connections).insert(token, Arc::clone(&connection));
                    let added = self.epoll.add(&*locked(&connection), self.interest, token);
                    if let Err(error) = added {
                        locked(&self.connections).remove(&token);
                        return Err(error);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn serve(&self, token: u64, app: &SiloApp, cpu: &mut ThreadCpu) -> io::Result<()> {
        let Some(connection) = locked(&self.connections).get(&token).cloned() else {
            return Ok(());
        };
        let mut connection = locked(&connection);
        match connection.serve_available(app, cpu) {
            Progress::Open if self.interest & flags::ONESHOT != 0 => {
                self.epoll.modify(&*connection, self.interest, token)
            }
            Progress::Open => Ok(()),
            Progress::Closed => {
                // Dropping the last handle closes the socket, which also
                // removes it from the epoll set.
                locked(&self.connections).remove(&token);
                Ok(())
            }
        }
    }

    /// One worker: one event at a time until `stop`.
    fn run(&self, app: &SiloApp, stop: &AtomicBool) -> io::Result<()> {
        let mut cpu = ThreadCpu::new();
        let mut ready = [Ready {
            token: 0,
            events: 0,
        }];
        while !stop.load(Ordering::Relaxed) {
            if self.epoll.wait(&mut ready, STOP_POLL)? == 0 {
                continue;
            }
            match ready[0].token {
                LISTENER => self.accept_all(app)?,
                token => self.serve(token, app, &mut cpu)?,
            }
        }
        Ok(())
    }
}

impl LinuxSiloServer {
    /// Binds and starts `config.threads` workers serving `app`.
    pub fn start(config: LinuxSiloConfig, app: SiloApp) -> Result<LinuxSiloServer, ServerError> {
        if config.threads == 0 {
            return Err(ServerError::NoThreads);
        }
        let (shards, addr) = match config.scheduler {
            LinuxScheduler::Floating => {
                let listener = bind(config.addr, false)?;
                let addr = listener.local_addr().map_err(io_error("getsockname"))?;
                let interest = flags::IN | flags::RDHUP | flags::ONESHOT;
                let shard = Shard::new(listener, interest, flags::IN | flags::EXCLUSIVE)?;
                (vec![Arc::new(shard)], addr)
            }
            LinuxScheduler::Partitioned => {
                let first = bind(config.addr, true)?;
                let addr = first.local_addr().map_err(io_error("getsockname"))?;
                let mut listeners = vec![first];
                for _ in 1..config.threads {
                    listeners.push(bind(addr, true)?);
                }
                let shards = listeners
                    .into_iter()
                    .map(|listener| Shard::new(listener, flags::IN | flags::RDHUP, flags::IN))
                    .map(|shard| shard.map(Arc::new))
                    .collect::<Result<Vec<_>, _>>()?;
                (shards, addr)
            }
        };
        let app = Arc::new(app);
        let stop = Arc::new(AtomicBool::new(false));
        let mut server = LinuxSiloServer {
            addr,
            stop,
            workers: Vec::with_capacity(config.threads),
        };
        for index in 0..config.threads {
            let shard = Arc::clone(&shards[index % shards.len()]);
            let (app, stop) = (Arc::clone(&app), Arc::clone(&server.stop));
            let worker = std::thread::Builder::new()
                .name(format!("silo-{}-{index}", config.scheduler.name()))
                .spawn(move || {
                    if config.pin {
                        pin_to_cpu(index);
                    }
                    shard.run(&app, &stop)
                })
                .map_err(io_error("spawn"))?;
            server.workers.push(worker);
        }
        Ok(server)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the workers and reports the first failure.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown()
    }

    /// Raises the stop flag and joins every worker (all of them, even
    /// after a failure); the first failure is the result.
    fn shutdown(&mut self) -> Result<(), ServerError> {
        self.stop.store(true, Ordering::Relaxed);
        self.workers
            .drain(..)
            .map(|worker| {
                let ran = worker
                    .join()
                    .map_err(|_| ServerError::Worker("a worker thread panicked".to_owned()))?;
                ran.map_err(|error| ServerError::Worker(error.to_string()))
            })
            .fold(Ok(()), Result::and)
    }
}

impl Drop for LinuxSiloServer {
    fn drop(&mut self) {
        // Errors were reportable through `stop`; dropping only joins.
        let _ = self.shutdown();
    }
}
