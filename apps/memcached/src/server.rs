//! What every connection of one server shares: the item store, the
//! settings, the connection counters and the start time `stats` reports.
//!
//! A transport (the dataplane adapter, or a test's TCP listener) builds one
//! [`Server`], calls [`Server::connect`] for each accepted connection and
//! feeds the resulting [`Session`] the bytes it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::protocol::Session;
use crate::store::{Store, StoreConfig, UnixTime};

/// The version this server reports: the memcached release whose protocol
/// behaviour it reproduces (clients choose features by it).
pub const VERSION: &str = "1.6.18";

/// Settings of a server (memcached's command-line flags).
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Item store sizes (`-m`, `-I`).
    pub store: StoreConfig,
    /// Maximum simultaneous connections (`-c`).
    pub max_connections: usize,
    /// TCP port (`-p`), reported by `stats settings`.
    pub port: u16,
    /// Worker cores, reported as `threads`.
    pub threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            store: StoreConfig::default(),
            max_connections: 1024,
            port: 11211,
            threads: 1,
        }
    }
}

/// State shared by all connections.
pub struct Server {
    /// The items.
    pub store: Store,
    config: ServerConfig,
    started: UnixTime,
    curr_connections: AtomicUsize,
    total_connections: AtomicU64,
    rejected_connections: AtomicU64,
}

/// Connection counters reported by `stats`.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionCounts {
    /// Open connections.
    pub current: usize,
    /// Connections ever accepted.
    pub total: u64,
    /// Connections refused for exceeding `-c`.
    pub rejected: u64,
}

/// The answer to a new connection.
pub enum Admission {
    /// Serve it with this session.
    Accepted(Session),
    /// Send these bytes and close it (memcached's reply when `-c` is
    /// reached).
    Refused(&'static [u8]),
}

impl Server {
    /// A server started at `now` with an empty store.
    pub fn new(config: ServerConfig, now: UnixTime) -> Arc<Self> {
        Arc::new(Server {
            store: Store::new(config.store),
            config,
            started: now,
            curr_connections: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
        })
    }

    /// The settings.
    pub fn config(&self) -> ServerConfig {
        self.config
    }

    /// When the server started.
    pub fn started(&self) -> UnixTime {
        self.started
    }

    /// Admits a new connection, or refuses it past `max_connections`.
    pub fn connect(self: &Arc<Self>) -> Admission {
        let previous = self.curr_connections.fetch_add(1, Ordering::Relaxed);
        if previous >= self.config.max_connections {
            self.curr_connections.fetch_sub(1, Ordering::Relaxed);
            self.rejected_connections.fetch_add(1, Ordering::Relaxed);
            return Admission::Refused(b"ERROR Too many open connections\r\n");
        }
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        Admission::Accepted(Session::new(Arc::clone(self)))
    }

    /// Called by a session when its connection ends.
    pub(crate) fn disconnected(&self) {
        self.curr_connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// The connection counters.
    pub fn connections(&self) -> ConnectionCounts {
        ConnectionCounts {
            current: self.curr_connections.load(Ordering::Relaxed),
            total: self.total_connections.load(Ordering::Relaxed),
            rejected: self.rejected_connections.load(Ordering::Relaxed),
        }
    }
}
