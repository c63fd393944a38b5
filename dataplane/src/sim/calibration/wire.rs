//! The shm NIC's one-way latency (`wire_ns`: how long a frame takes from
//! the client to a server core, which the sim charges each way): two ports
//! of a fresh shm switch, one thread each, bouncing a 64-byte frame; half
//! the round trip is one frame's transmit, switch and receive.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{PARTNER_TIMEOUT, Pinned, ProbeError, cpu_pair, spin_until};
use crate::nic::NicQueue;
use crate::nic::shm::{PortConfig, ShmGeometry, ShmNic, ShmQueue};
use crate::process::pin_to_cpu;

const FRAME_LEN: usize = 64;
const MACS: [[u8; 6]; 2] = [[2, 0, 0, 0, 0x89, 1], [2, 0, 0, 0, 0x89, 2]];
/// An ethertype for local experiments (IEEE 802 local experimental 1): the
/// switch forwards it by MAC without reading further.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

/// Two ports of one shm switch.
pub struct WireProbe {
    // The NICs own the region and ports the queues use.
    _nics: [ShmNic; 2],
    queues: [ShmQueue; 2],
}

/// A shm region name unique to this process and call.
pub(super) fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "zcal-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl WireProbe {
    /// A new switch with two one-queue ports.
    pub fn new() -> Result<WireProbe, ProbeError> {
        let name = unique_name();
        let port = |index: usize| PortConfig {
            mac: MACS[index],
            ipv4: Ipv4Addr::new(10, 89, 0, index as u8 + 1),
            queues: 1,
        };
        let geometry = ShmGeometry {
            max_ports: 2,
            max_queues: 1,
            buffers_per_queue: 64,
        };
        let mut first = ShmNic::create(&name, geometry, port(0))?;
        let mut second = ShmNic::attach(&name, port(1))?;
        let no_queue = || ProbeError::Stack("shm port without a queue".to_owned());
        let queues = [
            first.take_queues().pop().ok_or_else(no_queue)?,
            second.take_queues().pop().ok_or_else(no_queue)?,
        ];
        Ok(WireProbe {
            _nics: [first, second],
            queues,
        })
    }

    /// `n / 2` round trips of a frame (at least one); half of each, ns
    /// (one-way transfers); `None` when a frame did not come back.
    pub fn measure(&mut self, n: u64) -> Option<Vec<u64>> {
        let round_trips = n.div_ceil(2).max(1);
        let [near, far] = &mut self.queues;
        let (here, there) = cpu_pair();
        std::thread::scope(|scope| {
            let partner = scope.spawn(|| {
                pin_to_cpu(there);
                (0..round_trips).all(|_| bounce(far, MACS[0]))
            });
            let _pinned = Pinned::to(here);
            let mut one_way = Vec::with_capacity(round_trips as usize);
            for _ in 0..round_trips {
                let start = Instant::now();
                if !(send(near, MACS[1]) && receive(near)) {
                    break;
                }
                one_way.push(start.elapsed().as_nanos() as u64 / 2);
            }
            let complete = one_way.len() as u64 == round_trips;
            (partner.join().unwrap_or(false) && complete).then_some(one_way)
        })
    }
}

/// Sends one frame to `to`.
fn send(queue: &mut ShmQueue, to: [u8; 6]) -> bool {
    let from = MACS.iter().find(|&&mac| mac != to).copied().unwrap_or(to);
    let sent = queue.send_frame(FRAME_LEN, &mut |frame| {
        frame.fill(0);
        frame[..6].copy_from_slice(&to);
        frame[6..12].copy_from_slice(&from);
        frame[12..14].copy_from_slice(&ETHERTYPE);
    });
    queue.flush_tx();
    sent
}

/// Waits for one frame and releases it.
fn receive(queue: &mut ShmQueue) -> bool {
    spin_until(PARTNER_TIMEOUT, || !queue.rx_burst(1).is_empty())
}

/// Waits for one frame, then answers to `to`.
fn bounce(queue: &mut ShmQueue, to: [u8; 6]) -> bool {
    receive(queue) && send(queue, to)
}
