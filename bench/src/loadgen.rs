//! Open-loop load generator over Linux sockets (thesis ch. 4, Lancet's
//! methodology on kernel TCP): requests leave at the times of an arrival
//! process regardless of responses, spread over many connections each
//! allowing a bounded pipeline of outstanding requests.
//!
//! The application protocol is pluggable ([`crate::protocol`]):
//! [`run_load`] speaks the synthetic protocol, [`run_load_with`] any
//! [`RequestGenerator`] and [`ResponseFramer`] (memcached, TPC-C...).
//!
//! One sender thread paces and writes the requests the generator makes;
//! one receiver thread (or the sender itself between sends, in
//! single-thread mode) waits on all connections (epoll), cuts each
//! connection's bytes into responses with the framer, matches them to
//! requests in per-connection FIFO order and records each latency (from
//! the write call to the response read) in an hdrhistogram and in
//! transmission order for the statistics of [`crate::stats`], for the
//! whole run and for each request class ([`ClassLatency`]). The report
//! says N/A when the open loop broke (a request found every connection's
//! pipeline full), the rate was missed, the achieved inter-arrivals do not
//! fit the process, requests went unanswered (these make every figure of
//! the run N/A, overall and per class), or a latency series fails the
//! independence or stationarity checks.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::linux::connection::write_all_nonblocking;
use crate::linux::epoll::{Epoll, Ready, flags};
use crate::protocol::{
    FrameError, MAX_CLASSES, PendingRequest, RequestClass, RequestGenerator, ResponseFramer,
    SyntheticRequests, SyntheticResponses,
};
use crate::stats::analysis::{
    LatencyAnalysis, ReportedEstimate, analyze_latencies, check_exponential_gaps, check_fixed_gaps,
};
use crate::stats::spearman::SamplingPolicy;
use crate::stats::{Checked, NotAvailable};
use crate::workload::{ArrivalProcess, ServiceDistribution};

/// Largest spread of fixed inter-arrivals still called fixed.
const FIXED_GAP_CV_LIMIT: f64 = 0.1;
/// The achieved rate must reach this fraction of the target.
const RATE_TOLERANCE: f64 = 0.95;
/// How long to wait for responses after the last request.
const DRAIN: Duration = Duration::from_secs(2);

/// One load-generation run, independent of the server it targets.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// TCP connections opened.
    pub connections: usize,
    /// Outstanding requests allowed per connection.
    pub depth: usize,
    /// Arrival process, rate in requests per second.
    pub arrivals: ArrivalProcess,
    /// Service times asked of the server, in µs, by the synthetic
    /// protocol. Its mean also sets the latency budget (10 × mean) of
    /// [`capacity_warning`](Self::capacity_warning): with another protocol
    /// use a fixed distribution of a tenth of the latency SLO.
    pub service: ServiceDistribution,
    /// Measured period.
    pub duration: Duration,
    /// Leading period whose requests are not measured.
    pub warmup: Duration,
    /// Seed of arrival, service and connection choices.
    pub seed: u64,
    /// Latency sampling (Spearman) policy.
    pub sampling: SamplingPolicy,
    /// Confidence of the percentile intervals.
    pub confidence: f64,
    /// The sender sleeps until this long before each send time, then
    /// busy-waits (timer slack is set to 1 ns). Longer is more precise on
    /// an idle machine; shorter leaves the CPU to the server when client
    /// and server share cores (and keeps a real-time sender below the
    /// kernel's RT throttling limit).
    pub spin: Duration,
    /// One thread sends and reads responses between sends (busy-polling
    /// the connections while it waits) instead of a sender and a receiver
    /// thread: for a client with one CPU, where two threads would delay
    /// each other's sends and reads.
    pub single_thread: bool,
}

impl LoadSpec {
    /// Defaults: 32 connections × depth 4, Poisson, 10% warm-up, 95% CIs.
    pub fn new(rate: f64, service: ServiceDistribution, duration: Duration) -> Self {
        LoadSpec {
            connections: 32,
            depth: 4,
            arrivals: ArrivalProcess::Poisson { rate },
            service,
            duration,
            warmup: duration / 10,
            seed: 1,
            sampling: SamplingPolicy::default(),
            confidence: 0.95,
            spin: Duration::from_micros(100),
            single_thread: false,
        }
    }

    /// A run of a search for the maximum throughput at a p99 objective of
    /// `slo_us` µs with a protocol other than the synthetic one: its
    /// service distribution only sizes the capacity warning (slots
    /// against the requests in flight at 10 × its mean latency), so it is
    /// a fixed tenth of the SLO and the warning checks the slots at the
    /// SLO's latency.
    pub fn at_slo(rate: f64, slo_us: f64, duration: Duration) -> Self {
        let service = ServiceDistribution::Fixed {
            mean: slo_us / 10.0,
        };
        LoadSpec::new(rate, service, duration)
    }

    /// The Lancet sizing warning: fewer request slots than the requests
    /// in flight at the target rate when latency reaches the SLO of 10 S̄
    /// (Little's law), which would turn the open loop into a closed one.
    pub fn capacity_warning(&self) -> Option<String> {
        let slots = self.connections * self.depth;
        let in_flight = self.arrivals.rate() * 10.0 * self.service.mean() * 1e-6;
        (slots as f64 <= in_flight).then(|| {
            format!(
                "{} connections x depth {} = {slots} slots < {in_flight:.0} requests in flight at \
                 {:.0} RPS and 10 x {:.1} us latency: results may be closed-loop",
                self.connections,
                self.depth,
                self.arrivals.rate(),
                self.service.mean()
            )
        })
    }
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Connecting to the server failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Server address.
        addr: SocketAddr,
        /// OS error.
        source: io::Error,
    },
    /// A socket or epoll call failed mid-run.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// OS error.
        source: io::Error,
    },
    /// The configuration cannot be run.
    #[error("invalid load configuration: {0}")]
    Config(&'static str),
    /// A response's echoed id did not match the request at the head of
    /// its connection.
    #[error("response {got} on connection {connection}, expected {expected}")]
    OutOfOrder {
        /// Connection index.
        connection: usize,
        /// Id received.
        got: u64,
        /// Id expected.
        expected: u64,
    },
    /// The framer rejected a connection's bytes.
    #[error("connection {connection}: {source}")]
    Response {
        /// Connection index.
        connection: usize,
        /// What the framer found.
        source: FrameError,
    },
    /// The framer returned a length of 0 or beyond the received bytes.
    #[error(
        "connection {connection}: the framer returned a {len}-byte response of {received} bytes"
    )]
    FrameLength {
        /// Connection index.
        connection: usize,
        /// The length returned.
        len: usize,
        /// Bytes it was given.
        received: usize,
    },
    /// Bytes arrived on a connection with no request outstanding.
    #[error("connection {connection}: {bytes} bytes received with no request outstanding")]
    Unsolicited {
        /// Connection index.
        connection: usize,
        /// Bytes received.
        bytes: usize,
    },
    /// The request generator returned a class it does not name.
    #[error("the request generator returned class {class} of {classes}")]
    UnknownClass {
        /// The class returned.
        class: RequestClass,
        /// How many it names.
        classes: usize,
    },
    /// Every pipeline slot stayed full: the server stopped answering.
    #[error("no response for {waited:?} with every pipeline slot in use: the server stalled")]
    Stalled {
        /// How long the sender waited for a free slot.
        waited: Duration,
    },
    /// The receiver thread panicked.
    #[error("receiver thread panicked")]
    Receiver,
}

/// Percentiles of all measured requests (no sampling, no checks), in µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HistogramSummary {
    /// Mean latency.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest latency.
    pub max: f64,
}

/// Latencies of one request class: checked as the run's are, and
/// unchecked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassLatency {
    /// Class name (from [`RequestGenerator::class_names`]).
    pub class: &'static str,
    /// Measured requests of the class sent.
    pub sent: u64,
    /// Measured requests of the class that were answered.
    pub answered: u64,
    /// The class's fraction of the measured requests sent, so of the
    /// achieved rate.
    pub rate_share: f64,
    /// The class's achieved rate (its share of the run's), RPS.
    pub achieved_rps: f64,
    /// One of the class's latencies in this many was kept for the checked
    /// percentiles (none when no interval worked).
    pub sampling_interval: Option<usize>,
    /// Latency samples kept.
    pub samples: usize,
    /// p50, p90, p99, p99.9 in µs with their confidence intervals, or why
    /// not: the class's measured latencies, in transmission order, through
    /// the run's analysis and its run-wide checks.
    pub percentiles: [ReportedEstimate; 4],
    /// Percentiles of all its answered measured requests (unchecked), µs.
    pub histogram: HistogramSummary,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requested rate, RPS.
    pub target_rps: f64,
    /// Achieved send rate over the measured period, RPS.
    pub achieved_rps: f64,
    /// Requests sent in the measured period.
    pub measured: u64,
    /// Requests sent in total.
    pub sent: u64,
    /// Responses received in total.
    pub answered: u64,
    /// Requests that waited for a free pipeline slot.
    pub deferred: u64,
    /// Sizing warnings (printed, not fatal).
    pub warnings: Vec<String>,
    /// Run-wide checks that failed; any makes every percentile N/A.
    pub failed_checks: Vec<NotAvailable>,
    /// Checked percentiles with confidence intervals, in µs.
    pub latency: LatencyAnalysis,
    /// Unchecked percentiles of every measured request, in µs.
    pub histogram: HistogramSummary,
    /// How late measured requests left after their scheduled time, µs
    /// (client bias: large values explain a failed inter-arrival check).
    pub send_lateness: HistogramSummary,
    /// Latencies per request class, in class order (empty when the send
    /// log names no classes).
    pub per_class: Vec<ClassLatency>,
}

impl LoadReport {
    /// The checked p99 in µs.
    pub fn p99(&self) -> &Checked<crate::stats::percentile::PercentileEstimate> {
        self.latency.p99()
    }
}

/// A request in flight: id, class, send time (ns since the run started).
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    request: PendingRequest,
    sent_ns: u64,
}

/// Requests in flight on one connection, oldest first.
type InFlight = Mutex<VecDeque<Outstanding>>;

struct Shared {
    streams: Vec<TcpStream>,
    in_flight: Vec<InFlight>,
    start: Instant,
    sending_done: AtomicBool,
    sent: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn pending(&self, connection: usize) -> usize {
        self.in_flight[connection]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// Per-response record of the receiver: (request id, latency ns).
pub type Completion = (u64, u64);

/// The response side of a run: reads every connection, frames and
/// completes responses. Runs on its own thread, or inline in the sender
/// ([`LoadSpec::single_thread`]).
struct Receiver<'a> {
    shared: &'a Shared,
    framer: &'a dyn ResponseFramer,
    epoll: Epoll,
    buffers: Vec<Vec<u8>>,
    completions: Vec<Completion>,
    ready: [Ready; 32],
}

impl<'a> Receiver<'a> {
    fn new(shared: &'a Shared, framer: &'a dyn ResponseFramer) -> Result<Self, LoadError> {
        let io_error = |what| move |source| LoadError::Io { what, source };
        let epoll = Epoll::new().map_err(io_error("epoll_create"))?;
        for (index, stream) in shared.streams.iter().enumerate() {
            epoll
                .add(stream, flags::IN, index as u64)
                .map_err(io_error("epoll_ctl"))?;
        }
        Ok(Receiver {
            shared,
            framer,
            epoll,
            buffers: vec![Vec::new(); shared.streams.len()],
            completions: Vec::new(),
            ready: [Ready {
                token: 0,
                events: 0,
            }; 32],
        })
    }

    /// Waits up to `timeout` (whole milliseconds; zero polls) for
    /// responses and completes those that arrived.
    fn poll(&mut self, timeout: Duration) -> Result<(), LoadError> {
        let count = self
            .epoll
            .wait(&mut self.ready, timeout)
            .map_err(|source| LoadError::Io {
                what: "epoll_wait",
                source,
            })?;
        for event in &self.ready[..count] {
            let connection = event.token as usize;
            let buffer = &mut self.buffers[connection];
            read_available(self.shared, connection, buffer)?;
            let consumed = match_responses(
                self.shared,
                self.framer,
                connection,
                buffer,
                &mut self.completions,
            )?;
            buffer.drain(..consumed);
        }
        Ok(())
    }

    /// Receives until the sender is done and every request is answered,
    /// or [`DRAIN`] after the sender is done.
    fn run(mut self) -> Result<Vec<Completion>, LoadError> {
        let mut drain_deadline = None;
        loop {
            if self.shared.sending_done.load(Ordering::Acquire) {
                let sent = self.shared.sent.load(Ordering::Acquire);
                if self.completions.len() as u64 >= sent {
                    return Ok(self.completions);
                }
                let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN);
                if Instant::now() >= deadline {
                    return Ok(self.completions);
                }
            }
            self.poll(Duration::from_millis(10))?;
        }
    }
}

/// Frames the complete responses at the start of `received` on
/// `connection`, completes their requests (FIFO) and returns the bytes
/// they took.
fn match_responses(
    shared: &Shared,
    framer: &dyn ResponseFramer,
    connection: usize,
    received: &[u8],
    completions: &mut Vec<Completion>,
) -> Result<usize, LoadError> {
    let now = shared.now_ns();
    let mut queue = shared.in_flight[connection]
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut consumed = 0;
    while consumed < received.len() {
        let rest = &received[consumed..];
        let Some(&Outstanding { request, sent_ns }) = queue.front() else {
            return Err(LoadError::Unsolicited {
                connection,
                bytes: rest.len(),
            });
        };
        let frame = match framer.frame(request, rest) {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(source) => return Err(LoadError::Response { connection, source }),
        };
        if frame.len == 0 || frame.len > rest.len() {
            return Err(LoadError::FrameLength {
                connection,
                len: frame.len,
                received: rest.len(),
            });
        }
        if let Some(got) = frame.echoed_id.filter(|&got| got != request.id) {
            return Err(LoadError::OutOfOrder {
                connection,
                got,
                expected: request.id,
            });
        }
        queue.pop_front();
        completions.push((request.id, now.saturating_sub(sent_ns)));
        consumed += frame.len;
    }
    Ok(consumed)
}

fn read_available(
    shared: &Shared,
    connection: usize,
    buffer: &mut Vec<u8>,
) -> Result<(), LoadError> {
    use std::io::Read;
    let mut chunk = [0u8; 4096];
    let mut stream = &shared.streams[connection];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(LoadError::Io {
                    what: "server closed a connection",
                    source: io::ErrorKind::UnexpectedEof.into(),
                });
            }
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(LoadError::Io {
                    what: "read",
                    source,
                });
            }
        }
    }
}

/// What the sender does while it waits for a send time or a free slot.
enum Waiting<'r, 'a> {
    /// Sleeps, then spins yielding the CPU (a receiver thread reads).
    Sleep,
    /// Reads responses (single-thread mode).
    Receive(&'r mut Receiver<'a>),
}

impl Waiting<'_, '_> {
    /// Waits until `deadline_ns`: sleeping (or reading responses) until
    /// `spin` before it, then spinning (or polling the connections).
    fn until(
        &mut self,
        shared: &Shared,
        deadline_ns: u64,
        spin: Duration,
    ) -> Result<(), LoadError> {
        loop {
            let now = shared.now_ns();
            if now >= deadline_ns {
                return Ok(());
            }
            let remaining = Duration::from_nanos(deadline_ns - now);
            let idle = remaining.saturating_sub(spin);
            match self {
                Waiting::Sleep if !idle.is_zero() => std::thread::sleep(idle),
                // Spin, but let a runnable thread sharing this CPU (the
                // receiver, when client threads outnumber its CPUs) go
                // first: a pure spin would hold its wakeups back for a
                // whole scheduler slice, milliseconds of made-up latency.
                Waiting::Sleep => std::thread::yield_now(),
                Waiting::Receive(receiver) => receiver.poll(idle)?,
            }
        }
    }

    /// Lets a moment pass while every pipeline slot is in use.
    fn pause(&mut self) -> Result<(), LoadError> {
        match self {
            Waiting::Sleep => {
                std::thread::yield_now();
                Ok(())
            }
            Waiting::Receive(receiver) => receiver.poll(Duration::ZERO),
        }
    }
}

/// A connection with a free pipeline slot, probing from a random one.
fn free_connection(shared: &Shared, depth: usize, rng: &mut SmallRng) -> Option<usize> {
    let count = shared.streams.len();
    let first = rng.random_range(0..count);
    (0..count)
        .map(|offset| (first + offset) % count)
        .find(|&connection| shared.pending(connection) < depth)
}

/// What the sender did, for [`build_report`]. Request ids are indices:
/// request `i` left at `send_ns[i]`.
#[derive(Debug, Clone, Default)]
pub struct SendLog {
    /// Send time of each request, ns since the run started (ascending).
    pub send_ns: Vec<u64>,
    /// How late each send left after its scheduled time, ns.
    pub lateness_ns: Vec<u64>,
    /// Requests that waited for a free pipeline slot.
    pub deferred: u64,
    /// Names of the request classes (empty: no per-class report).
    pub class_names: Vec<&'static str>,
    /// Class of each request, an index into `class_names` (empty when
    /// `class_names` is).
    pub classes: Vec<u8>,
}

fn send(
    shared: &Shared,
    config: &LoadSpec,
    generator: &mut dyn RequestGenerator,
    waiting: &mut Waiting<'_, '_>,
) -> Result<SendLog, LoadError> {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and only changes
    // this thread's timer slack; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let end_ns = (config.warmup + config.duration).as_nanos() as u64;
    let mut log = SendLog {
        class_names: generator.class_names().to_vec(),
        ..SendLog::default()
    };
    let mut request = Vec::new();
    let mut scheduled = 0.0f64;
    let mut id = 0u64;
    loop {
        scheduled += config.arrivals.next_gap(&mut rng) * 1e9;
        if scheduled >= end_ns as f64 {
            return Ok(log);
        }
        request.clear();
        let class = generator.next_request(&mut rng, id, &mut request);
        let class_byte = u8::try_from(class)
            .ok()
            .filter(|_| class < log.class_names.len())
            .ok_or(LoadError::UnknownClass {
                class,
                classes: log.class_names.len(),
            })?;
        waiting.until(shared, scheduled as u64, config.spin)?;
        let connection = match free_connection(shared, config.depth, &mut rng) {
            Some(connection) => connection,
            None => {
                log.deferred += 1;
                let since = Instant::now();
                loop {
                    waiting.pause()?;
                    if let Some(connection) = free_connection(shared, config.depth, &mut rng) {
                        break connection;
                    }
                    if since.elapsed() > DRAIN {
                        return Err(LoadError::Stalled { waited: DRAIN });
                    }
                }
            }
        };
        let now = shared.now_ns();
        shared.in_flight[connection]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Outstanding {
                request: PendingRequest { id, class },
                sent_ns: now,
            });
        write_all_nonblocking(&shared.streams[connection], &request).map_err(|source| {
            LoadError::Io {
                what: "write",
                source,
            }
        })?;
        shared.sent.store(id + 1, Ordering::Release);
        log.send_ns.push(now);
        log.lateness_ns.push(now.saturating_sub(scheduled as u64));
        log.classes.push(class_byte);
        id += 1;
    }
}

fn connect_all(addr: SocketAddr, connections: usize) -> Result<Vec<TcpStream>, LoadError> {
    (0..connections)
        .map(|_| {
            let connect_error = |source| LoadError::Connect { addr, source };
            let stream = TcpStream::connect(addr).map_err(connect_error)?;
            stream.set_nodelay(true).map_err(connect_error)?;
            stream.set_nonblocking(true).map_err(connect_error)?;
            Ok(stream)
        })
        .collect()
}

fn summarize(latencies_ns: &[u64]) -> HistogramSummary {
    // 1 ns to 1 hour at 3 significant figures.
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .expect("bounds and precision are valid");
    for &latency in latencies_ns {
        histogram.saturating_record(latency.max(1));
    }
    let micros = |ns: u64| ns as f64 / 1e3;
    HistogramSummary {
        mean: histogram.mean() / 1e3,
        p50: micros(histogram.value_at_quantile(0.5)),
        p99: micros(histogram.value_at_quantile(0.99)),
        p999: micros(histogram.value_at_quantile(0.999)),
        max: micros(histogram.max()),
    }
}

/// Runs one open-loop measurement of the synthetic protocol (service
/// times from `config.service`) against the server at `addr`.
pub fn run_load(addr: SocketAddr, config: &LoadSpec) -> Result<LoadReport, LoadError> {
    let mut generator = SyntheticRequests::new(config.service.clone());
    run_load_with(addr, config, &mut generator, &SyntheticResponses)
}

/// Runs one open-loop measurement against the server at `addr`, sending
/// the requests `generator` makes and cutting responses with `framer`.
/// `config.service` only sizes the capacity warning here.
pub fn run_load_with(
    addr: SocketAddr,
    config: &LoadSpec,
    generator: &mut dyn RequestGenerator,
    framer: &dyn ResponseFramer,
) -> Result<LoadReport, LoadError> {
    if config.connections == 0 || config.depth == 0 {
        return Err(LoadError::Config("connections and depth must be positive"));
    }
    if !(config.arrivals.rate().is_finite() && config.arrivals.rate() > 0.0) {
        return Err(LoadError::Config("the rate must be positive"));
    }
    let classes = generator.class_names().len();
    if classes == 0 || classes > MAX_CLASSES {
        return Err(LoadError::Config(
            "a request generator names between 1 and 256 classes",
        ));
    }
    let shared = Shared {
        in_flight: (0..config.connections)
            .map(|_| InFlight::default())
            .collect(),
        streams: connect_all(addr, config.connections)?,
        start: Instant::now(),
        sending_done: AtomicBool::new(false),
        sent: AtomicU64::new(0),
    };
    let (sent, completions) = if config.single_thread {
        let mut receiver = Receiver::new(&shared, framer)?;
        let sent = send(
            &shared,
            config,
            generator,
            &mut Waiting::Receive(&mut receiver),
        );
        shared.sending_done.store(true, Ordering::Release);
        (sent, receiver.run())
    } else {
        std::thread::scope(|scope| {
            let receiver = std::thread::Builder::new()
                .name("loadgen-rx".to_owned())
                .spawn_scoped(scope, || Receiver::new(&shared, framer)?.run())
                .map_err(|source| LoadError::Io {
                    what: "spawn",
                    source,
                })?;
            let sent = send(&shared, config, generator, &mut Waiting::Sleep);
            shared.sending_done.store(true, Ordering::Release);
            let received = receiver.join().map_err(|_| LoadError::Receiver)?;
            Ok::<_, LoadError>((sent, received))
        })?
    };
    let completions = completions?;
    let log = sent?;
    Ok(build_report(config, &log, completions))
}

/// Applies the run-wide checks and the latency analysis to raw run data.
/// Public so that a generator over another transport (the dataplane's own
/// netstack) reports exactly like this one.
pub fn build_report(
    config: &LoadSpec,
    log: &SendLog,
    mut completions: Vec<Completion>,
) -> LoadReport {
    let warnings: Vec<String> = config.capacity_warning().into_iter().collect();
    let warmup_ns = config.warmup.as_nanos() as u64;
    let first_measured = log.send_ns.partition_point(|&t| t < warmup_ns);
    let measured_sends = &log.send_ns[first_measured..];
    let achieved_rps = match (measured_sends.first(), measured_sends.last()) {
        (Some(first), Some(last)) if last > first => {
            (measured_sends.len() - 1) as f64 * 1e9 / (last - first) as f64
        }
        _ => 0.0,
    };
    let gaps: Vec<f64> = measured_sends
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as f64)
        .collect();
    let mut failed_checks = Vec::new();
    let sent = log.send_ns.len() as u64;
    let answered = completions.len() as u64;
    if answered < sent {
        failed_checks.push(NotAvailable::Unanswered {
            missing: sent - answered,
        });
    }
    if log.deferred > 0 {
        failed_checks.push(NotAvailable::PipelineExhausted {
            deferred: log.deferred,
        });
    }
    let target_rps = config.arrivals.rate();
    if achieved_rps < RATE_TOLERANCE * target_rps {
        failed_checks.push(NotAvailable::RateNotReached {
            achieved: achieved_rps,
            target: target_rps,
        });
    }
    let gap_check = match config.arrivals {
        ArrivalProcess::Poisson { .. } => check_exponential_gaps(&gaps),
        ArrivalProcess::Fixed { .. } => check_fixed_gaps(&gaps, FIXED_GAP_CV_LIMIT),
    };
    failed_checks.extend(gap_check.err());
    completions.sort_unstable_by_key(|&(id, _)| id);
    let measured: Vec<u64> = completions
        .iter()
        .filter(|&&(id, _)| id as usize >= first_measured)
        .map(|&(_, latency)| latency)
        .collect();
    // Every latency series of the run, overall or of one class, goes
    // through the same analysis and the same run-wide checks.
    let analyze = |in_order_micros: &[f64]| {
        let mut latency = analyze_latencies(in_order_micros, &config.sampling, config.confidence);
        if let Some(reason) = failed_checks.first() {
            latency.percentiles = [(); 4].map(|_| Checked::NotAvailable(reason.clone()));
        }
        latency
    };
    let in_order_micros: Vec<f64> = measured.iter().map(|&ns| ns as f64 / 1e3).collect();
    let latency = analyze(&in_order_micros);
    let per_class = class_latencies(
        log,
        &completions,
        first_measured,
        achieved_rps,
        &ClassAnalysis {
            analyze: &analyze,
            overall: &latency,
        },
    );
    LoadReport {
        per_class,
        target_rps,
        achieved_rps,
        measured: measured_sends.len() as u64,
        sent,
        answered,
        deferred: log.deferred,
        warnings,
        failed_checks,
        latency,
        histogram: summarize(&measured),
        send_lateness: summarize(&log.lateness_ns[first_measured..]),
    }
}

/// How [`class_latencies`] analyses a class's latencies.
struct ClassAnalysis<'a> {
    /// The run's analysis of a latency series in transmission order, µs.
    analyze: &'a dyn Fn(&[f64]) -> LatencyAnalysis,
    /// Its result over every measured request: that of the class when
    /// there is only one.
    overall: &'a LatencyAnalysis,
}

/// The latencies of each class's measured requests (see [`ClassLatency`]);
/// `completions` sorted by id, the run's achieved rate `achieved_rps`.
fn class_latencies(
    log: &SendLog,
    completions: &[Completion],
    first_measured: usize,
    achieved_rps: f64,
    analysis: &ClassAnalysis<'_>,
) -> Vec<ClassLatency> {
    let mut sent = vec![0u64; log.class_names.len()];
    for &class in log.classes.iter().skip(first_measured) {
        if let Some(count) = sent.get_mut(class as usize) {
            *count += 1;
        }
    }
    let measured: u64 = sent.iter().sum();
    let mut by_class = vec![Vec::new(); log.class_names.len()];
    for &(id, latency) in completions
        .iter()
        .filter(|&&(id, _)| id as usize >= first_measured)
    {
        if let Some(samples) = log
            .classes
            .get(id as usize)
            .and_then(|&class| by_class.get_mut(class as usize))
        {
            samples.push(latency);
        }
    }
    let only_class = by_class.len() == 1;
    log.class_names
        .iter()
        .zip(sent)
        .zip(by_class)
        .map(|((&class, sent), samples)| {
            let latency = if only_class {
                analysis.overall.clone()
            } else {
                let micros: Vec<f64> = samples.iter().map(|&ns| ns as f64 / 1e3).collect();
                (analysis.analyze)(&micros)
            };
            let rate_share = if measured > 0 {
                sent as f64 / measured as f64
            } else {
                0.0
            };
            ClassLatency {
                class,
                sent,
                answered: samples.len() as u64,
                rate_share,
                achieved_rps: rate_share * achieved_rps,
                sampling_interval: latency.sampling_interval,
                samples: latency.samples,
                percentiles: latency.percentiles.each_ref().map(ReportedEstimate::from),
                histogram: summarize(&samples),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Exp};

    /// A clean synthetic run: Poisson sends at `rate` for 2 s, exponential
    /// latencies of mean 20 µs, every request answered.
    fn clean_run(rate: f64) -> (LoadSpec, SendLog, Vec<Completion>) {
        let spec = LoadSpec::new(
            rate,
            ServiceDistribution::Exponential { mean: 10.0 },
            Duration::from_secs(2),
        );
        let mut rng = SmallRng::seed_from_u64(2);
        let latency = Exp::new(1.0 / 20_000.0).unwrap();
        let mut log = SendLog::default();
        let mut now = 0.0;
        while now < 2.2e9 {
            now += spec.arrivals.next_gap(&mut rng) * 1e9;
            log.send_ns.push(now as u64);
            log.lateness_ns.push(0);
        }
        let completions = (0..log.send_ns.len() as u64)
            .map(|id| (id, latency.sample(&mut rng) as u64))
            .collect();
        (spec, log, completions)
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        let (spec, log, completions) = clean_run(20_000.0);
        let report = build_report(&spec, &log, completions);
        assert!(
            report.failed_checks.is_empty(),
            "{:?}",
            report.failed_checks
        );
        assert!((report.achieved_rps / 20_000.0 - 1.0).abs() < 0.02);
        let p99 = report.p99().valid().expect("valid p99");
        let truth = 20.0 * 100f64.ln();
        assert!(p99.low <= truth && truth <= p99.high, "{p99:?} vs {truth}");
        assert!((report.histogram.p99 / truth - 1.0).abs() < 0.05);
    }

    #[test]
    fn missing_answers_deferrals_and_bursts_make_every_percentile_na() {
        let (spec, mut log, mut completions) = clean_run(20_000.0);
        completions.truncate(completions.len() - 5);
        log.deferred = 3;
        let report = build_report(&spec, &log, completions);
        assert_eq!(
            report.failed_checks,
            [
                NotAvailable::Unanswered { missing: 5 },
                NotAvailable::PipelineExhausted { deferred: 3 }
            ]
        );
        assert!(
            report
                .latency
                .percentiles
                .iter()
                .all(|p| p.valid().is_none())
        );
        // A ~9 ms stall followed by a burst of back-to-back sends.
        let (spec, mut log, completions) = clean_run(20_000.0);
        let stall_end = log.send_ns[10_000] + 9_000_000;
        assert!(
            stall_end + 200 * 100 < log.send_ns[10_200],
            "stays in order"
        );
        for (offset, t) in log.send_ns[10_000..10_200].iter_mut().enumerate() {
            *t = stall_end + offset as u64 * 100;
        }
        let report = build_report(&spec, &log, completions);
        assert!(
            matches!(
                report.failed_checks[..],
                [NotAvailable::InterArrivalsNotExponential { .. }]
            ),
            "{:?}",
            report.failed_checks
        );
    }
}
