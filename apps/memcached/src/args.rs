//! `zygos run memcached ...`: memcached's own flags (`-m`, `-c`, `-I`,
//! `-p`, with memcached's long names and limits) plus the dataplane's.

use std::process::ExitCode;

use clap::Parser;
use dataplane::run::{
    Dataplane, DataplaneArgs, RunError, RunReport, command_line, run_until_signal,
};

use crate::app::MemcachedApp;
use crate::server::ServerConfig;
use crate::store::StoreConfig;

/// Arguments of `zygos run memcached`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "zygos run memcached",
    about = "Serve memcached (text and binary protocols) as a dataplane",
    // memcached's own spelling and default of the port flag.
    mut_arg("port", |port| port.short('p').default_value("11211").required(false))
)]
pub struct MemcachedArgs {
    /// Item memory in megabytes.
    #[arg(short = 'm', long = "memory-limit", default_value_t = 64)]
    pub memory_mb: usize,
    /// Maximum simultaneous connections.
    #[arg(short = 'c', long = "conn-limit", default_value_t = 1024)]
    pub max_connections: usize,
    /// Largest item: bytes, or with a k or m suffix (memcached's -I).
    #[arg(short = 'I', long = "max-item-size", default_value = "1m", value_parser = parse_size)]
    pub item_size_max: usize,
    /// The dataplane serving it (`-p`/`--port` included).
    #[command(flatten)]
    pub dataplane: DataplaneArgs,
}

/// Arguments memcached itself would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `-I` below memcached's minimum.
    #[error("Item max size cannot be less than 1024 bytes.")]
    ItemSizeTooSmall,
    /// `-I` above memcached's maximum.
    #[error("Cannot set item size limit higher than 1 GB.")]
    ItemSizeTooLarge,
    /// `-I` above half of `-m`.
    #[error("Cannot set item size limit higher than 1/2 of memory max.")]
    ItemSizeOverHalfMemory,
    /// `-c 0`.
    #[error("Maximum connections must be greater than 0")]
    NoConnections,
}

/// Why `zygos run memcached` failed.
#[derive(Debug, thiserror::Error)]
pub enum MemcachedRunError {
    /// Invalid memcached flags.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// The dataplane failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Parses memcached's size syntax: a number of bytes, or with a `k`/`m`
/// suffix (either case).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        _ => (text, 1),
    };
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (like 1m, 512k or 1048576)"))?;
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl MemcachedArgs {
    /// The server settings, checked as memcached checks its flags.
    pub fn server_config(&self) -> Result<ServerConfig, ArgsError> {
        let memory_limit = self.memory_mb.saturating_mul(1 << 20);
        if self.item_size_max < 1024 {
            return Err(ArgsError::ItemSizeTooSmall);
        }
        if self.item_size_max > 1 << 30 {
            return Err(ArgsError::ItemSizeTooLarge);
        }
        if self.item_size_max > memory_limit / 2 {
            return Err(ArgsError::ItemSizeOverHalfMemory);
        }
        if self.max_connections == 0 {
            return Err(ArgsError::NoConnections);
        }
        Ok(ServerConfig {
            store: StoreConfig {
                memory_limit,
                item_size_max: self.item_size_max,
            },
            max_connections: self.max_connections,
            port: self.dataplane.port,
            threads: self.dataplane.cores,
        })
    }

    /// Starts the dataplane serving memcached; stop it with
    /// [`Dataplane::stop`].
    pub fn start(&self) -> Result<Dataplane, MemcachedRunError> {
        let app = MemcachedApp::new(self.server_config()?);
        Ok(Dataplane::start(&self.dataplane, app)?)
    }

    /// Serves until SIGINT or SIGTERM.
    pub fn run(&self) -> Result<RunReport, MemcachedRunError> {
        let app = MemcachedApp::new(self.server_config()?);
        Ok(run_until_signal(&self.dataplane, app)?)
    }
}

/// `zygos run memcached ARGS...` for the CLI (ARGS without the word
/// `memcached`): exit code 2 for bad arguments, 1 for a failed run.
pub fn cli(args: &[String]) -> ExitCode {
    command_line(
        "zygos run memcached",
        args,
        |args: MemcachedArgs| args.run(),
        |error| match error {
            MemcachedRunError::Args(_) => ExitCode::from(2),
            MemcachedRunError::Run(_) => ExitCode::FAILURE,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<MemcachedArgs, clap::Error> {
        MemcachedArgs::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn memcached_flags_and_defaults() {
        let args = parse("run -m 128 -c 10 -I 2m -p 11311 --nic shm:x --ip 10.0.0.1 --cores 2")
            .expect("valid");
        let config = args.server_config().expect("valid limits");
        assert_eq!(
            (config.store.memory_limit, config.store.item_size_max),
            (128 << 20, 2 << 20)
        );
        assert_eq!(
            (config.max_connections, config.port, config.threads),
            (10, 11311, 2)
        );
        assert_eq!(args.dataplane.port, 11311);
        let defaults = parse("run --nic shm:x --ip 10.0.0.1")
            .expect("valid")
            .server_config()
            .expect("valid");
        assert_eq!(
            (
                defaults.store.memory_limit,
                defaults.store.item_size_max,
                defaults.max_connections,
                defaults.port
            ),
            (64 << 20, 1 << 20, 1024, 11211)
        );
        let long = parse("run --memory-limit 8 --max-item-size 512k --conn-limit 3 --port 1 --nic shm:x --ip 10.0.0.1").expect("valid");
        assert_eq!(
            long.server_config().expect("valid").store.item_size_max,
            512 << 10
        );
    }

    #[test]
    fn the_command_line_is_well_formed() {
        <MemcachedArgs as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn memcached_limits_are_enforced() {
        let check = |line: &str| parse(line).expect("parses").server_config().map(|_| ());
        assert_eq!(
            check("run -I 1000 --nic shm:x --ip 10.0.0.1"),
            Err(ArgsError::ItemSizeTooSmall)
        );
        assert_eq!(
            check("run -m 4096 -I 2048m --nic shm:x --ip 10.0.0.1"),
            Err(ArgsError::ItemSizeTooLarge)
        );
        assert_eq!(
            check("run -m 1 -I 1m --nic shm:x --ip 10.0.0.1"),
            Err(ArgsError::ItemSizeOverHalfMemory)
        );
        assert_eq!(
            check("run -c 0 --nic shm:x --ip 10.0.0.1"),
            Err(ArgsError::NoConnections)
        );
        assert!(parse("run -I 1x --nic shm:x --ip 10.0.0.1").is_err());
        assert_eq!(parse_size("64K"), Ok(64 << 10));
    }
}
