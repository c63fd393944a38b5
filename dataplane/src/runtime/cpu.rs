//! The [`Cpu`] an application runs on: spinning for service time in quanta,
//! with an IPI safe point between quanta (and wherever the application
//! calls [`Cpu::safe_point`]) where the core runs the IPI handler's work
//! (receive, remote system calls, transmit) on its home-side state, which
//! the application batch does not borrow.

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
            self.safe_point();
        }
    }

    fn safe_point(&mut self) {
        ipi_service(self.net, self.app, self.platform);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::{App, AppEvent, Calls, Cpu};
    use crate::platform::IpiBoard;
    use crate::runtime::test_platform::{Recorder, requests_on_core_0, step_until_app_ran};
    use crate::runtime::{CoreConfig, build_cores};
    use crate::sched::SchedMode;
    use crate::sim::net::{SimTransport, SimWire};

    /// An application that, on each request, has core 0 interrupted (as
    /// an idle core would) and then reaches a safe point, or not.
    struct Interrupted {
        board: Arc<IpiBoard>,
        safe_point: bool,
    }

    impl App for Interrupted {
        type Conn = ();

        fn open(&self, _local_port: u16) {}

        fn on_event(&self, _: &mut (), event: AppEvent, _: &mut Calls, cpu: &mut dyn Cpu) {
            if let AppEvent::Data(_) = event {
                self.board.post(0, cpu.now_ns() + 1_000_000);
                if self.safe_point {
                    cpu.safe_point();
                }
            }
        }
    }

    /// IPIs core 0 received while running its first application batch.
    fn ipis_taken_inside_the_batch(safe_point: bool) -> u64 {
        let wire = SimWire::new(1);
        let mut platform = Recorder::new(1);
        let app = Interrupted {
            board: Arc::clone(&platform.board),
            safe_point,
        };
        let config = CoreConfig {
            mode: SchedMode::Zygos,
            ..CoreConfig::default()
        };
        let transports = vec![SimTransport::new(0, Arc::clone(&wire))];
        let mut cores = build_cores(transports, Arc::new(app), config);
        requests_on_core_0(&wire, 1, 1);
        step_until_app_ran(&mut cores[0], &mut platform);
        cores[0].counters().snapshot().ipis_received
    }

    #[test]
    fn a_safe_point_does_the_interrupts_work_inside_the_application() {
        assert_eq!(ipis_taken_inside_the_batch(true), 1);
        // Without one, the mailbox waits for the loop's next iteration.
        assert_eq!(ipis_taken_inside_the_batch(false), 0);
    }
}
