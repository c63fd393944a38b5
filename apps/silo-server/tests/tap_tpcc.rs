//! The Silo server over the real dataplane and the Linux kernel's TCP
//! (root only): in a fresh network namespace, a 2-core dataplane on a
//! multi-queue TAP device serves TPC-C requests from Linux clients
//! (std's TcpStream) on several connections. Every request gets its
//! response in order with the status its inputs imply, and the database
//! meets the TPC-C consistency conditions afterwards.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dataplane::netns::{NetNamespace, privileges_missing};
use dataplane::run::Dataplane;
use rand::SeedableRng;
use rand::rngs::StdRng;
use silo_server::app::SiloApp;
use silo_server::args::SiloArgs;
use silo_server::tpcc::{InputGenerator, Tpcc, TxnInput, check_consistency};
use silo_server::wire::{Request, Status, decode_response};

const DATAPLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 2);
const PORT: u16 = 7070;
const CONNECTIONS: u64 = 6;
const REQUESTS: u64 = 150;

/// One client: pipelines its requests, then checks every response.
fn client(tpcc: Arc<Tpcc>, conn: u64) -> Result<u64, String> {
    let generator = InputGenerator::new(tpcc.scale, tpcc.constants);
    let mut rng = StdRng::seed_from_u64(conn);
    let home = (conn % u64::from(tpcc.scale.warehouses)) as u32 + 1;
    let requests: Vec<Request> = (0..REQUESTS)
        .map(|id| Request {
            id,
            input: generator.next(&mut rng, home),
        })
        .collect();
    let mut bytes = Vec::new();
    for request in &requests {
        request.encode(&mut bytes);
    }
    let address = SocketAddr::from((DATAPLANE_IP, PORT));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connect {conn}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&bytes)
        .map_err(|e| format!("write {conn}: {e}"))?;
    let mut received = Vec::new();
    let mut answered = 0;
    let mut new_orders = 0;
    let mut chunk = [0u8; 4096];
    while answered < requests.len() {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("read {conn}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "connection {conn} closed after {answered} responses"
            ));
        }
        received.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some((response, used)) =
            decode_response(&received[at..]).map_err(|e| e.to_string())?
        {
            let request = &requests[answered];
            let rollback = matches!(&request.input, TxnInput::NewOrder(o)
                if o.lines.iter().any(|l| l.item > tpcc.scale.items));
            let expected = if rollback {
                Status::RolledBack
            } else {
                Status::Committed
            };
            if (response.id, response.status) != (request.id, expected) {
                return Err(format!("connection {conn}: {response:?} for {request:?}"));
            }
            if matches!(request.input, TxnInput::NewOrder(_)) && !rollback {
                new_orders += 1;
            }
            answered += 1;
            at += used;
        }
        received.drain(..at);
    }
    Ok(new_orders)
}

#[test]
fn linux_clients_run_tpcc_against_two_dataplane_cores_over_tap() {
    if let Some(reason) = privileges_missing() {
        println!("skipped: {reason}");
        return;
    }
    let netns = NetNamespace::create("silo").expect("network namespace");
    let tap = format!("zysilo{}", std::process::id() % 100_000);
    let args = SiloArgs::parse_from([
        "zygos run silo",
        "--warehouses=2",
        "--items=1000",
        "--customers=60",
        "--cores=2",
        &format!("--nic=tap:{tap}"),
        &format!("--ip={DATAPLANE_IP}"),
        &format!("--port={PORT}"),
    ]);
    let tpcc = Arc::new(Tpcc::load(args.scale(), args.seed).expect("load"));
    let app = SiloApp::new(Arc::clone(&tpcc));
    let dataplane = netns
        .within(|| Dataplane::start(&args.dataplane, app))
        .expect("enter the namespace")
        .expect("dataplane start");
    let configured = netns
        .ip(&["addr", "add", "10.202.0.1/24", "dev", &tap])
        .and_then(|()| netns.ip(&["link", "set", &tap, "up"]));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|conn| {
            let tpcc = Arc::clone(&tpcc);
            netns.spawn(move || client(tpcc, conn))
        })
        .collect();
    let outcomes: Vec<Result<u64, String>> = clients
        .into_iter()
        .map(|c| match c.join() {
            Ok(outcome) => outcome.map_err(|error| error.to_string())?,
            Err(_) => Err("client panicked".into()),
        })
        .collect();
    let report = dataplane.stop().expect("dataplane stop");
    configured.expect("configure the TAP device");
    let mut new_orders = 0;
    for outcome in outcomes {
        new_orders += outcome.unwrap_or_else(|e| panic!("{e} (counters: {})", report.total()));
    }
    check_consistency(&tpcc).expect("consistency after the networked run");
    let mut txn = tpcc.db.begin();
    let mut placed = 0;
    for w in 1..=2 {
        for d in 1..=10 {
            let key = silo_server::tpcc::keys::district(w, d);
            let district = txn.get(&tpcc.tables.district, &key).unwrap().unwrap();
            placed += u64::from(district.next_order - 61);
        }
    }
    assert_eq!(
        placed, new_orders,
        "every committed New-Order placed one order"
    );
}
