//! The conformance suite: the specification of this crate's protocol
//! behaviour. Every case runs four times, against the real memcached 1.6 (the
//! Debian package, started by the test; skipped with a printed reason when
//! absent), against ours over a loopback TCP adapter, against ours as
//! a dataplane application on the shm NIC (through a bridge), and against
//! ours as a 2-core dataplane on a TAP device in a network namespace with
//! Linux TCP clients (root only; skipped with a printed reason otherwise).

mod binary;
mod clients;
mod dataplane_bridge;
mod robustness;
mod servers;
mod tap_namespace;
mod text;
mod transport;

use servers::{Options, ServerKind};
use transport::Transport;

fn run(kind: ServerKind, options: Options, case: fn(&dyn Transport)) {
    if let Some(server) = servers::start(kind, options) {
        case(server.as_ref());
    }
}

const DEFAULT: Options = Options {
    memory_mb: 64,
    max_connections: 1024,
};
const SMALL_MEMORY: Options = Options {
    memory_mb: 2,
    max_connections: 1024,
};

macro_rules! suite {
    ($($module:ident :: $case:ident => $options:expr),* $(,)?) => {
        mod real_memcached {
            use super::*;
            $( #[test] fn $case() { run(ServerKind::Real, $options, $module::$case) } )*
        }
        mod ours_over_tcp {
            use super::*;
            $( #[test] fn $case() { run(ServerKind::Ours, $options, $module::$case) } )*
        }
        mod ours_on_dataplane {
            use super::*;
            $( #[test] fn $case() { run(ServerKind::OursOnDataplane, $options, $module::$case) } )*
        }
        mod ours_over_tap {
            use super::*;
            $( #[test] fn $case() { run(ServerKind::OursOverTap, $options, $module::$case) } )*
        }
    };
}

suite! {
    text::text_storage_commands => DEFAULT,
    text::text_gets_and_cas => DEFAULT,
    text::text_incr_decr => DEFAULT,
    text::text_delete_forms => DEFAULT,
    text::text_touch_and_gat => DEFAULT,
    text::text_expiry_and_flush => DEFAULT,
    text::text_key_limits => DEFAULT,
    text::text_item_size_limit => DEFAULT,
    text::text_malformed_commands => DEFAULT,
    text::text_noreply_everywhere => DEFAULT,
    text::text_pipelined_and_split => DEFAULT,
    text::text_version_and_quit => DEFAULT,
    text::text_long_line_closes => DEFAULT,
    text::text_stats_counters => DEFAULT,
    text::text_evictions_under_memory_limit => SMALL_MEMORY,
    binary::binary_storage_and_get => DEFAULT,
    binary::binary_cas => DEFAULT,
    binary::binary_incr_decr => DEFAULT,
    binary::binary_quiet_variants => DEFAULT,
    binary::binary_touch_and_gat => DEFAULT,
    binary::binary_flush_stat_version_quit => DEFAULT,
    binary::binary_unknown_commands_keep_the_connection => DEFAULT,
    binary::binary_malformed_requests_close => DEFAULT,
    binary::binary_value_too_large => DEFAULT,
    clients::client_pymemcache => DEFAULT,
    clients::client_memccapable => DEFAULT,
    clients::client_libmemcached_tools => DEFAULT,
    robustness::robust_garbage_and_huge_lengths => DEFAULT,
    robustness::robust_disconnect_mid_value => DEFAULT,
    robustness::robust_concurrent_clients_keep_their_data => DEFAULT,
}
