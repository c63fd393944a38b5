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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Call;

    struct NoCpu;

    impl Cpu for NoCpu {
        fn now_ns(&self) -> u64 {
            0
        }
        fn spin(&mut self, _ns: u64) {}
    }

    #[test]
    fn echoes_every_byte_in_order_and_closes_after_the_peer() {
        let mut calls = Calls::default();
        Echo.open(7);
        for event in [
            AppEvent::Opened { local_port: 7 },
            AppEvent::Data(b"ab".to_vec().into()),
            AppEvent::Data(b"c".to_vec().into()),
            AppEvent::PeerClosed,
            AppEvent::Closed,
        ] {
            Echo.on_event(&mut (), event, &mut calls, &mut NoCpu);
        }
        assert_eq!(
            calls.into_vec(),
            [Call::Send(b"abc".to_vec().into()), Call::Close]
        );
    }
}
