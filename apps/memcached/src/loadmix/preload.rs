//! The warm-up of a measurement: store every key of the keyspace once
//! (values sized as the workload's sets), so that the measured gets hit.
//! Sets go out in pipelined batches on one connection; each reply must be
//! `STORED`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bench::protocol::{FrameError, PendingRequest, ResponseFramer};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::framer::TextResponses;
use super::mix::{Keyspace, SET, ValueSizes, Workload, write_set};

/// Sets written before their replies are read.
const BATCH: usize = 64;
/// Longest wait for a connection or a reply.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why the preload failed.
#[derive(Debug, thiserror::Error)]
pub enum PreloadError {
    /// A socket call failed or timed out.
    #[error("preload: {what}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// OS error.
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("preload: the server closed the connection after {stored} sets")]
    Closed {
        /// Sets stored before.
        stored: usize,
    },
    /// A reply was not `STORED`.
    #[error("preload: {0}")]
    Reply(#[from] FrameError),
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> PreloadError {
    move |source| PreloadError::Io { what, source }
}

/// Stores every key of `keys` at `addr` with values sized for `workload`
/// (drawn from `seed`); returns the bytes of values stored.
pub fn preload(
    addr: SocketAddr,
    workload: Workload,
    keys: &Keyspace,
    seed: u64,
) -> Result<u64, PreloadError> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io("connect"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(io("set timeout"))?;
    stream.set_nodelay(true).map_err(io("set nodelay"))?;
    let sizes = ValueSizes::of(workload);
    let mut rng = SmallRng::seed_from_u64(seed);
    let framer = TextResponses::default();
    let mut requests = Vec::new();
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    let mut value_bytes = 0u64;
    let mut stored = 0;
    let indices: Vec<usize> = (0..keys.len()).collect();
    for batch in indices.chunks(BATCH) {
        requests.clear();
        for &key in batch {
            let len = sizes.sample(&mut rng);
            value_bytes += len as u64;
            write_set(keys, key, len, &mut requests);
        }
        stream.write_all(&requests).map_err(io("write"))?;
        let mut answered = 0;
        while answered < batch.len() {
            let pending = PendingRequest {
                id: (stored + answered) as u64,
                class: SET,
            };
            match framer.frame(pending, &received)? {
                Some(frame) => {
                    received.drain(..frame.len);
                    answered += 1;
                }
                None => match stream.read(&mut chunk).map_err(io("read"))? {
                    0 => {
                        return Err(PreloadError::Closed {
                            stored: stored + answered,
                        });
                    }
                    n => received.extend_from_slice(&chunk[..n]),
                },
            }
        }
        stored += answered;
    }
    Ok(value_bytes)
}
