//! The arguments of `zygos bench silo` and its entry point.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::cli::{ConnectionArgs, SloSearchArgs};
use bench::linux::LinuxScheduler;
use bench::report::{WriteError, write_json};
use dataplane::sched::SchedMode;
use dataplane::sim::SimCosts;

use super::priority::{PriorityError, renice_current_thread};
use super::report::{self, NetworkedResult};
use super::servers::ServerKind;
use super::sweep::{SweepPlan, sweep_server};
use super::topology::{Topology, TopologyError};
use crate::prediction::{self, PredictionError, PredictionPlan};
use crate::standalone::{StandaloneArgs, StandaloneError, run_standalone};
use crate::tpcc::Scale;
use bench::priority::AutogroupBoost;
use bench::server_idle::ServerIdleArgs;

/// Arguments of `zygos bench silo`.
#[derive(Debug, Clone, clap::Args)]
pub struct SiloBenchArgs {
    /// Server cores: dataplane cores (core i pinned to CPU i) or Linux
    /// server threads (pinned alike). 2 by default: stealing needs two
    /// cores, and this machine has two CPUs, so the load generator shares
    /// them (the output says so).
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// Warehouses loaded for each server.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub warehouses: u32,
    /// Items loaded (spec: 100000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub items: u32,
    /// Customers per district (spec: 3000).
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u32).range(1..=3_000))]
    pub customers: u32,
    /// SLO on the p99 latency (the thesis' 1000 µs) and the retries of a
    /// rate that misses it (co-tenants' bursts on a shared machine).
    #[command(flatten)]
    pub slo: SloSearchArgs<1000>,
    /// First offered rate, TPS.
    #[arg(long, default_value_t = 2000.0)]
    pub start_tps: f64,
    /// Factor between offered rates.
    #[arg(long, default_value_t = 1.3)]
    pub step: f64,
    /// Most rate steps per server.
    #[arg(long, default_value_t = 12)]
    pub max_steps: usize,
    /// Bisection steps after a server's first SLO miss.
    #[arg(long, default_value_t = 2)]
    pub refine_steps: usize,
    /// The generator's connections and pipeline depth, and the seed of
    /// the loader and the request stream.
    #[command(flatten)]
    pub client: ConnectionArgs,
    /// Measured time per point, ms (plus a 10% warm-up).
    #[arg(long, default_value_t = 1000)]
    pub duration_ms: u64,
    /// Servers to sweep: zygos, zygos-noipi, partitioned, linux-floating,
    /// linux-partitioned.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "zygos,partitioned,linux-floating"
    )]
    pub servers: Vec<String>,
    /// Nice value of this process's autogroup during the networked run
    /// (restored after; see `networked::priority`).
    #[arg(long, default_value_t = -20, allow_hyphen_values = true)]
    pub autogroup_nice: i32,
    /// Nice value of the server threads (the machine is shared; see
    /// `networked::priority`).
    #[arg(long, default_value_t = -10, allow_hyphen_values = true)]
    pub server_nice: i32,
    /// SCHED_FIFO priority of the load generator's threads, so that a
    /// polling core sharing its CPU yields to it at once (0: leave them
    /// at the servers' nice value).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=99))]
    pub client_fifo: u8,
    /// How long the generator spins before each send, µs (it sleeps until
    /// then; short, since it shares the CPUs with the servers).
    #[arg(long, default_value_t = 20)]
    pub client_spin_us: u64,
    /// How the dataplane servers idle (default: park after 20 µs).
    #[command(flatten)]
    pub idle: ServerIdleArgs,
    /// Whole networked runs, one after another (so the servers take turns
    /// and a slow minute of a shared machine hits one round of each): each
    /// round's table, then each ratio's median and range.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Directory of the JSON results.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Only the SIMULATED prediction (no root needed).
    #[arg(long, conflicts_with = "no_predict")]
    pub predict_only: bool,
    /// Skip the SIMULATED prediction.
    #[arg(long)]
    pub no_predict: bool,
    /// Simulated cores of the prediction.
    #[arg(long, default_value_t = 16)]
    pub sim_cores: usize,
    /// Service times for the prediction: a CSV written by
    /// `zygos bench silo-standalone --service-times-out` (default: measure
    /// them now with a one-thread standalone run).
    #[arg(long)]
    pub service_times: Option<PathBuf>,
    /// Length of that standalone run, s.
    #[arg(long, default_value_t = 3)]
    pub standalone_secs: u64,
    /// The sim's cost table (`zygos bench calibrate`); default: built-in.
    #[arg(long)]
    pub costs: Option<PathBuf>,
    /// Requests per simulated connection (4 connections per core).
    #[arg(long, default_value_t = 150)]
    pub sim_requests: usize,
}

/// Why `zygos bench silo` failed.
#[derive(Debug, thiserror::Error)]
enum SiloBenchError {
    #[error(
        "the networked comparison needs root (network namespaces, veth, TAP); run as root, or pass --predict-only"
    )]
    NotRoot,
    #[error("{0}")]
    Arguments(String),
    #[error("thread priority: {0}")]
    Priority(#[from] PriorityError),
    #[error("network set-up: {0}")]
    Topology(#[from] TopologyError),
    #[error("measuring the service times: {0}")]
    Standalone(#[from] StandaloneError),
    #[error("prediction: {0}")]
    Prediction(#[from] PredictionError),
    #[error("cost table: {0}")]
    Costs(String),
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn parse_server(name: &str) -> Result<ServerKind, SiloBenchError> {
    if let Ok(mode) = name.parse::<SchedMode>() {
        return Ok(ServerKind::Dataplane(mode));
    }
    name.parse::<LinuxScheduler>()
        .map(ServerKind::Linux)
        .map_err(|_| {
            SiloBenchError::Arguments(format!(
                "unknown server {name:?}: zygos, zygos-noipi, partitioned, linux-floating, linux-partitioned"
            ))
        })
}

impl SiloBenchArgs {
    fn scale(&self) -> Scale {
        Scale {
            warehouses: self.warehouses,
            items: self.items,
            customers_per_district: self.customers,
        }
    }

    fn plan(&self) -> Result<SweepPlan, SiloBenchError> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        let client = &self.client;
        if self.cores == 0 || client.connections == 0 || client.depth == 0 || self.duration_ms == 0
        {
            return Err(SiloBenchError::Arguments(
                "--cores, --connections, --depth and --duration-ms must be at least 1".into(),
            ));
        }
        if !(positive(self.slo.slo_us) && positive(self.start_tps) && self.step > 1.0) {
            return Err(SiloBenchError::Arguments(
                "--slo-us and --start-tps must be positive and --step above 1".into(),
            ));
        }
        Ok(SweepPlan {
            cores: self.cores,
            scale: self.scale(),
            slo_us: self.slo.slo_us,
            start_tps: self.start_tps,
            step: self.step,
            max_steps: self.max_steps,
            refine_steps: self.refine_steps,
            retries: self.slo.retries,
            client: self.client,
            duration: Duration::from_millis(self.duration_ms),
            client_spin: Duration::from_micros(self.client_spin_us),
            client_fifo: (self.client_fifo > 0).then_some(self.client_fifo),
            park_after_us: self.idle.server_idle.park_after_us(),
        })
    }

    /// Where the client and the server run, and why.
    fn cpu_layout(&self) -> String {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let servers = format!(
            "autogroup at nice {}; server core/thread i pinned to CPU i (of {cpus}) at nice {}; \
             the load generator \
             (sender + receiver threads, root namespace, SCHED_FIFO priority {} (0: none), \
             spinning {} us before each send) and the kernel's TCP, veth and TAP processing",
            self.autogroup_nice, self.server_nice, self.client_fifo, self.client_spin_us
        );
        let idle = self.idle.note();
        if self.cores >= cpus {
            format!(
                "{servers} share those CPUs: this machine has {cpus} CPUs and stealing needs at \
                 least 2 server cores, so every figure includes the client's CPU use; {idle}"
            )
        } else {
            format!("{servers} also run on the remaining CPUs, unpinned; {idle}")
        }
    }
}

fn networked(args: &SiloBenchArgs, command: &str) -> Result<(), SiloBenchError> {
    let plan = args.plan()?;
    let kinds = args
        .servers
        .iter()
        .map(|name| parse_server(name))
        .collect::<Result<Vec<_>, _>>()?;
    if !nix::unistd::geteuid().is_root() {
        return Err(SiloBenchError::NotRoot);
    }
    let _boost = AutogroupBoost::raise(args.autogroup_nice).map_err(PriorityError::from)?;
    renice_current_thread(args.server_nice)?;
    let topology = Topology::create()?;
    let cpu_layout = args.cpu_layout();
    println!("CPU layout: {cpu_layout}");
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let suffix = bench::report::begin_round(round, args.rounds);
        let servers: Vec<_> = kinds
            .iter()
            .map(|&kind| {
                sweep_server(kind, &plan, &topology, |server, point| {
                    println!("{}", report::point_line(server, point));
                })
            })
            .collect();
        let result = NetworkedResult {
            cores: args.cores,
            warehouses: args.warehouses,
            slo_us: args.slo.slo_us,
            cpu_layout: cpu_layout.clone(),
            command: command.to_owned(),
            ratios: report::ratios(&servers),
            servers,
        };
        print!("{}", report::table(&result));
        let name = format!("silo-networked-{}cores{suffix}.json", args.cores);
        println!("wrote {}", write_json(&args.out, &name, &result)?.display());
        rounds.push(result.ratios);
    }
    if rounds.len() > 1 {
        let summaries = report::ratios_over_rounds(&rounds);
        print!("{}", report::rounds_table(&summaries));
        let name = format!("silo-networked-{}cores-rounds.json", args.cores);
        println!(
            "wrote {}",
            write_json(&args.out, &name, &summaries)?.display()
        );
    }
    Ok(())
}

fn predicted(args: &SiloBenchArgs) -> Result<(), SiloBenchError> {
    let costs = match &args.costs {
        Some(path) => bench::calibrate::load_costs(path)
            .map_err(|e| SiloBenchError::Costs(e.to_string()))?
            .costs(),
        None => SimCosts::default(),
    };
    let samples = match &args.service_times {
        Some(path) => prediction::read_service_times(path)?,
        None => {
            let report = run_standalone(&StandaloneArgs {
                warehouses: args.warehouses,
                threads: 1,
                duration: args.standalone_secs,
                items: args.items,
                customers: args.customers,
                seed: args.client.seed,
                service_times_out: None,
            })?;
            prediction::samples_from_histogram(&report.overall().cpu_ns)
        }
    };
    let prediction = prediction::predict(
        samples,
        &PredictionPlan {
            cores: args.sim_cores,
            modes: vec![
                SchedMode::Zygos,
                SchedMode::ZygosNoipi,
                SchedMode::Partitioned,
            ],
            requests_per_connection: args.sim_requests,
            costs,
        },
    )?;
    print!("{}", prediction::table(&prediction));
    let name = format!("silo-sim-{}cores.json", args.sim_cores);
    println!(
        "wrote {} (SIMULATED)",
        write_json(&args.out, &name, &prediction)?.display()
    );
    Ok(())
}

/// `zygos bench silo`: runs and prints; exit code 1 on failure.
pub fn cli(args: &SiloBenchArgs) -> ExitCode {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let networked = match args.predict_only {
        true => Ok(()),
        false => networked(args, &command),
    };
    let predicted = match args.no_predict {
        true => Ok(()),
        false => predicted(args),
    };
    let mut code = ExitCode::SUCCESS;
    for error in [networked.err(), predicted.err()].into_iter().flatten() {
        eprintln!("zygos bench silo: {error}");
        code = ExitCode::FAILURE;
    }
    code
}

#[cfg(test)]
mod tests {
    use bench::cli::parse_flattened;

    use super::*;

    fn parse(line: &str) -> Result<SiloBenchArgs, clap::Error> {
        parse_flattened(line)
    }

    #[test]
    fn defaults_sweep_ours_and_linux_on_two_cores() {
        let args = parse("silo").unwrap();
        assert_eq!(
            (args.cores, args.slo.slo_us, args.sim_cores, args.rounds),
            (2, 1000.0, 16, 1)
        );
        assert_eq!(parse("silo --rounds 3").unwrap().rounds, 3);
        assert!(parse("silo --rounds 0").is_err());
        let kinds: Vec<ServerKind> = args
            .servers
            .iter()
            .map(|n| parse_server(n).unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                ServerKind::Dataplane(SchedMode::Zygos),
                ServerKind::Dataplane(SchedMode::Partitioned),
                ServerKind::Linux(LinuxScheduler::Floating),
            ]
        );
        let plan = args.plan().unwrap();
        assert_eq!((plan.client.connections, plan.client.depth), (32, 4));
        assert_eq!((plan.client.seed, plan.retries), (1, 1));
        assert!(args.cpu_layout().contains("CPU"));
    }

    #[test]
    fn bad_arguments_are_clear_errors() {
        assert!(parse("silo --predict-only --no-predict").is_err());
        assert!(parse("silo --warehouses 0").is_err());
        let error = parse_server("nginx").unwrap_err().to_string();
        assert!(error.contains("linux-floating"), "{error}");
        let args = parse("silo --step 1").unwrap();
        assert!(matches!(args.plan(), Err(SiloBenchError::Arguments(_))));
        let args = parse("silo --servers zygos,nginx").unwrap();
        let error = networked(&args, "test").unwrap_err();
        assert!(matches!(error, SiloBenchError::Arguments(_)), "{error}");
    }
}
