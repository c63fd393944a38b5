//! `zygos bench` without the `zygos` binary, with the dataplane targets:
//! `cargo run --release -p bench --example bench -- sweep --targets zygos,partitioned`.

use std::process::ExitCode;

use bench::cli::BenchArgs;
use clap::Parser;

#[derive(Parser)]
#[command(name = "bench", about = "zygos bench with the dataplane schedulers")]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn main() -> ExitCode {
    bench::cli::run_all(Cli::parse().bench)
}
