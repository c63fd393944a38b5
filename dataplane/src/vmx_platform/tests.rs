//! The vmx platform's refusal without KVM (serving over the shm NIC in
//! vCPUs is tested in `tests/vmx_shm.rs`).

use vmx::{Unavailable, VmError};

use super::VmxError;

#[test]
fn a_machine_without_kvm_gets_a_message_naming_dev_kvm() {
    let error = VmxError::from(VmError::from(Unavailable::NoDevice));
    let text = error.to_string();
    assert!(text.starts_with("vmx platform: "), "{text}");
    assert!(text.contains("/dev/kvm does not exist"), "{text}");
}
