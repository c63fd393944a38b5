//! The shuffle layer of ZygOS (Prekas, Kogias, Bugnion, SOSP'17; Kogias'
//! thesis ch. 4): per-core queues of ready connections, per-socket ownership,
//! stealing and remote-syscall queues. Pure data structures: no I/O, no
//! threads.
