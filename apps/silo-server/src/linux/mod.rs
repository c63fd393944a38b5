//! The Silo server over Linux sockets: the same engine, the same wire
//! protocol and the same application code ([`crate::app::SiloApp`]) as
//! the dataplane, served by epoll threads. It is the "Linux" baseline of
//! the ZygOS Silo/TPC-C experiment (thesis §4.5, Fig. 4.9: Linux 211,
//! IX 267, ZygOS 344 KTPS at p99 ≤ 1 ms).
//!
//! Two layouts, as the synthetic baselines of [`bench::linux`]:
//! - [`LinuxScheduler::Floating`]: N threads on one shared listening
//!   socket (EPOLLEXCLUSIVE) and one epoll set; connections are registered
//!   EPOLLONESHOT, so whichever thread takes a connection's event owns it
//!   until it re-arms it: any thread serves any connection, one at a time.
//! - [`LinuxScheduler::Partitioned`]: one SO_REUSEPORT listener and epoll
//!   set per thread; the kernel spreads connections over the listeners and
//!   a connection stays on its thread.
//!
//! Usage: [`LinuxSiloServer::start`] binds and spawns the threads and
//! returns once the listeners exist; [`LinuxSiloServer::stop`] (or drop)
//! joins them.

mod connection;
mod server;

#[cfg(test)]
mod tests;

pub use bench::linux::LinuxScheduler;
pub use bench::linux::ServerError;
pub use server::{LinuxSiloConfig, LinuxSiloServer, pin_to_cpu};
