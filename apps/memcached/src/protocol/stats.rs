//! The `stats` report, as (name, value) pairs shared by the text protocol
//! (`STAT name value` lines) and the binary protocol (one response packet
//! per pair); names follow memcached's doc/protocol.txt "General-purpose
//! statistics" and "Settings statistics".

use crate::server::{Server, VERSION};
use crate::store::{Counter, UnixTime};

/// Which report a `stats` request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsGroup {
    /// `stats`: general-purpose statistics.
    General,
    /// `stats settings`.
    Settings,
}

impl StatsGroup {
    /// The group named by a `stats` argument (empty: general).
    pub fn parse(argument: &[u8]) -> Option<Self> {
        match argument {
            b"" => Some(StatsGroup::General),
            b"settings" => Some(StatsGroup::Settings),
            _ => None,
        }
    }
}

/// The statistics of `group`, at `now`.
pub fn report(server: &Server, group: StatsGroup, now: UnixTime) -> Vec<(&'static str, String)> {
    match group {
        StatsGroup::General => general(server, now),
        StatsGroup::Settings => settings(server),
    }
}

fn general(server: &Server, now: UnixTime) -> Vec<(&'static str, String)> {
    let snapshot = server.store.snapshot();
    let connections = server.connections();
    let config = server.config();
    let mut pairs = vec![
        ("pid", std::process::id().to_string()),
        ("uptime", now.saturating_sub(server.started()).to_string()),
        ("time", now.to_string()),
        ("version", VERSION.to_string()),
        ("pointer_size", (usize::BITS).to_string()),
        ("max_connections", config.max_connections.to_string()),
        ("curr_connections", connections.current.to_string()),
        ("total_connections", connections.total.to_string()),
        ("rejected_connections", connections.rejected.to_string()),
        ("cmd_flush", snapshot.cmd_flush.to_string()),
    ];
    pairs.extend(
        Counter::ALL
            .iter()
            .map(|&c| (c.name(), snapshot.counters.get(c).to_string())),
    );
    pairs.extend([
        ("threads", config.threads.to_string()),
        ("bytes", snapshot.bytes.to_string()),
        ("curr_items", snapshot.curr_items.to_string()),
        ("limit_maxbytes", snapshot.limit_maxbytes.to_string()),
    ]);
    pairs
}

fn settings(server: &Server) -> Vec<(&'static str, String)> {
    let config = server.config();
    vec![
        ("maxbytes", config.store.memory_limit.to_string()),
        ("maxconns", config.max_connections.to_string()),
        ("tcpport", config.port.to_string()),
        ("udpport", "0".to_string()),
        ("evictions", "on".to_string()),
        ("num_threads", config.threads.to_string()),
        ("cas_enabled", "yes".to_string()),
        ("item_size_max", config.store.item_size_max.to_string()),
        ("flush_enabled", "yes".to_string()),
    ]
}
