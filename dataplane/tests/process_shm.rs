//! End to end on the process platform with 2 cores over the shm NIC: a load
//! generator (a netstack client on a second switch port, in a thread)
//! drives many pipelined connections carrying sequence-numbered synthetic
//! requests. The server's RSS table sends every flow to core 0, so core 1
//! can only help by stealing: the steal counter must rise, every request be
//! answered, and each connection's replies come back in request order;
//! also with cores that park when idle.

mod shm_common;

use std::time::Duration;

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::run::{Dataplane, DataplaneArgs, PlatformKind, RunReport};
use dataplane::sched::SchedMode;
use shm_common::{PipelinedLoad, args, attach_client};

const LOAD: PipelinedLoad = PipelinedLoad {
    connections: 24,
    requests: 20,
    depth: 4,
    // Long enough that core 0, not the client, is the bottleneck even on a
    // loaded 2-CPU machine: its backlog is what core 1 steals.
    service_ns: 200_000,
    deadline: Duration::from_secs(30),
};

fn serve_skewed(sched: SchedMode, park_after_us: Option<u64>) -> (SyntheticClient, RunReport) {
    let parking = if park_after_us.is_some() { "-park" } else { "" };
    let name = format!("rt-{}-{sched}{parking}", std::process::id());
    let args = DataplaneArgs {
        park_after_us,
        ..args(PlatformKind::Process, sched, &name)
    };
    let dataplane = Dataplane::start(&args, Synthetic).unwrap();
    let client = LOAD.run(&mut attach_client(&name, true));
    (client, dataplane.stop().unwrap())
}

#[test]
fn stealing_serves_a_skewed_rss_table_in_order() {
    let (client, report) = serve_skewed(SchedMode::Zygos, None);
    LOAD.assert_all_answered_in_order(&client, &report);
    let total = report.total();
    assert_eq!(report.per_core[1].packets, 0, "RSS sent frames to core 1");
    assert!(report.per_core[1].steals > 0, "core 1 never stole: {total}");
    // Core 1's replies went out through core 0, the only one with the TCP
    // state: its remote system calls reached the home core.
    assert!(report.per_core[0].remote_syscalls > 0, "{total}");
}

#[test]
fn partitioned_mode_serves_a_skewed_table_without_stealing() {
    let (client, report) = serve_skewed(SchedMode::Partitioned, None);
    LOAD.assert_all_answered_in_order(&client, &report);
    assert_eq!(report.total().steals, 0);
}

/// Parked cores are woken by the client's frames (the shm sender
/// interrupts the receiving core) and by each other, and serve everything.
#[test]
fn parking_cores_are_woken_by_shm_senders_and_serve_in_order() {
    let (client, report) = serve_skewed(SchedMode::Zygos, Some(0));
    LOAD.assert_all_answered_in_order(&client, &report);
    let total = report.total();
    assert!(report.per_core[0].parks > 0, "core 0 never parked: {total}");
    assert!(report.per_core[1].steals > 0, "core 1 never stole: {total}");
}
