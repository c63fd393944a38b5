//! Both layouts serve TPC-C over loopback to concurrent pipelining
//! clients: every response comes back in request order with a status its
//! type allows, every committed New-Order placed exactly one order, and
//! the consistency conditions hold afterwards.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::app::SiloApp;
use crate::requests::TpccRequests;
use crate::tpcc::{Scale, Tpcc, TxnKind, check_consistency, keys};
use crate::wire::{Status, decode_response};

const CONNECTIONS: u64 = 6;
const REQUESTS: u64 = 150;
const SCALE: Scale = Scale {
    warehouses: 2,
    items: 1_000,
    customers_per_district: 60,
};

/// One client: writes all its requests at once, then reads every
/// response; returns the New-Orders that committed.
fn pipelined_client(addr: SocketAddr, tpcc: &Tpcc, seed: u64) -> Result<u64, String> {
    let requests = TpccRequests::new(tpcc.scale, tpcc.constants, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bytes = Vec::new();
    let kinds: Vec<TxnKind> = (0..REQUESTS)
        .map(|id| requests.append(&mut rng, id, &mut bytes))
        .collect();
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .and_then(|()| stream.write_all(&bytes))
        .map_err(|e| format!("write: {e}"))?;
    let (mut received, mut answered, mut new_orders) = (Vec::new(), 0, 0);
    let mut chunk = [0u8; 4096];
    while answered < kinds.len() {
        let read = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            return Err(format!("closed after {answered} responses"));
        }
        received.extend_from_slice(&chunk[..read]);
        let mut at = 0;
        while let Some((response, used)) =
            decode_response(&received[at..]).map_err(|e| e.to_string())?
        {
            let kind = kinds[answered];
            let allowed = match response.status {
                Status::Committed => true,
                Status::RolledBack => kind == TxnKind::NewOrder,
                Status::Aborted | Status::Failed => false,
            };
            if response.id != answered as u64 || !allowed {
                return Err(format!("{response:?} for request {answered} ({kind:?})"));
            }
            new_orders +=
                u64::from(kind == TxnKind::NewOrder && response.status == Status::Committed);
            answered += 1;
            at += used;
        }
        received.drain(..at);
    }
    Ok(new_orders)
}

/// Orders placed since loading, over every district.
fn orders_placed(tpcc: &Tpcc) -> u64 {
    let mut txn = tpcc.db.begin();
    let mut placed = 0;
    for w in 1..=SCALE.warehouses {
        for d in 1..=10 {
            let district = txn
                .get(&tpcc.tables.district, &keys::district(w, d))
                .unwrap()
                .unwrap();
            placed += u64::from(district.next_order - SCALE.customers_per_district - 1);
        }
    }
    placed
}

fn serve_and_check(scheduler: LinuxScheduler) {
    let tpcc = Arc::new(Tpcc::load(SCALE, 9).unwrap());
    let server = LinuxSiloServer::start(
        LinuxSiloConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 2,
            scheduler,
            pin: false,
        },
        SiloApp::new(Arc::clone(&tpcc)),
    )
    .unwrap();
    let addr = server.local_addr();
    let committed: u64 = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|seed| {
                let tpcc = &tpcc;
                scope.spawn(move || pipelined_client(addr, tpcc, seed))
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("client thread"))
            .map(|outcome| outcome.unwrap_or_else(|e| panic!("{scheduler}: {e}")))
            .sum()
    });
    server.stop().unwrap();
    check_consistency(&tpcc).expect("consistency after the run");
    assert!(
        committed > CONNECTIONS * REQUESTS / 4,
        "{committed} New-Orders"
    );
    assert_eq!(orders_placed(&tpcc), committed);
}

#[test]
fn floating_serves_tpcc_over_loopback() {
    serve_and_check(LinuxScheduler::Floating);
}

#[test]
fn partitioned_serves_tpcc_over_loopback() {
    serve_and_check(LinuxScheduler::Partitioned);
}

#[test]
fn a_malformed_request_closes_only_its_connection() {
    let tpcc = Arc::new(Tpcc::load(SCALE, 2).unwrap());
    let server = LinuxSiloServer::start(
        LinuxSiloConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            scheduler: LinuxScheduler::Floating,
            pin: false,
        },
        SiloApp::new(Arc::clone(&tpcc)),
    )
    .unwrap();
    let mut bad = TcpStream::connect(server.local_addr()).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bad.write_all(&[3, 0, 0, 0, 1, 2, 3]).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        bad.read_to_end(&mut rest).unwrap(),
        0,
        "closed without a reply"
    );
    assert_eq!(
        pipelined_client(server.local_addr(), &tpcc, 1).map(|_| ()),
        Ok(())
    );
    assert!(matches!(
        LinuxSiloServer::start(
            LinuxSiloConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                threads: 0,
                scheduler: LinuxScheduler::Partitioned,
                pin: false,
            },
            SiloApp::new(tpcc),
        ),
        Err(ServerError::NoThreads)
    ));
}
