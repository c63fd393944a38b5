use super::*;

fn estimate(value: f64, low: f64, high: f64) -> PercentileEstimate {
    PercentileEstimate {
        percentile: 0.99,
        value,
        low,
        high,
    }
}

#[test]
fn overlapping_intervals_agree_and_missing_ones_are_not_comparable() {
    let sim = estimate(100.0, 90.0, 110.0);
    let real = |v, l, h| ReportedEstimate::Valid(estimate(v, l, h));
    assert_eq!(
        verdict(Some(&sim), &real(115.0, 108.0, 130.0)),
        Verdict::Agree
    );
    assert_eq!(verdict(Some(&sim), &real(80.0, 70.0, 90.0)), Verdict::Agree);
    assert_eq!(
        verdict(Some(&sim), &real(140.0, 120.0, 160.0)),
        Verdict::Disagree
    );
    let missing = ReportedEstimate::NotAvailable {
        not_available: "samples correlated".to_owned(),
    };
    assert_eq!(verdict(Some(&sim), &missing), Verdict::NotComparable);
    assert_eq!(verdict(None, &real(1.0, 1.0, 1.0)), Verdict::NotComparable);
}

#[test]
fn arguments_parse_and_unknown_schedulers_are_errors() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        agree: AgreementArgs,
    }
    let cli =
        Cli::try_parse_from(["agree", "--dist", "bimodal-1:25", "--loads", "0.5,0.3"]).unwrap();
    assert_eq!(cli.agree.cores, 2);
    assert_eq!((cli.agree.connections, cli.agree.depth), (64, 16));
    assert_eq!(cli.agree.targets, ["zygos", "partitioned"]);
    assert_eq!(cli.agree.loads, [0.5, 0.3]);
    let mut args = cli.agree;
    args.targets = vec!["fifo".to_owned()];
    assert!(matches!(
        run(&args),
        Err(AgreementError::UnknownScheduler(_))
    ));
}

/// The whole check on one real dataplane core (which fits a 2-CPU
/// machine beside the generator), short: both curves are there, every
/// point is paired and judged, and the output says which is simulated.
#[test]
fn one_core_check_runs_both_sweeps_and_pairs_every_point() {
    let dir = std::env::temp_dir().join(format!("zygos-agree-{}", std::process::id()));
    let args = AgreementArgs {
        cores: 1,
        targets: vec!["zygos".to_owned()],
        dist: ServiceDistribution::Exponential { mean: 25.0 },
        loads: vec![0.2],
        duration: Duration::from_millis(300),
        costs: dir.join("no-costs.json"),
        connections: 16,
        depth: 16,
        replications: 3,
        out: dir.clone(),
    };
    let agreement = run(&args).unwrap();
    assert_eq!(agreement.points.len(), 1);
    assert!(agreement.simulated.simulated);
    assert!(agreement.points[0].simulated_p99.is_some());
    assert_eq!(agreement.real.points.len(), 1);
    assert!(
        agreement.measured_costs.is_empty(),
        "no cost file: defaults"
    );
    assert!(table(&agreement).contains("SIMULATED"));
    assert!(dir.join("agree-1cores-exp-25.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
