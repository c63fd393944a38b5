//! The `zygos bench` command line: argument types (clap) and their
//! dispatch. `src/main.rs` embeds [`BenchArgs`] as the `bench` subcommand
//! and calls [`run`]; a caller with more schedulers (the dataplane's) calls
//! [`run_with_targets`] with a resolver for their names.
//!
//! - `zygos bench serve`: run a Linux baseline server until killed;
//! - `zygos bench load`: one open-loop measurement against an address,
//!   overall and per request class ([`crate::report::class_table`]);
//! - `zygos bench sweep`: load levels × schedulers, table, JSON/CSV/plots;
//! - `zygos bench bound`: simulated max load at the SLO for the ideal
//!   centralised and partitioned models;
//! - `zygos bench plot`: redraw a sweep's plots from its JSON file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use dataplane::idle::IdleMode;

use crate::linux::{LinuxScheduler, LinuxServer, LinuxServerConfig};
use crate::loadgen::{LoadSpec, run_load};
use crate::output::{load_report, table, write_results};
use crate::plot::{plot_png, plot_svg};
use crate::queueing::{Model, SimConfig, Slo, erlang, max_load_at_slo};
use crate::report::class_table;
use crate::server_idle::ServerIdleArgs;
use crate::sweep::{LinuxTarget, SweepConfig, SweepResult, Target, run_sweep};
use crate::workload::{ArrivalProcess, ServiceDistribution};

/// `zygos bench`: load generation, sweeps and queueing bounds.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to run.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The `zygos bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Run a Linux baseline server (synthetic protocol) until killed.
    Serve(ServeArgs),
    /// One open-loop measurement against a running server.
    Load(LoadArgs),
    /// Sweep load levels for several schedulers; write table, JSON, CSV, SVG, PNG.
    Sweep(SweepArgs),
    /// Print the simulated max load meeting the SLO for the ideal models.
    Bound(BoundArgs),
    /// Print the table and redraw the SVG and PNG of a sweep's JSON file.
    Plot(PlotArgs),
    /// Measure the runtime's costs here and write the sim's cost table.
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Run one sweep on the sim (calibrated costs) and on real cores and
    /// say, point by point, whether their p99 intervals agree.
    Agree(crate::simulated::agreement::AgreementArgs),
}

/// Arguments of `zygos bench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The JSON file a sweep wrote.
    pub json: PathBuf,
}

/// Arguments of `zygos bench serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// linux-partitioned or linux-floating.
    #[arg(long, default_value = "linux-floating", value_parser = parse_linux)]
    pub sched: LinuxScheduler,
    /// Server threads (one per core).
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
}

/// Inter-arrival process of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Arrivals {
    /// Exponential gaps.
    Poisson,
    /// Constant gaps.
    Fixed,
}

/// Generator options shared by `load` and `sweep`.
#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Service-time distribution, mean in µs: fixed:10, exp:10, bimodal-1:10,
    /// bimodal-2:10, or file:PATH (one service time in µs per line).
    #[arg(long, default_value = "exp:10")]
    pub dist: ServiceDistribution,
    /// Measured duration of each run (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Connections, pipeline depth and seed.
    #[command(flatten)]
    pub client: ConnectionArgs,
    /// Inter-arrival process.
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// The sender busy-waits this long before each send, sleeping before.
    #[arg(long, default_value = "100us", value_parser = parse_duration)]
    pub spin: Duration,
}

/// The generator's connections, pipeline and seed: flattened into the
/// arguments of `zygos bench load` and `sweep` and of the applications'
/// benchmarks. `CONNECTIONS` is the default of `--connections` (given as
/// a string: clap keeps the text of a `default_value_t` in one static per
/// generic function, shared by every `CONNECTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct ConnectionArgs<const CONNECTIONS: usize = 32> {
    /// TCP connections of the generator.
    #[arg(long, default_value = CONNECTIONS.to_string())]
    pub connections: usize,
    /// Outstanding requests allowed per connection.
    #[arg(long, default_value_t = 4)]
    pub depth: usize,
    /// Seed of every random choice of the run (arrivals, connections,
    /// requests and the data they carry).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl<const CONNECTIONS: usize> ConnectionArgs<CONNECTIONS> {
    /// Sets `spec`'s connections, depth and seed to these.
    pub fn apply(&self, spec: &mut LoadSpec) {
        spec.connections = self.connections;
        spec.depth = self.depth;
        spec.seed = self.seed;
    }
}

/// The latency objective of a search for the maximum throughput at the
/// SLO, and how often a missed rate is measured again: flattened into the
/// arguments of the applications' benchmarks. `SLO_US` is the default of
/// `--slo-us` (a string, as for [`ConnectionArgs`]).
#[derive(Debug, Clone, Copy, PartialEq, Args)]
pub struct SloSearchArgs<const SLO_US: u32> {
    /// The p99 latency objective, µs.
    #[arg(long, default_value = SLO_US.to_string())]
    pub slo_us: f64,
    /// Times a rate that misses the SLO is measured again before the
    /// search takes the miss as final (one co-tenant burst on a shared
    /// machine should not end a search).
    #[arg(long, default_value_t = 1)]
    pub retries: usize,
}

/// Parses the arguments `T` (a struct embedded elsewhere with
/// `#[command(flatten)]`) from a whitespace-separated command line whose
/// first word is the program name.
pub fn parse_flattened<T: clap::FromArgMatches + Args>(line: &str) -> Result<T, clap::Error> {
    let matches = T::augment_args(clap::Command::new("zygos"))
        .try_get_matches_from(line.split_whitespace())?;
    T::from_arg_matches(&matches)
}

/// Arguments of `zygos bench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
    /// Requests per second.
    #[arg(long)]
    pub rate: f64,
    /// Generator options.
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

/// Arguments of `zygos bench sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Schedulers, comma-separated (linux-partitioned, linux-floating, and
    /// any the caller registers).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "linux-partitioned,linux-floating"
    )]
    pub targets: Vec<String>,
    /// Server cores.
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// Load levels as fractions of capacity, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8"
    )]
    pub loads: Vec<f64>,
    /// Generator options.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Directory for the JSON, CSV, SVG and PNG files.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// File name stem of the outputs.
    #[arg(long, default_value = "sweep")]
    pub name: String,
    /// Requests per simulated bound point.
    #[arg(long, default_value_t = 1_000_000)]
    pub sim_requests: usize,
    /// real, or sim (the dataplane schedulers on the simulator).
    #[arg(long, value_enum, default_value_t = crate::simulated::SweepPlatform::Real)]
    pub platform: crate::simulated::SweepPlatform,
    /// Cost table of the sim platform (from `zygos bench calibrate`).
    #[arg(long)]
    pub costs: Option<PathBuf>,
    /// How the dataplane targets idle on the real platform (default: park
    /// after 20 µs; the Linux targets sleep in epoll_wait).
    #[command(flatten)]
    pub idle: ServerIdleArgs,
}

/// Arguments of `zygos bench bound`.
#[derive(Debug, Args)]
pub struct BoundArgs {
    /// Service-time distribution (its mean only sets the unit of the SLO).
    #[arg(long, default_value = "exp:10")]
    pub dist: ServiceDistribution,
    /// Cores (servers).
    #[arg(long, default_value_t = 16)]
    pub cores: usize,
    /// SLO as a multiple of the mean service time.
    #[arg(long, default_value_t = 10.0)]
    pub slo_multiple: f64,
    /// Percentile the SLO applies to.
    #[arg(long, default_value_t = 0.99)]
    pub percentile: f64,
    /// Simulated requests per evaluated load.
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: usize,
}

fn parse_linux(text: &str) -> Result<LinuxScheduler, String> {
    text.parse()
        .map_err(|e: crate::linux::ServerError| e.to_string())
}

/// Parses `1.5s`, `500ms`, `250us` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v * scale).ok())
        .ok_or_else(|| format!("{text:?} is not a duration like 2s, 500ms or 250us"))
}

/// Builds the schedulers a caller adds to the sweep, by name, cores and
/// how their idle cores behave.
pub type TargetResolver<'a> = &'a dyn Fn(&str, usize, IdleMode) -> Option<Box<dyn Target>>;

/// Runs `zygos bench` with the Linux baselines only.
pub fn run(args: BenchArgs) -> ExitCode {
    run_with_targets(args, &|_, _, _| None)
}

/// Runs `zygos bench` with the Linux baselines and the dataplane's
/// schedulers (`zygos`, `zygos-noipi`, `partitioned`).
pub fn run_all(args: BenchArgs) -> ExitCode {
    run_with_targets(args, &crate::dataplane_target::resolve)
}

/// Runs `zygos bench`, asking `resolve` first for each sweep target name.
pub fn run_with_targets(args: BenchArgs, resolve: TargetResolver<'_>) -> ExitCode {
    let outcome = match args.command {
        BenchCommand::Serve(args) => serve(&args),
        BenchCommand::Load(args) => load(&args),
        BenchCommand::Sweep(args) => sweep(&args, resolve),
        BenchCommand::Bound(args) => {
            bound(&args);
            Ok(())
        }
        BenchCommand::Plot(args) => replot(&args),
        BenchCommand::Calibrate(args) => crate::calibrate::run(&args).map_err(|e| e.to_string()),
        BenchCommand::Agree(args) => crate::simulated::agreement::run(&args)
            .map(drop)
            .map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zygos bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let server = LinuxServer::start(LinuxServerConfig {
        addr: args.addr,
        threads: args.cores,
        scheduler: args.sched,
    })
    .map_err(|e| e.to_string())?;
    println!(
        "{} serving the synthetic protocol on {} with {} threads (Ctrl-C to stop)",
        args.sched,
        server.local_addr(),
        args.cores
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn spec(generator: &GeneratorArgs, rate: f64) -> LoadSpec {
    let mut spec = LoadSpec::new(rate, generator.dist.clone(), generator.duration);
    generator.client.apply(&mut spec);
    spec.spin = generator.spin;
    if generator.arrivals == Arrivals::Fixed {
        spec.arrivals = ArrivalProcess::Fixed { rate };
    }
    spec
}

fn load(args: &LoadArgs) -> Result<(), String> {
    let spec = spec(&args.generator, args.rate);
    let report = run_load(args.addr, &spec).map_err(|e| e.to_string())?;
    print!("{}", load_report(&report));
    print!("{}", class_table(&report.per_class, spec.confidence));
    Ok(())
}

fn sweep(args: &SweepArgs, resolve: TargetResolver<'_>) -> Result<(), String> {
    if args.platform == crate::simulated::SweepPlatform::Sim {
        let costs = match &args.costs {
            Some(path) => crate::calibrate::load_costs(path)
                .map_err(|e| e.to_string())?
                .costs(),
            None => dataplane::sim::SimCosts::default(),
        };
        let dist = &args.generator.dist;
        return crate::simulated::sweep(
            &args.targets,
            args.cores,
            &args.loads,
            dist,
            costs,
            &args.out,
        );
    }
    let mut targets = Vec::new();
    for name in &args.targets {
        let target: Box<dyn Target> = match resolve(name, args.cores, args.idle.server_idle) {
            Some(target) => target,
            None => Box::new(LinuxTarget::new(parse_linux(name)?, args.cores)),
        };
        targets.push(target);
    }
    let config = SweepConfig {
        cores: args.cores,
        loads: args.loads.clone(),
        slo: Slo::default(),
        simulated_requests: args.sim_requests,
        generator: spec(&args.generator, 1.0),
    };
    let result = run_sweep(&config, &mut targets);
    print!("{}", table(&result));
    let written = write_results(&result, &args.out, &args.name).map_err(|e| e.to_string())?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn replot(args: &PlotArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.json)
        .map_err(|e| format!("cannot read {}: {e}", args.json.display()))?;
    let result: SweepResult = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a sweep result: {e}", args.json.display()))?;
    print!("{}", table(&result));
    for (ext, draw) in [("svg", plot_svg as PlotFn), ("png", plot_png)] {
        let path = args.json.with_extension(ext);
        draw(&result, &path).map_err(|e| e.to_string())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

type PlotFn = fn(&SweepResult, &std::path::Path) -> Result<(), crate::plot::PlotError>;

fn bound(args: &BoundArgs) {
    let slo = Slo {
        percentile: args.percentile,
        multiple: args.slo_multiple,
    };
    let config = SimConfig {
        requests: args.requests,
        warmup: args.requests / 20,
        ..SimConfig::new(args.cores)
    };
    println!(
        "max load with p{} <= {} x mean service time ({} us), {}, simulated {} requests per load:",
        args.percentile * 100.0,
        args.slo_multiple,
        args.slo_multiple * args.dist.mean(),
        args.dist,
        args.requests
    );
    for model in [Model::Centralized, Model::Partitioned] {
        let load = max_load_at_slo(model, &args.dist, &slo, &config);
        let rps = load * args.cores as f64 * 1e6 / args.dist.mean();
        println!(
            "  {:<18} {:.3}  ({rps:.0} RPS)",
            model.label(args.cores),
            load
        );
    }
    if matches!(args.dist, ServiceDistribution::Exponential { .. }) {
        let exact = |servers| erlang::max_load_at_slo(servers, args.percentile, args.slo_multiple);
        println!(
            "  closed form (Erlang C): M/M/{} {:.3}, M/M/1 per core {:.3}",
            args.cores,
            exact(args.cores),
            exact(1)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<BenchCommand, clap::Error> {
        parse_flattened::<BenchArgs>(line).map(|args| args.command)
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sweep_arguments_parse() {
        let command = parse(
            "bench sweep --targets linux-floating,zygos --loads 0.1,0.5 --dist bimodal-1:25 \
             --duration 300ms --arrivals fixed --connections 7 --seed 9",
        )
        .unwrap();
        let BenchCommand::Sweep(args) = command else {
            panic!("not a sweep");
        };
        assert_eq!(args.targets, ["linux-floating", "zygos"]);
        assert_eq!(args.loads, [0.1, 0.5]);
        assert_eq!(
            args.generator.dist,
            ServiceDistribution::Bimodal1 { mean: 25.0 }
        );
        assert_eq!(args.generator.duration, Duration::from_millis(300));
        let spec = spec(&args.generator, 5.0);
        assert_eq!(spec.arrivals, ArrivalProcess::Fixed { rate: 5.0 });
        assert_eq!((spec.connections, spec.depth, spec.seed), (7, 4, 9));
    }

    #[test]
    fn shared_flags_take_their_embedder_s_defaults() {
        let client: ConnectionArgs<64> = parse_flattened("app").unwrap();
        assert_eq!(
            client,
            ConnectionArgs {
                connections: 64,
                depth: 4,
                seed: 1
            }
        );
        let client: ConnectionArgs = parse_flattened("app --depth 2").unwrap();
        assert_eq!((client.connections, client.depth), (32, 2));
        let slo: SloSearchArgs<500> = parse_flattened("app").unwrap();
        assert_eq!((slo.slo_us, slo.retries), (500.0, 1));
        let slo: SloSearchArgs<1000> = parse_flattened("app --retries 0").unwrap();
        assert_eq!((slo.slo_us, slo.retries), (1000.0, 0));
        assert!(parse_flattened::<ConnectionArgs>("app --depth many").is_err());
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert!(parse("bench load --rate 1 --dist gamma:1").is_err());
        assert!(parse("bench serve --sched zygos").is_err());
    }

    #[test]
    fn an_unknown_sweep_target_is_an_error_not_a_panic() {
        let args = SweepArgs {
            targets: vec!["nonsense".to_owned()],
            cores: 1,
            loads: vec![0.1],
            generator: GeneratorArgs {
                dist: ServiceDistribution::Fixed { mean: 1.0 },
                duration: Duration::ZERO,
                client: ConnectionArgs {
                    connections: 1,
                    depth: 1,
                    seed: 1,
                },
                spin: Duration::ZERO,
                arrivals: Arrivals::Poisson,
            },
            out: PathBuf::from("unused"),
            name: "unused".to_owned(),
            sim_requests: 1,
            platform: crate::simulated::SweepPlatform::Real,
            costs: None,
            idle: ServerIdleArgs {
                server_idle: IdleMode::Poll,
            },
        };
        let error = sweep(&args, &|_, _, _| None).unwrap_err();
        assert!(error.contains("unknown Linux scheduler"), "{error}");
    }
}
