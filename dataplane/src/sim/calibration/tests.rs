use super::*;

/// Mean ns per operation of `measure(n)`.
fn per_op(n: u64, measured: Duration) -> f64 {
    measured.as_nanos() as f64 / n as f64
}

#[test]
fn stack_probes_time_frames_and_events() {
    let mut pair = StackPair::new().unwrap();
    let frame = per_op(2_000, pair.measure_frames(2_000).unwrap());
    let event = per_op(500, pair.measure_events(500).unwrap());
    // Plausibility only: the upper bounds leave room for a host that
    // freezes the VM's CPUs for tens of milliseconds during the loop.
    assert!(
        (10.0..10_000_000.0).contains(&frame),
        "{frame} ns per frame"
    );
    assert!((5.0..10_000_000.0).contains(&event), "{event} ns per event");
}

#[test]
fn shuffle_probes_push_dispatch_and_round_trip() {
    let mut shuffle = ShuffleProbe::default();
    assert!(shuffle.measure_push(1_000) > Duration::ZERO);
    assert!(shuffle.measure_dispatch(1_000) > Duration::ZERO);
    let times = RemoteProbe.measure(500);
    assert_eq!(times.completed, 500, "every round trip completes");
    assert_eq!(times.steal_ns.len(), 500);
    assert_eq!(times.home_execute_ns.len(), 500);
    assert!(times.round_trip > total(&times.steal_ns));
}

#[test]
fn ipi_probes_deliver_every_signal() {
    let one_way = MailboxProbe.measure(1_000).expect("partner answered");
    assert_eq!(one_way.len(), 500);
    assert!(total(&one_way) > Duration::ZERO);
    let times = SignalProbe.measure_latency(200).unwrap();
    assert_eq!(times.latency_ns.len(), 200, "every signal delivered");
    assert_eq!(times.send_ns.len(), 200);
    assert!(times.latency_ns.iter().all(|&ns| ns > 0));
    // Every signal to self is delivered (its handler ran) before tgkill
    // returns; the handler's cost, a difference of two timed loops, can
    // come out as zero on a loaded machine, so only its success is checked.
    assert!(SignalProbe.measure_self_signal(2_000).unwrap() > Duration::ZERO);
    SignalProbe.measure_handler(2_000).unwrap();
}

#[test]
fn wire_and_idle_probes_on_real_queues() {
    let mut wire = WireProbe::new().unwrap();
    let one_way = wire.measure(1_000).expect("frames came back");
    assert_eq!(one_way.len(), 500);
    assert!(one_way.iter().all(|&ns| ns > 0));
    let mut idle = IdleProbe::new(4).unwrap();
    let pass = per_op(1_000, idle.measure(1_000).expect("idle"));
    assert!(
        (1.0..10_000_000.0).contains(&pass),
        "{pass} ns per idle pass"
    );
}
