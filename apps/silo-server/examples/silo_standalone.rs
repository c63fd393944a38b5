//! Runs the standalone TPC-C benchmark until `zygos bench silo-standalone`
//! is wired into the CLI: `cargo run --release -p silo-server --example
//! silo_standalone -- --warehouses 1 --threads 2 --duration 20`.

use std::process::ExitCode;

use clap::Parser;
use silo_server::standalone::{StandaloneArgs, cli};

/// Standalone Silo TPC-C benchmark.
#[derive(Parser)]
struct Command {
    #[command(flatten)]
    args: StandaloneArgs,
}

fn main() -> ExitCode {
    cli(&Command::parse().args)
}
