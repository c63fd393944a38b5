//! Exit-less IPIs: vCPU 0 sends x2APIC fixed IPIs (vector 0xF2) to vCPU 1
//! on another thread; vCPU 1's CPL3 handler runs and answers with an IPI
//! back. Measures the round trip and checks that no exit to user space
//! was needed. Also arms the TSC-deadline timer.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vmx::guest::{self, Interrupt};

const ROUNDS: u64 = 100;

static RESPONDER_IPIS: AtomicU64 = AtomicU64::new(0);
static INITIATOR_IPIS: AtomicU64 = AtomicU64::new(0);
static TIMER_FIRED: AtomicU64 = AtomicU64::new(0);
static RESPONDER_READY: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IS_RESPONDER: Cell<bool> = const { Cell::new(false) };
}

/// Runs at CPL3 in the guest, on the interrupted vCPU's interrupt stack.
fn on_interrupt(irq: Interrupt) {
    match irq {
        Interrupt::Ipi if IS_RESPONDER.with(Cell::get) => {
            RESPONDER_IPIS.fetch_add(1, Ordering::SeqCst);
            guest::send_ipi(0).expect("handler runs in the guest");
        }
        Interrupt::Ipi => {
            INITIATOR_IPIS.fetch_add(1, Ordering::SeqCst);
        }
        Interrupt::Timer => {
            TIMER_FIRED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn wait_for(counter: &AtomicU64, value: u64, limit: Duration) -> bool {
    let start = Instant::now();
    while counter.load(Ordering::SeqCst) < value {
        if start.elapsed() > limit {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

#[test]
fn ipi_round_trips_between_two_vcpus_without_user_space_exits() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    guest::set_interrupt_handler(on_interrupt);
    let responder_vm = vm.clone();
    let responder = std::thread::spawn(move || {
        IS_RESPONDER.with(|r| r.set(true));
        let mut vcpu = responder_vm.create_vcpu(1).unwrap();
        let before = vcpu.exit_counts();
        vcpu.run_closure(|| {
            RESPONDER_READY.store(true, Ordering::SeqCst);
            // Spins at CPL3 with interrupts enabled; the handler interrupts it.
            while !STOP.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        })
        .unwrap();
        vcpu.exit_counts().since(&before)
    });
    let mut vcpu = vm.create_vcpu(0).unwrap();
    let before = vcpu.exit_counts();
    let outcome = vcpu.run_closure(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !RESPONDER_READY.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        let mut round_trips = Vec::with_capacity(ROUNDS as usize);
        let mut sending = Duration::ZERO;
        let start = Instant::now();
        for round in 1..=ROUNDS {
            let sent = Instant::now();
            guest::send_ipi(1).unwrap();
            sending += sent.elapsed();
            if !wait_for(&INITIATOR_IPIS, round, Duration::from_secs(2)) {
                return Err(round);
            }
            round_trips.push(sent.elapsed());
        }
        Ok((
            start.elapsed() / ROUNDS as u32,
            round_trips,
            sending / ROUNDS as u32,
            guest::take_ipis(),
        ))
    });
    STOP.store(true, Ordering::SeqCst);
    let responder_exits = responder.join().unwrap();
    let initiator_exits = vcpu.exit_counts().since(&before);
    let (mean, mut round_trips, send, received) = outcome.unwrap().unwrap_or_else(|round| {
        panic!(
            "IPI round {round} never came back (responder saw {:?})",
            RESPONDER_IPIS
        )
    });
    round_trips.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "IPI round trip (vCPU0 -> vCPU1 handler -> vCPU0 handler) over {ROUNDS} rounds: min {:.1} us, \
         median {:.1} us, mean {:.1} us, max {:.1} us; send_ipi itself {:.1} us (load average {})",
        us(round_trips[0]),
        us(round_trips[round_trips.len() / 2]),
        us(mean),
        us(round_trips[round_trips.len() - 1]),
        us(send),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("exits to user space: initiator {initiator_exits:?}, responder {responder_exits:?}");
    assert_eq!(RESPONDER_IPIS.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(INITIATOR_IPIS.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(received, ROUNDS, "take_ipis counts what the handler saw");
    // The responder's thread stack is mapped lazily on its first touch
    // (it was created after the VM); nothing else may exit.
    for exits in [initiator_exits, responder_exits] {
        assert_eq!(
            exits.syscalls + exits.faults + exits.unexpected + exits.interrupted,
            0,
            "{exits:?}"
        );
    }
}

#[test]
fn tsc_deadline_timer_fires_in_the_guest() {
    let Some(vm) = common::vm_or_skip() else {
        return;
    };
    guest::set_interrupt_handler(on_interrupt);
    let mut vcpu = vm.create_vcpu(0).unwrap();
    const DELAY_US: u64 = 500;
    let tsc_per_us = {
        // SAFETY: rdtsc has no side effect.
        let (t0, i0) = (unsafe { std::arch::x86_64::_rdtsc() }, Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        // SAFETY: as above.
        let t1 = unsafe { std::arch::x86_64::_rdtsc() };
        (t1 - t0) as f64 / i0.elapsed().as_secs_f64() / 1e6
    };
    let fired_before = TIMER_FIRED.load(Ordering::SeqCst);
    let waited = vcpu
        .run_closure(|| {
            let start = Instant::now();
            // SAFETY: as above; the guest TSC equals the host's.
            let now = unsafe { std::arch::x86_64::_rdtsc() };
            guest::set_tsc_deadline(now + (DELAY_US as f64 * tsc_per_us) as u64).unwrap();
            let fired = wait_for(&TIMER_FIRED, fired_before + 1, Duration::from_secs(5));
            fired.then(|| start.elapsed())
        })
        .unwrap();
    let waited = waited.expect("the TSC-deadline timer never fired");
    println!(
        "TSC deadline {DELAY_US} us fired after {:.1} us (TSC offset 0: {})",
        waited.as_secs_f64() * 1e6,
        vcpu.tsc_synchronised()
    );
    assert!(
        waited >= Duration::from_micros(DELAY_US * 9 / 10),
        "fired early: {waited:?}"
    );
}
