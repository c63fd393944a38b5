//! The `zygos run` arguments, its refusals, and a clean stop on SIGTERM.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use clap::Parser;

use super::*;

fn parse(line: &str) -> Result<RunArgs, clap::Error> {
    RunArgs::try_parse_from(std::iter::once("zygos run").chain(line.split_whitespace()))
}

#[test]
fn the_documented_command_line_parses() {
    let args = parse(
        "echo --cores 2 --sched zygos-noipi --platform process --nic shm:x1 --ip 10.0.0.1 --port 7",
    )
    .unwrap();
    assert_eq!(args.app, BuiltinApp::Echo);
    assert_eq!(
        args.dataplane,
        DataplaneArgs {
            cores: 2,
            sched: SchedMode::ZygosNoipi,
            ..DataplaneArgs::new(NicSpec::Shm("x1".into()), Ipv4Addr::new(10, 0, 0, 1), 7)
        }
    );
    assert!(parse("memcached --nic shm:x --ip 10.0.0.1 --port 7").is_err());
    assert!(
        parse("echo --nic shm:x --ip 10.0.0.1").is_err(),
        "--port has no default"
    );
    assert!(parse("echo --nic eth0 --ip 10.0.0.1 --port 7").is_err());
    assert!(parse("echo --nic shm:x --ip 10.0.0.1 --port 7 --sched ix").is_err());
}

#[test]
fn the_command_line_is_well_formed() {
    <RunArgs as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn command_lines_exit_2_on_bad_arguments_and_with_the_runs_own_code() {
    let words = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let valid = words("echo --nic shm:x --ip 10.0.0.1 --port 7");
    let ran = |args: RunArgs| Ok::<_, RunError>(args.app);
    let failed = |_: RunArgs| Err::<(), _>(RunError::NoCores);
    let code_7 = |_: &RunError| ExitCode::from(7);
    assert_eq!(
        command_line("zygos run", &words("echo --port x"), ran, code_7),
        ExitCode::from(2)
    );
    assert_eq!(
        command_line("zygos run", &valid, ran, code_7),
        ExitCode::SUCCESS
    );
    assert_eq!(
        command_line("zygos run", &valid, failed, code_7),
        ExitCode::from(7)
    );
}

#[test]
fn the_constructor_sets_what_the_flags_default_to() {
    let parsed = parse("synthetic --nic tap:t0 --ip 10.1.2.3 --port 80").unwrap();
    assert_eq!(
        parsed.dataplane,
        DataplaneArgs::new(NicSpec::Tap("t0".into()), Ipv4Addr::new(10, 1, 2, 3), 80)
    );
}

#[test]
fn unsupported_set_ups_are_refused_with_a_reason() {
    let mut args = parse("echo --nic shm:never-created --ip 10.0.0.1 --port 7")
        .unwrap()
        .dataplane;
    args.cores = 0;
    assert!(matches!(
        Dataplane::start(&args, Echo),
        Err(RunError::NoCores)
    ));
    args.cores = 1;
    args.port = 0;
    assert!(matches!(
        Dataplane::start(&args, Echo),
        Err(RunError::Listen(_))
    ));
}

#[test]
fn sigterm_stops_the_dataplane_and_reports_every_core() {
    let name = format!("run-sig-{}", std::process::id());
    let args = parse(&format!(
        "synthetic --cores 2 --nic shm:{name} --ip 10.0.0.1 --port 7"
    ))
    .unwrap();
    let tid = Arc::new(AtomicI32::new(0));
    let (done_tx, done_rx) = mpsc::channel();
    let server_tid = Arc::clone(&tid);
    let server = std::thread::spawn(move || {
        // Block SIGTERM here before publishing the thread id, so the signal
        // can only be taken by sigwait in this thread.
        block_termination();
        // SAFETY: gettid has no arguments and cannot fail.
        server_tid.store(
            unsafe { libc::syscall(libc::SYS_gettid) } as i32,
            Ordering::Release,
        );
        let report = run_until_signal(&args.dataplane, Synthetic);
        let _ = done_tx.send(());
        report
    });
    while tid.load(Ordering::Acquire) == 0 {
        std::thread::yield_now();
    }
    // Let the cores start, then ask for a stop.
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: tgkill sends SIGTERM to the server thread of this process,
    // which blocks it and waits for it with sigwait.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            tid.load(Ordering::Acquire),
            libc::SIGTERM,
        )
    };
    assert_eq!(sent, 0);
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the dataplane did not stop on SIGTERM");
    let report = server.join().unwrap().unwrap();
    assert_eq!(report.per_core.len(), 2);
    assert!(report.total().idle_ns > 0, "the cores ran their loop");
}
