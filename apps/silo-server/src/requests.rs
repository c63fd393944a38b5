//! The TPC-C request stream of the open-loop load generator
//! ([`bench::loadgen::run_load_with`]): each request is the next
//! transaction of the standard mix (New-Order 45%, Payment 43%,
//! Order-Status, Delivery and Stock-Level 4% each; TPC-C §5.2.3) for a
//! uniformly drawn home warehouse, encoded in the wire protocol
//! ([`crate::wire`]). Its class is the transaction type, so the generator
//! reports latencies per type.
//!
//! [`TpccRequests`] is the sender's [`RequestGenerator`];
//! [`TpccResponses`] is the receiver's [`ResponseFramer`]: it checks that
//! each response echoes its request's id with a status the type allows,
//! and counts the outcomes per type ([`TpccResponses::outcomes`]).

use std::sync::atomic::{AtomicU64, Ordering};

use bench::protocol::{
    Frame, FrameError, PendingRequest, RequestClass, RequestGenerator, ResponseFramer,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::tpcc::{InputGenerator, NurandConstants, Scale, TxnKind};
use crate::wire::{Request, Status, decode_response};

/// The class names: [`TxnKind::name`] in [`TxnKind::ALL`] order.
pub const CLASS_NAMES: [&str; 5] = [
    "new-order",
    "payment",
    "order-status",
    "delivery",
    "stock-level",
];

/// The class of `kind` (its index in [`TxnKind::ALL`]).
pub fn class_of(kind: TxnKind) -> RequestClass {
    TxnKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("TxnKind::ALL lists every kind")
}

/// Draws and encodes requests of the TPC-C mix.
#[derive(Debug, Clone, Copy)]
pub struct TpccRequests {
    generator: InputGenerator,
    warehouses: u32,
}

impl TpccRequests {
    /// Requests for a database of `scale` loaded with NURand constants
    /// `load`; the run constants are derived from them (§2.1.6.1) with a
    /// generator seeded by `seed`.
    pub fn new(scale: Scale, load: NurandConstants, seed: u64) -> TpccRequests {
        let constants = NurandConstants::for_run(load, &mut StdRng::seed_from_u64(seed));
        TpccRequests {
            generator: InputGenerator::new(scale, constants),
            warehouses: scale.warehouses.max(1),
        }
    }

    /// Appends the frame of the next request, with id `id`, to `out`;
    /// returns its transaction type.
    pub fn append(&self, mut rng: &mut dyn RngCore, id: u64, out: &mut Vec<u8>) -> TxnKind {
        let home = rng.random_range(1..=self.warehouses);
        let input = self.generator.next(&mut rng, home);
        let kind = input.kind();
        Request { id, input }.encode(out);
        kind
    }
}

impl RequestGenerator for TpccRequests {
    fn class_names(&self) -> &[&'static str] {
        &CLASS_NAMES
    }

    fn next_request(&mut self, rng: &mut dyn RngCore, id: u64, out: &mut Vec<u8>) -> RequestClass {
        class_of(self.append(rng, id, out))
    }
}

/// Frames and checks responses, counting outcomes per transaction type.
#[derive(Debug, Default)]
pub struct TpccResponses {
    /// Per class, per [`Status`] discriminant.
    counts: [[AtomicU64; 4]; 5],
}

/// How one transaction type's requests ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClassOutcome {
    /// Transaction type name.
    pub class: &'static str,
    /// Committed.
    pub committed: u64,
    /// Rolled back by the transaction logic (New-Order's 1%).
    pub rolled_back: u64,
    /// Given up after conflicting on every attempt.
    pub aborted: u64,
}

impl TpccResponses {
    /// The outcomes counted so far, in class order.
    pub fn outcomes(&self) -> Vec<ClassOutcome> {
        CLASS_NAMES
            .iter()
            .zip(&self.counts)
            .map(|(class, counts)| {
                let count = |status: Status| counts[status as usize].load(Ordering::Relaxed);
                ClassOutcome {
                    class,
                    committed: count(Status::Committed),
                    rolled_back: count(Status::RolledBack),
                    aborted: count(Status::Aborted),
                }
            })
            .collect()
    }
}

impl ResponseFramer for TpccResponses {
    fn frame(&self, request: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError> {
        let Some((response, len)) =
            decode_response(received).map_err(|e| FrameError::Malformed(e.to_string()))?
        else {
            return Ok(None);
        };
        let class = CLASS_NAMES.get(request.class).copied().unwrap_or("unknown");
        let allowed = match response.status {
            Status::Committed | Status::Aborted => true,
            Status::RolledBack => class == TxnKind::NewOrder.name(),
            Status::Failed => false,
        };
        let counter = self
            .counts
            .get(request.class)
            .map(|counts| &counts[response.status as usize]);
        match (allowed, counter) {
            (true, Some(counter)) => {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(Some(Frame {
                    len,
                    echoed_id: Some(response.id),
                }))
            }
            _ => Err(FrameError::Unexpected {
                response: format!("{response:?}"),
                request: class,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpcc::TxnInput;
    use crate::wire::{Response, decode_request};

    #[test]
    fn the_stream_follows_the_mix_and_decodes_back() {
        let scale = Scale {
            warehouses: 3,
            items: 1_000,
            customers_per_district: 60,
        };
        let load = NurandConstants::random(&mut StdRng::seed_from_u64(1));
        let mut requests = TpccRequests::new(scale, load, 7);
        let names: Vec<&str> = TxnKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(requests.class_names(), names);
        let mut rng = StdRng::seed_from_u64(3);
        let mut bytes = Vec::new();
        let total = 20_000;
        let classes: Vec<RequestClass> = (0..total)
            .map(|id| requests.next_request(&mut rng, id, &mut bytes))
            .collect();
        let mut counts = [0u32; 5];
        for class in &classes {
            counts[*class] += 1;
        }
        let shares = counts.map(|c| f64::from(c) / total as f64);
        for (share, want) in shares.iter().zip([0.45, 0.43, 0.04, 0.04, 0.04]) {
            assert!((share - want).abs() < 0.015, "{shares:?}");
        }
        let (mut at, mut homes) = (0, std::collections::BTreeSet::new());
        for (id, class) in classes.iter().enumerate() {
            let (request, used) = decode_request(&bytes[at..]).unwrap().unwrap();
            assert_eq!(request.id, id as u64);
            assert_eq!(class_of(request.input.kind()), *class);
            if let TxnInput::Delivery(delivery) = request.input {
                homes.insert(delivery.warehouse);
            }
            at += used;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(homes.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }

    fn encoded(id: u64, status: Status) -> Vec<u8> {
        let mut bytes = Vec::new();
        let response = Response {
            id,
            status,
            figure: 9,
            retries: 0,
        };
        response.encode(&mut bytes);
        bytes
    }

    #[test]
    fn responses_are_framed_whole_checked_and_counted() {
        let framer = TpccResponses::default();
        let pending = |id, kind| PendingRequest {
            id,
            class: class_of(kind),
        };
        let bytes = encoded(4, Status::Committed);
        let payment = pending(4, TxnKind::Payment);
        assert_eq!(framer.frame(payment, &bytes[..bytes.len() - 1]), Ok(None));
        let frame = framer.frame(payment, &bytes).unwrap().unwrap();
        assert_eq!((frame.len, frame.echoed_id), (bytes.len(), Some(4)));
        let rolled_back = encoded(5, Status::RolledBack);
        assert!(
            framer
                .frame(pending(5, TxnKind::NewOrder), &rolled_back)
                .is_ok()
        );
        assert!(matches!(
            framer.frame(pending(5, TxnKind::Payment), &rolled_back),
            Err(FrameError::Unexpected {
                request: "payment",
                ..
            })
        ));
        let failed = encoded(6, Status::Failed);
        assert!(
            framer
                .frame(pending(6, TxnKind::Delivery), &failed)
                .is_err()
        );
        let mut garbage = encoded(7, Status::Committed);
        garbage[12] = 9;
        assert!(matches!(
            framer.frame(pending(7, TxnKind::Delivery), &garbage),
            Err(FrameError::Malformed(_))
        ));
        let outcomes = framer.outcomes();
        assert_eq!((outcomes[1].class, outcomes[1].committed), ("payment", 1));
        assert_eq!(outcomes[0].rolled_back, 1);
        assert_eq!(
            outcomes
                .iter()
                .map(|o| o.committed + o.rolled_back)
                .sum::<u64>(),
            2
        );
    }
}
