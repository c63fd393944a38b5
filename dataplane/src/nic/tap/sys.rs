//! The few system calls of the TAP backend: opening one queue of a
//! multi-queue TAP device, non-blocking reads and writes, a readiness poll.

use std::ffi::c_void;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// The TUN/TAP clone device.
const CLONE_DEVICE: &str = "/dev/net/tun";

/// Opens one queue of TAP device `name` (created in the calling thread's
/// network namespace when absent): a non-blocking fd carrying Ethernet
/// frames without the packet-information prefix.
pub(super) fn open_queue(name: &str) -> io::Result<OwnedFd> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(CLONE_DEVICE)?;
    // SAFETY: `ifreq` is plain old data (a name array and a union of
    // integers/plain structs); all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in request.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    // The name was validated to at most IFNAMSIZ - 1 bytes, so the zeroed
    // last byte terminates it.
    request.ifr_ifru.ifru_flags =
        (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `request` is
    // and which lives across the call; the fd is open.
    let result = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file.into())
}

/// Reads one frame into `buffer`; `Ok(None)` when no frame is waiting.
pub(super) fn read_frame(fd: &OwnedFd, buffer: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buffer` is valid for writes of `buffer.len()` bytes for the
    // duration of the call, and the fd is open (owned by the caller).
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            buffer.as_mut_ptr().cast::<c_void>(),
            buffer.len(),
        )
    };
    match n {
        0.. => Ok(Some(n as usize)),
        _ => would_block_as_none(io::Error::last_os_error()),
    }
}

/// Writes one frame; `Ok(None)` when the queue cannot take it now.
pub(super) fn write_frame(fd: &OwnedFd, frame: &[u8]) -> io::Result<Option<usize>> {
    // SAFETY: `frame` is valid for reads of `frame.len()` bytes for the
    // duration of the call, and the fd is open (owned by the caller).
    let n = unsafe { libc::write(fd.as_raw_fd(), frame.as_ptr().cast::<c_void>(), frame.len()) };
    match n {
        0.. => Ok(Some(n as usize)),
        _ => would_block_as_none(io::Error::last_os_error()),
    }
}

fn would_block_as_none(error: io::Error) -> io::Result<Option<usize>> {
    match error.kind() {
        io::ErrorKind::WouldBlock => Ok(None),
        io::ErrorKind::Interrupted => Ok(None),
        _ => Err(error),
    }
}

/// Whether a frame is waiting on `fd` (a zero-timeout poll; consumes
/// nothing).
pub(super) fn readable(fd: &OwnedFd) -> bool {
    let mut request = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` that lives across the call; timeout 0, so
    // the call never blocks.
    let ready = unsafe { libc::poll(&mut request, 1, 0) };
    ready > 0 && request.revents & libc::POLLIN != 0
}
