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
    /// RFC 6582 "recover": the highest sequence number sent when the last
    /// fast recovery or retransmission timeout began (None: neither yet).
    pub recover: Option<Seq>,
    /// In fast recovery.
    pub in_recovery: bool,
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
            in_recovery: false,
        }
    }

    /// An ACK covering `acked` new bytes.
    pub(crate) fn on_new_ack(&mut self, ack: Seq, acked: u32, smss: u32) -> AckAction {
        self.dupacks = 0;
        if let Some(recover) = self.recover.filter(|_| self.in_recovery) {
            if ack > recover {
                // RFC 6582 section 3.2 step 3, full acknowledgment: deflate
                // to ssthresh (option 2; option 1 would collapse the window
                // to two segments when the send buffer, all in flight, kept
                // new data from being sent during recovery).
                self.cwnd = self.ssthresh;
                self.in_recovery = false;
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

    /// A duplicate ACK (RFC 5681 section 2 definition) of `ack` while
    /// `flight` bytes are outstanding; `snd_max` is the highest sequence sent.
    pub(crate) fn on_dup_ack(
        &mut self,
        ack: Seq,
        flight: u32,
        snd_max: Seq,
        smss: u32,
    ) -> AckAction {
        self.dupacks += 1;
        if self.in_recovery {
            // RFC 6582 section 3.2 step 4: inflate for each further dup ACK.
            self.cwnd = self.cwnd.saturating_add(smss);
            return AckAction::None;
        }
        if self.dupacks != DUPACK_THRESHOLD {
            return AckAction::None;
        }
        // RFC 6582 section 3.2 step 2 and section 4: only an ACK beyond
        // "recover" starts a new recovery (duplicate ACKs of a flight that
        // was already repaired, or resent after a timeout, do not).
        if self.recover.is_some_and(|recover| ack <= recover) {
            return AckAction::None;
        }
        self.ssthresh = (flight / 2).max(2 * smss);
        self.recover = Some(snd_max);
        self.in_recovery = true;
        self.cwnd = self.ssthresh + DUPACK_THRESHOLD * smss;
        AckAction::RetransmitHead
    }

    /// RFC 5681 section 3.1 equation 4 and the loss window: after a
    /// retransmission timeout; RFC 6582 section 4: recover = highest sent.
    pub(crate) fn on_timeout(&mut self, flight: u32, snd_max: Seq, smss: u32) {
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = smss;
        self.dupacks = 0;
        self.recover = Some(snd_max);
        self.in_recovery = false;
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
        let una = Seq(1000);
        assert_eq!(cc.on_dup_ack(una, 8000, Seq(9000), smss), AckAction::None);
        assert_eq!(cc.on_dup_ack(una, 8000, Seq(9000), smss), AckAction::None);
        let third = cc.on_dup_ack(una, 8000, Seq(9000), smss);
        assert_eq!(third, AckAction::RetransmitHead);
        assert_eq!((cc.ssthresh, cc.cwnd, cc.in_recovery), (4000, 7000, true));
        cc.on_dup_ack(una, 8000, Seq(9000), smss);
        assert_eq!(cc.cwnd, 8000, "inflation");
        let partial = cc.on_new_ack(Seq(3000), 2000, smss);
        assert_eq!(partial, AckAction::RetransmitHead);
        assert_eq!(cc.cwnd, 7000, "partial ack: deflate by 2000, add one SMSS");
        assert_eq!(cc.on_new_ack(Seq(9001), 6001, smss), AckAction::None);
        assert!(!cc.in_recovery);
        assert_eq!(cc.cwnd, 4000, "full ack: deflate to ssthresh");
        cc.on_timeout(6000, Seq(15_001), smss);
        assert_eq!((cc.cwnd, cc.ssthresh), (1000, 3000));
        cc.on_new_ack(Seq(10_001), 1000, smss);
        cc.on_new_ack(Seq(11_001), 1000, smss);
        cc.on_new_ack(Seq(12_001), 1000, smss);
        assert_eq!(cc.cwnd, 3333, "congestion avoidance above ssthresh");
    }

    #[test]
    fn duplicate_acks_at_or_below_recover_start_no_new_recovery() {
        let smss = 1000;
        let mut cc = Congestion::new(smss);
        cc.on_timeout(8000, Seq(9000), smss);
        for _ in 0..3 {
            assert_eq!(
                cc.on_dup_ack(Seq(5000), 4000, Seq(9000), smss),
                AckAction::None
            );
        }
        assert!(!cc.in_recovery, "RFC 6582 section 4: after a timeout");
        cc.dupacks = 0;
        for _ in 0..2 {
            cc.on_dup_ack(Seq(9500), 4000, Seq(12_000), smss);
        }
        let third = cc.on_dup_ack(Seq(9500), 4000, Seq(12_000), smss);
        assert_eq!(
            third,
            AckAction::RetransmitHead,
            "beyond recover: a new loss"
        );
        assert_eq!(cc.recover, Some(Seq(12_000)));
    }
}
