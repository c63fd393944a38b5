//! `zygos bench silo-standalone`: TPC-C on the engine without networking
//! (Silo's own benchmark mode): T worker threads, each bound to a home
//! warehouse, run the mix back to back for a fixed duration. It reports
//! transactions per second per core and the service-time distribution per
//! transaction type, which is the distribution the ZygOS evaluation feeds
//! its server (thesis ch. 4.5: median about 20 µs, p99 about 200 µs).

use std::collections::BTreeMap;
use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::engine::{Abort, LoadError};
use crate::tpcc::{
    ConsistencyError, InputGenerator, Scale, Tpcc, TxnError, TxnKind, check_consistency, run,
};
use crate::wire::MAX_ATTEMPTS;

/// Arguments of `zygos bench silo-standalone`.
#[derive(Debug, Clone, clap::Args)]
pub struct StandaloneArgs {
    /// Number of warehouses W.
    #[arg(long, default_value_t = 1)]
    pub warehouses: u32,
    /// Worker threads (one per core; worker i's home warehouse is i mod W + 1).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Measurement duration in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Items loaded (spec: 100000); a smaller value scales the population down.
    #[arg(long, default_value_t = 100_000)]
    pub items: u32,
    /// Customers per district (spec: 3000).
    #[arg(long, default_value_t = 3_000)]
    pub customers: u32,
    /// Seed of the loader and of the input generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the measured on-CPU service-time distribution of the whole
    /// mix to this CSV file (`service_ns,count` rows), the input for driving
    /// the simulator or a synthetic server with TPC-C's distribution.
    #[arg(long)]
    pub service_times_out: Option<std::path::PathBuf>,
}

/// Why a standalone run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// Arguments out of range.
    #[error("invalid arguments: {0}")]
    Arguments(&'static str),
    /// The loader failed.
    #[error("loading: {0}")]
    Load(#[from] LoadError),
    /// The consistency conditions did not hold after the run.
    #[error("after the run: {0}")]
    Consistency(#[from] ConsistencyError),
    /// A transaction failed on a missing row (a bug: inputs are generated
    /// for the loaded population).
    #[error("transaction failed: {0}")]
    Txn(TxnError),
    /// A worker thread panicked.
    #[error("a worker thread panicked")]
    Worker,
}

/// Per transaction type results.
#[derive(Clone)]
pub struct KindStats {
    /// Service times in nanoseconds, wall clock (all attempts of a
    /// transaction, including any time the thread was preempted).
    pub service_ns: Histogram<u64>,
    /// The same transactions' on-CPU time in nanoseconds (the thread's CPU
    /// clock): the service time without preemption by other processes.
    pub cpu_ns: Histogram<u64>,
    /// Transactions that committed.
    pub committed: u64,
    /// Transactions rolled back by their logic (New-Order's 1%).
    pub rolled_back: u64,
    /// Attempts aborted on conflicts and retried.
    pub retries: u64,
    /// Transactions given up after [`MAX_ATTEMPTS`] conflicting attempts.
    pub gave_up: u64,
}

impl KindStats {
    fn new() -> KindStats {
        let histogram = || {
            Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("static histogram bounds are valid")
        };
        KindStats {
            service_ns: histogram(),
            cpu_ns: histogram(),
            committed: 0,
            rolled_back: 0,
            retries: 0,
            gave_up: 0,
        }
    }

    fn merge(&mut self, other: &KindStats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.service_ns.add(&other.service_ns);
        let _ = self.cpu_ns.add(&other.cpu_ns);
        self.committed += other.committed;
        self.rolled_back += other.rolled_back;
        self.retries += other.retries;
        self.gave_up += other.gave_up;
    }

    /// Completed transactions (committed or rolled back, as TPC-C counts).
    pub fn completed(&self) -> u64 {
        self.committed + self.rolled_back
    }
}

/// The result of a standalone run.
pub struct StandaloneReport {
    /// The population.
    pub scale: Scale,
    /// Worker threads.
    pub threads: usize,
    /// Loading time.
    pub load_time: Duration,
    /// Measured time.
    pub elapsed: Duration,
    /// Results per transaction type.
    pub kinds: BTreeMap<TxnKind, KindStats>,
}

impl StandaloneReport {
    /// All types together.
    pub fn overall(&self) -> KindStats {
        let mut all = KindStats::new();
        for stats in self.kinds.values() {
            all.merge(stats);
        }
        all
    }

    /// Writes the whole mix's on-CPU service-time distribution as CSV rows
    /// `service_ns,count` (one row per recorded histogram bucket).
    pub fn write_service_times(&self, mut out: impl std::io::Write) -> std::io::Result<()> {
        writeln!(out, "service_ns,count")?;
        for bucket in self.overall().cpu_ns.iter_recorded() {
            writeln!(
                out,
                "{},{}",
                bucket.value_iterated_to(),
                bucket.count_at_value()
            )?;
        }
        Ok(())
    }

    /// Completed transactions per second, all workers.
    pub fn tps(&self) -> f64 {
        self.overall().completed() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs the benchmark.
pub fn run_standalone(args: &StandaloneArgs) -> Result<StandaloneReport, StandaloneError> {
    if args.warehouses == 0 || args.threads == 0 || args.duration == 0 {
        return Err(StandaloneError::Arguments(
            "warehouses, threads and duration must be at least 1",
        ));
    }
    if args.items == 0 || args.items > 100_000 || args.customers == 0 || args.customers > 3_000 {
        return Err(StandaloneError::Arguments(
            "items must be in 1..=100000 and customers in 1..=3000",
        ));
    }
    let scale = Scale {
        warehouses: args.warehouses,
        items: args.items,
        customers_per_district: args.customers,
    };
    let started = Instant::now();
    let tpcc = Arc::new(Tpcc::load(scale, args.seed)?);
    let load_time = started.elapsed();
    let generator = InputGenerator::new(scale, tpcc.constants);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..args.threads)
        .map(|worker| {
            let (tpcc, stop) = (Arc::clone(&tpcc), Arc::clone(&stop));
            let seed = args.seed.wrapping_add(1 + worker as u64);
            let home = (worker as u32 % scale.warehouses) + 1;
            std::thread::spawn(move || work(&tpcc, generator, home, seed, &stop))
        })
        .collect();
    let measured = Instant::now();
    std::thread::sleep(Duration::from_secs(args.duration));
    stop.store(true, Ordering::Relaxed);
    let mut kinds: BTreeMap<TxnKind, KindStats> = BTreeMap::new();
    for worker in workers {
        let stats = worker.join().map_err(|_| StandaloneError::Worker)??;
        for (kind, stats) in stats {
            kinds
                .entry(kind)
                .or_insert_with(KindStats::new)
                .merge(&stats);
        }
    }
    let elapsed = measured.elapsed();
    check_consistency(&tpcc)?;
    Ok(StandaloneReport {
        scale,
        threads: args.threads,
        load_time,
        elapsed,
        kinds,
    })
}

type WorkerStats = BTreeMap<TxnKind, KindStats>;

/// One worker: the mix for warehouse `home` until `stop`.
fn work(
    tpcc: &Tpcc,
    generator: InputGenerator,
    home: u32,
    seed: u64,
    stop: &AtomicBool,
) -> Result<WorkerStats, StandaloneError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats: WorkerStats = TxnKind::ALL
        .iter()
        .map(|k| (*k, KindStats::new()))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        let input = generator.next(&mut rng, home);
        let (start, cpu_start) = (Instant::now(), ThreadTime::now());
        let done = run(tpcc, &input, MAX_ATTEMPTS);
        let service = start.elapsed().as_nanos() as u64;
        let cpu = cpu_start.elapsed().as_nanos() as u64;
        let entry = stats.entry(input.kind()).or_insert_with(KindStats::new);
        entry.service_ns.saturating_record(service.max(1));
        entry.cpu_ns.saturating_record(cpu.max(1));
        entry.retries += u64::from(done.retries);
        match done.result {
            Ok(_) => entry.committed += 1,
            Err(TxnError::Abort(Abort::Rollback)) => entry.rolled_back += 1,
            Err(TxnError::Abort(_)) => entry.gave_up += 1,
            Err(missing @ TxnError::Missing { .. }) => return Err(StandaloneError::Txn(missing)),
        }
    }
    Ok(stats)
}

fn micros(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

impl fmt::Display for StandaloneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overall = self.overall();
        let tps = self.tps();
        writeln!(
            f,
            "silo standalone TPC-C: {} warehouse(s), {} items, {} customers/district, {} thread(s)",
            self.scale.warehouses,
            self.scale.items,
            self.scale.customers_per_district,
            self.threads
        )?;
        writeln!(
            f,
            "loaded in {:.1} s; measured {:.1} s; consistency conditions 1-4 hold",
            self.load_time.as_secs_f64(),
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "throughput: {:.0} TPS, {:.0} TPS per core; {} retries after conflicts, {} given up",
            tps,
            tps / self.threads as f64,
            overall.retries,
            overall.gave_up
        )?;
        // On a shared machine the threads are not on a core all the time;
        // the mean on-CPU time per transaction gives the per-core rate.
        writeln!(
            f,
            "on-CPU: {:.0} TPS per core (1 / mean on-CPU time per transaction)",
            1e9 / overall.cpu_ns.mean().max(1.0)
        )?;
        self.table(f, "service (µs)", |stats| &stats.service_ns)?;
        self.table(f, "on-CPU (µs)", |stats| &stats.cpu_ns)
    }
}

impl StandaloneReport {
    /// One percentile table, per type and overall.
    fn table(
        &self,
        f: &mut fmt::Formatter<'_>,
        title: &str,
        histogram: impl Fn(&KindStats) -> &Histogram<u64>,
    ) -> fmt::Result {
        let overall = self.overall();
        writeln!(
            f,
            "{:<13} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            title, "count", "share", "mean", "p50", "p90", "p99", "p99.9"
        )?;
        let total = histogram(&overall).len().max(1) as f64;
        let rows = self
            .kinds
            .iter()
            .map(|(kind, stats)| (kind.name(), stats))
            .chain(std::iter::once(("all", &overall)));
        for (name, stats) in rows {
            let h = histogram(stats);
            writeln!(
                f,
                "{:<13} {:>9} {:>5.1}% {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                name,
                h.len(),
                100.0 * h.len() as f64 / total,
                h.mean() / 1000.0,
                micros(h, 0.5),
                micros(h, 0.9),
                micros(h, 0.99),
                micros(h, 0.999)
            )?;
        }
        Ok(())
    }
}

/// The CLI entry point: runs and prints the report.
pub fn cli(args: &StandaloneArgs) -> ExitCode {
    match run_standalone(args) {
        Ok(report) => {
            print!("{report}");
            let Some(path) = &args.service_times_out else {
                return ExitCode::SUCCESS;
            };
            let written = std::fs::File::create(path)
                .map(std::io::BufWriter::new)
                .and_then(|file| report.write_service_times(file));
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("zygos bench silo-standalone: {}: {error}", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("zygos bench silo-standalone: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_run_reports_every_type_and_keeps_consistency() {
        let args = StandaloneArgs {
            warehouses: 2,
            threads: 2,
            duration: 1,
            items: 1_000,
            customers: 100,
            seed: 3,
            service_times_out: None,
        };
        let report = run_standalone(&args).expect("standalone run");
        assert_eq!(report.kinds.len(), 5);
        assert!(report.kinds.values().all(|k| !k.service_ns.is_empty()));
        let overall = report.overall();
        assert!(overall.completed() > 100);
        assert!(report.tps() > 0.0);
        let text = report.to_string();
        assert!(text.contains("new-order") && text.contains("p99.9"));
        assert!(text.contains("on-CPU"));
        let cpu = &overall.cpu_ns;
        assert_eq!(cpu.len(), overall.service_ns.len());
        assert!(cpu.value_at_quantile(0.5) <= overall.service_ns.value_at_quantile(0.5) + 1000);
        let mut csv = Vec::new();
        report.write_service_times(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        let counted: u64 = csv
            .lines()
            .skip(1)
            .map(|row| row.split_once(',').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(counted, cpu.len(), "every transaction is in the CSV");
    }

    #[test]
    fn bad_arguments_are_refused() {
        let args = StandaloneArgs {
            warehouses: 0,
            threads: 1,
            duration: 1,
            items: 100_000,
            customers: 3_000,
            seed: 1,
            service_times_out: None,
        };
        assert!(matches!(
            run_standalone(&args),
            Err(StandaloneError::Arguments(_))
        ));
    }
}
