//! Linux-socket side of the harness: the baseline epoll servers
//! ([`server`]) and the pieces the load generator shares with them.

pub mod connection;
pub mod epoll;
pub mod server;

pub use server::{LinuxScheduler, LinuxServer, LinuxServerConfig, ServerError};
