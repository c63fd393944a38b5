//! `zygos bench memcached`: the ZygOS memcached experiment (thesis
//! §6.6.2: USR and ETC, p99 SLO 500 µs) in one run. For each server (ours
//! with `--sched zygos`, ours with `--sched partitioned`, the real
//! memcached), with the same server cores: start it in its own network
//! namespace ([`netns`], [`servers`]), preload the keyspace, search the
//! maximum offered rate whose checked p99 meets the SLO ([`search`]) with
//! the Linux-socket open-loop generator of `bench` in the root namespace,
//! stop it. Then print the table and the ratios ours / real and write
//! them as JSON ([`report`]). Needs root (namespaces, TAP devices).
//!
//! On a 2-core machine the default is one server core (CPU 0) and the
//! client on the other CPU; the output says where each ran.

pub mod netns;
pub mod priority;
pub mod report;
pub mod search;
pub mod servers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::cli::{ConnectionArgs, SloSearchArgs};
use bench::loadgen::{LoadSpec, run_load_with};
use bench::server_idle::ServerIdleArgs;
use dataplane::sched::SchedMode;

use crate::loadmix::{Keyspace, MixRequests, TextResponses, Workload, preload};
use report::{BenchmarkResult, ServerResult, summarize, summary_table, table, write_json};
use search::{RatePoint, SearchConfig, search};
use servers::{RunningServer, ServerKind, ServerSetup};

/// Arguments of `zygos bench memcached`.
#[derive(Debug, Clone, clap::Args)]
pub struct MemcachedBenchArgs {
    /// Request mixes, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "usr,etc")]
    pub workloads: Vec<Workload>,
    /// Server cores of every server (CPUs 0..N); the client runs on the
    /// remaining CPUs.
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// Servers, comma-separated: zygos, partitioned, memcached.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "zygos,partitioned,memcached"
    )]
    pub servers: Vec<String>,
    /// The p99 objective (default 500 µs) and the retries of a missed rate.
    #[command(flatten)]
    pub slo: SloSearchArgs<500>,
    /// Measured duration of each point (e.g. 1s, 500ms).
    #[arg(long, default_value = "1s", value_parser = bench::cli::parse_duration)]
    pub duration: Duration,
    /// First offered rate, requests per second.
    #[arg(long, default_value_t = 2_000.0)]
    pub start_rps: f64,
    /// Factor between offered rates until the first miss.
    #[arg(long, default_value_t = 1.5)]
    pub growth: f64,
    /// Highest offered rate.
    #[arg(long, default_value_t = 2_000_000.0)]
    pub max_rps: f64,
    /// Bisection steps between the last rate meeting the SLO and the first
    /// missing it.
    #[arg(long, default_value_t = 3)]
    pub refinements: usize,
    /// Keys preloaded and drawn from uniformly (Mutilate's --records).
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
    /// The generator's connections (default 64), pipeline depth (the
    /// ZygOS experiment pipelines up to 4) and seed (arrivals, keys and
    /// value sizes).
    #[command(flatten)]
    pub client: ConnectionArgs<64>,
    /// Client threads: 1 (one thread sends and reads) or 2 (a sender and
    /// a receiver); default 1 when the client has one CPU, else 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub client_threads: Option<u8>,
    /// How ours idles (default: park after 20 µs).
    #[command(flatten)]
    pub idle: ServerIdleArgs,
    /// Item memory of both servers, MB.
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: usize,
    /// Niceness of the servers and the client (-20: ahead of the other
    /// processes of a shared machine; 0 to leave priorities alone).
    #[arg(long, default_value_t = -20, allow_hyphen_values = true)]
    pub nice: i32,
    /// The zygos executable serving ours (default: this one).
    #[arg(long)]
    pub zygos: Option<PathBuf>,
    /// The real memcached.
    #[arg(long, default_value = "/usr/bin/memcached")]
    pub memcached: PathBuf,
    /// Directory of the JSON results and the servers' logs.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Whole runs, one after another (so the servers take turns, and a
    /// slow minute of a shared machine hits one round of each): each
    /// round's table, then each ratio's median and range over the rounds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
}

/// Why the benchmark could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Not root.
    #[error("needs root (network namespaces, veth pairs and TAP devices need CAP_NET_ADMIN)")]
    NotRoot,
    /// A flag is out of range.
    #[error("{0}")]
    Args(String),
    /// The machine could not be prepared (priorities, CPU pinning).
    #[error(transparent)]
    Setup(#[from] netns::NetnsError),
    /// A file could not be written or found.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
}

/// Whether this process runs as root (effective uid 0).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn parse_server(name: &str) -> Result<ServerKind, BenchError> {
    match name {
        "memcached" => Ok(ServerKind::Real),
        other => other
            .parse::<SchedMode>()
            .map(ServerKind::Ours)
            .map_err(|_| {
                BenchError::Args(format!(
                    "unknown server {other:?} (zygos, partitioned, zygos-noipi, memcached)"
                ))
            }),
    }
}

/// The CPUs the client may use: those after the server cores.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientCpus {
    /// How many.
    count: usize,
    /// As a taskset list (`None` when there are none).
    list: Option<String>,
}

impl ClientCpus {
    fn after(cores: usize) -> ClientCpus {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let count = cpus.saturating_sub(cores);
        let list = match count {
            0 => None,
            1 => Some(cores.to_string()),
            _ => Some(format!("{cores}-{}", cpus - 1)),
        };
        ClientCpus { count, list }
    }
}

impl MemcachedBenchArgs {
    fn check(&self) -> Result<Vec<ServerKind>, BenchError> {
        if self.cores == 0 {
            return Err(BenchError::Args("--cores must be at least 1".to_owned()));
        }
        if !(self.growth > 1.0 && self.start_rps > 0.0 && self.max_rps >= self.start_rps) {
            return Err(BenchError::Args(
                "need --growth > 1 and 0 < --start-rps <= --max-rps".to_owned(),
            ));
        }
        self.servers.iter().map(|name| parse_server(name)).collect()
    }

    fn spec(&self) -> LoadSpec {
        let mut spec = LoadSpec::at_slo(self.start_rps, self.slo.slo_us, self.duration);
        self.client.apply(&mut spec);
        spec
    }

    fn search_config(&self) -> SearchConfig {
        SearchConfig {
            start_rps: self.start_rps,
            growth: self.growth,
            max_rps: self.max_rps,
            refinements: self.refinements,
            retries: self.slo.retries,
        }
    }
}

/// Runs one point: the mix at `rate` against `server`.
fn measure_point(
    args: &MemcachedBenchArgs,
    spec: &LoadSpec,
    workload: Workload,
    keys: &Keyspace,
    server: &RunningServer,
    rate: f64,
) -> RatePoint {
    let mut spec = spec.clone();
    spec.arrivals = spec.arrivals.with_rate(rate);
    let framer = TextResponses::default();
    let mut requests = MixRequests::new(workload, keys.clone());
    match run_load_with(server.addr(), &spec, &mut requests, &framer) {
        Ok(report) => RatePoint::measured(&report, framer.hits(), framer.misses(), args.slo.slo_us),
        Err(error) => RatePoint::failed(rate, error.to_string()),
    }
}

/// Starts `kind`, preloads and searches; stops it.
fn measure_server(
    args: &MemcachedBenchArgs,
    spec: &LoadSpec,
    setup: &ServerSetup,
    workload: Workload,
    keys: &Keyspace,
    kind: ServerKind,
) -> Result<Vec<RatePoint>, String> {
    let server = RunningServer::start(kind, setup).map_err(|e| e.to_string())?;
    preload(server.addr(), workload, keys, args.client.seed).map_err(|e| e.to_string())?;
    let points = search(&args.search_config(), |rate| {
        eprintln!("  {} at {rate:.0} RPS", kind.name());
        measure_point(args, spec, workload, keys, &server, rate)
    });
    Ok(points)
}

/// Runs the benchmark: one [`BenchmarkResult`] per workload.
pub fn run(args: &MemcachedBenchArgs) -> Result<Vec<BenchmarkResult>, BenchError> {
    let kinds = args.check()?;
    if !running_as_root() {
        return Err(BenchError::NotRoot);
    }
    let zygos = match &args.zygos {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|source| BenchError::Io {
            what: "locate the zygos executable".to_owned(),
            source,
        })?,
    };
    std::fs::create_dir_all(&args.out).map_err(|source| BenchError::Io {
        what: format!("create {}", args.out.display()),
        source,
    })?;
    let setup = ServerSetup {
        cores: args.cores,
        zygos,
        memcached: args.memcached.clone(),
        memory_mb: args.memory_mb,
        max_connections: 4096,
        nice: args.nice,
        log_dir: args.out.clone(),
        park_after_us: args.idle.server_idle.park_after_us(),
    };
    let (_priority, priority_note) = priority::Priority::raise(args.nice)?;
    let mut notes = vec![
        format!(
            "servers pinned to CPU(s) {} in their own network namespaces: ours on a multi-queue \
             TAP device behind a forwarding hop, memcached on a veth pair; both reached over veth",
            setup.cpus()
        ),
        priority_note,
        args.idle.note(),
    ];
    let client = ClientCpus::after(args.cores);
    let mut spec = args.spec();
    // One CPU: a sender and a receiver thread would delay each other.
    spec.single_thread = args
        .client_threads
        .map_or(client.count <= 1, |threads| threads == 1);
    match client.list {
        Some(cpus) => {
            let pid = std::process::id().to_string();
            netns::run("taskset", &["-a", "-cp", &cpus, &pid])?;
            notes.push(format!(
                "client (open-loop Linux-socket generator, root namespace) pinned to CPU(s) \
                 {cpus}, {}",
                if spec.single_thread {
                    "one thread sending and reading"
                } else {
                    "a sender and a receiver thread"
                }
            ));
        }
        None => notes.push(
            "client shares the server CPUs: no CPU is left for it (lower --cores)".to_owned(),
        ),
    }
    let mut results = Vec::new();
    for &workload in &args.workloads {
        let keys =
            Keyspace::new(workload, args.keys).map_err(|e| BenchError::Args(e.to_string()))?;
        let mut servers = Vec::new();
        for &kind in &kinds {
            eprintln!("{} {}:", workload.name(), kind.name());
            let points = measure_server(args, &spec, &setup, workload, &keys, kind);
            servers.push(ServerResult::new(kind.name(), points));
        }
        let mut result = BenchmarkResult {
            workload,
            cores: args.cores,
            slo_micros: args.slo.slo_us,
            keys: args.keys,
            connections: args.client.connections,
            depth: args.client.depth,
            duration_secs: args.duration.as_secs_f64(),
            notes: notes.clone(),
            servers,
            ratios: Vec::new(),
        };
        result.compute_ratios();
        results.push(result);
    }
    Ok(results)
}

/// `zygos bench memcached`: runs (`--rounds` times), prints each
/// workload's table and writes its JSON, then the ratios' spread over the
/// rounds; exit code 1 when it cannot run.
pub fn cli(args: &MemcachedBenchArgs) -> ExitCode {
    match rounds(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("zygos bench memcached: {error}");
            ExitCode::FAILURE
        }
    }
}

fn rounds(args: &MemcachedBenchArgs) -> Result<(), String> {
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let suffix = bench::report::begin_round(round, args.rounds);
        let results = run(args).map_err(|error| error.to_string())?;
        for result in &results {
            print!("{}", table(result));
            let path = write_json(result, &args.out, &suffix)
                .map_err(|error| format!("write results: {error}"))?;
            println!("wrote {}\n", path.display());
        }
        rounds.push(results);
    }
    if rounds.len() > 1 {
        let summaries = summarize(&rounds);
        print!("{}", summary_table(&summaries));
        let path = bench::report::write_json(&args.out, "memcached-rounds.json", &summaries)
            .map_err(|error| format!("write results: {error}"))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench::cli::parse_flattened;

    fn parse(line: &str) -> Result<MemcachedBenchArgs, clap::Error> {
        parse_flattened(line)
    }

    #[test]
    fn defaults_run_both_workloads_on_one_core_against_three_servers() {
        let args = parse("bench").unwrap();
        assert_eq!(args.workloads, [Workload::Usr, Workload::Etc]);
        assert_eq!(args.cores, 1);
        assert_eq!(
            args.check().unwrap(),
            [
                ServerKind::Ours(SchedMode::Zygos),
                ServerKind::Ours(SchedMode::Partitioned),
                ServerKind::Real
            ]
        );
        assert_eq!(args.slo.slo_us, 500.0);
        let spec = args.spec();
        assert_eq!(spec.service.mean(), 50.0);
        assert_eq!((spec.connections, spec.depth, spec.seed), (64, 4, 1));
        assert_eq!(args.search_config().retries, 1);
        assert_eq!(args.rounds, 1);
        assert_eq!(parse("bench --rounds 3").unwrap().rounds, 3);
        assert!(parse("bench --rounds 0").is_err());
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse("bench --workloads tpcc").is_err());
        let unknown = parse("bench --servers zygos,redis").unwrap().check();
        assert!(matches!(unknown, Err(BenchError::Args(message)) if message.contains("redis")));
        assert!(parse("bench --cores 0").unwrap().check().is_err());
        assert!(parse("bench --growth 1").unwrap().check().is_err());
    }

    #[test]
    fn the_client_gets_the_cpus_after_the_server_cores() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            ClientCpus::after(cpus),
            ClientCpus {
                count: 0,
                list: None
            }
        );
        assert_eq!(
            ClientCpus::after(cpus - 1),
            ClientCpus {
                count: 1,
                list: Some((cpus - 1).to_string())
            }
        );
    }
}
