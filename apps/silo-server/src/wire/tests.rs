//! Codec round trips, clear errors on malformed frames, the in-suite
//! short run of the fuzz target, and the executor.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::tpcc::{
    CustomerSelector, DeliveryInput, InputGenerator, NurandConstants, Scale, StockLevelInput, Tpcc,
    TxnInput,
};

fn encoded(request: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    request.encode(&mut out);
    out
}

fn delivery(id: u64) -> Request {
    Request {
        id,
        input: TxnInput::Delivery(DeliveryInput {
            warehouse: 3,
            carrier: 7,
        }),
    }
}

#[test]
fn known_bytes_of_a_delivery_request() {
    let bytes = encoded(&delivery(0x0102));
    assert_eq!(
        bytes,
        [14, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 7]
    );
    assert_eq!(decode_request(&bytes), Ok(Some((delivery(0x0102), 18))));
}

#[test]
fn generated_inputs_round_trip_back_to_back() {
    let mut rng = StdRng::seed_from_u64(5);
    let generator = InputGenerator::new(Scale::spec(8), NurandConstants::random(&mut rng));
    let requests: Vec<Request> = (0..2000)
        .map(|id| {
            let home = rng.random_range(1..=8);
            Request {
                id,
                input: generator.next(&mut rng, home),
            }
        })
        .collect();
    let mut stream = Vec::new();
    for request in &requests {
        request.encode(&mut stream);
    }
    let mut at = 0;
    for request in &requests {
        let (decoded, used) = decode_request(&stream[at..]).unwrap().unwrap();
        assert_eq!(&decoded, request);
        at += used;
    }
    assert_eq!(at, stream.len());
}

#[test]
fn incomplete_frames_wait_for_more_bytes() {
    let bytes = encoded(&delivery(1));
    for cut in 0..bytes.len() {
        assert_eq!(decode_request(&bytes[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn malformed_frames_are_clear_errors() {
    let mut bytes = encoded(&delivery(1));
    bytes[12] = 9;
    assert_eq!(decode_request(&bytes), Err(WireError::UnknownKind(9)));
    let mut bytes = encoded(&delivery(1));
    bytes[17] = 11;
    assert!(matches!(
        decode_request(&bytes),
        Err(WireError::OutOfRange {
            field: "carrier",
            value: 11,
            ..
        })
    ));
    let mut bytes = encoded(&delivery(1));
    bytes[0] += 1;
    bytes.push(0);
    assert_eq!(decode_request(&bytes), Err(WireError::TrailingBytes(1)));
    let mut bytes = encoded(&delivery(1));
    bytes[0] -= 1;
    assert_eq!(decode_request(&bytes), Err(WireError::Truncated("carrier")));
    let too_long = (MAX_FRAME_LEN + 1).to_le_bytes();
    assert_eq!(
        decode_request(&too_long),
        Err(WireError::FrameTooLong(MAX_FRAME_LEN + 1))
    );
    let name = Request {
        id: 2,
        input: TxnInput::OrderStatus(crate::tpcc::OrderStatusInput {
            warehouse: 1,
            district: 1,
            customer: CustomerSelector::LastName("ABLE".into()),
        }),
    };
    let mut bytes = encoded(&name);
    let last = bytes.len() - 1;
    bytes[last] = 0xC3;
    assert_eq!(decode_request(&bytes), Err(WireError::NameNotAscii));
}

#[test]
fn responses_round_trip() {
    let response = Response {
        id: 9,
        status: Status::RolledBack,
        figure: -5,
        retries: 2,
    };
    let mut bytes = Vec::new();
    response.encode(&mut bytes);
    assert_eq!(decode_response(&bytes), Ok(Some((response, bytes.len()))));
    bytes[12] = 4;
    assert_eq!(decode_response(&bytes), Err(WireError::UnknownStatus(4)));
}

/// The fuzz target's body: decoding never panics, and whatever decodes
/// re-encodes to the same bytes.
fn fuzz_one(data: &[u8]) {
    if let Ok(Some((request, used))) = decode_request(data) {
        assert_eq!(encoded(&request), data[..used]);
    }
    if let Ok(Some((response, used))) = decode_response(data) {
        let mut out = Vec::new();
        response.encode(&mut out);
        assert_eq!(out, data[..used]);
    }
}

fn seed_corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/decode_request");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("seed corpus directory")
        .map(|entry| std::fs::read(entry.expect("corpus entry").path()).expect("seed"))
        .collect();
    seeds.sort();
    seeds
}

/// The in-suite short run of `fuzz/fuzz_targets/decode_request.rs`: the
/// seed corpus, then mutations of it and random bytes.
#[test]
fn fuzz_short_run_over_seeds_and_mutations() {
    let seeds = seed_corpus();
    assert!(seeds.len() >= 5, "one seed per transaction kind");
    let mut decoded = 0;
    for seed in &seeds {
        fuzz_one(seed);
        decoded += usize::from(matches!(decode_request(seed), Ok(Some(_))));
    }
    assert_eq!(decoded, seeds.len(), "every seed is a valid request");
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..20_000 {
        let mut data = seeds[round % seeds.len()].clone();
        for _ in 0..rng.random_range(1..4) {
            match rng.random_range(0..4) {
                0 if !data.is_empty() => {
                    let at = rng.random_range(0..data.len());
                    data[at] = rng.random();
                }
                1 if !data.is_empty() => {
                    data.truncate(rng.random_range(0..data.len()));
                }
                2 => data.push(rng.random()),
                _ => {
                    let at = rng.random_range(0..=data.len());
                    data.insert(at, rng.random());
                }
            }
        }
        fuzz_one(&data);
    }
    for _ in 0..5_000 {
        let len = rng.random_range(0..64);
        let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        fuzz_one(&data);
    }
}

#[test]
fn executor_reports_commit_rollback_and_failure() {
    let scale = Scale {
        warehouses: 1,
        items: 500,
        customers_per_district: 60,
    };
    let tpcc = Tpcc::load(scale, 1).unwrap();
    let level = |warehouse| Request {
        id: 5,
        input: TxnInput::StockLevel(StockLevelInput {
            warehouse,
            district: 2,
            threshold: 20,
        }),
    };
    let response = execute(&tpcc, &level(3));
    assert_eq!(response.status, Status::Failed, "warehouse 3 is not loaded");
    let response = execute(&tpcc, &level(1));
    assert_eq!((response.id, response.status), (5, Status::Committed));
    let mut rng = StdRng::seed_from_u64(2);
    let generator = InputGenerator::new(scale, tpcc.constants);
    let mut rolled_back = 0;
    for id in 0..400 {
        let input = TxnInput::NewOrder(generator.new_order(&mut rng, 1));
        let rollback =
            matches!(&input, TxnInput::NewOrder(o) if o.lines.iter().any(|l| l.item > scale.items));
        let response = execute(&tpcc, &Request { id, input });
        let expected = if rollback {
            Status::RolledBack
        } else {
            Status::Committed
        };
        assert_eq!(response.status, expected);
        rolled_back += usize::from(rollback);
        if !rollback {
            assert!(response.figure > 0, "an order total is positive");
        }
    }
    assert!(rolled_back < 40);
}
