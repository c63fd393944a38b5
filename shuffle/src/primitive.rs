//! The synchronisation primitives the shuffle is built on, switched by
//! `cfg(loom)` so the loom model checker explores the very same code
//! (crossbeam's pattern). Normal builds use `spin`'s spinlock, as ZygOS does
//! (thesis ch. 4.5: one spinlock per core); loom builds use loom's mutex,
//! which has the same lock/try-lock semantics and is modelled.

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

/// Guard of a [`Lock`]: the protected value is reachable while it lives.
#[cfg(not(loom))]
pub(crate) type Guard<'a, T> = spin::MutexGuard<'a, T>;
/// Guard of a [`Lock`]: the protected value is reachable while it lives.
#[cfg(loom)]
pub(crate) type Guard<'a, T> = loom::sync::MutexGuard<'a, T>;

/// A mutual-exclusion lock with a blocking `lock` and a non-blocking
/// `try_lock` (what a stealing core uses).
pub(crate) struct Lock<T> {
    #[cfg(not(loom))]
    inner: spin::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

impl<T> Lock<T> {
    /// Wraps `value`.
    pub(crate) fn new(value: T) -> Self {
        Lock {
            #[cfg(not(loom))]
            inner: spin::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    /// Acquires the lock, spinning (or, under loom, blocking) until free.
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        #[cfg(not(loom))]
        return self.inner.lock();
        #[cfg(loom)]
        return self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }

    /// Acquires the lock if it is free right now.
    pub(crate) fn try_lock(&self) -> Option<Guard<'_, T>> {
        #[cfg(not(loom))]
        return self.inner.try_lock();
        #[cfg(loom)]
        return self.inner.try_lock().ok();
    }
}
