//! UDP (RFC 768): bound ports, each with a bounded queue of received
//! datagrams whose buffers are recycled.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::error::UdpError;
use crate::fast_hash::FastMap;

/// UDP header length.
pub(crate) const UDP_HEADER: usize = 8;

#[derive(Debug, Default)]
struct Port {
    queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    /// An `UdpReadable` event is outstanding (cleared when drained).
    signalled: bool,
}

/// Bound UDP ports and their receive queues.
#[derive(Debug)]
pub(crate) struct UdpTable {
    ports: FastMap<u16, Port>,
    free: Vec<Vec<u8>>,
    queue_len: usize,
}

/// What happened to a received datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Queued; the port needs an `UdpReadable` event.
    QueuedSignal,
    /// Queued; an event is already outstanding.
    Queued,
    /// Dropped (port unbound or queue full).
    Dropped,
}

impl UdpTable {
    pub(crate) fn new(queue_len: usize) -> UdpTable {
        UdpTable {
            ports: FastMap::default(),
            free: Vec::new(),
            queue_len,
        }
    }

    pub(crate) fn bind(&mut self, port: u16) -> Result<(), UdpError> {
        if port == 0 {
            return Err(UdpError::InvalidPort);
        }
        if self.ports.contains_key(&port) {
            return Err(UdpError::PortInUse(port));
        }
        self.ports.insert(port, Port::default());
        Ok(())
    }

    pub(crate) fn unbind(&mut self, port: u16) -> Result<(), UdpError> {
        let bound = self.ports.remove(&port).ok_or(UdpError::NotBound(port))?;
        for (_, buf) in bound.queue {
            self.free.push(buf);
        }
        Ok(())
    }

    pub(crate) fn is_bound(&self, port: u16) -> bool {
        self.ports.contains_key(&port)
    }

    /// Queues a datagram received on `port` from `from`.
    pub(crate) fn deliver(&mut self, port: u16, from: SocketAddrV4, payload: &[u8]) -> Delivery {
        let Some(bound) = self.ports.get_mut(&port) else {
            return Delivery::Dropped;
        };
        if bound.queue.len() >= self.queue_len {
            return Delivery::Dropped;
        }
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        bound.queue.push_back((from, buf));
        if bound.signalled {
            Delivery::Queued
        } else {
            bound.signalled = true;
            Delivery::QueuedSignal
        }
    }

    /// Copies the oldest datagram of `port` into `buf`: `Ok(None)` when the
    /// queue is empty.
    pub(crate) fn recv(
        &mut self,
        port: u16,
        buf: &mut [u8],
    ) -> Result<Option<(usize, SocketAddrV4)>, UdpError> {
        let bound = self.ports.get_mut(&port).ok_or(UdpError::NotBound(port))?;
        let Some((from, datagram)) = bound.queue.front() else {
            bound.signalled = false;
            return Ok(None);
        };
        let len = datagram.len();
        if buf.len() < len {
            return Err(UdpError::BufferTooSmall {
                buf: buf.len(),
                len,
            });
        }
        let from = *from;
        buf[..len].copy_from_slice(datagram);
        if let Some((_, datagram)) = bound.queue.pop_front() {
            self.free.push(datagram);
        }
        if bound.queue.is_empty() {
            bound.signalled = false;
        }
        Ok(Some((len, from)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn queue_is_bounded_and_signals_once() {
        let mut udp = UdpTable::new(2);
        udp.bind(7).unwrap();
        assert_eq!(udp.bind(7), Err(UdpError::PortInUse(7)));
        let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9);
        assert_eq!(udp.deliver(7, from, b"a"), Delivery::QueuedSignal);
        assert_eq!(udp.deliver(7, from, b"bc"), Delivery::Queued);
        assert_eq!(udp.deliver(7, from, b"d"), Delivery::Dropped);
        assert_eq!(udp.deliver(8, from, b"d"), Delivery::Dropped);
        let mut buf = [0u8; 1];
        assert_eq!(udp.recv(7, &mut buf).unwrap(), Some((1, from)));
        assert_eq!(
            udp.recv(7, &mut buf),
            Err(UdpError::BufferTooSmall { buf: 1, len: 2 }),
            "datagram left queued"
        );
        let mut buf = [0u8; 4];
        assert_eq!(udp.recv(7, &mut buf).unwrap(), Some((2, from)));
        assert_eq!(&buf[..2], b"bc");
        assert_eq!(udp.recv(7, &mut buf).unwrap(), None);
        assert_eq!(udp.deliver(7, from, b"e"), Delivery::QueuedSignal);
        udp.unbind(7).unwrap();
        assert_eq!(udp.recv(7, &mut buf), Err(UdpError::NotBound(7)));
    }
}
