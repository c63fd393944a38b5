//! The per-core ZygOS runtime (thesis ch. 4.4-4.5; DESIGN.md "Data path"),
//! independent of the platform it runs on.
//!
//! [`build_cores`] wires N [`Core`]s together (each core's shuffle stealer,
//! remote-syscall sender and NIC probe are visible to the others); a
//! platform then calls [`Core::step`] in a loop, one thread per core on the
//! `process` platform, all cores in one thread in the simulator. One step:
//!
//! 1. finish the application batches of the previous step: calls on an own
//!    connection run here; calls on a stolen one go to its home core as a
//!    remote system call (and an IPI if that core is in application code);
//! 2. network work ([`home::HomeNet::service`]): a receive burst of at most
//!    64 frames, the stack's events into the shuffle queue (received bytes
//!    copied into the event), remote system calls from other cores,
//!    transmit;
//! 3. application: one ready connection (ZygOS) or a batch of up to B
//!    (partitioned), all its pending events in one batch;
//! 4. when nothing was found, the idle loop: steal from the other cores'
//!    shuffle queues, then interrupt busy home cores that have pending
//!    remote system calls or frames, starting at a random core;
//! 5. after a step that did work, wake parked cores it left work for
//!    ([`park`]; only where the platform parks idle cores).

mod cpu;
pub(crate) mod home;
mod park;
#[cfg(test)]
mod test_platform;

use std::sync::Arc;

use shuffle::{Home, RemoteSender, Steal, Stealer, remote_queue};

use crate::app::{App, AppEvent, Calls};
use crate::counters::CoreCounters;
use crate::nic::RxProbe;
use crate::platform::{CorePlatform, Work};
use crate::sched::SchedMode;
use crate::transport::Transport;
use cpu::AppCpu;
use home::{AppClaim, HomeNet, RemoteBatch};

/// What one core exposes to the others.
struct Peer<C, S> {
    stealer: Stealer<C, AppEvent, S>,
    remote: RemoteSender<RemoteBatch<C, S>>,
    probe: RxProbe,
}

/// A batch that ran (or, in virtual time, is running) the application.
struct InFlight<C, S> {
    claim: AppClaim<C, S>,
    calls: Calls,
    closed: bool,
}

/// Settings shared by every core of one dataplane.
#[derive(Debug, Clone, Copy)]
pub struct CoreConfig {
    /// Scheduling mode.
    pub mode: SchedMode,
    /// Batch bound B of the partitioned mode.
    pub batch: usize,
    /// Seed of the idle loop's random start.
    pub seed: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            mode: SchedMode::Zygos,
            batch: 64,
            seed: 1,
        }
    }
}

/// One dataplane core: its network layer, shuffle queue and scheduler.
pub struct Core<T: Transport, A: App> {
    net: HomeNet<T, A::Conn>,
    app: Arc<A>,
    peers: Arc<[Peer<T::Conn, A::Conn>]>,
    config: CoreConfig,
    rng: u64,
    inflight: Vec<InFlight<T::Conn, A::Conn>>,
}

/// Builds one core per transport (transport `i` is core `i`'s NIC queue).
pub fn build_cores<T: Transport, A: App>(
    transports: Vec<T>,
    app: Arc<A>,
    config: CoreConfig,
) -> Vec<Core<T, A>> {
    let mut homes = Vec::new();
    let mut peers = Vec::new();
    for (index, transport) in transports.into_iter().enumerate() {
        let shuffle: Home<T::Conn, AppEvent, A::Conn> = Home::new(index);
        let (remote, remote_rx) = remote_queue();
        peers.push(Peer {
            stealer: shuffle.stealer(),
            remote,
            probe: transport.rx_probe(),
        });
        let counters = Arc::new(CoreCounters::default());
        homes.push(HomeNet::new(index, transport, shuffle, remote_rx, counters));
    }
    let peers: Arc<[_]> = peers.into();
    homes
        .into_iter()
        .map(|net| Core {
            rng: splitmix(config.seed ^ (net.index as u64).wrapping_mul(0x9e37_79b9)),
            net,
            app: Arc::clone(&app),
            peers: Arc::clone(&peers),
            config,
            inflight: Vec::new(),
        })
        .collect()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl<T: Transport, A: App> Core<T, A> {
    /// This core's index.
    pub fn index(&self) -> usize {
        self.net.index
    }

    /// This core's counters (shared, readable from any thread).
    pub fn counters(&self) -> Arc<CoreCounters> {
        Arc::clone(&self.net.counters)
    }

    /// The core's network layer.
    pub fn transport(&self) -> &T {
        &self.net.transport
    }

    /// The core's network layer, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.net.transport
    }

    /// Whether application batches of this core still await completion.
    pub fn in_flight(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// One iteration of the event loop (module docs); returns whether it
    /// found work.
    pub fn step(&mut self, p: &mut impl CorePlatform) -> bool {
        let start = p.now_ns();
        let mut work = self.complete_inflight(p);
        work += self.handle_ipi(p);
        work += self.net.service(p, &*self.app, true);
        for _ in 0..self.config.mode.claims_per_iteration(self.config.batch) {
            let Some(claim) = self.net.shuffle.pop() else {
                break;
            };
            self.run_app(claim, p);
            work += 1;
        }
        if work == 0 && self.config.mode.steals() {
            work += self.idle(p);
        }
        if work == 0 {
            p.charge(Work::IdlePoll);
            CoreCounters::bump(&self.net.counters.idle_ns, p.now_ns().saturating_sub(start));
        } else {
            self.wake_parked_peers(p);
        }
        work > 0
    }

    /// What an IPI makes the core do: consume the mailbox and, if one was
    /// pending, receive, run remote system calls and transmit (thesis
    /// ch. 4.4.5). Safe while an application batch is in flight: it touches
    /// only the home-side state. Returns the work done.
    pub fn handle_ipi(&mut self, p: &mut impl CorePlatform) -> u64 {
        ipi_service(&mut self.net, &*self.app, p)
    }

    /// Runs the application on every event of `claim` and keeps the batch
    /// in flight until the next step completes it.
    fn run_app(&mut self, mut claim: AppClaim<T::Conn, A::Conn>, p: &mut impl CorePlatform) {
        let index = self.net.index;
        p.board().set_in_app(index, true);
        p.charge(Work::AppDispatch);
        CoreCounters::bump(&self.net.counters.app_runs, 1);
        let mut calls = Calls::pooled(self.net.payloads.clone());
        let mut closed = false;
        let mut cpu = AppCpu::new(&mut self.net, &*self.app, p);
        let (events, state) = claim.split();
        for event in events {
            closed |= event == AppEvent::Closed;
            self.app.on_event(state, event, &mut calls, &mut cpu);
        }
        self.inflight.push(InFlight {
            claim,
            calls,
            closed,
        });
    }

    /// Executes (own connections) or forwards (stolen ones) the calls of
    /// the batches run in the previous step.
    fn complete_inflight(&mut self, p: &mut impl CorePlatform) -> u64 {
        let index = self.net.index;
        let mut done = 0;
        // Taken and put back so that its capacity is reused.
        let mut finished = std::mem::take(&mut self.inflight);
        for InFlight {
            claim,
            calls,
            closed,
        } in finished.drain(..)
        {
            done += 1;
            let home = claim.home();
            if home == index {
                self.net.complete(claim, calls, closed);
                continue;
            }
            let Some(peer) = self.peers.get(home) else {
                continue;
            };
            peer.remote.push(RemoteBatch {
                claim,
                calls,
                closed,
            });
            CoreCounters::bump(&self.net.counters.remote_batches_sent, 1);
            if self.config.mode.sends_ipis() {
                self.send_ipi(home, p);
            }
        }
        self.inflight = finished;
        p.board().set_in_app(index, false);
        done
    }

    /// The idle loop after the own NIC queue (thesis ch. 4.5): other cores'
    /// shuffle queues, then their remote-syscall and NIC queues (IPI to the
    /// home core), each pass starting at a random core.
    #[cold]
    fn idle(&mut self, p: &mut impl CorePlatform) -> u64 {
        let cores = self.peers.len();
        self.rng = splitmix(self.rng);
        let start = (self.rng % cores as u64) as usize;
        let index = self.net.index;
        let victims = (0..cores)
            .map(|i| (start + i) % cores)
            .filter(|&v| v != index);
        for victim in victims.clone() {
            let Some(peer) = self.peers.get(victim) else {
                continue;
            };
            match peer.stealer.steal() {
                Steal::Success(claim) => {
                    CoreCounters::bump(&self.net.counters.steals, 1);
                    p.charge(Work::Steal);
                    self.run_app(claim, p);
                    return 1;
                }
                Steal::Retry => CoreCounters::bump(&self.net.counters.steal_retries, 1),
                Steal::Empty => {}
            }
        }
        if self.config.mode.sends_ipis() {
            for victim in victims {
                let pending = self
                    .peers
                    .get(victim)
                    .is_some_and(|peer| peer.remote.pending() > 0 || peer.probe.has_pending());
                if pending {
                    self.send_ipi(victim, p);
                }
            }
        }
        0
    }

    fn send_ipi(&mut self, target: usize, p: &mut impl CorePlatform) {
        if p.board().post(target, p.now_ns()) {
            p.charge(Work::IpiSend);
            p.interrupt(target);
            CoreCounters::bump(&self.net.counters.ipis_sent, 1);
        }
    }
}

/// Consumes the core's IPI mailbox and, when set, performs the handler's
/// work (thesis ch. 4.4.5): process incoming packets if the shuffle queue
/// is empty, execute the remote system calls, transmit.
fn ipi_service<T: Transport, A: App>(
    net: &mut HomeNet<T, A::Conn>,
    app: &A,
    p: &mut impl CorePlatform,
) -> u64 {
    let signals = p.take_signals();
    if signals > 0 {
        CoreCounters::bump(&net.counters.signals_received, signals);
    }
    if !p.board().take(net.index) {
        return 0;
    }
    CoreCounters::bump(&net.counters.ipis_received, 1);
    // Incoming packets only when the shuffle queue ran dry (it is what
    // refills it); remote system calls and transmit always.
    let receive = net.shuffle.ready_hint() == 0;
    1 + net.service(p, app, receive)
}
