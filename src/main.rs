//! The `zygos` command line: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// zygos-rs: a work-conserving kernel-bypass dataplane for µs-scale services.
#[derive(Parser)]
#[command(name = "zygos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an application as a dataplane: `zygos run echo|synthetic ...`,
    /// `zygos run memcached ...`, `zygos run silo ...` (`--help` after the
    /// application name lists its options).
    Run {
        /// The application, then its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Control a running dataplane instance (connections, stats, migration).
    Ctl {
        /// Arguments of the ctl command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Load generation, sweeps, queueing bounds, plots and standalone runs.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The embedded default: a short zygos vs partitioned sweep on the shm NIC.
    Demo(bench::demo::DemoArgs),
}

/// `zygos bench`: the harness's own subcommands plus the applications'
/// standalone benchmarks.
#[derive(Subcommand)]
enum BenchCommand {
    #[command(flatten)]
    Harness(bench::cli::BenchCommand),
    /// Silo TPC-C without networking: TPS per core and service times.
    SiloStandalone(silo_server::standalone::StandaloneArgs),
    /// Silo TPC-C over the network: max TPS at the p99 SLO for zygos,
    /// partitioned and the Linux-socket server, then the SIMULATED 16-core
    /// prediction.
    Silo(silo_server::networked::SiloBenchArgs),
    /// memcached USR/ETC: max throughput at p99 <= 500 us of ours (zygos,
    /// partitioned) vs the real memcached on the same cores (root).
    Memcached(memcached::benchmark::MemcachedBenchArgs),
}

fn not_yet_available(what: &str) -> ExitCode {
    eprintln!("zygos {what}: not yet available in this build");
    ExitCode::from(2)
}

/// `zygos run APP ARGS...`: the applications of other crates by name, the
/// dataplane's built-in ones otherwise.
fn run(args: &[String]) -> ExitCode {
    match args.split_first() {
        Some((app, rest)) if app == "memcached" => memcached::args::cli(rest),
        Some((app, rest)) if app == "silo" => silo_server::args::cli(rest),
        _ => dataplane::run::cli(args),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { args } => run(&args),
        Command::Ctl { .. } => not_yet_available("ctl"),
        Command::Bench(BenchCommand::Harness(command)) => {
            bench::cli::run_all(bench::cli::BenchArgs { command })
        }
        Command::Bench(BenchCommand::SiloStandalone(args)) => silo_server::standalone::cli(&args),
        Command::Bench(BenchCommand::Silo(args)) => silo_server::networked::cli(&args),
        Command::Bench(BenchCommand::Memcached(args)) => memcached::benchmark::cli(&args),
        Command::Demo(args) => bench::demo::run(args),
    }
}
