//! Ours served by the real dataplane runtime: `zygos run memcached` on the
//! shared-memory NIC (one core, process platform), reached through a
//! test-only bridge. The bridge attaches a second port to the shm switch,
//! runs its own netstack there, and relays each loopback TCP connection of
//! the suite to one netstack TCP connection to the dataplane, both ways,
//! including the closes. Every byte of a case thus crosses the dataplane's
//! NIC, its TCP/IP stack, the ZygOS scheduler and the application API.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as WallClock};

use dataplane::nic::shm::{PortConfig, ShmNic};
use dataplane::nic::{MAX_BURST, NicQueue, NicSpec};
use dataplane::run::{Dataplane, mac_for};
use netstack::{ConnId, Event, FrameSink, Instant, Stack, StackConfig};

use crate::servers::Options;
use crate::transport::Transport;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// A dataplane serving memcached, and the bridge to it.
pub struct OursOverDataplane {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    bridge: Option<JoinHandle<()>>,
    dataplane: Option<Dataplane>,
}

impl OursOverDataplane {
    /// Starts the dataplane and the bridge.
    pub fn start(options: Options) -> Self {
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mc-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, Ordering::Relaxed)
        );
        let args =
            crate::servers::dataplane_args(options, 1, NicSpec::Shm(name.clone()), SERVER_IP);
        let dataplane = args.start().expect("start the memcached dataplane");
        let peer = ShmNic::attach(
            &name,
            PortConfig {
                mac: mac_for(CLIENT_IP),
                ipv4: CLIENT_IP,
                queues: 1,
            },
        )
        .expect("attach the bridge port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let bridge = std::thread::spawn(move || Bridge::new(peer, listener).run(&stopping));
        OursOverDataplane {
            address,
            stop,
            bridge: Some(bridge),
            dataplane: Some(dataplane),
        }
    }
}

impl Drop for OursOverDataplane {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(bridge) = self.bridge.take() {
            let _ = bridge.join();
        }
        if let Some(dataplane) = self.dataplane.take() {
            let _ = dataplane.stop();
        }
    }
}

impl Transport for OursOverDataplane {
    fn name(&self) -> &'static str {
        "ours on the dataplane (shm NIC)"
    }
    fn address(&self) -> SocketAddr {
        self.address
    }
}

struct QueueSink<'a>(&'a mut dyn NicQueue);

impl FrameSink for QueueSink<'_> {
    fn send_frame(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.send_frame(len, fill)
    }
}

/// One relayed connection.
struct Pair {
    tcp: TcpStream,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    connected: bool,
    client_done: bool,
    close_sent: bool,
    server_done: bool,
}

struct Bridge {
    _peer: ShmNic,
    queue: Box<dyn NicQueue>,
    stack: Stack,
    listener: TcpListener,
    pairs: HashMap<ConnId, Pair>,
    buffer: Vec<u8>,
    epoch: WallClock,
}

impl Bridge {
    fn new(mut peer: ShmNic, listener: TcpListener) -> Self {
        let queue: Box<dyn NicQueue> = Box::new(peer.take_queues().pop().expect("one queue"));
        let config = StackConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            ..StackConfig::default()
        };
        let stack = Stack::new(config).expect("bridge stack");
        Bridge {
            _peer: peer,
            queue,
            stack,
            listener,
            pairs: HashMap::new(),
            buffer: vec![0; 64 << 10],
            epoch: WallClock::now(),
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            if !self.step() {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// One pass; returns whether anything moved.
    fn step(&mut self) -> bool {
        let now = Instant(self.epoch.elapsed().as_nanos() as u64);
        let mut moved = false;
        while let Ok((tcp, _)) = self.listener.accept() {
            tcp.set_nonblocking(true).expect("non-blocking stream");
            let _ = tcp.set_nodelay(true);
            let conn = self
                .stack
                .connect(now, SocketAddrV4::new(SERVER_IP, crate::servers::PORT))
                .expect("connect to the dataplane");
            let pair = Pair {
                tcp,
                to_server: Vec::new(),
                to_client: Vec::new(),
                connected: false,
                client_done: false,
                close_sent: false,
                server_done: false,
            };
            self.pairs.insert(conn, pair);
            moved = true;
        }
        {
            let burst = self.queue.rx_burst(MAX_BURST);
            for frame in &burst {
                self.stack.handle_frame(now, frame);
                moved = true;
            }
        }
        while let Some(event) = self.stack.pop_event() {
            moved = true;
            self.on_event(event);
        }
        let stack = &mut self.stack;
        let buffer = &mut self.buffer;
        self.pairs.retain(|&conn, pair| {
            if !pair.client_done {
                match pair.tcp.read(buffer) {
                    Ok(0) => pair.client_done = true,
                    Ok(n) => {
                        pair.to_server.extend_from_slice(&buffer[..n]);
                        moved = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => pair.client_done = true,
                }
            }
            if pair.connected
                && !pair.to_server.is_empty()
                && let Ok(n) = stack.send(conn, &pair.to_server)
            {
                pair.to_server.drain(..n);
                moved |= n > 0;
            }
            if pair.connected && pair.client_done && pair.to_server.is_empty() && !pair.close_sent {
                pair.close_sent = true;
                let _ = stack.close(conn);
            }
            if !pair.to_client.is_empty() {
                match pair.tcp.write(&pair.to_client) {
                    Ok(n) => {
                        pair.to_client.drain(..n);
                        moved |= n > 0;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => pair.to_client.clear(),
                }
            }
            if pair.server_done && pair.to_client.is_empty() {
                let _ = pair.tcp.shutdown(Shutdown::Both);
                if !pair.close_sent {
                    let _ = stack.close(conn);
                }
                return false;
            }
            true
        });
        self.stack.poll(now, &mut QueueSink(self.queue.as_mut()));
        self.queue.flush_tx();
        moved
    }

    fn on_event(&mut self, event: Event) {
        let (conn, closing) = match event {
            Event::Connected(conn) => {
                if let Some(pair) = self.pairs.get_mut(&conn) {
                    pair.connected = true;
                }
                return;
            }
            Event::Readable(conn) => (conn, false),
            Event::PeerClosed(conn) | Event::Reset(conn) | Event::Closed(conn) => (conn, true),
            Event::Accepted { .. } | Event::Writable(_) | Event::UdpReadable { .. } => return,
        };
        let Some(pair) = self.pairs.get_mut(&conn) else {
            return;
        };
        while let Ok(n @ 1..) = self.stack.recv(conn, &mut self.buffer) {
            pair.to_client.extend_from_slice(&self.buffer[..n]);
        }
        pair.server_done |= closing;
    }
}
