//! `zygos demo`: the embedded default benchmark. With no arguments and no
//! root it starts the synthetic dataplane on the shm NIC, sweeps zygos
//! against partitioned beside the simulated M/G/n and n×M/G/1 bounds,
//! prints the table, writes JSON, CSV, SVG and PNG under `results/`, and
//! prints the 16-core comparison of the `sim` platform beside it, labelled
//! SIMULATED. `src/main.rs` embeds [`DemoArgs`] and calls [`run`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use dataplane::sched::SchedMode;
use dataplane::sim::SimCosts;

use crate::calibrate::{ENTRIES, load_costs};
use crate::cli::parse_duration;
use crate::dataplane_target::DataplaneTarget;
use crate::loadgen::LoadSpec;
use crate::output::{table, write_results};
use crate::queueing::Slo;
use crate::simulated::{self, Comparison};
use crate::sweep::{SweepConfig, Target, run_sweep};
use crate::workload::ServiceDistribution;

/// Arguments of `zygos demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Dataplane cores of the real run (the load generator needs one more
    /// CPU: 1 fits a 2-CPU machine).
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// Service-time distribution, mean in µs (fixed, exp, bimodal-1,
    /// bimodal-2).
    #[arg(long, default_value = "exp:25")]
    pub dist: ServiceDistribution,
    /// Measured duration of each load point.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Directory of the outputs.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Cost table of the simulated comparison, from `zygos bench
    /// calibrate`; the sim's defaults (said so) when the file is missing.
    #[arg(long, default_value = "results/costs.json")]
    pub costs: PathBuf,
}

/// Load levels of the real sweep.
const LOADS: [f64; 5] = [0.2, 0.4, 0.6, 0.7, 0.8];
/// Requests per simulated bound point of the real sweep.
const BOUND_REQUESTS: usize = 200_000;
/// The simulated comparison: the thesis' 16 cores, exp 10 µs.
const SIM_CORES: usize = 16;
const SIM_MEAN_US: f64 = 10.0;
const SIM_LOADS: [f64; 6] = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Runs the demo.
pub fn run(args: DemoArgs) -> ExitCode {
    match demo(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zygos demo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn demo(args: &DemoArgs) -> Result<(), String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "REAL RUN: {} dataplane core(s) (process platform, busy polling) + 1 load-generator \
         thread on our netstack, over the shm NIC, on this {cpus}-CPU machine. The generator \
         and the dataplane must not share a CPU, so the real run is sized to {} dataplane \
         core(s); the 16-core comparison below is SIMULATED.",
        args.cores, args.cores
    );
    let config = SweepConfig {
        cores: args.cores,
        loads: LOADS.to_vec(),
        slo: Slo::default(),
        simulated_requests: BOUND_REQUESTS,
        generator: LoadSpec::new(1.0, args.dist.clone(), args.duration),
    };
    let mut targets: Vec<Box<dyn Target>> = [SchedMode::Zygos, SchedMode::Partitioned]
        .into_iter()
        .map(|mode| Box::new(DataplaneTarget::new(mode, args.cores)) as Box<dyn Target>)
        .collect();
    let result = run_sweep(&config, &mut targets);
    print!("{}", table(&result));
    let written = write_results(&result, &args.out, "demo").map_err(|e| e.to_string())?;
    for path in written {
        println!("wrote {}", path.display());
    }
    println!();
    let costs = if args.costs.exists() {
        let table = load_costs(&args.costs).map_err(|e| e.to_string())?;
        println!(
            "SIMULATED with the costs measured on this machine in {} ({} of {} entries measured)",
            args.costs.display(),
            table.measured.len(),
            ENTRIES.len()
        );
        table.costs
    } else {
        println!(
            "SIMULATED with the sim's default costs ({} is missing: `zygos bench calibrate` \
             measures them here)",
            args.costs.display()
        );
        SimCosts::default()
    };
    let comparison = simulated::compare(&Comparison {
        cores: SIM_CORES,
        service: ServiceDistribution::Exponential { mean: SIM_MEAN_US },
        loads: SIM_LOADS.to_vec(),
        modes: vec![
            SchedMode::Zygos,
            SchedMode::ZygosNoipi,
            SchedMode::Partitioned,
        ],
        connections: 64,
        requests_per_connection: 100,
        replications: 1,
        costs,
    })
    .map_err(|e| format!("simulation: {e}"))?;
    print!("{}", simulated::table(&comparison));
    let path = args.out.join("demo-sim16.json");
    let json = serde_json::to_string_pretty(&comparison).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {} (SIMULATED)", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        demo: DemoArgs,
    }

    #[test]
    fn defaults_fit_a_two_cpu_machine() {
        let cli = Cli::try_parse_from(["demo"]).unwrap();
        assert_eq!(cli.demo.cores, 1);
        assert_eq!(cli.demo.duration, Duration::from_secs(1));
        let cli = Cli::try_parse_from(["demo", "--cores", "4", "--dist", "bimodal-1:10"]).unwrap();
        assert_eq!(cli.demo.cores, 4);
        assert_eq!(cli.demo.dist, ServiceDistribution::Bimodal1 { mean: 10.0 });
    }
}
