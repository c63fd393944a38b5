//! The synthetic protocol ([`dataplane::synthetic_protocol`]) as a
//! [`RequestGenerator`] and a [`ResponseFramer`].

use dataplane::synthetic_protocol::{RESPONSE_LEN, Request, decode_response};
use rand::RngCore;

use super::{Frame, FrameError, PendingRequest, RequestClass, RequestGenerator, ResponseFramer};
use crate::workload::ServiceDistribution;

/// Requests of the synthetic protocol: each carries its id and a service
/// time drawn from a distribution (µs on the command line, ns on the
/// wire).
///
/// A bimodal distribution's requests are two classes, `short` (half the
/// mean) and `long` (5.5 or 500.5 times it), so that a run reports the
/// latency of each (the short requests' tail is the head-of-line blocking
/// behind long ones, thesis §6.2); any other distribution's are one class,
/// `synthetic`.
#[derive(Debug, Clone)]
pub struct SyntheticRequests {
    service: ServiceDistribution,
    /// The service time above which a request is `long`, µs (bimodal
    /// distributions only).
    long_above: Option<f64>,
}

/// Class names of a bimodal distribution's requests.
const BIMODAL_CLASSES: [&str; 2] = ["short", "long"];

impl SyntheticRequests {
    /// Requests asking for service times drawn from `service`, in µs.
    pub fn new(service: ServiceDistribution) -> Self {
        let long_above = match service {
            ServiceDistribution::Bimodal1 { mean } | ServiceDistribution::Bimodal2 { mean } => {
                Some(mean)
            }
            _ => None,
        };
        SyntheticRequests {
            service,
            long_above,
        }
    }
}

impl RequestGenerator for SyntheticRequests {
    fn class_names(&self) -> &[&'static str] {
        match self.long_above {
            Some(_) => &BIMODAL_CLASSES,
            None => &["synthetic"],
        }
    }

    fn next_request(&mut self, rng: &mut dyn RngCore, id: u64, out: &mut Vec<u8>) -> RequestClass {
        let service = self.service.sample(rng);
        let service_ns = (service * 1e3).round() as u64;
        out.extend_from_slice(&Request { id, service_ns }.encode());
        RequestClass::from(self.long_above.is_some_and(|threshold| service > threshold))
    }
}

/// Responses of the synthetic protocol: the 8-byte request id.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntheticResponses;

impl ResponseFramer for SyntheticResponses {
    fn frame(
        &self,
        _request: PendingRequest,
        received: &[u8],
    ) -> Result<Option<Frame>, FrameError> {
        Ok(decode_response(received).map(|id| Frame {
            len: RESPONSE_LEN,
            echoed_id: Some(id),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn synthetic_requests_append_the_wire_format() {
        let mut generator = SyntheticRequests::new(ServiceDistribution::Fixed { mean: 2.5 });
        let mut rng = SmallRng::seed_from_u64(1);
        let mut out = vec![0xa5];
        assert_eq!(generator.next_request(&mut rng, 7, &mut out), 0);
        assert_eq!(out[0], 0xa5, "appends, never overwrites");
        assert_eq!(
            Request::decode(&out[1..]),
            Some(Request {
                id: 7,
                service_ns: 2500
            })
        );
        assert_eq!(generator.class_names(), ["synthetic"]);
    }

    #[test]
    fn bimodal_requests_are_short_or_long_by_their_service_time() {
        let mut generator = SyntheticRequests::new(ServiceDistribution::Bimodal1 { mean: 10.0 });
        assert_eq!(generator.class_names(), ["short", "long"]);
        let mut rng = SmallRng::seed_from_u64(2);
        let mut counts = [0usize; 2];
        let mut out = Vec::new();
        for id in 0..10_000 {
            out.clear();
            let class = generator.next_request(&mut rng, id, &mut out);
            let request = Request::decode(&out).expect("a whole request");
            let expected_ns = [5_000, 55_000][class];
            assert_eq!(request.service_ns, expected_ns, "class {class}");
            counts[class] += 1;
        }
        // bimodal-1: 10% long.
        assert!((900..1100).contains(&counts[1]), "{counts:?}");
    }

    #[test]
    fn synthetic_responses_frame_whole_ids_only() {
        let pending = PendingRequest { id: 3, class: 0 };
        let wire = 3u64.to_le_bytes();
        assert_eq!(SyntheticResponses.frame(pending, &wire[..7]), Ok(None));
        let mut two = wire.to_vec();
        two.extend_from_slice(&4u64.to_le_bytes());
        assert_eq!(
            SyntheticResponses.frame(pending, &two),
            Ok(Some(Frame {
                len: 8,
                echoed_id: Some(3)
            }))
        );
    }
}
