//! `zygos demo` without the `zygos` binary:
//! `cargo run --release -p bench --example demo -- [--cores N] [--dist D] [--duration T]`.

use std::process::ExitCode;

use bench::demo::DemoArgs;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "demo",
    about = "zygos vs partitioned on the shm NIC, beside the bounds"
)]
struct Cli {
    #[command(flatten)]
    demo: DemoArgs,
}

fn main() -> ExitCode {
    bench::demo::run(Cli::parse().demo)
}
