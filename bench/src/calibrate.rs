//! `zygos bench calibrate`: measures on this machine the runtime costs the
//! `sim` platform charges in virtual time, and writes them as its cost
//! table (JSON, read back by [`load_costs`]).
//!
//! Measured: `packet_ns`, the netstack's processing of one received frame
//! (two real stacks exchanging synthetic requests and replies in memory,
//! time inside `handle_frame` per frame); `ipi_latency_ns`, half the round
//! trip of a cross-CPU mailbox signal (a cache line written by one thread
//! and polled by another: how the process platform's mailboxes signal).
//! The other entries keep the sim's defaults and are listed as such in the
//! file (`measured`), so no figure passes for measured when it is not.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant as WallClock;

use clap::Args;
use dataplane::sim::SimCosts;
use netstack::{Event, FrameSink, Instant, Stack, StackConfig};
use serde::{Deserialize, Serialize};

/// Arguments of `zygos bench calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Where to write the cost table.
    #[arg(long, default_value = "results/costs.json")]
    pub out: PathBuf,
    /// Request/reply exchanges timed for the packet cost.
    #[arg(long, default_value_t = 20_000)]
    pub exchanges: u64,
}

/// Why calibration or reading a cost table failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A test stack could not be built or connected.
    #[error("netstack: {0}")]
    Stack(String),
    /// The cost file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The cost file is not a cost table.
    #[error("{path} is not a cost table: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// The cost table file: the sim's [`SimCosts`] (ns, flattened into the
/// file's top level) and which entries were measured on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// The costs.
    #[serde(flatten)]
    pub costs: SimCosts,
    /// Names of the entries measured here (the others are the defaults).
    pub measured: Vec<String>,
}

impl CostTable {
    /// The simulator's cost table.
    pub fn costs(&self) -> SimCosts {
        self.costs
    }

    /// The sim's defaults, none measured.
    pub fn defaults() -> Self {
        CostTable {
            costs: SimCosts::default(),
            measured: Vec::new(),
        }
    }
}

/// Reads a cost table written by [`run`].
pub fn load_costs(path: &Path) -> Result<CostTable, CalibrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| CalibrateError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CalibrateError::Format {
        path: path.to_owned(),
        source,
    })
}

/// Frames a stack transmits, kept in memory.
#[derive(Default)]
struct Frames(Vec<Vec<u8>>);

impl FrameSink for Frames {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let mut frame = vec![0; len];
        fill(&mut frame);
        self.0.push(frame);
        true
    }
}

/// Hands every frame `from` transmits to `to`; returns (frames, ns spent
/// in `to.handle_frame`).
fn deliver(from: &mut Stack, to: &mut Stack, now: Instant) -> (u64, u64) {
    let mut frames = Frames::default();
    from.poll(now, &mut frames);
    let start = WallClock::now();
    for frame in &frames.0 {
        to.handle_frame(now, frame);
    }
    (frames.0.len() as u64, start.elapsed().as_nanos() as u64)
}

/// ns per received frame through the netstack, over `exchanges` synthetic
/// request/reply exchanges on one connection.
pub fn packet_cost(exchanges: u64) -> Result<u64, CalibrateError> {
    let config = |last| StackConfig {
        mac: [2, 0, 0, 0, 0, last],
        ipv4: Ipv4Addr::new(10, 88, 0, last),
        ..StackConfig::default()
    };
    let stack_error = |e: &dyn std::fmt::Display| CalibrateError::Stack(e.to_string());
    let mut server = Stack::new(config(1)).map_err(|e| stack_error(&e))?;
    let mut client = Stack::new(config(2)).map_err(|e| stack_error(&e))?;
    server.listen(7000).map_err(|e| stack_error(&e))?;
    let epoch = WallClock::now();
    let now = || Instant(epoch.elapsed().as_nanos() as u64);
    let conn = client
        .connect(now(), SocketAddrV4::new(Ipv4Addr::new(10, 88, 0, 1), 7000))
        .map_err(|e| stack_error(&e))?;
    let mut accepted = None;
    for _ in 0..10 {
        deliver(&mut client, &mut server, now());
        deliver(&mut server, &mut client, now());
        while let Some(event) = server.pop_event() {
            if let Event::Accepted { conn, .. } = event {
                accepted = Some(conn);
            }
        }
    }
    let served = accepted.ok_or_else(|| CalibrateError::Stack("no handshake".to_owned()))?;
    let mut buf = [0u8; 256];
    let (mut frames, mut ns) = (0, 0);
    for _ in 0..exchanges {
        client.send(conn, &[7u8; 16]).map_err(|e| stack_error(&e))?;
        let (f, t) = deliver(&mut client, &mut server, now());
        while server.recv(served, &mut buf).is_ok_and(|n| n > 0) {}
        server
            .send(served, &[9u8; 8])
            .map_err(|e| stack_error(&e))?;
        let (g, u) = deliver(&mut server, &mut client, now());
        while client.recv(conn, &mut buf).is_ok_and(|n| n > 0) {}
        while client.pop_event().is_some() {}
        while server.pop_event().is_some() {}
        frames += f + g;
        ns += t + u;
    }
    Ok(ns / frames.max(1))
}

/// Half the round trip (ns) of a mailbox signal between two threads: one
/// writes a counter, the other spins until it sees it and answers.
pub fn mailbox_signal_cost(round_trips: u64) -> u64 {
    let ping = AtomicU64::new(0);
    let pong = AtomicU64::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 1..=round_trips {
                while ping.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
                pong.store(i, Ordering::Release);
            }
        });
        let start = WallClock::now();
        for i in 1..=round_trips {
            ping.store(i, Ordering::Release);
            while pong.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
        }
        start.elapsed().as_nanos() as u64 / (2 * round_trips.max(1))
    })
}

/// Measures, writes the table and prints it.
pub fn run(args: &CalibrateArgs) -> Result<(), CalibrateError> {
    let mut table = CostTable::defaults();
    table.costs.packet_ns = packet_cost(args.exchanges)?;
    table.costs.ipi_latency_ns = mailbox_signal_cost(20_000);
    table.measured = vec!["packet_ns".to_owned(), "ipi_latency_ns".to_owned()];
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CalibrateError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let json = serde_json::to_string_pretty(&table).map_err(|source| CalibrateError::Format {
        path: args.out.clone(),
        source,
    })?;
    std::fs::write(&args.out, json).map_err(|source| CalibrateError::Io {
        path: args.out.clone(),
        source,
    })?;
    println!(
        "measured on this machine: packet {} ns per frame through the netstack, mailbox signal {} ns one way; \
         steal, remote call, IPI send/handler, event, dispatch, idle poll: sim defaults (not measured)",
        table.costs.packet_ns, table.costs.ipi_latency_ns
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packet_cost_is_measured_and_plausible() {
        let ns = packet_cost(2_000).unwrap();
        assert!((10..100_000).contains(&ns), "{ns} ns per frame");
    }

    #[test]
    fn a_written_table_reads_back_and_bad_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("zygos-calibrate-{}", std::process::id()));
        let out = dir.join("costs.json");
        run(&CalibrateArgs {
            out: out.clone(),
            exchanges: 500,
        })
        .unwrap();
        let table = load_costs(&out).unwrap();
        assert_eq!(table.measured, ["packet_ns", "ipi_latency_ns"]);
        assert!(table.costs.packet_ns > 0);
        std::fs::write(&out, "{}").unwrap();
        assert!(matches!(
            load_costs(&out),
            Err(CalibrateError::Format { .. })
        ));
        assert!(matches!(
            load_costs(&dir.join("missing.json")),
            Err(CalibrateError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
