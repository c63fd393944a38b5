//! Live migration: the server side of a transfer is exported mid-stream
//! (through JSON, to prove the state is plain data), imported into a fresh
//! stack with the same address, the wire is redirected to it, and the
//! transfer completes byte-exact.

mod common;

use common::{handshake, link, server_config, transfer};
use netstack::sim::LinkConfig;
use netstack::{ConnectionState, Event, ImportError, Stack};

#[test]
fn export_mid_transfer_import_elsewhere_completes_byte_exact() {
    let mut link = link(LinkConfig {
        loss: 0.01,
        reorder: 0.01,
        seed: 42,
        ..LinkConfig::default()
    });
    let (client, server) = handshake(&mut link);
    let total = 20 * 1024 * 1024;
    let mut migrated = None;
    let (sent, received) = transfer(&mut link, client, server, total, |link, received, conns| {
        let (client, server) = conns;
        if migrated.is_some() || received < 8 * 1024 * 1024 {
            return conns;
        }
        let state = link.b.export(server).unwrap();
        assert!(
            link.b.send(server, b"x").is_err(),
            "the exported handle is dead"
        );
        assert_eq!(link.b.connection_count(), 0);
        let json = serde_json::to_string(&state).unwrap();
        let state: ConnectionState = serde_json::from_str(&json).unwrap();
        migrated = Some((
            state.send_buffer.len(),
            state.out_of_order.len(),
            json.len(),
        ));
        // B' runs on another clock: ten seconds ahead.
        let now = link.now + netstack::Duration::from_secs(10);
        let mut fresh = Stack::new(server_config()).unwrap();
        let imported = fresh.import(now, &state).unwrap();
        assert_eq!(
            fresh.import(now, &state),
            Err(ImportError::AddressInUse(state.remote)),
            "one connection per 4-tuple"
        );
        link.b = fresh;
        link.now = now;
        (client, imported)
    });
    assert_eq!(sent.0, received.0, "byte stream differs after migration");
    let (unsent, parked, json_len) = migrated.expect("migration happened");
    println!(
        "migrated with {unsent} send-buffer bytes, {parked} out-of-order ranges, {json_len} bytes of JSON"
    );
}

#[test]
fn sender_migrates_with_unacknowledged_and_unsent_bytes() {
    let mut link = link(LinkConfig {
        loss: 0.01,
        duplicate: 0.01,
        seed: 9,
        ..LinkConfig::default()
    });
    let (client, server) = handshake(&mut link);
    let mut carried = None;
    let (sent, received) = transfer(
        &mut link,
        client,
        server,
        16 * 1024 * 1024,
        |link, received, conns| {
            let (client, server) = conns;
            if carried.is_some() || received < 4 * 1024 * 1024 {
                return conns;
            }
            let state = link.a.export(client).unwrap();
            let in_flight = state.send.nxt.0.wrapping_sub(state.send.una.0);
            carried = Some((in_flight, state.send_buffer.len()));
            let mut fresh = Stack::new(common::client_config()).unwrap();
            let imported = fresh.import(link.now, &state).unwrap();
            link.a = fresh;
            (imported, server)
        },
    );
    assert_eq!(
        sent.0, received.0,
        "byte stream differs after migrating the sender"
    );
    let (in_flight, buffered) = carried.unwrap();
    assert!(buffered > 0, "the send buffer travelled");
    println!("sender migrated with {in_flight} bytes in flight, {buffered} buffered");
}

#[test]
fn imported_connection_sends_and_closes() {
    let mut link = link(LinkConfig::default());
    let (client, server) = handshake(&mut link);
    link.b.send(server, b"unsent before export").unwrap();
    let state = link.b.export(server).unwrap();
    assert_eq!(state.send_buffer, b"unsent before export");
    let mut fresh = Stack::new(server_config()).unwrap();
    let moved = fresh.import(link.now, &state).unwrap();
    link.b = fresh;
    link.run_until_idle(1_000);
    let mut buf = [0u8; 64];
    assert_eq!(link.a.recv(client, &mut buf), Ok(20));
    assert_eq!(&buf[..20], b"unsent before export");
    link.b.close(moved).unwrap();
    link.a.close(client).unwrap();
    link.run_until_idle(1_000);
    let events: Vec<Event> = std::iter::from_fn(|| link.b.pop_event()).collect();
    assert!(events.contains(&Event::Closed(moved)), "{events:?}");
}

#[test]
fn import_refuses_foreign_address() {
    let mut link = link(LinkConfig::default());
    let (_, server) = handshake(&mut link);
    let state = link.b.export(server).unwrap();
    let mut other = Stack::new(common::client_config()).unwrap();
    assert_eq!(
        other.import(link.now, &state),
        Err(ImportError::WrongAddress(common::SERVER_IP))
    );
}
