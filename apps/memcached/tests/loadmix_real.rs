//! The USR and ETC mixes against the real memcached on 127.0.0.1 (skipped
//! with a printed reason when /usr/bin/memcached is absent): the preload
//! stores every key, then a short open-loop run gets every reply framed,
//! in order, with every get a hit.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench::loadgen::{LoadSpec, run_load_with};
use bench::workload::ServiceDistribution;
use memcached::loadmix::{Keyspace, MixRequests, TextResponses, Workload, preload};

const MEMCACHED: &str = "/usr/bin/memcached";

/// A memcached process on a free loopback port, killed on drop.
struct Real {
    child: Child,
    addr: SocketAddr,
}

impl Real {
    fn start() -> Option<Real> {
        if !std::path::Path::new(MEMCACHED).exists() {
            println!("skipped: {MEMCACHED} is missing (Debian package memcached)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(MEMCACHED)
            // memcached refuses to run as root without -u.
            .args(["-u", "root", "-U", "0", "-l", "127.0.0.1", "-t", "1"])
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start memcached");
        let real = Real {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(real.addr).is_err() {
            assert!(Instant::now() < deadline, "memcached did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(real)
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn both_mixes_preload_and_run_with_every_get_a_hit() {
    let Some(real) = Real::start() else {
        return;
    };
    for workload in [Workload::Usr, Workload::Etc] {
        let keys = Keyspace::new(workload, 2000).unwrap();
        preload(real.addr, workload, &keys, 7).unwrap();
        let mut spec = LoadSpec::new(
            4000.0,
            ServiceDistribution::Fixed { mean: 50.0 },
            Duration::from_millis(400),
        );
        spec.connections = 8;
        spec.depth = 8;
        let framer = TextResponses::default();
        let mut requests = MixRequests::new(workload, keys);
        let report = run_load_with(real.addr, &spec, &mut requests, &framer)
            .unwrap_or_else(|e| panic!("{workload:?}: {e}"));
        assert!(report.sent > 1000, "{workload:?}: sent {}", report.sent);
        assert_eq!(report.answered, report.sent, "{workload:?}");
        assert_eq!(framer.misses(), 0, "{workload:?}");
        let gets = report.sent - (report.sent as f64 * 0.1) as u64;
        assert!(
            framer.hits() >= gets,
            "{workload:?}: {} hits",
            framer.hits()
        );
        let classes: Vec<&str> = report.per_class.iter().map(|c| c.class).collect();
        assert_eq!(classes, ["get", "set"]);
    }
}
