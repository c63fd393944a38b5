//! Measurement, printed: the synthetic app on 2 cores over the shm NIC,
//! first on the process platform then on the vmx platform, in the same run
//! with the same closed-loop client (pipelined connections, flows spread
//! by RSS). After a warm-up, a window of fixed length counts the requests
//! answered and, on vmx, every core's exits (checkpoints before and after
//! the window). Prints the steady-state exits to user space per million
//! requests (target 0 on the data path), KVM's total exits per million
//! requests, and the throughput ratio vmx/process.
//!
//! Checks: every request of both runs answered in order, and fewer than one
//! exit to user space per thousand requests in the steady-state window
//! (closure returns, the checkpoint's own exits, left out): the target is
//! 0, a data path that exits does so per request or per batch, and the
//! per-core report names every forwarded syscall by number.

mod shm_common;

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use dataplane::apps::Synthetic;
use dataplane::client::SyntheticClient;
use dataplane::run::{Dataplane, PlatformKind};
use dataplane::sched::SchedMode;
use dataplane::vmx_platform::CoreExits;
use shm_common::{PORT, SERVER_IP, args, attach_client, client_config, kvm_or_skip};

const CONNECTIONS: usize = 16;
const DEPTH: u64 = 4;
const SERVICE_NS: u64 = 2_000;
const WARM_UP: Duration = Duration::from_secs(2);
const WINDOW: Duration = Duration::from_secs(4);
/// Tolerated exits to user space per million requests in the window (see
/// the assertion).
const RARE_EXITS_PER_MILLION: f64 = 1_000.0;

/// What one platform did in the measurement window.
struct Window {
    answered: u64,
    elapsed: Duration,
    /// Per core: exits during the window (vmx only).
    exits: Vec<CoreExits>,
}

impl Window {
    fn per_second(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }
}

/// Keeps every connection `DEPTH` requests deep until `until`.
fn drive(
    client: &mut SyntheticClient,
    queue: &mut dyn dataplane::nic::NicQueue,
    epoch: Instant,
    until: Instant,
) {
    let now = || epoch.elapsed().as_nanos() as u64;
    while Instant::now() < until {
        for conn in 0..CONNECTIONS {
            let state = &client.conns()[conn];
            if state.connected && state.outstanding() < DEPTH {
                client.submit(conn, SERVICE_NS, now());
            }
        }
        // No yield: the client competes for the CPUs as the cores do.
        client.step(now(), queue);
    }
}

fn answered(client: &SyntheticClient) -> u64 {
    client.conns().iter().map(|c| c.answered).sum()
}

fn measure(platform: PlatformKind) -> Window {
    let name = format!("vmx-exits-{}-{platform:?}", std::process::id());
    let args = args(platform, SchedMode::Zygos, &name);
    let dataplane = Dataplane::start(&args, Synthetic).unwrap();
    let mut queue = attach_client(&name, false);
    let mut client =
        SyntheticClient::new(client_config(), SocketAddrV4::new(SERVER_IP, PORT)).unwrap();
    let epoch = Instant::now();
    for _ in 0..CONNECTIONS {
        client.open(0).unwrap();
    }
    drive(&mut client, &mut queue, epoch, epoch + WARM_UP);
    let before = dataplane.exit_checkpoint().transpose().unwrap();
    let (start, answered_before) = (Instant::now(), answered(&client));
    drive(&mut client, &mut queue, epoch, start + WINDOW);
    let (elapsed, answered_after) = (start.elapsed(), answered(&client));
    let after = dataplane.exit_checkpoint().transpose().unwrap();
    // Let the requests in flight finish, then check the whole run.
    let drain = Instant::now() + Duration::from_secs(5);
    while client.conns().iter().any(|c| c.outstanding() > 0) && Instant::now() < drain {
        client.step(epoch.elapsed().as_nanos() as u64, &mut queue);
        std::thread::yield_now();
    }
    let report = dataplane.stop().unwrap();
    for (i, conn) in client.conns().iter().enumerate() {
        assert_eq!(
            conn.outstanding(),
            0,
            "connection {i} unanswered ({})",
            report.total()
        );
        assert_eq!(conn.out_of_order, 0, "connection {i} out of order");
        assert!(!conn.failed, "connection {i} reset");
    }
    let exits = match (before, after) {
        (Some(before), Some(after)) => after.iter().zip(&before).map(|(a, b)| a.since(b)).collect(),
        _ => Vec::new(),
    };
    Window {
        answered: answered_after - answered_before,
        elapsed,
        exits,
    }
}

#[test]
fn steady_state_exits_per_million_requests_and_vmx_over_process_throughput() {
    if !kvm_or_skip() {
        return;
    }
    let process = measure(PlatformKind::Process);
    let vmx = measure(PlatformKind::Vmx);
    assert!(
        process.answered > 0 && vmx.answered > 0,
        "no request answered in the window"
    );
    let per_million = |n: u64| n as f64 * 1e6 / vmx.answered as f64;
    let data_path: u64 = vmx.exits.iter().map(CoreExits::data_path_exits).sum();
    let kvm: Option<u64> = vmx.exits.iter().map(|e| e.kvm_exits).sum();
    println!(
        "synthetic {SERVICE_NS} ns, 2 cores, {CONNECTIONS} connections x {DEPTH} deep, {:?} window \
         (load average {})",
        WINDOW,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "process: {} requests, {:.0} req/s; vmx: {} requests, {:.0} req/s; vmx/process = {:.3}",
        process.answered,
        process.per_second(),
        vmx.answered,
        vmx.per_second(),
        vmx.per_second() / process.per_second()
    );
    for (core, exits) in vmx.exits.iter().enumerate() {
        println!("vmx core {core} steady-state window: {exits}");
    }
    println!(
        "steady-state exits per million requests: user space (data path) {:.1}, KVM all exits {}",
        per_million(data_path),
        kvm.map_or("N/A".to_string(), |k| format!("{:.0}", per_million(k)))
    );
    assert_eq!(vmx.exits.len(), 2, "one exit window per core");
    // A data path that exits would do so per request (10^6 per million)
    // or per batch of at most 16 (>= 62,500 per million). What remains is
    // a one-off: a core freeing or growing a block that the building
    // thread allocated takes that thread's malloc arena lock, shared with
    // the client and the other core; contended, it costs a FUTEX_WAIT and a
    // FUTEX_WAKE (syscall 202, seen 0 to 4 per window, i.e. 0 to ~50 per
    // million on this loaded 2-core machine). One in a thousand requests
    // lies 62 times below a syscall per batch and still tolerates ten such
    // one-offs in a window of only 2 x 10^4 requests.
    assert!(
        per_million(data_path) < RARE_EXITS_PER_MILLION,
        "exits to user space on the data path: {:.1} per million requests (bound \
         {RARE_EXITS_PER_MILLION}), {data_path} in {} requests: {:?}",
        per_million(data_path),
        vmx.answered,
        vmx.exits.iter().map(|e| e.user_space).collect::<Vec<_>>()
    );
}
