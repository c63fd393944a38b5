//! `zygos bench calibrate`: measures on this machine every runtime cost the
//! `sim` platform charges in virtual time ([`SimCosts`]) and writes them as
//! its cost table (JSON, read back by [`load_costs`]).
//!
//! Each entry is timed with a probe of the real code from
//! [`dataplane::sim::calibration`] (its module docs list which code
//! each entry runs); the criterion benchmarks in `bench/benches` run the
//! same probes. A probe runs [`CalibrateArgs::rounds`] rounds of
//! [`CalibrateArgs::batch`] operations. One-thread probes keep the median
//! round's mean, so a round in which this VM's host froze the CPUs does
//! not set the figure; two-thread probes keep the median operation, the
//! cost on two dedicated cores (an operation during which one of the two
//! threads lost its CPU to another process takes a scheduler time slice). The file says which entries were measured
//! (`measured`) and how (`how`); an entry whose probe failed keeps the
//! sim's default and is left out of `measured`, with the reason printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use dataplane::sim::SimCosts;
use dataplane::sim::calibration::{
    IdleProbe, MailboxProbe, ProbeError, RemoteProbe, RemoteTimes, SAFE_POINT_WAIT_NS,
    ShuffleProbe, SignalProbe, StackPair, WireProbe,
};
use serde::{Deserialize, Serialize};

/// Arguments of `zygos bench calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Where to write the cost table.
    #[arg(long, default_value = "results/costs.json")]
    pub out: PathBuf,
    /// Operations timed per round of each probe.
    #[arg(long, default_value_t = 2_000)]
    pub batch: u64,
    /// Rounds per probe (the median round's mean is kept).
    #[arg(long, default_value_t = 9)]
    pub rounds: usize,
    /// Cores of the dataplane whose idle loop is timed (the idle pass
    /// checks every other core).
    #[arg(long, default_value_t = 16)]
    pub idle_cores: usize,
}

/// Why calibration or reading a cost table failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
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
/// file's top level), which entries were measured on this machine and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// The costs.
    #[serde(flatten)]
    pub costs: SimCosts,
    /// Names of the entries measured here (the others are the defaults).
    pub measured: Vec<String>,
    /// How each measured entry was measured.
    #[serde(default)]
    pub how: BTreeMap<String, String>,
    /// The IPI signal's own latency (`tgkill` to the handler running, ns):
    /// what an interrupt-driven handler would wait; the process platform
    /// runs the IPI's work at safe points instead (see `ipi_latency_ns`).
    #[serde(default)]
    pub signal_latency_ns: Option<u64>,
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
            how: BTreeMap::new(),
            signal_latency_ns: None,
        }
    }

    /// Records a measured entry.
    fn set(&mut self, name: &str, ns: u64, how: &str) {
        let Some(slot) = entry_mut(&mut self.costs, name) else {
            return;
        };
        *slot = ns;
        self.measured.push(name.to_owned());
        self.how.insert(name.to_owned(), how.to_owned());
    }
}

/// The entry called `name` (its field name in the file).
fn entry_mut<'a>(costs: &'a mut SimCosts, name: &str) -> Option<&'a mut u64> {
    Some(match name {
        "packet_ns" => &mut costs.packet_ns,
        "event_ns" => &mut costs.event_ns,
        "app_dispatch_ns" => &mut costs.app_dispatch_ns,
        "steal_ns" => &mut costs.steal_ns,
        "remote_call_ns" => &mut costs.remote_call_ns,
        "ipi_send_ns" => &mut costs.ipi_send_ns,
        "ipi_latency_ns" => &mut costs.ipi_latency_ns,
        "ipi_handler_ns" => &mut costs.ipi_handler_ns,
        "idle_poll_ns" => &mut costs.idle_poll_ns,
        "wire_ns" => &mut costs.wire_ns,
        _ => return None,
    })
}

/// Every entry of [`SimCosts`], in file order.
pub const ENTRIES: [&str; 10] = [
    "packet_ns",
    "event_ns",
    "app_dispatch_ns",
    "steal_ns",
    "remote_call_ns",
    "ipi_send_ns",
    "ipi_latency_ns",
    "ipi_handler_ns",
    "idle_poll_ns",
    "wire_ns",
];

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

/// Runs `round` `rounds` times; the median of the per-operation means
/// (ns), or the first failure. `round` returns the time of its operations
/// and how many there were.
fn median_ns(
    rounds: usize,
    mut round: impl FnMut() -> Result<(Duration, u64), String>,
) -> Result<u64, String> {
    let mut means = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let (time, operations) = round()?;
        if operations == 0 {
            return Err("no operation completed".to_owned());
        }
        means.push(time.as_nanos() as f64 / operations as f64);
    }
    means.sort_by(f64::total_cmp);
    Ok(means[means.len() / 2].round() as u64)
}

/// Runs `round` `rounds` times; the median of every operation's time (ns)
/// they returned, or the first failure.
fn median_sample_ns(
    rounds: usize,
    mut round: impl FnMut() -> Result<Vec<u64>, String>,
) -> Result<u64, String> {
    let mut samples = Vec::new();
    for _ in 0..rounds.max(1) {
        samples.extend(round()?);
    }
    samples.sort_unstable();
    samples
        .get(samples.len() / 2)
        .copied()
        .ok_or_else(|| "no operation completed".to_owned())
}

fn probe_error(error: ProbeError) -> String {
    error.to_string()
}

/// Measures every entry; entries whose probe fails keep their default and
/// their reasons are returned.
pub fn calibrate(args: &CalibrateArgs) -> (CostTable, Vec<String>) {
    let (n, rounds) = (args.batch.max(1), args.rounds);
    let mut table = CostTable::defaults();
    let mut failures = Vec::new();
    let mut record =
        |table: &mut CostTable, name: &str, how: &str, value: Result<u64, String>| match value {
            Ok(ns) => table.set(name, ns, how),
            Err(reason) => failures.push(format!("{name}: {reason} (kept the default)")),
        };
    match StackPair::new() {
        Ok(mut pair) => {
            let frames = median_ns(rounds, || {
                pair.measure_frames(n).map(|t| (t, n)).map_err(probe_error)
            });
            record(
                &mut table,
                "packet_ns",
                "netstack handle_frame per received frame (request, reply, ACK) on one connection",
                frames,
            );
            let events = median_ns(rounds, || {
                pair.measure_events(n).map(|t| (t, n)).map_err(probe_error)
            });
            record(
                &mut table,
                "event_ns",
                "recv a request from the netstack, copy it, push it on the shuffle queue",
                events,
            );
        }
        Err(error) => {
            record(&mut table, "packet_ns", "", Err(error.to_string()));
            record(&mut table, "event_ns", "", Err("no stack pair".to_owned()));
        }
    }
    let mut shuffle = ShuffleProbe::default();
    let dispatch = median_ns(rounds, || Ok((shuffle.measure_dispatch(n), n)));
    record(
        &mut table,
        "app_dispatch_ns",
        "shuffle pop, in-application flag, events taken, release (one core)",
        dispatch,
    );
    let mut remote = RemoteTimes::default();
    let steal = median_sample_ns(rounds, || {
        let times = RemoteProbe.measure(n);
        remote.home_execute_ns.extend(&times.home_execute_ns);
        Ok(times.steal_ns)
    });
    record(
        &mut table,
        "steal_ns",
        "a successful try-lock steal of a connection another core made ready (two CPUs; median operation)",
        steal,
    );
    let remote_call = median_sample_ns(1, || Ok(std::mem::take(&mut remote.home_execute_ns)));
    record(
        &mut table,
        "remote_call_ns",
        "the home core's drain of a remote-syscall batch another core queued, and release (two CPUs; median operation)",
        remote_call,
    );
    let mut latencies = Vec::new();
    let send = median_sample_ns(rounds, || {
        let times = SignalProbe.measure_latency(n).map_err(probe_error)?;
        latencies.extend(times.latency_ns);
        Ok(times.send_ns)
    });
    record(
        &mut table,
        "ipi_send_ns",
        "IpiBoard post and tgkill of the IPI signal to a spinning thread, sender side (two CPUs; median operation)",
        send,
    );
    table.signal_latency_ns = median_sample_ns(1, || Ok(std::mem::take(&mut latencies))).ok();
    let mailbox = median_sample_ns(rounds, || {
        MailboxProbe
            .measure(n)
            .ok_or_else(|| "the partner thread stalled".to_owned())
    });
    record(
        &mut table,
        "ipi_latency_ns",
        &format!(
            "one-way IpiBoard mailbox signal between two CPUs (median operation) + {SAFE_POINT_WAIT_NS} ns (half the process platform's spin quantum: the wait for the target's next safe point)"
        ),
        mailbox.map(|ns| ns + SAFE_POINT_WAIT_NS),
    );
    let handler = median_ns(rounds, || {
        SignalProbe
            .measure_handler(n)
            .map(|t| (t, n))
            .map_err(probe_error)
    });
    record(
        &mut table,
        "ipi_handler_ns",
        "tgkill of the IPI signal to the calling thread (delivery, handler, return) minus a tgkill of signal 0",
        handler,
    );
    let idle = IdleProbe::new(args.idle_cores)
        .map_err(probe_error)
        .and_then(|mut probe| {
            median_ns(rounds, || {
                probe
                    .measure(n)
                    .map(|t| (t, n))
                    .ok_or_else(|| "the idle core found work".to_owned())
            })
        });
    record(
        &mut table,
        "idle_poll_ns",
        &format!(
            "Core::step of an idle {}-core dataplane on shm NIC queues",
            args.idle_cores.clamp(2, 64)
        ),
        idle,
    );
    let wire = WireProbe::new().map_err(probe_error).and_then(|mut probe| {
        median_sample_ns(rounds, || {
            probe
                .measure(n)
                .ok_or_else(|| "a frame did not come back".to_owned())
        })
    });
    record(
        &mut table,
        "wire_ns",
        "one-way 64-byte frame between two ports of the shm NIC (two CPUs; median operation)",
        wire,
    );
    (table, failures)
}

/// The table as printed: every entry, measured or default.
pub fn describe(table: &CostTable) -> String {
    let mut costs = table.costs;
    let mut out = String::from("sim cost table (ns):\n");
    for name in ENTRIES {
        let value = entry_mut(&mut costs, name).map_or(0, |v| *v);
        let source = match table.how.get(name) {
            Some(how) if table.measured.iter().any(|m| m == name) => format!("measured: {how}"),
            _ => "DEFAULT (not measured)".to_owned(),
        };
        out.push_str(&format!("  {name:<16} {value:>8}  {source}\n"));
    }
    if let Some(ns) = table.signal_latency_ns {
        out.push_str(&format!(
            "  (IPI signal alone, tgkill to handler run: {ns} ns; not a sim entry)\n"
        ));
    }
    out
}

/// Measures, writes the table and prints it.
pub fn run(args: &CalibrateArgs) -> Result<(), CalibrateError> {
    let (table, failures) = calibrate(args);
    for failure in &failures {
        eprintln!("calibrate: {failure}");
    }
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
    print!("{}", describe(&table));
    println!("wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_measured_and_the_table_reads_back() {
        let dir = std::env::temp_dir().join(format!("zygos-calibrate-{}", std::process::id()));
        let out = dir.join("costs.json");
        let args = CalibrateArgs {
            out: out.clone(),
            batch: 200,
            rounds: 3,
            idle_cores: 4,
        };
        run(&args).unwrap();
        let table = load_costs(&out).unwrap();
        assert_eq!(table.measured, ENTRIES, "every entry measured, in order");
        assert!(ENTRIES.iter().all(|name| table.how.contains_key(*name)));
        assert!(table.costs.packet_ns > 0 && table.costs.wire_ns > 0);
        assert!(table.costs.ipi_latency_ns > SAFE_POINT_WAIT_NS);
        assert!(table.signal_latency_ns.is_some_and(|ns| ns > 0));
        assert!(!describe(&table).contains("DEFAULT"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn defaults_are_labelled_and_bad_files_are_errors() {
        assert_eq!(
            describe(&CostTable::defaults())
                .matches("DEFAULT (not measured)")
                .count(),
            ENTRIES.len()
        );
        let dir = std::env::temp_dir().join(format!("zygos-costfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("costs.json");
        // A file of the first format (flat costs, `measured` only) still reads.
        let mut old = serde_json::to_value(SimCosts::default()).unwrap();
        old["measured"] = serde_json::json!(["packet_ns"]);
        std::fs::write(&out, old.to_string()).unwrap();
        let table = load_costs(&out).unwrap();
        assert_eq!(table.costs, SimCosts::default());
        assert_eq!(table.measured, ["packet_ns"]);
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

    #[test]
    fn the_median_round_sets_the_figure() {
        let mut rounds = [(900, 1), (100, 1), (300, 3)].into_iter();
        let ns = median_ns(3, || {
            let (t, n) = rounds.next().unwrap();
            Ok((Duration::from_nanos(t), n))
        });
        assert_eq!(ns, Ok(100));
        assert!(median_ns(1, || Ok((Duration::ZERO, 0))).is_err());
        assert!(median_ns(1, || Err("stalled".to_owned())).is_err());
        let mut rounds = [vec![5, 1_000_000], vec![7, 6]].into_iter();
        assert_eq!(median_sample_ns(2, || Ok(rounds.next().unwrap())), Ok(7));
        assert!(median_sample_ns(1, || Ok(Vec::new())).is_err());
    }
}
