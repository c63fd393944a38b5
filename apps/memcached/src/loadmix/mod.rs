//! memcached request mixes for the open-loop load generator of `bench`:
//! Facebook's USR and ETC workloads (Atikoglu et al., SIGMETRICS'12), as
//! used by IX and ZygOS (thesis §6.6.2, SLO 500 µs on p99).
//!
//! A measurement builds a [`Keyspace`] for a [`Workload`], stores every
//! key with [`preload`], then hands [`MixRequests`] (the request
//! generator: gets and sets, text protocol) and [`TextResponses`] (the
//! response framer, counting hits and misses) to
//! [`bench::loadgen::run_load_with`]:
//!
//! ```no_run
//! use memcached::loadmix::{Keyspace, MixRequests, TextResponses, Workload, preload};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let addr = "127.0.0.1:11211".parse()?;
//! let keys = Keyspace::new(Workload::Etc, 10_000)?;
//! preload(addr, Workload::Etc, &keys, 1)?;
//! let spec = bench::loadgen::LoadSpec::new(
//!     50_000.0,
//!     // A tenth of the SLO: sizes the generator's capacity warning.
//!     bench::workload::ServiceDistribution::Fixed { mean: 50.0 },
//!     std::time::Duration::from_secs(1),
//! );
//! let framer = TextResponses::default();
//! let report = bench::loadgen::run_load_with(addr, &spec, &mut MixRequests::new(Workload::Etc, keys), &framer)?;
//! println!("p99 {:?}, {} misses", report.p99(), framer.misses());
//! # Ok(())
//! # }
//! ```
//!
//! [`sizes`] holds the ETC key- and value-size distributions.

mod framer;
mod mix;
mod preload;
pub mod sizes;

pub use framer::TextResponses;
pub use mix::{
    GET, Keyspace, MAX_KEY_LEN, MAX_VALUE_LEN, MixError, MixRequests, SET, ValueSizes, Workload,
    write_get, write_set,
};
pub use preload::{PreloadError, preload};
