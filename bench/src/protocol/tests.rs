//! The generator over a protocol other than the synthetic one, on real
//! sockets: a two-class line protocol (`a\n` answered `A\n`, `b\n`
//! answered `B\n`) served by a thread per connection on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use rand::{Rng, RngCore};

use super::*;
use crate::loadgen::{LoadError, LoadSpec, run_load_with};
use crate::workload::ServiceDistribution;

const CLASSES: [&str; 2] = ["a", "b"];

/// Sends `a` with probability 0.8, else `b`.
struct Letters;

impl RequestGenerator for Letters {
    fn class_names(&self) -> &[&'static str] {
        &CLASSES
    }

    fn next_request(&mut self, rng: &mut dyn RngCore, _id: u64, out: &mut Vec<u8>) -> RequestClass {
        let class = usize::from(!rng.random_bool(0.8));
        out.extend_from_slice(CLASSES[class].as_bytes());
        out.push(b'\n');
        class
    }
}

/// One upper-case line per request, checked against its class.
struct UpperLetters;

impl ResponseFramer for UpperLetters {
    fn frame(&self, request: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError> {
        let Some(end) = received.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = &received[..end];
        match line {
            [letter] if letter.is_ascii_uppercase() => {
                if letter.to_ascii_lowercase() == CLASSES[request.class].as_bytes()[0] {
                    Ok(Some(Frame::new(end + 1)))
                } else {
                    Err(FrameError::Unexpected {
                        response: String::from_utf8_lossy(line).into_owned(),
                        request: CLASSES[request.class],
                    })
                }
            }
            _ => Err(FrameError::Malformed(
                String::from_utf8_lossy(line).into_owned(),
            )),
        }
    }
}

/// Serves every accepted connection on its own thread, answering each
/// line with `answer(line)`, until the listener's process ends.
fn serve(answer: fn(&str) -> String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if writer.write_all(answer(&line).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn short_spec() -> LoadSpec {
    let mut spec = LoadSpec::new(
        3000.0,
        ServiceDistribution::Fixed { mean: 50.0 },
        Duration::from_millis(300),
    );
    spec.connections = 4;
    spec.depth = 16;
    spec
}

/// Runs the letters against an upper-casing server and checks every
/// request is answered and counted in its class.
fn every_letter_answered(spec: &LoadSpec) {
    let addr = serve(|line| format!("{}\n", line.to_ascii_uppercase()));
    let report = run_load_with(addr, spec, &mut Letters, &UpperLetters).unwrap();
    assert!(report.sent > 500, "sent {}", report.sent);
    assert_eq!(report.answered, report.sent);
    let names: Vec<_> = report.per_class.iter().map(|c| c.class).collect();
    assert_eq!(names, CLASSES);
    let answered: Vec<u64> = report.per_class.iter().map(|c| c.answered).collect();
    let measured: u64 = answered.iter().sum();
    assert_eq!(measured, report.measured);
    let b_share = answered[1] as f64 / measured as f64;
    assert!((0.12..0.28).contains(&b_share), "{answered:?}");
    assert!(report.per_class.iter().all(|c| c.histogram.p99 > 0.0));
}

#[test]
fn each_response_completes_its_request_and_classes_are_reported() {
    every_letter_answered(&short_spec());
}

#[test]
fn one_thread_sending_and_receiving_answers_every_request_too() {
    every_letter_answered(&LoadSpec {
        single_thread: true,
        ..short_spec()
    });
}

/// The framer's error of a run against a server answering `answer`.
fn framer_error(answer: fn(&str) -> String) -> FrameError {
    match run_load_with(serve(answer), &short_spec(), &mut Letters, &UpperLetters) {
        Err(LoadError::Response { source, .. }) => source,
        other => panic!("expected a framer error, got {other:?}"),
    }
}

#[test]
fn a_response_of_the_wrong_class_stops_the_run() {
    let error = framer_error(|_| "A\n".to_owned());
    assert!(
        matches!(error, FrameError::Unexpected { request: "b", .. }),
        "{error}"
    );
}

#[test]
fn garbage_stops_the_run_with_the_framer_error() {
    let error = framer_error(|_| "??\n".to_owned());
    assert_eq!(error, FrameError::Malformed("??".to_owned()));
}

#[test]
fn a_framer_length_beyond_the_bytes_is_an_error_not_a_panic() {
    struct Overlong;
    impl ResponseFramer for Overlong {
        fn frame(&self, _: PendingRequest, received: &[u8]) -> Result<Option<Frame>, FrameError> {
            Ok(Some(Frame::new(received.len() + 1)))
        }
    }
    let addr = serve(|_| "A\n".to_owned());
    let error = run_load_with(addr, &short_spec(), &mut Letters, &Overlong).unwrap_err();
    assert!(matches!(error, LoadError::FrameLength { .. }), "{error}");
}

#[test]
fn a_class_the_generator_does_not_name_is_an_error() {
    struct Unnamed;
    impl RequestGenerator for Unnamed {
        fn class_names(&self) -> &[&'static str] {
            &["only"]
        }
        fn next_request(&mut self, _: &mut dyn RngCore, _: u64, out: &mut Vec<u8>) -> RequestClass {
            out.extend_from_slice(b"a\n");
            1
        }
    }
    let addr = serve(|line| format!("{}\n", line.to_ascii_uppercase()));
    let error = run_load_with(addr, &short_spec(), &mut Unnamed, &UpperLetters).unwrap_err();
    assert!(
        matches!(
            error,
            LoadError::UnknownClass {
                class: 1,
                classes: 1
            }
        ),
        "{error}"
    );
}
