//! The frame-level network of the simulator: the server cores run the real
//! netstack ([`NetstackTransport`]) over simulated NIC queues, and the
//! clients are a [`SyntheticClient`] (a netstack instance too) on its own
//! port. Frames cross the simulated switch in `wire_ns` of virtual time and
//! are steered to a server queue by their TCP source port (the RSS policy
//! of the run); other frames (ARP) go to queue 0, like an RSS NIC does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use netstack::{Stack, StackConfig};

use super::workload::{Action, PORT, Steering, Workload};
use super::{NetOutcome, SimNetwork};
use crate::client::SyntheticClient;
use crate::netstack_transport::NetstackTransport;
use crate::nic::shm::ShmNic;
use crate::nic::{
    Capabilities, MAX_BURST, NicQueue, PendingFrames, QueueStats, RxBurst, RxProbe, TxError,
};
use crate::resteer::tcp_flow;
use crate::run::mac_for;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// One queue's shared side: frames waiting to be received, frames sent,
/// and the virtual clock of whoever owns the queue (to stamp transmits).
#[derive(Default)]
struct SimPort {
    rx: spin::Mutex<VecDeque<Vec<u8>>>,
    rx_len: AtomicUsize,
    tx: spin::Mutex<Vec<(u64, Vec<u8>)>>,
    clock: Arc<AtomicU64>,
}

impl PendingFrames for SimPort {
    fn has_pending(&self) -> bool {
        self.rx_len.load(Ordering::Acquire) > 0
    }
}

impl SimPort {
    fn with_clock(clock: Arc<AtomicU64>) -> Arc<SimPort> {
        Arc::new(SimPort {
            clock,
            ..SimPort::default()
        })
    }

    fn deliver(&self, frame: Vec<u8>) {
        let mut rx = self.rx.lock();
        rx.push_back(frame);
        self.rx_len.store(rx.len(), Ordering::Release);
    }

    fn take_sent(&self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut *self.tx.lock())
    }
}

/// The [`NicQueue`] over a [`SimPort`].
struct SimQueue {
    index: usize,
    port: Arc<SimPort>,
    /// Frames of the last burst; released (dropped) by the next one.
    staged: Vec<Vec<u8>>,
    unflushed: Vec<Vec<u8>>,
    stats: QueueStats,
}

impl SimQueue {
    fn new(index: usize, port: Arc<SimPort>) -> Self {
        SimQueue {
            index,
            port,
            staged: Vec::new(),
            unflushed: Vec::new(),
            stats: QueueStats::default(),
        }
    }
}

impl NicQueue for SimQueue {
    fn queue_index(&self) -> usize {
        self.index
    }

    fn capabilities(&self) -> Capabilities {
        // Memory like the shm NIC, steered by the simulator itself.
        Capabilities {
            programmable_steering: false,
            ..ShmNic::capabilities()
        }
    }

    fn rx_burst(&mut self, max: usize) -> RxBurst<'_> {
        self.staged.clear();
        {
            let mut rx = self.port.rx.lock();
            let n = rx.len().min(max).min(MAX_BURST);
            self.staged.extend(rx.drain(..n));
            self.port.rx_len.store(rx.len(), Ordering::Release);
        }
        self.stats.rx_frames += self.staged.len() as u64;
        let mut burst = RxBurst::new(None);
        for frame in &self.staged {
            burst.push(frame);
        }
        burst
    }

    fn try_send_frame(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), TxError> {
        let max = self.capabilities().max_frame_len;
        if len > max {
            self.stats.tx_too_long += 1;
            return Err(TxError::TooLong { len, max });
        }
        let mut frame = vec![0; len];
        fill(&mut frame);
        self.unflushed.push(frame);
        self.stats.tx_frames += 1;
        Ok(())
    }

    fn flush_tx(&mut self) {
        if self.unflushed.is_empty() {
            return;
        }
        let stamp = self.port.clock.load(Ordering::Relaxed);
        self.port
            .tx
            .lock()
            .extend(self.unflushed.drain(..).map(|frame| (stamp, frame)));
    }

    fn rx_probe(&self) -> RxProbe {
        let probe: Arc<dyn PendingFrames> = self.port.clone();
        RxProbe::new(self.index, probe)
    }

    fn stats(&self) -> QueueStats {
        self.stats
    }
}

/// Where a frame in flight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dest {
    Client,
    Core(usize),
}

/// The frame network of one simulation.
pub(crate) struct FrameNet {
    ports: Vec<Arc<SimPort>>,
    client_port: Arc<SimPort>,
    client_queue: SimQueue,
    client: SyntheticClient,
    workload: Workload,
    next_action: usize,
    /// Client connection index of each workload connection.
    client_conn: HashMap<u64, usize>,
    /// Home core of each client source port (the RSS table of the run).
    home_of_port: HashMap<u16, usize>,
    in_flight: BinaryHeap<Reverse<(u64, u64, Dest)>>,
    frames: HashMap<u64, Vec<u8>>,
    sequence: u64,
    wire_ns: u64,
    steering: Steering,
}

/// Why the frame network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FrameNetError {
    /// A stack rejected its configuration.
    #[error("stack configuration: {0}")]
    Config(#[from] netstack::ConfigError),
    /// The server stack could not listen.
    #[error("listen: {0}")]
    Listen(#[from] netstack::ListenError),
}

impl FrameNet {
    /// Builds the network and one server transport per core; `clocks` are
    /// the cores' virtual clocks (mirrored into their ports).
    pub(crate) fn new(
        workload: Workload,
        clocks: &[Arc<AtomicU64>],
        wire_ns: u64,
        steering: Steering,
    ) -> Result<(FrameNet, Vec<NetstackTransport>), FrameNetError> {
        let ports: Vec<Arc<SimPort>> = clocks
            .iter()
            .map(|clock| SimPort::with_clock(Arc::clone(clock)))
            .collect();
        let mut transports = Vec::with_capacity(ports.len());
        for (index, port) in ports.iter().enumerate() {
            let mut stack = Stack::new(StackConfig {
                mac: mac_for(SERVER_IP),
                ipv4: SERVER_IP,
                ..StackConfig::default()
            })?;
            stack.listen(PORT)?;
            let queue: Box<dyn NicQueue> = Box::new(SimQueue::new(index, Arc::clone(port)));
            transports.push(NetstackTransport::new(stack, queue));
        }
        let client_port: Arc<SimPort> = Arc::default();
        let client = SyntheticClient::new(
            StackConfig {
                mac: mac_for(CLIENT_IP),
                ipv4: CLIENT_IP,
                ..StackConfig::default()
            },
            SocketAddrV4::new(SERVER_IP, PORT),
        )?;
        let net = FrameNet {
            ports,
            client_queue: SimQueue::new(0, Arc::clone(&client_port)),
            client_port,
            client,
            workload,
            next_action: 0,
            client_conn: HashMap::new(),
            home_of_port: HashMap::new(),
            in_flight: BinaryHeap::new(),
            frames: HashMap::new(),
            sequence: 0,
            wire_ns,
            steering,
        };
        Ok((net, transports))
    }

    fn send(&mut self, time: u64, dest: Dest, frame: Vec<u8>) {
        self.sequence += 1;
        self.frames.insert(self.sequence, frame);
        self.in_flight
            .push(Reverse((time + self.wire_ns, self.sequence, dest)));
    }

    fn perform_client_actions(&mut self, now: u64) {
        while let Some(arrival) = self.workload.arrivals.get(self.next_action) {
            if arrival.time > now {
                break;
            }
            self.next_action += 1;
            let (conn, core, action) = (arrival.conn, arrival.core, arrival.action);
            match action {
                Action::Open => {
                    let Ok(index) = self.client.open(now) else {
                        continue;
                    };
                    self.client_conn.insert(conn, index);
                    if let Some(port) = self.client.local_port(index) {
                        self.home_of_port.insert(port, core);
                    }
                }
                Action::Request { service_ns, .. } => {
                    if let Some(&index) = self.client_conn.get(&conn) {
                        self.client.submit(index, service_ns, now);
                    }
                }
                Action::Close => {
                    if let Some(&index) = self.client_conn.get(&conn) {
                        self.client.close(index);
                    }
                }
            }
        }
    }

    /// The server queue a client frame is received on.
    fn steer(&self, frame: &[u8]) -> usize {
        let port = tcp_flow(frame).map(|flow| flow.src_port);
        match (self.steering, port) {
            (Steering::AllOn(core), _) => core.min(self.ports.len().saturating_sub(1)),
            (Steering::Spread, Some(port)) => self.home_of_port.get(&port).copied().unwrap_or(0),
            (Steering::Spread, None) => 0,
        }
    }
}

impl SimNetwork for FrameNet {
    fn advance(&mut self, now: u64) {
        while let Some(&Reverse((time, sequence, dest))) = self.in_flight.peek() {
            if time > now {
                break;
            }
            self.in_flight.pop();
            let Some(frame) = self.frames.remove(&sequence) else {
                continue;
            };
            match dest {
                Dest::Client => self.client_port.deliver(frame),
                Dest::Core(core) => {
                    if let Some(port) = self.ports.get(core) {
                        port.deliver(frame);
                    }
                }
            }
        }
        self.perform_client_actions(now);
        self.client_port.clock.store(now, Ordering::Relaxed);
        self.client.step(now, &mut self.client_queue);
        for (time, frame) in self.client_port.take_sent() {
            let core = self.steer(&frame);
            self.send(time, Dest::Core(core), frame);
        }
    }

    fn collect(&mut self) {
        for core in 0..self.ports.len() {
            for (time, frame) in self.ports[core].take_sent() {
                self.send(time, Dest::Client, frame);
            }
        }
    }

    fn done(&self) -> bool {
        self.next_action >= self.workload.arrivals.len()
            && self
                .client
                .conns()
                .iter()
                .all(|c| c.server_closed || c.failed)
    }

    fn outcome(self) -> NetOutcome {
        let conns = self.client.conns();
        NetOutcome {
            requests: self.workload.requests(),
            answered: conns.iter().map(|c| c.answered).sum(),
            order_violations: conns.iter().map(|c| c.out_of_order).sum(),
            closed_connections: conns
                .iter()
                .filter(|c| c.server_closed && !c.failed)
                .count(),
            connections: self.workload.connections(),
            latencies_ns: self.client.latencies_ns().to_vec(),
        }
    }
}
