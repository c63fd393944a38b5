//! A Silo-style optimistic-concurrency in-memory database running TPC-C, as
//! a zygos-rs dataplane application.
