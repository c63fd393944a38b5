//! The TAP backend against the Linux kernel (root only): in a fresh network
//! namespace, a minimal ARP + ICMP echo responder built on the NIC trait
//! answers `ping` from the kernel side of a multi-queue TAP device.

use std::net::Ipv4Addr;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dataplane::netns::{NetNamespace, privileges_missing};
use dataplane::nic::tap::{TapError, TapNic, TapQueue};
use dataplane::nic::{MAX_BURST, NicQueue};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr,
};

const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0x77, 0, 2]);
const QUEUES: usize = 2;

/// Runs a command that may fail (its status is checked by the caller).
fn output(command: &mut std::process::Command) -> Output {
    command.output().unwrap_or_else(|error| {
        panic!("cannot run {command:?} (install iproute2/iputils-ping): {error}")
    })
}

/// The reply to one received frame, if it asks for one: an ARP reply to a
/// request for our address, an echo reply to an echo request to it.
fn reply_to(frame: &[u8]) -> Option<Vec<u8>> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    match ethernet.ethertype() {
        EthernetProtocol::Arp => arp_reply(&ethernet),
        EthernetProtocol::Ipv4 => echo_reply(&ethernet),
        _ => None,
    }
}

fn arp_reply(ethernet: &EthernetFrame<&[u8]>) -> Option<Vec<u8>> {
    let request = ArpRepr::parse(&ArpPacket::new_checked(ethernet.payload()).ok()?).ok()?;
    let ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = request
    else {
        return None;
    };
    if target_protocol_addr != OUR_IP {
        return None;
    }
    let reply = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: OUR_MAC,
        source_protocol_addr: OUR_IP,
        target_hardware_addr: source_hardware_addr,
        target_protocol_addr: source_protocol_addr,
    };
    let header = EthernetRepr {
        src_addr: OUR_MAC,
        dst_addr: source_hardware_addr,
        ethertype: EthernetProtocol::Arp,
    };
    let mut frame = vec![0xa5; header.buffer_len() + reply.buffer_len()];
    let mut out = EthernetFrame::new_unchecked(&mut frame[..]);
    header.emit(&mut out);
    reply.emit(&mut ArpPacket::new_unchecked(out.payload_mut()));
    Some(frame)
}

fn echo_reply(ethernet: &EthernetFrame<&[u8]>) -> Option<Vec<u8>> {
    let checksums = ChecksumCapabilities::default();
    let packet = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    let ip = Ipv4Repr::parse(&packet, &checksums).ok()?;
    if ip.dst_addr != OUR_IP || ip.next_header != IpProtocol::Icmp {
        return None;
    }
    let icmp = Icmpv4Repr::parse(
        &Icmpv4Packet::new_checked(packet.payload()).ok()?,
        &checksums,
    )
    .ok()?;
    let Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data,
    } = icmp
    else {
        return None;
    };
    let reply = Icmpv4Repr::EchoReply {
        ident,
        seq_no,
        data,
    };
    let ip_reply = Ipv4Repr {
        src_addr: OUR_IP,
        dst_addr: ip.src_addr,
        next_header: IpProtocol::Icmp,
        payload_len: reply.buffer_len(),
        hop_limit: 64,
    };
    let header = EthernetRepr {
        src_addr: OUR_MAC,
        dst_addr: ethernet.src_addr(),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0xa5; header.buffer_len() + ip_reply.buffer_len() + reply.buffer_len()];
    let mut out = EthernetFrame::new_unchecked(&mut frame[..]);
    header.emit(&mut out);
    let mut ip_out = Ipv4Packet::new_unchecked(out.payload_mut());
    ip_reply.emit(&mut ip_out, &checksums);
    reply.emit(
        &mut Icmpv4Packet::new_unchecked(ip_out.payload_mut()),
        &checksums,
    );
    Some(frame)
}

/// Serves every queue until `stop`; returns (ARP replies, echo replies).
fn respond(mut queues: Vec<TapQueue>, stop: &AtomicBool) -> (u64, u64) {
    let (mut arp, mut echo) = (0, 0);
    let mut replies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        // Every queue is polled: the kernel spreads new flows over them.
        for queue in &mut queues {
            {
                let burst = queue.rx_burst(MAX_BURST);
                idle &= burst.is_empty();
                replies.extend(burst.iter().filter_map(reply_to));
            }
            // The burst borrows the queue: reply once it is released.
            for reply in replies.drain(..) {
                let is_arp =
                    EthernetFrame::new_unchecked(&reply[..]).ethertype() == EthernetProtocol::Arp;
                let sent =
                    queue.send_frame(reply.len(), &mut |buffer| buffer.copy_from_slice(&reply));
                assert!(sent, "TAP queue refused a reply");
                if is_arp { arp += 1 } else { echo += 1 }
            }
            queue.flush_tx();
        }
        if idle {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    (arp, echo)
}

#[test]
fn kernel_pings_a_responder_on_a_multi_queue_tap() {
    if let Some(reason) = privileges_missing() {
        println!("skipped: {reason}");
        return;
    }
    let netns = NetNamespace::create("ping").unwrap();
    let tap = format!("zyt{}", std::process::id() % 100_000);
    let stop = Arc::new(AtomicBool::new(false));
    let (opened_tx, opened_rx) = mpsc::channel();
    let responder = {
        let tap = tap.clone();
        let stop = Arc::clone(&stop);
        netns.spawn(move || {
            let opened = TapNic::open(&tap, QUEUES);
            let mut nic = match opened {
                Ok(nic) => nic,
                Err(error) => {
                    opened_tx.send(Err(error.to_string())).unwrap();
                    return (0, 0);
                }
            };
            let queues = nic.take_queues();
            opened_tx.send(Ok(queues.len())).unwrap();
            respond(queues, &stop)
        })
    };
    let opened = opened_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("responder thread");
    assert_eq!(
        opened,
        Ok(QUEUES),
        "TapNic::open created {tap} in the namespace"
    );
    netns
        .ip(&["addr", "add", &format!("{KERNEL_IP}/24"), "dev", &tap])
        .unwrap();
    netns.ip(&["link", "set", &tap, "up"]).unwrap();
    let started = Instant::now();
    let ping = output(
        netns
            .command("ping")
            .args(["-c", "3", "-W", "2", &OUR_IP.to_string()]),
    );
    stop.store(true, Ordering::Relaxed);
    let (arp, echo) = responder.join().expect("responder panicked").unwrap();
    let stdout = String::from_utf8_lossy(&ping.stdout);
    println!(
        "{stdout}ARP replies {arp}, echo replies {echo}, in {:?}",
        started.elapsed()
    );
    assert!(
        ping.status.success(),
        "ping failed: {stdout}{}",
        String::from_utf8_lossy(&ping.stderr)
    );
    assert!(stdout.contains("3 received"), "{stdout}");
    assert!(arp >= 1, "the kernel resolved us by ARP");
    assert_eq!(echo, 3, "one echo reply per request");
    // Non-persistent: the device is gone with its last fd.
    let show = output(netns.command("ip").args(["link", "show", &tap]));
    assert!(!show.status.success(), "{tap} should vanish with its fds");
}

#[test]
fn existing_devices_are_joined_only_when_they_are_multi_queue_taps() {
    if let Some(reason) = privileges_missing() {
        println!("skipped: {reason}");
        return;
    }
    let netns = NetNamespace::create("pre").unwrap();
    let single = format!("zys{}", std::process::id() % 100_000);
    let multi = format!("zym{}", std::process::id() % 100_000);
    netns
        .ip(&["tuntap", "add", "mode", "tap", "name", &single])
        .unwrap();
    netns
        .ip(&[
            "tuntap",
            "add",
            "mode",
            "tap",
            "multi_queue",
            "name",
            &multi,
        ])
        .unwrap();
    let (single_result, multi_queues) = {
        let (single, multi) = (single.clone(), multi.clone());
        netns
            .spawn(move || {
                let single_result = TapNic::open(&single, 1).map(|_| ());
                let multi_queues = TapNic::open(&multi, 3).map(|mut nic| nic.take_queues().len());
                (
                    single_result,
                    multi_queues.map_err(|error| error.to_string()),
                )
            })
            .join()
            .unwrap()
            .unwrap()
    };
    assert!(
        matches!(single_result, Err(TapError::NotMultiQueueTap { .. })),
        "{single_result:?}"
    );
    assert_eq!(
        multi_queues,
        Ok(3),
        "joined the persistent multi-queue device"
    );
    let show = output(netns.command("ip").args(["link", "show", &multi]));
    assert!(
        show.status.success(),
        "a persistent device outlives our fds"
    );
}
