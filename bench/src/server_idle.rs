//! `--server-idle`: how the dataplane servers of a benchmark idle. ZygOS
//! polls on cores it owns; on a machine where the load generator shares
//! the servers' CPUs (every 2-CPU machine), polling cores take the CPU the
//! generator and the kernel's network path need, so the benchmarks park
//! idle cores by default (`zygos run --park-after-us`), as the Linux
//! servers they are compared with sleep in `epoll_wait`.

use clap::Args;
use dataplane::idle::IdleMode;

/// The benchmarks' default: park after 20 µs without work.
pub const DEFAULT_SERVER_IDLE: IdleMode = IdleMode::Park { after_us: 20 };

/// Flattened into the arguments of the benchmarks that start dataplanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct ServerIdleArgs {
    /// What an idle dataplane core does: poll, or park:US (block after US
    /// microseconds without work, woken by its NIC queue or another core).
    #[arg(long, default_value_t = DEFAULT_SERVER_IDLE)]
    pub server_idle: IdleMode,
}

impl ServerIdleArgs {
    /// The note a report prints about it.
    pub fn note(&self) -> String {
        match self.server_idle {
            IdleMode::Poll => "ours: idle dataplane cores poll (--server-idle poll)".to_owned(),
            IdleMode::Park { after_us } => format!(
                "ours: idle dataplane cores park after {after_us} us (--server-idle park:{after_us}; \
                 poll to keep them polling)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        idle: ServerIdleArgs,
    }

    #[test]
    fn parks_after_20_us_unless_told_otherwise() {
        let parse = |args: &[&str]| Command::try_parse_from(args).map(|c| c.idle.server_idle);
        assert_eq!(parse(&["x"]).unwrap(), IdleMode::Park { after_us: 20 });
        assert_eq!(
            parse(&["x", "--server-idle", "poll"]).unwrap(),
            IdleMode::Poll
        );
        assert_eq!(
            parse(&["x", "--server-idle", "park:5"]).unwrap(),
            IdleMode::Park { after_us: 5 }
        );
        assert!(parse(&["x", "--server-idle", "nap"]).is_err());
        let note = ServerIdleArgs {
            server_idle: IdleMode::Poll,
        }
        .note();
        assert!(note.contains("poll"), "{note}");
    }
}
