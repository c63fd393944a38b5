//! Software re-steering of received frames to their home core, for NICs
//! whose steering we do not program (TAP: the kernel picks the queue, and
//! only learns a flow's queue once we transmit on it; DESIGN.md "NIC
//! backends"). The home core of a TCP flow is fixed by the RSS Toeplitz
//! hash of its 4-tuple (the same function an RSS NIC applies), so every
//! core agrees on it without shared state. A core that receives a frame of
//! a flow homed elsewhere copies it into the home core's software queue
//! (ZygOS's "software packet queues", thesis ch. 4.5, which idle cores
//! probe before sending an IPI); non-TCP frames (ARP, ICMP) are handled
//! where they land, since every core's stack answers them alike.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};

use crate::nic::rss::MICROSOFT;
use crate::nic::{FourTuple, PendingFrames, RxProbe};

/// The 4-tuple of an IPv4 TCP frame (`None` for anything else).
pub fn tcp_flow(frame: &[u8]) -> Option<FourTuple> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some(FourTuple {
        src_ip: ip.src_addr(),
        dst_ip: ip.dst_addr(),
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
    })
}

#[derive(Default)]
struct SoftQueue {
    frames: spin::Mutex<VecDeque<Vec<u8>>>,
    len: AtomicUsize,
}

/// One software receive queue per core.
pub struct SoftQueues {
    queues: Box<[SoftQueue]>,
}

impl SoftQueues {
    /// Queues for `cores` cores.
    pub fn new(cores: usize) -> Arc<SoftQueues> {
        Arc::new(SoftQueues {
            queues: (0..cores.max(1)).map(|_| SoftQueue::default()).collect(),
        })
    }

    /// The home core of `flow`.
    pub fn home_of(&self, flow: &FourTuple) -> usize {
        MICROSOFT.hash_flow(flow) as usize % self.queues.len()
    }

    /// The core `frame` must be processed on, when it is not `core`.
    pub fn misdirected(&self, core: usize, frame: &[u8]) -> Option<usize> {
        let home = self.home_of(&tcp_flow(frame)?);
        (home != core).then_some(home)
    }

    /// Copies `frame` into `core`'s software queue.
    pub fn forward(&self, core: usize, frame: &[u8]) {
        if let Some(queue) = self.queues.get(core) {
            let mut frames = queue.frames.lock();
            frames.push_back(frame.to_vec());
            queue.len.store(frames.len(), Ordering::Release);
        }
    }

    /// Hands at most `max` frames of `core`'s software queue to `handle`;
    /// returns how many.
    pub fn drain(&self, core: usize, max: usize, mut handle: impl FnMut(&[u8])) -> usize {
        let Some(queue) = self.queues.get(core) else {
            return 0;
        };
        if queue.len.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let taken: Vec<Vec<u8>> = {
            let mut frames = queue.frames.lock();
            let n = frames.len().min(max);
            let taken = frames.drain(..n).collect();
            queue.len.store(frames.len(), Ordering::Release);
            taken
        };
        for frame in &taken {
            handle(frame);
        }
        taken.len()
    }

    fn pending(&self, core: usize) -> bool {
        self.queues
            .get(core)
            .is_some_and(|queue| queue.len.load(Ordering::Acquire) > 0)
    }

    /// A probe answering "frames wait for `core`" on its NIC queue or its
    /// software queue.
    pub fn probe(self: &Arc<Self>, core: usize, nic: RxProbe) -> RxProbe {
        let inner: Arc<dyn PendingFrames> = Arc::new(CoreProbe {
            soft: Arc::clone(self),
            core,
            nic,
        });
        RxProbe::new(core, inner)
    }
}

struct CoreProbe {
    soft: Arc<SoftQueues>,
    core: usize,
    nic: RxProbe,
}

impl PendingFrames for CoreProbe {
    fn has_pending(&self) -> bool {
        self.nic.has_pending() || self.soft.pending(self.core)
    }

    fn needs_wakeup(&self) -> bool {
        self.soft.pending(self.core) || self.nic.needs_wakeup()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use smoltcp::wire::{
        EthernetAddress, EthernetRepr, IpAddress, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber,
    };

    use super::*;

    fn syn(src_port: u16) -> Vec<u8> {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 9), Ipv4Addr::new(10, 0, 0, 1));
        let tcp = TcpRepr {
            src_port,
            dst_port: 80,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(1),
            ack_number: None,
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let ethernet = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 9]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut frame = vec![0xa5; ethernet.buffer_len() + ip.buffer_len() + tcp.buffer_len()];
        let mut out = EthernetFrame::new_unchecked(&mut frame[..]);
        ethernet.emit(&mut out);
        let mut ip_out = Ipv4Packet::new_unchecked(out.payload_mut());
        ip.emit(&mut ip_out, &Default::default());
        tcp.emit(
            &mut TcpPacket::new_unchecked(ip_out.payload_mut()),
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &Default::default(),
        );
        frame
    }

    struct EmptyNic;

    impl PendingFrames for EmptyNic {
        fn has_pending(&self) -> bool {
            false
        }
    }

    #[test]
    fn frames_of_a_flow_go_to_its_hash_home_and_nothing_else_moves() {
        let soft = SoftQueues::new(4);
        let frames: Vec<Vec<u8>> = (1000..1064).map(syn).collect();
        let mut homes = [0usize; 4];
        for frame in &frames {
            let flow = tcp_flow(frame).expect("a TCP frame");
            let home = soft.home_of(&flow);
            homes[home] += 1;
            assert_eq!(soft.misdirected(home, frame), None);
            assert_eq!(soft.misdirected((home + 1) % 4, frame), Some(home));
        }
        assert!(
            homes.iter().all(|&n| n > 0),
            "the hash spreads flows: {homes:?}"
        );
        assert_eq!(
            soft.misdirected(0, &[0u8; 20]),
            None,
            "not TCP: handled locally"
        );
        let home = soft.home_of(&tcp_flow(&frames[0]).unwrap());
        let probe = soft.probe(home, RxProbe::new(home, Arc::new(EmptyNic)));
        assert!(!probe.has_pending());
        soft.forward(home, &frames[0]);
        soft.forward(home, &frames[1]);
        assert!(probe.has_pending());
        let mut seen = Vec::new();
        assert_eq!(soft.drain(home, 64, |f| seen.push(f.to_vec())), 2);
        assert_eq!(seen, frames[..2].to_vec());
        assert!(!probe.has_pending());
    }
}
