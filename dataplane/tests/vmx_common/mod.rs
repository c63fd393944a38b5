//! Shared by the vmx platform's end-to-end tests: the KVM check, the
//! dataplane arguments and a client port on the dataplane's shm NIC.

use std::net::Ipv4Addr;

use dataplane::nic::shm::{PortConfig, ShmNic, ShmQueue};
use dataplane::nic::{FlowSteering, INDIRECTION_ENTRIES, NicSpec};
use dataplane::run::{BuiltinApp, PlatformKind, RunArgs, mac_for};
use dataplane::sched::SchedMode;
use netstack::StackConfig;

pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);
pub const PORT: u16 = 7000;

/// Whether /dev/kvm is usable; prints "skipped: <reason>" when it is not.
pub fn kvm_or_skip() -> bool {
    match vmx::available() {
        Ok(()) => true,
        Err(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

/// Two cores serving `app` on `platform` over the shm NIC `name`.
pub fn args(app: BuiltinApp, platform: PlatformKind, sched: SchedMode, name: &str) -> RunArgs {
    RunArgs {
        app,
        cores: 2,
        sched,
        batch: 16,
        platform,
        nic: NicSpec::Shm(name.to_string()),
        ip: SERVER_IP,
        netmask_len: 24,
        port: PORT,
    }
}

/// The client's stack configuration.
pub fn client_config() -> StackConfig {
    StackConfig {
        mac: mac_for(CLIENT_IP),
        ipv4: CLIENT_IP,
        ..StackConfig::default()
    }
}

/// Attaches a client port to the NIC `name`; with `all_on_core_0` the
/// server's RSS table sends every flow to core 0 (core 1 can only steal).
pub fn attach_client(name: &str, all_on_core_0: bool) -> ShmQueue {
    let mut peer = ShmNic::attach(
        name,
        PortConfig {
            mac: mac_for(CLIENT_IP),
            ipv4: CLIENT_IP,
            queues: 1,
        },
    )
    .unwrap();
    if all_on_core_0 {
        let server = peer
            .ports()
            .into_iter()
            .find(|p| p.ipv4 == SERVER_IP)
            .unwrap();
        let steering = peer.steering_of(server.index).unwrap();
        for entry in 0..INDIRECTION_ENTRIES {
            steering.set_indirection(entry, 0).unwrap();
        }
    }
    peer.take_queues().pop().unwrap()
}
