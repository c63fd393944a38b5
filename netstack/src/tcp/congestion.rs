//! Congestion control: slow start and congestion avoidance (RFC 5681
//! section 3.1), fast retransmit and NewReno fast recovery (RFC 6582
//! section 3.2).

use serde::{Deserialize, Serialize};

use super::seq::Seq;

/// Duplicate ACKs that trigger fast retransmit (RFC 5681 section 3.2).
const DUPACK_THRESHOLD: u32 = 3;

/// What an ACK asks the sender to do beyond sending new data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckAction {
    /// Nothing special.
    None,
    /// Retransmit the first unacknowledged segment now.
    RetransmitHead,
}

/// Congestion state of one connection (bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Congestion {
    /// Congestion window.
    pub cwnd: u32,
    /// Slow-start threshold.
    pub ssthresh: u32,
    /// Consecutive duplicate ACKs.
    pub dupacks: u32,
    /// RFC 6582 "recover": highest sequence sent when recovery began;
    /// Some while in fast recovery.
    pub recover: Option<Seq>,
}

impl Congestion {
    /// RFC 5681 section 3.1: IW = min(4*SMSS, max(2*SMSS, 4380)) (RFC 3390),
    /// ssthresh arbitrarily high.
    pub(crate) fn new(smss: u32) -> Congestion {
        let initial = (4 * smss).min((2 * smss).max(4380));
        Congestion {
            cwnd: initial,
            ssthresh: u32::MAX,
            dupacks: 0,
            recover: None,
        }
    }

    /// An ACK covering `acked` new bytes.
    pub(crate) fn on_new_ack(&mut self, ack: Seq, acked: u32, smss: u32) -> AckAction {
        self.dupacks = 0;
        if let Some(recover) = self.recover {
            if ack > recover {
                // RFC 6582 section 3.2 step 3, full acknowledgment: deflate
                // to ssthresh (option 2; option 1 would collapse the window
                // to two segments when the send buffer, all in flight, kept
                // new data from being sent during recovery).
                self.cwnd = self.ssthresh;
                self.recover = None;
                return AckAction::None;
            }
            // Step 3, partial acknowledgment: retransmit the next hole,
            // deflate by the amount acked, add back one SMSS.
            self.cwnd = self.cwnd.saturating_sub(acked);
            if acked >= smss {
                self.cwnd += smss;
            }
            return AckAction::RetransmitHead;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 section 3.1, slow start (equation 2).
            self.cwnd = self.cwnd.saturating_add(acked.min(smss));
        } else {
            // Congestion avoidance (equation 3).
            self.cwnd = self
                .cwnd
                .saturating_add((smss * smss / self.cwnd.max(1)).max(1));
        }
        AckAction::None
    }

    /// A duplicate ACK (RFC 5681 section 2 definition) while `flight`
    /// bytes are outstanding; `snd_max` is the highest sequence sent.
    pub(crate) fn on_dup_ack(&mut self, flight: u32, snd_max: Seq, smss: u32) -> AckAction {
        self.dupacks += 1;
        if self.recover.is_some() {
            // RFC 6582 section 3.2 step 4: inflate for each further dup ACK.
            self.cwnd = self.cwnd.saturating_add(smss);
            return AckAction::None;
        }
        if self.dupacks != DUPACK_THRESHOLD {
            return AckAction::None;
        }
        // RFC 6582 section 3.2 step 2: enter fast recovery.
        self.ssthresh = (flight / 2).max(2 * smss);
        self.recover = Some(snd_max);
        self.cwnd = self.ssthresh + DUPACK_THRESHOLD * smss;
        AckAction::RetransmitHead
    }

    /// RFC 5681 section 3.1 equation 4 and the loss window: after a
    /// retransmission timeout.
    pub(crate) fn on_timeout(&mut self, flight: u32, smss: u32) {
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = smss;
        self.dupacks = 0;
        self.recover = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newreno_recovery_sequence() {
        let smss = 1000;
        let mut cc = Congestion::new(smss);
        assert_eq!(cc.cwnd, 4000);
        assert_eq!(cc.on_new_ack(Seq(1000), 1000, smss), AckAction::None);
        assert_eq!(cc.cwnd, 5000, "slow start grows by one SMSS per ACK");
        assert_eq!(cc.on_dup_ack(8000, Seq(9000), smss), AckAction::None);
        assert_eq!(cc.on_dup_ack(8000, Seq(9000), smss), AckAction::None);
        assert_eq!(
            cc.on_dup_ack(8000, Seq(9000), smss),
            AckAction::RetransmitHead
        );
        assert_eq!((cc.ssthresh, cc.cwnd), (4000, 7000));
        cc.on_dup_ack(8000, Seq(9000), smss);
        assert_eq!(cc.cwnd, 8000, "inflation");
        assert_eq!(
            cc.on_new_ack(Seq(3000), 2000, smss),
            AckAction::RetransmitHead
        );
        assert_eq!(cc.cwnd, 7000, "partial ack: deflate by 2000, add one SMSS");
        assert_eq!(cc.on_new_ack(Seq(9001), 6001, smss), AckAction::None);
        assert_eq!(cc.recover, None);
        assert_eq!(cc.cwnd, 4000, "full ack: deflate to ssthresh");
        cc.on_timeout(6000, smss);
        assert_eq!((cc.cwnd, cc.ssthresh), (1000, 3000));
        cc.on_new_ack(Seq(10_001), 1000, smss);
        cc.on_new_ack(Seq(11_001), 1000, smss);
        cc.on_new_ack(Seq(12_001), 1000, smss);
        assert_eq!(cc.cwnd, 3333, "congestion avoidance above ssthresh");
    }
}
