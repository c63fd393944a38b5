//! The [`Cpu`] an application runs on: spinning for service time in quanta,
//! with an IPI safe point between quanta where the core runs the IPI
//! handler's work (receive, remote system calls, transmit) on its home-side
//! state, which the application batch does not borrow.

use crate::app::{App, Cpu};
use crate::platform::CorePlatform;
use crate::transport::Transport;

use super::home::HomeNet;
use super::ipi_service;

pub(super) struct AppCpu<'a, T: Transport, A: App, P> {
    net: &'a mut HomeNet<T, A::Conn>,
    app: &'a A,
    platform: &'a mut P,
}

impl<'a, T: Transport, A: App, P: CorePlatform> AppCpu<'a, T, A, P> {
    pub(super) fn new(net: &'a mut HomeNet<T, A::Conn>, app: &'a A, platform: &'a mut P) -> Self {
        AppCpu { net, app, platform }
    }
}

impl<T: Transport, A: App, P: CorePlatform> Cpu for AppCpu<'_, T, A, P> {
    fn now_ns(&self) -> u64 {
        self.platform.now_ns()
    }

    fn spin(&mut self, ns: u64) {
        let deadline = self.platform.now_ns().saturating_add(ns);
        let quantum = self.platform.spin_quantum_ns().max(1);
        loop {
            let left = deadline.saturating_sub(self.platform.now_ns());
            if left == 0 {
                return;
            }
            self.platform.spin(left.min(quantum));
            ipi_service(self.net, self.app, self.platform);
        }
    }
}
