//! CRAB connection redirection end to end (thesis section 7.3): a client
//! dials a virtual IP; a load balancer forwards only the SYN to a backend
//! (rewriting its destination); the backend echoes the Connection Redirect
//! option on its SYN-ACK from its own address; the client accepts it and
//! talks to the backend directly from then on.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::{CLIENT_IP, PORT, SERVER_IP, client_config, server_config};
use netstack::{ConnId, Event, Stack, State, VecSink};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress,
    Ipv4Packet, TcpPacket,
};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const LB_MAC: [u8; 6] = [2, 0, 0, 0, 0, 100];

/// An ARP reply telling the client that the VIP is at the balancer.
fn vip_arp_reply() -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: EthernetAddress(LB_MAC),
        source_protocol_addr: VIP,
        target_hardware_addr: EthernetAddress(client_config().mac),
        target_protocol_addr: CLIENT_IP,
    };
    let mut frame = vec![0u8; 14 + repr.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_dst_addr(EthernetAddress(client_config().mac));
    eth.set_src_addr(EthernetAddress(LB_MAC));
    eth.set_ethertype(EthernetProtocol::Arp);
    repr.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// The balancer: forwards a frame to the backend, rewriting MAC and IP
/// destination and both checksums.
fn forward_to_backend(mut frame: Vec<u8>) -> Vec<u8> {
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_dst_addr(EthernetAddress(server_config().mac));
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_dst_addr(SERVER_IP);
    ip.fill_checksum();
    let src = ip.src_addr();
    let header_len = usize::from(ip.header_len());
    let total = usize::from(ip.total_len());
    let mut tcp = TcpPacket::new_unchecked(&mut ip.into_inner()[header_len..total]);
    tcp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(SERVER_IP));
    frame
}

fn drain(stack: &mut Stack) -> Vec<Vec<u8>> {
    let mut sink = VecSink::default();
    stack.poll(stack_now(), &mut sink);
    sink.frames
}

fn stack_now() -> netstack::Instant {
    netstack::Instant::from_millis(1)
}

/// Exchanges frames directly between client and backend until quiet.
fn exchange(client: &mut Stack, backend: &mut Stack) {
    loop {
        let to_backend = drain(client);
        let to_client = drain(backend);
        if to_backend.is_empty() && to_client.is_empty() {
            return;
        }
        to_backend
            .iter()
            .for_each(|f| backend.handle_frame(stack_now(), f));
        to_client
            .iter()
            .for_each(|f| client.handle_frame(stack_now(), f));
    }
}

fn setup(redirectable: bool) -> (Stack, Stack, ConnId) {
    let mut client = Stack::new(client_config()).unwrap();
    let mut backend = Stack::new(server_config()).unwrap();
    backend.listen(PORT).unwrap();
    client.handle_frame(stack_now(), &vip_arp_reply());
    let vip = SocketAddrV4::new(VIP, PORT);
    let conn = if redirectable {
        client.connect_redirectable(stack_now(), vip).unwrap()
    } else {
        client.connect(stack_now(), vip).unwrap()
    };
    let syn = drain(&mut client);
    assert_eq!(syn.len(), 1, "the SYN goes to the balancer");
    assert_eq!(&syn[0][..6], &LB_MAC);
    backend.handle_frame(stack_now(), &forward_to_backend(syn[0].clone()));
    (client, backend, conn)
}

#[test]
fn client_follows_the_redirect_and_talks_to_the_backend() {
    let (mut client, mut backend, conn) = setup(true);
    exchange(&mut client, &mut backend);
    assert_eq!(client.pop_event(), Some(Event::Connected(conn)));
    let (_, remote) = client.four_tuple(conn).unwrap();
    assert_eq!(
        remote,
        SocketAddrV4::new(SERVER_IP, PORT),
        "redirected to the backend"
    );
    assert_eq!(client.crab_redirect(conn), Some(VIP));
    let server_conn = match backend.pop_event() {
        Some(Event::Accepted { conn, .. }) => conn,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        backend.crab_redirect(server_conn),
        Some(VIP),
        "backend saw the option"
    );
    client.send(conn, b"ping").unwrap();
    exchange(&mut client, &mut backend);
    let mut buf = [0u8; 8];
    assert_eq!(backend.recv(server_conn, &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"ping");
}

#[test]
fn syn_ack_from_elsewhere_without_the_option_is_refused() {
    let (mut client, mut backend, conn) = setup(false);
    exchange(&mut client, &mut backend);
    assert_eq!(client.state(conn), Some(State::SynSent), "not redirected");
    assert_eq!(
        client.stats().tcp_rst_tx,
        1,
        "the stray SYN-ACK was answered by RST"
    );
    assert_eq!(client.pop_event(), None);
}
