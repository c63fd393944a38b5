//! memcached as a dataplane application ([`dataplane::app::App`]).
//!
//! The runtime owns one [`MemcachedConn`] per connection and moves it with
//! the connection when a core steals it (ZygOS, thesis ch. 4.3); every core
//! shares the one [`Server`] (and its striped store), so any core can serve
//! any connection. Each data event is fed to the connection's
//! [`Session`]; the replies go back as one send call.
//!
//! Time: the store takes unix seconds. The application records the unix
//! time when it is created and adds the core's clock ([`Cpu::now_ns`],
//! which starts near zero when the cores start, and is virtual in the
//! simulator).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dataplane::app::{App, AppEvent, Calls, Cpu};

use crate::protocol::{Flow, Session};
use crate::server::{Admission, Server, ServerConfig};
use crate::store::UnixTime;

/// The memcached application: the shared server state.
pub struct MemcachedApp {
    server: Arc<Server>,
    unix_at_start: u64,
}

/// One connection's state.
pub struct MemcachedConn {
    state: ConnState,
    replies: Vec<u8>,
}

enum ConnState {
    Serving(Session),
    /// Over the connection limit: send this and close on the first event.
    Refused(&'static [u8]),
    Done,
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl MemcachedApp {
    /// A server with `config`, starting now.
    pub fn new(config: ServerConfig) -> Self {
        let unix_at_start = unix_seconds();
        MemcachedApp {
            server: Server::new(config, unix_at_start as UnixTime),
            unix_at_start,
        }
    }

    /// The shared server (store and counters).
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    fn now(&self, cpu: &dyn Cpu) -> UnixTime {
        (self.unix_at_start + cpu.now_ns() / 1_000_000_000) as UnixTime
    }
}

impl App for MemcachedApp {
    type Conn = MemcachedConn;

    fn open(&self, _local_port: u16) -> MemcachedConn {
        let state = match self.server.connect() {
            Admission::Accepted(session) => ConnState::Serving(session),
            Admission::Refused(message) => ConnState::Refused(message),
        };
        MemcachedConn {
            state,
            replies: Vec::new(),
        }
    }

    fn on_event(
        &self,
        conn: &mut MemcachedConn,
        event: AppEvent,
        calls: &mut Calls,
        cpu: &mut dyn Cpu,
    ) {
        if let ConnState::Refused(message) = conn.state {
            calls.send(message);
            calls.close();
            conn.state = ConnState::Done;
            return;
        }
        match event {
            AppEvent::Data(bytes) => {
                let ConnState::Serving(session) = &mut conn.state else {
                    return;
                };
                conn.replies.clear();
                let flow = session.receive(&bytes, self.now(cpu), &mut conn.replies);
                if !conn.replies.is_empty() {
                    calls.send(&conn.replies);
                }
                if flow == Flow::Close {
                    calls.close();
                    conn.state = ConnState::Done;
                }
            }
            AppEvent::PeerClosed => {
                calls.close();
                conn.state = ConnState::Done;
            }
            AppEvent::Closed => conn.state = ConnState::Done,
            AppEvent::Opened { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use dataplane::app::Call;

    use super::*;

    struct FakeCpu(u64);

    impl Cpu for FakeCpu {
        fn now_ns(&self) -> u64 {
            self.0
        }
        fn spin(&mut self, ns: u64) {
            self.0 += ns;
        }
    }

    fn deliver(
        app: &MemcachedApp,
        conn: &mut MemcachedConn,
        event: AppEvent,
        cpu: &mut FakeCpu,
    ) -> Vec<Call> {
        let mut calls = Calls::default();
        app.on_event(conn, event, &mut calls, cpu);
        calls.into_vec()
    }

    #[test]
    fn serves_requests_split_over_events_and_closes_on_quit() {
        let app = MemcachedApp::new(ServerConfig::default());
        let mut cpu = FakeCpu(0);
        let mut conn = app.open(11211);
        assert!(
            deliver(
                &app,
                &mut conn,
                AppEvent::Opened { local_port: 11211 },
                &mut cpu
            )
            .is_empty()
        );
        assert!(
            deliver(
                &app,
                &mut conn,
                AppEvent::Data(b"set k 0 2 1\r".to_vec().into()),
                &mut cpu
            )
            .is_empty()
        );
        let calls = deliver(
            &app,
            &mut conn,
            AppEvent::Data(b"\nv\r\nget k\r\n".to_vec().into()),
            &mut cpu,
        );
        assert_eq!(
            calls,
            vec![Call::Send(
                b"STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n".to_vec().into()
            )]
        );
        cpu.0 = 3_000_000_000;
        let calls = deliver(
            &app,
            &mut conn,
            AppEvent::Data(b"get k\r\nquit\r\n".to_vec().into()),
            &mut cpu,
        );
        assert_eq!(
            calls,
            vec![Call::Send(b"END\r\n".to_vec().into()), Call::Close],
            "expired by the core clock"
        );
        assert!(
            deliver(
                &app,
                &mut conn,
                AppEvent::Data(b"get k\r\n".to_vec().into()),
                &mut cpu
            )
            .is_empty()
        );
        deliver(&app, &mut conn, AppEvent::Closed, &mut cpu);
        drop(conn);
        assert_eq!(app.server().connections().current, 0);
    }

    #[test]
    fn a_connection_moved_between_cores_keeps_its_state() {
        let app = Arc::new(MemcachedApp::new(ServerConfig::default()));
        let mut conn = app.open(11211);
        let mut cpu = FakeCpu(0);
        deliver(
            &app,
            &mut conn,
            AppEvent::Data(b"set k 0 0 4\r\nab".to_vec().into()),
            &mut cpu,
        );
        let stealer = Arc::clone(&app);
        let (conn, calls) = std::thread::spawn(move || {
            let calls = deliver(
                &stealer,
                &mut conn,
                AppEvent::Data(b"cd\r\nget k\r\n".to_vec().into()),
                &mut FakeCpu(0),
            );
            (conn, calls)
        })
        .join()
        .expect("the stealing core");
        assert_eq!(
            calls,
            vec![Call::Send(
                b"STORED\r\nVALUE k 0 4\r\nabcd\r\nEND\r\n".to_vec().into()
            )]
        );
        drop(conn);
    }

    #[test]
    fn over_the_connection_limit_replies_and_closes() {
        let app = MemcachedApp::new(ServerConfig {
            max_connections: 1,
            ..ServerConfig::default()
        });
        let mut cpu = FakeCpu(0);
        let _first = app.open(11211);
        let mut second = app.open(11211);
        let calls = deliver(
            &app,
            &mut second,
            AppEvent::Opened { local_port: 11211 },
            &mut cpu,
        );
        assert_eq!(
            calls,
            vec![
                Call::Send(b"ERROR Too many open connections\r\n".to_vec().into()),
                Call::Close
            ]
        );
    }
}
