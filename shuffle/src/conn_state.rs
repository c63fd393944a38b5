//! The connection state machine of ZygOS (thesis ch. 4.4, Figure 6.5).
//!
//! A connection is `Idle` (nothing pending), `Ready` (pending events, in its
//! home core's shuffle queue exactly once) or `Busy` (owned by one core that
//! runs the application on it, until its calls have been executed on the
//! home core). Every transition happens under the home core's lock.

/// Scheduling state of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// No pending events, not being processed.
    Idle,
    /// Pending events, waiting in the home core's shuffle queue.
    Ready,
    /// Owned by one core running the application on it.
    Busy,
}

impl ConnState {
    /// State after an event arrives; `true` when the connection must now be
    /// appended to the shuffle queue (it just became ready).
    pub(crate) fn on_event(self) -> (ConnState, bool) {
        match self {
            ConnState::Idle => (ConnState::Ready, true),
            ConnState::Ready => (ConnState::Ready, false),
            ConnState::Busy => (ConnState::Busy, false),
        }
    }

    /// State after a core claims the connection from the shuffle queue;
    /// `None` when the connection is not ready (it cannot be claimed).
    pub(crate) fn on_claim(self) -> Option<ConnState> {
        match self {
            ConnState::Ready => Some(ConnState::Busy),
            ConnState::Idle | ConnState::Busy => None,
        }
    }

    /// State after the owning core's calls have all been executed on the
    /// home core; `true` when it must be re-enqueued (events arrived while it
    /// was busy). `None` when the connection was not busy.
    pub(crate) fn on_release(self, has_events: bool) -> Option<(ConnState, bool)> {
        match (self, has_events) {
            (ConnState::Busy, true) => Some((ConnState::Ready, true)),
            (ConnState::Busy, false) => Some((ConnState::Idle, false)),
            (ConnState::Idle | ConnState::Ready, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnState::{self, Busy, Idle, Ready};

    #[test]
    fn only_the_idle_to_ready_transition_enqueues() {
        assert_eq!(Idle.on_event(), (Ready, true));
        assert_eq!(Ready.on_event(), (Ready, false));
        assert_eq!(Busy.on_event(), (Busy, false));
    }

    #[test]
    fn only_ready_connections_can_be_claimed() {
        assert_eq!(Ready.on_claim(), Some(Busy));
        assert_eq!(Idle.on_claim(), None);
        assert_eq!(Busy.on_claim(), None);
    }

    #[test]
    fn release_requeues_exactly_when_events_are_pending() {
        assert_eq!(Busy.on_release(true), Some((Ready, true)));
        assert_eq!(Busy.on_release(false), Some((Idle, false)));
        let not_busy: [ConnState; 2] = [Idle, Ready];
        for state in not_busy {
            assert_eq!(state.on_release(false), None);
        }
    }
}
