//! Retransmission timer computation (RFC 6298): smoothed RTT, RTT variance,
//! RTO with clamping and exponential backoff; samples follow Karn's
//! algorithm (never from retransmitted segments, RFC 6298 section 3).

use serde::{Deserialize, Serialize};

use super::seq::Seq;
use crate::time::{Duration, Instant};

/// Clock granularity G of RFC 6298 section 2 (the timer-wheel tick).
const GRANULARITY: Duration = super::timer::TICK;

/// RTT estimator and retransmission timeout of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RttEstimator {
    /// Smoothed RTT (ns), None before the first sample.
    pub srtt: Option<u64>,
    /// RTT variance (ns).
    pub rttvar: u64,
    /// Current retransmission timeout, backoff included (ns).
    pub rto: u64,
    /// Timed segment: (sequence number whose acknowledgement ends the
    /// measurement, send time).
    pub probe: Option<(Seq, Instant)>,
}

impl RttEstimator {
    /// RFC 6298 section 2.1: RTO starts at the initial value.
    pub(crate) fn new(initial: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: 0,
            rto: initial.as_nanos(),
            probe: None,
        }
    }

    pub(crate) fn rto(&self) -> Duration {
        Duration(self.rto)
    }

    /// Starts timing a segment ending at `end` unless one is being timed.
    pub(crate) fn start(&mut self, end: Seq, now: Instant) {
        if self.probe.is_none() {
            self.probe = Some((end, now));
        }
    }

    /// Karn: a retransmission invalidates the running measurement.
    pub(crate) fn cancel(&mut self) {
        self.probe = None;
    }

    /// An ACK up to `ack` arrived at `now`: takes a sample if it covers the
    /// timed segment (RFC 6298 sections 2.2 and 2.3), recomputing the RTO
    /// (which also undoes any backoff, section 5.7 note).
    pub(crate) fn on_ack(&mut self, ack: Seq, now: Instant, min: Duration, max: Duration) {
        let Some((end, sent)) = self.probe else {
            return;
        };
        if ack < end {
            return;
        }
        self.probe = None;
        let r = now.saturating_since(sent).as_nanos();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(r)) / 4;
                self.srtt = Some((7 * srtt + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let rto = srtt + GRANULARITY.as_nanos().max(4 * self.rttvar);
        self.rto = rto.clamp(min.as_nanos(), max.as_nanos());
    }

    /// RFC 6298 section 5.5: back off the timer after it expired.
    pub(crate) fn back_off(&mut self, max: Duration) {
        self.rto = self.rto.saturating_mul(2).min(max.as_nanos());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc6298_formulas() {
        let (min, max) = (Duration::from_millis(1), Duration::from_secs(60));
        let mut rtt = RttEstimator::new(Duration::from_secs(1));
        rtt.start(Seq(100), Instant::ZERO);
        rtt.start(Seq(200), Instant::from_millis(1)); // ignored: one at a time
        rtt.on_ack(Seq(99), Instant::from_millis(5), min, max);
        assert!(rtt.probe.is_some(), "ack below the timed segment");
        rtt.on_ack(Seq(100), Instant::from_millis(10), min, max);
        // First sample R = 10 ms: SRTT = R, RTTVAR = R/2, RTO = R + 4 RTTVAR.
        assert_eq!(rtt.rto(), Duration::from_millis(30));
        rtt.start(Seq(300), Instant::from_millis(20));
        rtt.on_ack(Seq(300), Instant::from_millis(22), min, max);
        // R = 2 ms: RTTVAR = 3/4*5 + 1/4*8 = 5.75, SRTT = 7/8*10 + 2/8 = 9.
        assert_eq!(rtt.srtt, Some(9_000_000));
        assert_eq!(rtt.rttvar, 5_750_000);
        assert_eq!(rtt.rto(), Duration::from_millis(32));
        rtt.back_off(max);
        assert_eq!(rtt.rto(), Duration::from_millis(64));
        rtt.start(Seq(400), Instant::from_millis(30));
        rtt.cancel();
        rtt.on_ack(Seq(400), Instant::from_millis(40), min, max);
        assert_eq!(
            rtt.rto(),
            Duration::from_millis(64),
            "Karn: no sample after retransmission"
        );
    }
}
