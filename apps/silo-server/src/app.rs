//! The Silo server as a dataplane application ([`dataplane::app::App`]).
//!
//! Every core shares the one loaded [`Tpcc`] database; the runtime owns one
//! [`SiloConn`] per connection (its partial request bytes) and moves it
//! with the connection when another core steals it (ZygOS, thesis ch. 4.3),
//! so any core can execute any request. Each data event is decoded into as
//! many whole requests as it completes; each is executed to completion
//! ([`crate::wire::execute`]) and the responses go back as one send call,
//! in request order. A malformed frame closes the connection.

use std::sync::Arc;

use dataplane::app::{App, AppEvent, Calls, Cpu};

use crate::tpcc::Tpcc;
use crate::wire::{decode_request, execute};

/// The application: the shared database.
pub struct SiloApp {
    tpcc: Arc<Tpcc>,
}

/// One connection's state.
#[derive(Default)]
pub struct SiloConn {
    /// Received bytes not yet forming a whole request.
    pending: Vec<u8>,
    /// Responses produced while handling one event.
    replies: Vec<u8>,
    /// The connection was closed (protocol error or peer close).
    done: bool,
}

impl SiloApp {
    /// Serves `tpcc`.
    pub fn new(tpcc: Arc<Tpcc>) -> SiloApp {
        SiloApp { tpcc }
    }

    /// The database served.
    pub fn tpcc(&self) -> &Arc<Tpcc> {
        &self.tpcc
    }

    /// Executes every whole request in `conn.pending`, with an IPI safe
    /// point after each transaction (they run tens to hundreds of µs); returns false on a
    /// malformed frame.
    fn serve(&self, conn: &mut SiloConn, cpu: &mut dyn Cpu) -> bool {
        let mut consumed = 0;
        let healthy = loop {
            match decode_request(&conn.pending[consumed..]) {
                Ok(Some((request, used))) => {
                    execute(&self.tpcc, &request).encode(&mut conn.replies);
                    consumed += used;
                    cpu.safe_point();
                }
                Ok(None) => break true,
                Err(error) => {
                    tracing::debug!(%error, "closing a connection on a malformed request");
                    break false;
                }
            }
        };
        conn.pending.drain(..consumed);
        healthy
    }
}

impl App for SiloApp {
    type Conn = SiloConn;

    fn open(&self, _local_port: u16) -> SiloConn {
        SiloConn::default()
    }

    fn on_event(&self, conn: &mut SiloConn, event: AppEvent, calls: &mut Calls, cpu: &mut dyn Cpu) {
        if conn.done {
            return;
        }
        match event {
            AppEvent::Data(bytes) => {
                conn.pending.extend_from_slice(&bytes);
                conn.replies.clear();
                let healthy = self.serve(conn, cpu);
                if !conn.replies.is_empty() {
                    calls.send(&conn.replies);
                }
                if !healthy {
                    calls.close();
                    conn.done = true;
                    conn.pending = Vec::new();
                }
            }
            AppEvent::PeerClosed => {
                calls.close();
                conn.done = true;
            }
            AppEvent::Closed => conn.done = true,
            AppEvent::Opened { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use dataplane::app::Call;

    use super::*;
    use crate::tpcc::{DeliveryInput, Scale, TxnInput};
    use crate::wire::{Request, Response, Status, decode_response};

    /// Counts the application's IPI safe points.
    #[derive(Default)]
    struct FakeCpu {
        safe_points: usize,
    }

    impl Cpu for FakeCpu {
        fn now_ns(&self) -> u64 {
            0
        }
        fn spin(&mut self, _: u64) {}
        fn safe_point(&mut self) {
            self.safe_points += 1;
        }
    }

    /// The calls `event` made, and the safe points reached on the way.
    fn deliver_counting(app: &SiloApp, conn: &mut SiloConn, event: AppEvent) -> (Vec<Call>, usize) {
        let mut calls = Calls::default();
        let mut cpu = FakeCpu::default();
        app.on_event(conn, event, &mut calls, &mut cpu);
        (calls.into_vec(), cpu.safe_points)
    }

    fn deliver(app: &SiloApp, conn: &mut SiloConn, event: AppEvent) -> Vec<Call> {
        deliver_counting(app, conn, event).0
    }

    fn responses(calls: &[Call]) -> Vec<Response> {
        let mut out = Vec::new();
        for call in calls {
            if let Call::Send(bytes) = call {
                let mut at = 0;
                while let Some((response, used)) = decode_response(&bytes[at..]).unwrap() {
                    out.push(response);
                    at += used;
                }
                assert_eq!(at, bytes.len());
            }
        }
        out
    }

    fn app() -> SiloApp {
        let scale = Scale {
            warehouses: 1,
            items: 300,
            customers_per_district: 30,
        };
        SiloApp::new(Arc::new(Tpcc::load(scale, 4).unwrap()))
    }

    fn delivery(id: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        let input = TxnInput::Delivery(DeliveryInput {
            warehouse: 1,
            carrier: 2,
        });
        Request { id, input }.encode(&mut bytes);
        bytes
    }

    #[test]
    fn requests_split_over_events_are_answered_in_order() {
        let app = app();
        let mut conn = app.open(7000);
        let mut stream = delivery(1);
        stream.extend(delivery(2));
        stream.extend(delivery(3));
        let (first, rest) = stream.split_at(25);
        let calls = deliver(&app, &mut conn, AppEvent::Data(first.into()));
        let got = responses(&calls);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
        let (calls, safe_points) = deliver_counting(&app, &mut conn, AppEvent::Data(rest.into()));
        let got = responses(&calls);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(safe_points, 2, "an IPI safe point after each transaction");
        assert!(got.iter().all(|r| r.status == Status::Committed));
        assert_eq!(
            got[0].figure, 10,
            "each delivery delivers one order per district"
        );
        assert_eq!(
            deliver(&app, &mut conn, AppEvent::PeerClosed),
            [Call::Close]
        );
    }

    #[test]
    fn malformed_request_answers_earlier_ones_then_closes() {
        let app = app();
        let mut conn = app.open(7000);
        let mut stream = delivery(9);
        stream.extend_from_slice(&[3, 0, 0, 0, 1, 2, 3]);
        let calls = deliver(&app, &mut conn, AppEvent::Data(stream.into()));
        assert_eq!(responses(&calls).len(), 1);
        assert_eq!(calls.last(), Some(&Call::Close));
        assert!(deliver(&app, &mut conn, AppEvent::Data(delivery(10).into())).is_empty());
    }
}
