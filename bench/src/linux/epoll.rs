//! A minimal owned epoll instance (epoll(7)) for the Linux baselines and
//! the load generator's receiver.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Readiness flags used here.
pub mod flags {
    /// Readable.
    pub const IN: u32 = libc::EPOLLIN as u32;
    /// Report once, then stay disarmed until re-armed (per-socket
    /// exclusivity across threads sharing one set).
    pub const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
    /// Wake one waiter only (avoids thundering herds on the listener).
    pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
    /// Peer closed its writing half.
    pub const RDHUP: u32 = libc::EPOLLRDHUP as u32;
}

/// One readiness event: the token registered with the fd and its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// Token given at registration.
    pub token: u64,
    /// Reported flags.
    pub events: u32,
}

/// An epoll file descriptor, closed on drop. Sharing `&Epoll` between
/// threads is sound: every operation is one syscall on the fd.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

impl Epoll {
    /// Creates an epoll set (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is
        // a new fd that nothing else owns.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by the kernel and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn control(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the duration of the
        // call; the kernel copies it and keeps no pointer.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// Watches `fd` for `events`, reporting `token`.
    pub fn add(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), events, token)
    }

    /// Changes the events of a watched `fd` (re-arms a one-shot fd).
    pub fn modify(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), events, token)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: &impl AsRawFd) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits up to `timeout` for events, filling `out` (its length is the
    /// batch size); returns how many arrived. EINTR counts as zero.
    pub fn wait(&self, out: &mut [Ready], timeout: Duration) -> io::Result<usize> {
        const MAX_BATCH: usize = 64;
        let mut raw = [libc::epoll_event { events: 0, u64: 0 }; MAX_BATCH];
        let batch = out.len().clamp(1, MAX_BATCH);
        let millis = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `raw` has room for `batch` events and outlives the call.
        let result = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                raw.as_mut_ptr(),
                batch as libc::c_int,
                millis,
            )
        };
        let count = match check(result) {
            Ok(count) => count as usize,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
            Err(error) => return Err(error),
        };
        for (slot, event) in out.iter_mut().zip(&raw[..count]) {
            *slot = Ready {
                token: event.u64,
                events: event.events,
            };
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_readable_with_token_and_one_shot_disarms() {
        let epoll = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        epoll.add(&b, flags::IN | flags::ONESHOT, 7).unwrap();
        let mut out = [Ready {
            token: 0,
            events: 0,
        }; 4];
        assert_eq!(epoll.wait(&mut out, Duration::ZERO).unwrap(), 0);
        a.write_all(b"x").unwrap();
        assert_eq!(epoll.wait(&mut out, Duration::from_secs(1)).unwrap(), 1);
        assert_eq!(out[0].token, 7);
        assert_ne!(out[0].events & flags::IN, 0);
        assert_eq!(epoll.wait(&mut out, Duration::ZERO).unwrap(), 0);
        epoll.modify(&b, flags::IN | flags::ONESHOT, 8).unwrap();
        assert_eq!(epoll.wait(&mut out, Duration::ZERO).unwrap(), 1);
        assert_eq!(out[0].token, 8);
        epoll.delete(&b).unwrap();
        assert!(epoll.delete(&b).is_err());
    }
}
