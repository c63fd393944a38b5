//! `echo`: sends back every byte received on each connection, and closes
//! its side when the peer closes.

use crate::app::{App, AppEvent, Calls, Cpu};

/// The echo application.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl App for Echo {
    type Conn = ();

    fn open(&self, _local_port: u16) {}

    fn on_event(&self, _conn: &mut (), event: AppEvent, calls: &mut Calls, _cpu: &mut dyn Cpu) {
        match event {
            AppEvent::Data(bytes) => calls.send(&bytes),
            AppEvent::PeerClosed => calls.close(),
            AppEvent::Opened { .. } | AppEvent::Closed => {}
        }
    }
}
