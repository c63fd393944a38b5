//! A memcached-compatible server (text and binary protocols) as a zygos-rs
//! dataplane application.
