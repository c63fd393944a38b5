//! Shared by the integration tests: the VM or a printed skip.

use vmx::{Unavailable, Vm};

/// A VM, or `None` (after printing "skipped: ...") when this machine has no
/// usable /dev/kvm. A KVM that is present but broken fails the test.
pub fn vm_or_skip() -> Option<Vm> {
    match vmx::available() {
        Ok(()) => Some(Vm::new().expect("KVM is available but the VM could not be built")),
        Err(e @ (Unavailable::NoDevice | Unavailable::PermissionDenied(_))) => {
            println!("skipped: {e}");
            None
        }
        Err(e) => panic!("KVM is present but broken: {e}"),
    }
}
