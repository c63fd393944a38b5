//! Per-core TCP/IP engine of zygos-rs: Ethernet, ARP, IPv4, ICMP echo, UDP
//! and TCP (RFC 9293), with the hooks later layers need: the CRAB connection
//! redirect option, a per-connection receive-window override (SLO-aware flow
//! control) and export/import of a connection's state (live migration).
//!
//! Each dataplane core owns one independent [`Stack`]. Nothing here knows of
//! threads, devices or the clock: the caller passes time in ([`Instant`]),
//! hands received Ethernet frames to [`Stack::handle_frame`], lets
//! [`Stack::poll`] run timers and write outgoing frames into a [`FrameSink`],
//! then drains [`Event`]s with [`Stack::pop_event`] and acts on them with the
//! batched calls (`send`, `recv`, `close`, `abort`).
//!
//! - Connections: [`Stack::listen`] (then [`Event::Accepted`]),
//!   [`Stack::connect`] (then [`Event::Connected`]); every connection ends
//!   with one [`Event::Closed`]. `send` copies what fits (back-pressure,
//!   then [`Event::Writable`]); `recv` drains in-order bytes.
//! - UDP: [`Stack::bind_udp`], [`Stack::send_udp`], [`Stack::recv_udp`].
//! - CRAB (thesis section 7.3): [`Stack::connect_redirectable`] and
//!   [`Stack::crab_redirect`]; servers echo the option automatically.
//! - SLO-aware flow control (thesis chapter 5): [`Stack::set_slo_window`] /
//!   [`Stack::set_window_override`] on the server, [`Stack::set_slo_peer`]
//!   and [`Stack::peer_slo_window`] / [`Stack::peer_window`] on the client.
//! - Live migration: [`Stack::export`] and [`Stack::import`] of a
//!   [`ConnectionState`].
//! - Testing: [`sim::Link`] joins two stacks over a seeded faulty wire in
//!   virtual time; [`fuzzing`] holds the fuzz targets' entry points.
//!
//! Per connection, memory is bounded by `rx_buffer + tx_buffer` plus the
//! table entry and timer-wheel node ([`Stack::memory_per_connection`]);
//! buffers are allocated at set-up (or reused from a pool) and the
//! per-segment path, timers included, allocates nothing.
//!
//! ```
//! use netstack::{Instant, Stack, StackConfig, VecSink};
//! let mut stack = Stack::new(StackConfig::default()).unwrap();
//! let mut out = VecSink::default();
//! stack.handle_frame(Instant::ZERO, &[0u8; 10]); // malformed: counted, dropped
//! stack.poll(Instant::ZERO, &mut out);
//! assert_eq!(stack.stats().malformed, 1);
//! ```
#![forbid(unsafe_code)]

mod arp;
mod checksum;
mod config;
mod error;
mod event;
mod fast_hash;
mod frame;
pub mod fuzzing;
mod icmp;
pub mod sim;
mod sink;
pub mod slo;
mod stack;
mod stats;
mod tcp;
mod time;
mod udp;

pub use config::StackConfig;
pub use error::{ConfigError, ConnError, ConnectError, ImportError, ListenError, UdpError};
pub use event::{ConnId, Event};
pub use sink::{FrameSink, VecSink};
pub use slo::{SloWindow, SloWindowError};
pub use stack::{MAX_UDP_PAYLOAD, Stack};
pub use stats::StackStats;
pub use tcp::congestion::Congestion;
pub use tcp::migrate::{ConnectionState, TimerState};
pub use tcp::options::{MAX_OPTIONS_LEN, OptionError, TcpOptions};
pub use tcp::rtt::RttEstimator;
pub use tcp::seq::Seq;
pub use tcp::tcb::{ReceiveSequence, SendSequence, State};
pub use time::{Duration, Instant};
