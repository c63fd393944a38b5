//! A short real sweep of one Linux baseline, and every output format.

use std::time::Duration;

use bench::linux::LinuxScheduler;
use bench::loadgen::LoadSpec;
use bench::output::{csv, table, write_results};
use bench::queueing::{Model, Slo};
use bench::sweep::{LinuxTarget, SweepConfig, Target, run_sweep};
use bench::workload::ServiceDistribution;

#[test]
fn a_short_sweep_produces_table_json_csv_svg_and_png() {
    let service = ServiceDistribution::Exponential { mean: 10.0 };
    let mut generator = LoadSpec::new(1.0, service, Duration::from_millis(300));
    generator.connections = 8;
    generator.depth = 8;
    generator.seed = 3;
    let config = SweepConfig {
        cores: 2,
        loads: vec![0.2, 0.1],
        slo: Slo::default(),
        simulated_requests: 40_000,
        generator,
    };
    let mut targets: Vec<Box<dyn Target>> =
        vec![Box::new(LinuxTarget::new(LinuxScheduler::Floating, 2))];
    let result = run_sweep(&config, &mut targets);

    assert_eq!(result.points.len(), 2);
    assert_eq!(result.points[0].load, 0.1, "loads are swept ascending");
    assert!(
        result.points.iter().all(|p| p.achieved_rps > 0.0),
        "{:?}",
        result.points
    );
    let bound = |model| {
        result
            .bounds
            .iter()
            .find(|b| b.model == model)
            .unwrap()
            .max_load_at_slo
    };
    assert!(bound(Model::Centralized) > bound(Model::Partitioned) + 0.1);
    assert_eq!(result.summaries.len(), 1);

    let printed = table(&result);
    assert!(printed.contains("linux-floating"), "{printed}");
    assert!(
        printed.contains("M/G/2/FCFS (simulated): max load at SLO"),
        "{printed}"
    );
    let csv_text = csv(&result);
    assert_eq!(
        csv_text
            .lines()
            .filter(|l| l.contains(",measured,"))
            .count(),
        2
    );
    assert_eq!(
        csv_text
            .lines()
            .filter(|l| l.contains(",simulated,"))
            .count(),
        2 * 49
    );

    let dir = std::env::temp_dir().join(format!("bench-sweep-{}", std::process::id()));
    let written = write_results(&result, &dir, "sweep");
    let files: Vec<Vec<u8>> = ["json", "csv", "svg", "png"]
        .iter()
        .map(|ext| std::fs::read(dir.join(format!("sweep.{ext}"))).unwrap_or_default())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(written.unwrap().len(), 4);
    let json: serde_json::Value = serde_json::from_slice(&files[0]).unwrap();
    assert_eq!(json["points"].as_array().unwrap().len(), 2);
    let reread: bench::sweep::SweepResult = serde_json::from_slice(&files[0]).unwrap();
    assert_eq!(table(&reread), printed, "the JSON holds the whole result");
    assert_eq!(files[1], csv_text.as_bytes());
    assert!(String::from_utf8_lossy(&files[2]).contains("<svg"));
    assert_eq!(&files[3][..8], b"\x89PNG\r\n\x1a\n");
}
