//! ARP (RFC 826): the neighbour cache with entry timeouts, request
//! rate-limiting, and the bounded queue of frames waiting for a resolution.
//!
//! The stack asks [`ArpCache::lookup`] for a next hop's MAC; on a miss it
//! parks the frame with [`ArpCache::park`] (or, for TCP, just retries from
//! connection state later) and sends a request when
//! [`ArpCache::should_request`] allows. A reply feeds [`ArpCache::insert`],
//! and [`ArpCache::take_parked`] releases the frames that were waiting.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame};

use crate::fast_hash::FastMap;
use crate::frame::ETH_HEADER;
use crate::time::{Duration, Instant};

/// Length of an Ethernet frame carrying an IPv4-over-Ethernet ARP packet.
pub(crate) const ARP_FRAME_LEN: usize = ETH_HEADER + 28;
/// Entries kept beyond the connection count before new ones are refused.
const SPARE_ENTRIES: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: [u8; 6],
    expires: Instant,
}

/// A frame waiting for its next hop's MAC.
#[derive(Debug)]
struct Parked {
    next_hop: Ipv4Addr,
    since: Instant,
    frame: Vec<u8>,
}

/// Requests sent for one address before its parked frames are dropped.
const PARKED_ATTEMPTS: u64 = 3;

/// The neighbour cache and its pending-frame queue.
#[derive(Debug)]
pub(crate) struct ArpCache {
    entries: FastMap<Ipv4Addr, Entry>,
    last_request: FastMap<Ipv4Addr, Instant>,
    parked: VecDeque<Parked>,
    /// The entry `confirm` refreshed last and when: the frames of one burst
    /// (same time, same neighbour) skip the look-up. Cleared by every
    /// insertion.
    confirmed: Option<(Ipv4Addr, [u8; 6], Instant)>,
    max_entries: usize,
    pending_limit: usize,
    timeout: Duration,
    retry: Duration,
}

impl ArpCache {
    pub(crate) fn new(
        max_connections: usize,
        pending_limit: usize,
        timeout: Duration,
        retry: Duration,
    ) -> ArpCache {
        ArpCache {
            entries: FastMap::default(),
            last_request: FastMap::default(),
            parked: VecDeque::with_capacity(pending_limit),
            confirmed: None,
            max_entries: max_connections.saturating_add(SPARE_ENTRIES),
            pending_limit,
            timeout,
            retry,
        }
    }

    /// The MAC of `ip` if known and not expired.
    pub(crate) fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Option<[u8; 6]> {
        match self.entries.get(&ip) {
            Some(entry) if entry.expires > now => Some(entry.mac),
            Some(_) => {
                self.entries.remove(&ip);
                self.confirmed = None;
                None
            }
            None => None,
        }
    }

    /// Records (or refreshes) `ip` at `mac`. When the cache is full, expired
    /// entries are purged first; if none expired the new entry is refused.
    pub(crate) fn insert(&mut self, now: Instant, ip: Ipv4Addr, mac: [u8; 6]) {
        self.confirmed = None;
        if self.entries.len() >= self.max_entries && !self.entries.contains_key(&ip) {
            self.entries.retain(|_, entry| entry.expires > now);
            if self.entries.len() >= self.max_entries {
                return;
            }
        }
        self.entries.insert(
            ip,
            Entry {
                mac,
                expires: now + self.timeout,
            },
        );
        self.last_request.remove(&ip);
    }

    /// Refreshes the lifetime of `ip`'s entry in place when it is cached at
    /// `mac` (traffic from the neighbour confirms it); false otherwise.
    pub(crate) fn confirm(&mut self, now: Instant, ip: Ipv4Addr, mac: [u8; 6]) -> bool {
        if self.confirmed == Some((ip, mac, now)) {
            return true;
        }
        match self.entries.get_mut(&ip) {
            Some(entry) if entry.mac == mac && entry.expires > now => {
                entry.expires = now + self.timeout;
                self.confirmed = Some((ip, mac, now));
                true
            }
            _ => false,
        }
    }

    /// Whether `ip` is already cached (RFC 826 merge rule: only existing
    /// entries are updated from requests not aimed at us).
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        self.entries.contains_key(&ip)
    }

    /// True when a request for `ip` should be sent now (at most one per
    /// `retry` interval per address); records the request time.
    pub(crate) fn should_request(&mut self, now: Instant, ip: Ipv4Addr) -> bool {
        match self.last_request.get(&ip) {
            Some(&sent) if now.saturating_since(sent) < self.retry => false,
            _ => {
                if self.last_request.len() >= self.max_entries {
                    self.last_request
                        .retain(|_, sent| now.saturating_since(*sent) < self.retry);
                }
                self.last_request.insert(ip, now);
                true
            }
        }
    }

    /// Parks a frame whose destination MAC is not known yet; false (frame
    /// dropped) when the queue is full.
    pub(crate) fn park(
        &mut self,
        now: Instant,
        next_hop: Ipv4Addr,
        frame: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        if self.parked.len() >= self.pending_limit {
            return Err(frame);
        }
        self.parked.push_back(Parked {
            next_hop,
            since: now,
            frame,
        });
        Ok(())
    }

    /// Drops frames parked for longer than [`PARKED_ATTEMPTS`] request
    /// intervals (the neighbour does not answer) into `dropped`, and lists in
    /// `retry` the addresses whose request is due again.
    pub(crate) fn service_parked(
        &mut self,
        now: Instant,
        dropped: &mut Vec<Vec<u8>>,
        retry: &mut Vec<Ipv4Addr>,
    ) {
        let patience = Duration(self.retry.as_nanos().saturating_mul(PARKED_ATTEMPTS));
        while self
            .parked
            .front()
            .is_some_and(|p| now.saturating_since(p.since) >= patience)
        {
            if let Some(parked) = self.parked.pop_front() {
                dropped.push(parked.frame);
            }
        }
        for index in 0..self.parked.len() {
            let hop = self.parked[index].next_hop;
            if !retry.contains(&hop) && self.should_request(now, hop) {
                retry.push(hop);
            }
        }
    }

    /// Removes the frames parked for `ip`, with their destination MAC set to
    /// `mac`, in arrival order.
    pub(crate) fn take_parked(&mut self, ip: Ipv4Addr, mac: [u8; 6], out: &mut Vec<Vec<u8>>) {
        let mut kept = self.parked.len();
        while kept > 0 {
            kept -= 1;
            let Some(mut parked) = self.parked.pop_front() else {
                break;
            };
            if parked.next_hop == ip {
                EthernetFrame::new_unchecked(&mut parked.frame[..])
                    .set_dst_addr(EthernetAddress(mac));
                out.push(parked.frame);
            } else {
                self.parked.push_back(parked);
            }
        }
    }

    /// Number of frames waiting for a resolution.
    pub(crate) fn parked_len(&self) -> usize {
        self.parked.len()
    }
}

/// Writes an ARP request or reply frame (RFC 826 packet format).
pub(crate) fn write_arp(frame: &mut [u8], src_mac: [u8; 6], dst_mac: [u8; 6], repr: &ArpRepr) {
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_dst_addr(EthernetAddress(dst_mac));
    eth.set_src_addr(EthernetAddress(src_mac));
    eth.set_ethertype(smoltcp::wire::EthernetProtocol::Arp);
    repr.emit(&mut ArpPacket::new_unchecked(&mut frame[ETH_HEADER..]));
}

/// The ARP request asking who has `target`.
pub(crate) fn request(our_mac: [u8; 6], our_ip: Ipv4Addr, target: Ipv4Addr) -> ArpRepr {
    ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(our_mac),
        source_protocol_addr: our_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ArpCache {
        ArpCache::new(4, 2, Duration::from_secs(10), Duration::from_secs(1))
    }

    #[test]
    fn entries_expire() {
        let mut arp = cache();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        arp.insert(Instant::ZERO, ip, [1; 6]);
        assert_eq!(arp.lookup(Instant::from_millis(9_999), ip), Some([1; 6]));
        assert_eq!(arp.lookup(Instant::from_millis(10_000), ip), None);
        assert!(!arp.contains(ip), "expired entry removed on lookup");
    }

    #[test]
    fn traffic_confirms_only_the_cached_address() {
        let mut arp = cache();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        assert!(!arp.confirm(Instant::ZERO, ip, [1; 6]), "unknown neighbour");
        arp.insert(Instant::ZERO, ip, [1; 6]);
        let later = Instant::from_millis(9_000);
        assert!(arp.confirm(later, ip, [1; 6]));
        assert!(arp.confirm(later, ip, [1; 6]), "same burst");
        assert!(!arp.confirm(later, ip, [2; 6]), "another MAC");
        assert_eq!(arp.lookup(Instant::from_millis(18_999), ip), Some([1; 6]));
        arp.insert(later, ip, [3; 6]);
        assert!(
            !arp.confirm(later, ip, [1; 6]),
            "the entry moved to a new MAC"
        );
        assert!(arp.confirm(later, ip, [3; 6]));
    }

    #[test]
    fn requests_are_rate_limited() {
        let mut arp = cache();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        assert!(arp.should_request(Instant::ZERO, ip));
        assert!(!arp.should_request(Instant::from_millis(999), ip));
        assert!(arp.should_request(Instant::from_millis(1_000), ip));
    }

    #[test]
    fn parked_queue_is_bounded_and_released_per_address() {
        let mut arp = cache();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(10, 0, 0, 3);
        arp.park(Instant::ZERO, a, vec![0; 20]).unwrap();
        arp.park(Instant::ZERO, b, vec![0; 20]).unwrap();
        assert!(
            arp.park(Instant::ZERO, a, vec![0; 20]).is_err(),
            "third frame exceeds limit 2"
        );
        let mut out = Vec::new();
        arp.take_parked(a, [7; 6], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][..6], &[7; 6]);
        assert_eq!(arp.parked_len(), 1);
    }

    #[test]
    fn unanswered_frames_are_dropped_after_three_requests() {
        let mut arp = cache();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        arp.park(Instant::ZERO, a, vec![0; 20]).unwrap();
        let (mut dropped, mut retry) = (Vec::new(), Vec::new());
        arp.service_parked(Instant::ZERO, &mut dropped, &mut retry);
        assert_eq!((dropped.len(), retry.as_slice()), (0, &[a][..]));
        retry.clear();
        arp.service_parked(Instant::from_millis(500), &mut dropped, &mut retry);
        assert!(retry.is_empty(), "rate limited");
        arp.service_parked(Instant::from_millis(3_000), &mut dropped, &mut retry);
        assert_eq!((dropped.len(), arp.parked_len()), (1, 0));
    }

    #[test]
    fn full_cache_refuses_until_entries_expire() {
        let mut arp = ArpCache::new(0, 1, Duration::from_secs(1), Duration::from_secs(1));
        for i in 0..SPARE_ENTRIES as u32 {
            arp.insert(Instant::ZERO, Ipv4Addr::from(i + 1), [1; 6]);
        }
        let extra = Ipv4Addr::new(192, 168, 0, 1);
        arp.insert(Instant::ZERO, extra, [2; 6]);
        assert!(!arp.contains(extra));
        arp.insert(Instant::from_millis(1_000), extra, [2; 6]);
        assert!(arp.contains(extra), "expired entries purged to make room");
    }
}
