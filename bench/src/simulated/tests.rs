use super::*;

fn exp(mean: f64) -> ServiceDistribution {
    ServiceDistribution::Exponential { mean }
}

fn four_cores(service: ServiceDistribution) -> Comparison {
    Comparison {
        cores: 4,
        service,
        loads: vec![0.3, 0.5, 0.7],
        modes: vec![SchedMode::Zygos, SchedMode::Partitioned],
        connections: 16,
        requests_per_connection: 100,
        replications: 3,
        costs: SimCosts::default(),
    }
}

fn p99(result: &ComparisonResult, sched: &str, load: f64) -> PercentileEstimate {
    let point = result
        .points
        .iter()
        .find(|p| p.sched == sched && p.load == load);
    point.and_then(|p| p.p99).unwrap()
}

#[test]
fn stealing_beats_partitioning_on_four_simulated_cores() {
    let result = compare(&four_cores(exp(10.0))).unwrap();
    assert!(result.simulated);
    assert_eq!(result.points.len(), 6);
    assert!(result.points.iter().all(|p| p.p99.is_some()));
    let zygos = p99(&result, "zygos", 0.7);
    assert!(zygos.low <= zygos.value && zygos.value <= zygos.high);
    assert!(zygos.value < p99(&result, "partitioned", 0.7).value);
    assert!(table(&result).contains("SIMULATED"));
}

#[test]
fn bimodal_service_runs_and_its_long_requests_show_in_the_tail() {
    let bimodal = compare(&four_cores(ServiceDistribution::Bimodal1 { mean: 10.0 })).unwrap();
    assert_eq!(bimodal.service, "bimodal-1:10");
    assert!(bimodal.points.iter().all(|p| p.p99.is_some()));
    // 10% of the requests take 55 µs: the p99 is at least that.
    assert!(p99(&bimodal, "zygos", 0.3).value >= 55.0);
    let fixed = compare(&four_cores(ServiceDistribution::Fixed { mean: 10.0 })).unwrap();
    assert!(p99(&fixed, "zygos", 0.3).value < p99(&bimodal, "zygos", 0.3).value);
}

#[test]
fn measured_samples_drive_the_sim_like_their_shape() {
    // bimodal-1:10 as measured samples: 5 µs nine times in ten, else 55.
    let mut samples = vec![5.0; 90];
    samples.extend([55.0; 10]);
    let service = ServiceDistribution::empirical(samples).unwrap();
    let result = compare(&four_cores(service)).unwrap();
    assert_eq!(result.service, "file:10");
    assert!(result.points.iter().all(|p| p.p99.is_some()));
    assert!(p99(&result, "zygos", 0.3).value >= 55.0);
    assert!(p99(&result, "zygos", 0.7).value < p99(&result, "partitioned", 0.7).value);
}

#[test]
fn service_shapes_map_onto_the_sim() {
    assert_eq!(
        sim_service_time(&ServiceDistribution::Bimodal1 { mean: 10.0 }).unwrap(),
        ServiceTime::Bimodal {
            short_ns: 5_000,
            long_ns: 55_000,
            long_probability: 0.1,
        }
    );
    let bimodal2 = sim_service_time(&ServiceDistribution::Bimodal2 { mean: 10.0 }).unwrap();
    assert!((bimodal2.mean_ns() - 10_000.0).abs() < 1.0);
    let empirical = ServiceDistribution::empirical(vec![1.0, 2.0, 2.0]).unwrap();
    let ServiceTime::Empirical(table) = sim_service_time(&empirical).unwrap() else {
        panic!("measured samples must map to the sim's table");
    };
    assert_eq!((table.total(), table.distinct()), (3, 2));
    assert_eq!(
        (table.quantile_ns(0.3), table.quantile_ns(0.5)),
        (1_000, 2_000)
    );
    assert!((table.mean_ns() - 5_000.0 / 3.0).abs() < 1e-6);
}

#[test]
fn the_published_figures() {
    assert_eq!(published(&exp(10.0), 16).map(|p| p.fraction), Some(0.75));
    assert_eq!(published(&exp(25.0), 16).map(|p| p.fraction), Some(0.88));
    assert_eq!(published(&exp(25.0), 8), None);
    let bimodal = |mean| ServiceDistribution::Bimodal1 { mean };
    assert_eq!(published(&bimodal(10.0), 16), None);
    let at_least = published(&bimodal(40.0), 16).unwrap();
    assert!(at_least.at_least);
    assert_eq!(at_least.to_string(), ">= 90%");
}

#[test]
fn unknown_schedulers_and_empty_sample_sets_are_errors() {
    let dir = std::env::temp_dir();
    let error = sweep(
        &["fifo".to_owned()],
        2,
        &[0.5],
        &exp(10.0),
        SimCosts::default(),
        &dir,
    );
    assert!(error.unwrap_err().contains("fifo"));
    let empty = ServiceDistribution::Empirical {
        samples: Vec::new().into(),
    };
    let error = sweep(
        &["zygos".to_owned()],
        2,
        &[0.5],
        &empty,
        SimCosts::default(),
        &dir,
    );
    assert!(
        error.unwrap_err().contains("no measured service times"),
        "unexpected message"
    );
}
