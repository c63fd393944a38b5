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
    /// Run an application (echo, synthetic, memcached, silo) as a dataplane.
    Run {
        /// Arguments of the run command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Control a running dataplane instance (connections, stats, migration).
    Ctl {
        /// Arguments of the ctl command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Load generation, sweeps, queueing bounds and plots.
    Bench(bench::cli::BenchArgs),
    /// The embedded default: a short zygos vs partitioned sweep on the shm NIC.
    Demo {
        /// Arguments of the demo command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn not_yet_available(what: &str) -> ExitCode {
    eprintln!("zygos {what}: not yet available in this build");
    ExitCode::from(2)
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
        Command::Run { args } => dataplane::run::cli(&args),
        Command::Ctl { .. } => not_yet_available("ctl"),
        Command::Bench(args) => bench::cli::run(args),
        Command::Demo { .. } => not_yet_available("demo"),
    }
}
