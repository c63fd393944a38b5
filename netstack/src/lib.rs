//! Per-core TCP/IP engine of zygos-rs: ARP, ICMP, UDP, TCP, CRAB, SLO-aware
//! flow control and connection state export/import for migration.
//!
//! Each dataplane core owns one independent instance; nothing here knows of
//! threads, devices or the clock (time is passed in by the caller).
