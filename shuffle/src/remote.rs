//! The per-core multiple-producer, single-consumer queue of remote system
//! calls (thesis ch. 4.4, step (b) of Figure 6.4): a core that ran the
//! application on a stolen connection sends the resulting calls back to the
//! connection's home core, the only one that touches its TCP state.
//!
//! The home core keeps the [`RemoteReceiver`] (not `Sync`) and drains it in
//! its loop; every other core holds a [`RemoteSender`]. [`RemoteSender::pending`]
//! is a lock-free hint the idle loop and the IPI logic poll.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;

use crate::primitive::{Arc, AtomicUsize, Lock, Ordering};

struct Shared<T> {
    queue: Lock<VecDeque<T>>,
    len: AtomicUsize,
}

/// Producer side of a remote-syscall queue (`Sync`, `Clone`).
pub struct RemoteSender<T> {
    shared: Arc<Shared<T>>,
}

/// Consumer side of a remote-syscall queue, held by the home core.
pub struct RemoteReceiver<T> {
    shared: Arc<Shared<T>>,
    spare: VecDeque<T>,
    _not_sync: PhantomData<Cell<()>>,
}

/// Creates an empty remote-syscall queue.
pub fn remote_queue<T>() -> (RemoteSender<T>, RemoteReceiver<T>) {
    let shared = Arc::new(Shared {
        queue: Lock::new(VecDeque::new()),
        len: AtomicUsize::new(0),
    });
    (
        RemoteSender {
            shared: Arc::clone(&shared),
        },
        RemoteReceiver {
            shared,
            spare: VecDeque::new(),
            _not_sync: PhantomData,
        },
    )
}

impl<T> Clone for RemoteSender<T> {
    fn clone(&self) -> Self {
        RemoteSender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> RemoteSender<T> {
    /// Queues one item for the home core.
    pub fn push(&self, item: T) {
        let mut queue = self.shared.queue.lock();
        queue.push_back(item);
        self.shared.len.store(queue.len(), Ordering::Release);
    }

    /// Number of queued items (a hint: read without the lock).
    pub fn pending(&self) -> usize {
        self.shared.len.load(Ordering::Acquire)
    }
}

impl<T> RemoteReceiver<T> {
    /// Number of queued items (a hint: read without the lock).
    pub fn pending(&self) -> usize {
        self.shared.len.load(Ordering::Acquire)
    }

    /// Takes every queued item, in arrival order, and hands each to `f`;
    /// returns how many there were. The lock is held only for a swap.
    pub fn drain(&mut self, mut f: impl FnMut(T)) -> usize {
        if self.pending() == 0 {
            return 0;
        }
        {
            let mut queue = self.shared.queue.lock();
            std::mem::swap(&mut *queue, &mut self.spare);
            self.shared.len.store(0, Ordering::Release);
        }
        let count = self.spare.len();
        for item in self.spare.drain(..) {
            f(item);
        }
        count
    }
}
