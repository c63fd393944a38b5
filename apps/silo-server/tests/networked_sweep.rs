//! `zygos bench silo`'s machinery end to end (root only): in a fresh
//! network namespace reached over a veth pair, each server under test
//! (ours with zygos and partitioned scheduling on a 2-queue TAP device,
//! the Linux-socket server floating and partitioned) is swept at a light
//! load by the open-loop TPC-C generator in the root namespace. Every
//! request is answered with a status its type allows, the responses count
//! every type of the mix, the database meets the TPC-C consistency
//! conditions afterwards, and the namespace is gone once the topology is
//! dropped.

use std::time::Duration;

use bench::cli::ConnectionArgs;
use bench::linux::LinuxScheduler;
use dataplane::sched::SchedMode;
use silo_server::networked::servers::ServerKind;
use silo_server::networked::sweep::{SweepPlan, sweep_server};
use silo_server::networked::topology::Topology;
use silo_server::tpcc::Scale;

fn plan() -> SweepPlan {
    SweepPlan {
        cores: 2,
        scale: Scale {
            warehouses: 2,
            items: 1_000,
            customers_per_district: 60,
        },
        slo_us: 1e9,
        start_tps: 300.0,
        step: 2.0,
        max_steps: 1,
        refine_steps: 0,
        retries: 0,
        client: ConnectionArgs {
            connections: 8,
            depth: 4,
            seed: 3,
        },
        duration: Duration::from_millis(600),
        client_spin: Duration::from_micros(20),
        client_fifo: Some(1),
        park_after_us: Some(20),
    }
}

fn namespaces() -> String {
    std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn every_server_answers_the_tpcc_mix_through_the_namespace() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: not root (network namespaces, veth and TAP devices need CAP_NET_ADMIN)");
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        println!("skipped: /dev/net/tun is missing");
        return;
    }
    let topology = Topology::create().expect("namespace and veth pair (install iproute2)");
    let name = format!("zy-siloben-{}", std::process::id());
    assert!(namespaces().contains(&name));
    let kinds = [
        ServerKind::Dataplane(SchedMode::Zygos),
        ServerKind::Dataplane(SchedMode::Partitioned),
        ServerKind::Linux(LinuxScheduler::Floating),
        ServerKind::Linux(LinuxScheduler::Partitioned),
    ];
    for kind in kinds {
        let sweep = sweep_server(kind, &plan(), &topology, |_, _| {});
        assert_eq!(sweep.server, kind.to_string());
        assert_eq!(sweep.verdict, Ok(()), "{kind}");
        let [point] = &sweep.points[..] else {
            panic!("{kind}: one point expected, got {:?}", sweep.points);
        };
        // The run completed (a generator error leaves no p99) and every
        // request was answered; the rate and SLO checks are not judged on
        // a shared machine.
        assert!(point.p99_us.is_some(), "{kind}: {point:?}");
        assert!(
            point.problems.iter().all(|p| !p.contains("unanswered")),
            "{kind}: {point:?}"
        );
        assert_eq!(
            sweep.max_tps_at_slo,
            point.meets_slo.then_some(point.achieved_tps)
        );
        let answered: u64 = point.per_class.iter().map(|c| c.answered).sum();
        assert!(answered > 100, "{kind}: {answered} answered");
        let completed: Vec<u64> = sweep
            .outcomes
            .iter()
            .map(|o| o.committed + o.rolled_back)
            .collect();
        assert!(
            completed[0] > 0 && completed[1] > 0,
            "{kind}: {completed:?}"
        );
        match kind {
            ServerKind::Dataplane(_) => assert!(sweep.steal_share.is_some(), "{kind}"),
            ServerKind::Linux(_) => assert_eq!(sweep.steal_share, None),
        }
    }
    drop(topology);
    assert!(!namespaces().contains(&name), "namespace left behind");
}
