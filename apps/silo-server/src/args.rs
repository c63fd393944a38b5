//! `zygos run silo ...`: loads a TPC-C database of W warehouses and serves
//! it over the wire protocol ([`crate::wire`]) as a dataplane.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use dataplane::run::{
    Dataplane, DataplaneArgs, RunError, RunReport, command_line, run_until_signal,
};

use crate::app::SiloApp;
use crate::engine::LoadError;
use crate::tpcc::{Scale, Tpcc};

/// Arguments of `zygos run silo`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "zygos run silo",
    about = "Serve a Silo TPC-C database (one transaction per request) as a dataplane",
    mut_arg("port", |port| port.default_value("7070").required(false))
)]
pub struct SiloArgs {
    /// Number of warehouses W.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub warehouses: u32,
    /// Items loaded (spec: 100000); a smaller value scales the population down.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub items: u32,
    /// Customers per district (spec: 3000).
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u32).range(1..=3_000))]
    pub customers: u32,
    /// Seed of the loader.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The dataplane serving it (`--port` included).
    #[command(flatten)]
    pub dataplane: DataplaneArgs,
}

/// Why `zygos run silo` failed.
#[derive(Debug, thiserror::Error)]
pub enum SiloRunError {
    /// Loading the database failed.
    #[error("loading the database: {0}")]
    Load(#[from] LoadError),
    /// The dataplane failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl SiloArgs {
    /// The population.
    pub fn scale(&self) -> Scale {
        Scale {
            warehouses: self.warehouses,
            items: self.items,
            customers_per_district: self.customers,
        }
    }

    fn app(&self) -> Result<SiloApp, LoadError> {
        Ok(SiloApp::new(Arc::new(Tpcc::load(self.scale(), self.seed)?)))
    }

    /// Loads the database and starts serving it; stop with
    /// [`Dataplane::stop`].
    pub fn start(&self) -> Result<Dataplane, SiloRunError> {
        Ok(Dataplane::start(&self.dataplane, self.app()?)?)
    }

    /// Loads the database and serves it until SIGINT or SIGTERM.
    pub fn run(&self) -> Result<RunReport, SiloRunError> {
        Ok(run_until_signal(&self.dataplane, self.app()?)?)
    }
}

/// `zygos run silo ARGS...` for the CLI (ARGS without the word `silo`):
/// exit code 2 for bad arguments, 1 for a failed run.
pub fn cli(args: &[String]) -> ExitCode {
    command_line(
        "zygos run silo",
        args,
        |args: SiloArgs| args.run(),
        |_| ExitCode::FAILURE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<SiloArgs, clap::Error> {
        SiloArgs::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn defaults_are_the_spec_population() {
        let args = parse("run --warehouses 4 --nic shm:x --ip 10.0.0.1 --cores 2").unwrap();
        assert_eq!(args.scale(), Scale::spec(4));
        assert_eq!((args.dataplane.cores, args.dataplane.port), (2, 7070));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        <SiloArgs as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn out_of_range_populations_are_refused() {
        assert!(parse("run --warehouses 0 --nic shm:x --ip 10.0.0.1").is_err());
        assert!(parse("run --items 100001 --nic shm:x --ip 10.0.0.1").is_err());
        assert!(parse("run --customers 0 --nic shm:x --ip 10.0.0.1").is_err());
    }
}
