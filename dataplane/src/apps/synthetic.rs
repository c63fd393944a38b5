//! `synthetic`: the ZygOS synthetic benchmark server (SOSP'17 §6; thesis
//! ch. 4.6). Each request carries its service time; the server spins for it
//! and answers with the request id (format in
//! [`crate::synthetic_protocol`]). Requests may be pipelined and split
//! across segments: partial requests wait in the connection's state.

use crate::app::{App, AppEvent, Calls, Cpu};
use crate::synthetic_protocol::{REQUEST_LEN, Request};

/// The synthetic spin server.
#[derive(Debug, Default, Clone, Copy)]
pub struct Synthetic;

/// Per-connection state: bytes of an incomplete request.
#[derive(Debug, Default)]
pub struct SyntheticConn {
    partial: Vec<u8>,
}

impl SyntheticConn {
    /// Serves every complete request in `bytes` (after any partial one).
    fn serve(&mut self, bytes: &[u8], calls: &mut Calls, cpu: &mut dyn Cpu) {
        self.partial.extend_from_slice(bytes);
        let mut chunks = self.partial.chunks_exact(REQUEST_LEN);
        for chunk in &mut chunks {
            if let Some(request) = Request::decode(chunk) {
                cpu.spin(request.service_ns);
                calls.send(&request.response());
            }
        }
        let consumed = self.partial.len() - chunks.remainder().len();
        self.partial.drain(..consumed);
    }
}

impl App for Synthetic {
    type Conn = SyntheticConn;

    fn open(&self, _local_port: u16) -> SyntheticConn {
        SyntheticConn::default()
    }

    fn on_event(
        &self,
        conn: &mut SyntheticConn,
        event: AppEvent,
        calls: &mut Calls,
        cpu: &mut dyn Cpu,
    ) {
        match event {
            AppEvent::Data(bytes) => conn.serve(&bytes, calls, cpu),
            AppEvent::PeerClosed => calls.close(),
            AppEvent::Opened { .. } | AppEvent::Closed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic_protocol::decode_response;

    struct Clock(u64);

    impl Cpu for Clock {
        fn now_ns(&self) -> u64 {
            self.0
        }
        fn spin(&mut self, ns: u64) {
            self.0 += ns;
        }
    }

    #[test]
    fn split_pipelined_requests_are_served_in_order_for_their_service_time() {
        let mut wire = Vec::new();
        for id in 0..3u64 {
            wire.extend_from_slice(
                &Request {
                    id,
                    service_ns: 100 * (id + 1),
                }
                .encode(),
            );
        }
        let app = Synthetic;
        let mut conn = app.open(80);
        let mut calls = Calls::default();
        let mut cpu = Clock(0);
        for piece in wire.chunks(5) {
            app.on_event(
                &mut conn,
                AppEvent::Data(piece.into()),
                &mut calls,
                &mut cpu,
            );
        }
        assert_eq!(cpu.0, 600, "spun for the sum of the service times");
        assert!(!calls.closes());
        let ids: Vec<u64> = calls.data().chunks(8).filter_map(decode_response).collect();
        assert_eq!(ids, vec![0, 1, 2]);
        assert!(conn.partial.is_empty());
    }
}
