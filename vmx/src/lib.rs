//! A Dune-like sandbox on KVM: dataplane cores run as vCPUs of a VM whose
//! page tables map the process's own address space.
