//! The benchmark's network path to the real memcached (root only; skipped
//! with a printed reason otherwise): the server runs in its own network
//! namespace behind a veth pair, the USR mix reaches it from the root
//! namespace, and the namespace is gone once the server is dropped.

use std::path::PathBuf;
use std::time::Duration;

use bench::loadgen::{LoadSpec, run_load_with};
use bench::workload::ServiceDistribution;
use memcached::benchmark::running_as_root;
use memcached::benchmark::servers::{RunningServer, ServerKind, ServerSetup};
use memcached::loadmix::{Keyspace, MixRequests, TextResponses, Workload, preload};

const MEMCACHED: &str = "/usr/bin/memcached";

fn skip_reason() -> Option<&'static str> {
    if !running_as_root() {
        return Some("not root (network namespaces and veth pairs need CAP_NET_ADMIN)");
    }
    if !std::path::Path::new(MEMCACHED).exists() {
        return Some("/usr/bin/memcached is missing (Debian package memcached)");
    }
    None
}

fn namespaces() -> String {
    std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn the_real_memcached_in_a_namespace_serves_the_usr_mix_over_veth() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let log_dir = std::env::temp_dir().join(format!("mcbench-test-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).unwrap();
    let setup = ServerSetup {
        cores: 1,
        zygos: PathBuf::from("unused"),
        memcached: PathBuf::from(MEMCACHED),
        memory_mb: 64,
        max_connections: 1024,
        nice: 0,
        log_dir: log_dir.clone(),
        park_after_us: None,
    };
    let own = format!("zy-r0-{}", std::process::id());
    {
        let server = RunningServer::start(ServerKind::Real, &setup).expect("start memcached");
        assert!(namespaces().contains(&own), "{}", namespaces());
        let keys = Keyspace::new(Workload::Usr, 500).unwrap();
        preload(server.addr(), Workload::Usr, &keys, 3).expect("preload over veth");
        let mut spec = LoadSpec::new(
            2000.0,
            ServiceDistribution::Fixed { mean: 50.0 },
            Duration::from_millis(300),
        );
        spec.connections = 4;
        spec.depth = 8;
        let framer = TextResponses::default();
        let report = run_load_with(
            server.addr(),
            &spec,
            &mut MixRequests::new(Workload::Usr, keys),
            &framer,
        )
        .expect("run over veth");
        assert_eq!(report.answered, report.sent);
        assert!(report.sent > 300, "sent {}", report.sent);
        assert_eq!(framer.misses(), 0);
    }
    assert!(!namespaces().contains(&own), "{}", namespaces());
    std::fs::remove_dir_all(log_dir).unwrap();
}
