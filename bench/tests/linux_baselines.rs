//! Short real runs of the load generator against both Linux baselines on
//! 127.0.0.1: every request is answered, in order per connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bench::linux::{LinuxScheduler, LinuxServer, LinuxServerConfig};
use bench::loadgen::{LoadError, LoadSpec, run_load};
use bench::workload::ServiceDistribution;
use dataplane::synthetic_protocol::{Request, decode_response};

/// A connection whose reads fail after 10 s instead of hanging the test.
fn connect(server: &LinuxServer) -> TcpStream {
    let stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn start(scheduler: LinuxScheduler) -> LinuxServer {
    LinuxServer::start(LinuxServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        scheduler,
    })
    .unwrap()
}

#[test]
fn every_request_is_answered_in_order_by_both_baselines() {
    for scheduler in [LinuxScheduler::Partitioned, LinuxScheduler::Floating] {
        let server = start(scheduler);
        let mut config = LoadSpec::new(
            4000.0,
            ServiceDistribution::Exponential { mean: 5.0 },
            Duration::from_millis(400),
        );
        config.connections = 8;
        config.depth = 16;
        // An out-of-order response is an error of run_load itself.
        let report =
            run_load(server.local_addr(), &config).unwrap_or_else(|e| panic!("{scheduler}: {e}"));
        assert!(report.sent > 1000, "{scheduler}: sent {}", report.sent);
        assert_eq!(report.answered, report.sent, "{scheduler}");
        assert_eq!(server.served(), report.sent, "{scheduler}");
        assert!(
            report.histogram.p50 >= 5.0 * 0.1,
            "{scheduler}: {:?}",
            report.histogram
        );
        server.stop().unwrap();
    }
}

#[test]
fn pipelined_requests_on_one_connection_come_back_in_order() {
    for scheduler in [LinuxScheduler::Partitioned, LinuxScheduler::Floating] {
        let server = start(scheduler);
        let mut stream = connect(&server);
        let burst: Vec<u8> = (0..64u64)
            .flat_map(|id| {
                Request {
                    id,
                    service_ns: 1000 * (64 - id),
                }
                .encode()
            })
            .collect();
        // Split mid-request to exercise reassembly.
        stream.write_all(&burst[..100]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        stream.write_all(&burst[100..]).unwrap();
        let mut responses = [0u8; 64 * 8];
        stream.read_exact(&mut responses).unwrap();
        let ids: Vec<u64> = responses
            .chunks_exact(8)
            .map(|r| decode_response(r).unwrap())
            .collect();
        assert_eq!(ids, (0..64).collect::<Vec<_>>(), "{scheduler}");
    }
}

#[test]
fn an_overlong_service_time_closes_the_connection() {
    let server = start(LinuxScheduler::Floating);
    let mut stream = connect(&server);
    let request = Request {
        id: 1,
        service_ns: u64::MAX,
    };
    stream.write_all(&request.encode()).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(stream.read(&mut byte).unwrap(), 0);
    assert_eq!(server.protocol_errors(), 1);
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let server = start(LinuxScheduler::Partitioned);
    let addr = server.local_addr();
    server.stop().unwrap();
    let config = LoadSpec::new(
        1000.0,
        ServiceDistribution::Fixed { mean: 1.0 },
        Duration::from_millis(10),
    );
    assert!(matches!(
        run_load(addr, &config),
        Err(LoadError::Connect { .. })
    ));
}

#[test]
fn too_few_slots_for_the_rate_warns() {
    let service = ServiceDistribution::Exponential { mean: 10.0 };
    let mut config = LoadSpec::new(200_000.0, service, Duration::from_secs(1));
    config.connections = 2;
    config.depth = 4;
    // 200k RPS x 100 us = 20 requests in flight > 8 slots.
    assert!(config.capacity_warning().is_some());
    config.connections = 16;
    assert!(config.capacity_warning().is_none());
}

#[test]
fn a_server_that_never_answers_is_reported_as_stalled() {
    // Accepts connections (backlog) but never reads: every slot fills.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = LoadSpec::new(
        20_000.0,
        ServiceDistribution::Fixed { mean: 1.0 },
        Duration::from_secs(1),
    );
    config.connections = 2;
    config.depth = 2;
    let result = run_load(silent.local_addr().unwrap(), &config);
    assert!(
        matches!(result, Err(LoadError::Stalled { .. })),
        "{result:?}"
    );
}
