//! The per-core shuffle queue (thesis ch. 4.4-4.5): the ready connections of
//! one home core, their event queues and their state machine, all under one
//! per-core spinlock.
//!
//! The home core holds the [`Home`] handle (`Send`, not `Sync`): it opens
//! connections, pushes events, pops ready connections, and releases claims
//! once the application's calls have run. Other cores hold a [`Stealer`]
//! (`Sync`, cheap to clone) and take ready connections with a try-lock.
//! Taking a connection yields a [`Claim`]: the exclusive right to run the
//! application on it, the events pending at that moment and the
//! connection's application state, moved to the claiming core. Events that
//! arrive meanwhile wait in the connection's queue; only the home core ends
//! the claim ([`Home::release`]), after it has executed the connection's
//! calls, so at most one core runs a connection at a time and replies leave
//! in request order.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::marker::PhantomData;

use thiserror::Error;

use crate::conn_state::ConnState;
use crate::primitive::{Arc, AtomicUsize, Lock, Ordering};

/// Errors of the home core's shuffle operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShuffleError {
    /// The connection is already registered with this core.
    #[error("connection already registered")]
    AlreadyOpen,
    /// The connection is not registered with this core.
    #[error("unknown connection")]
    UnknownConnection,
    /// The claim was taken from another core's queue.
    #[error("claim belongs to core {claim_home}, not core {core}")]
    ForeignClaim {
        /// Home core of the claim.
        claim_home: usize,
        /// Core it was released on.
        core: usize,
    },
    /// The operation needs an idle connection (no events, no owner).
    #[error("connection is {0:?}, not idle")]
    NotIdle(ConnState),
}

/// Outcome of a steal attempt (crossbeam-deque's shape).
#[must_use]
#[derive(Debug)]
pub enum Steal<T> {
    /// The queue had no ready connection.
    Empty,
    /// A connection was taken.
    Success(T),
    /// The queue's lock was held: try again later (or elsewhere).
    Retry,
}

/// What [`Home::release`] did with the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// No events arrived while it was busy: it is idle.
    Idle,
    /// Events arrived while it was busy: it is back in the shuffle queue.
    Requeued,
}

/// Exclusive ownership of one connection while the application runs on it.
#[derive(Debug)]
pub struct Claim<K, E, S> {
    key: K,
    home: usize,
    events: Vec<E>,
    state: S,
}

impl<K: Copy, E, S> Claim<K, E, S> {
    /// The connection.
    pub fn key(&self) -> K {
        self.key
    }

    /// Index of the connection's home core.
    pub fn home(&self) -> usize {
        self.home
    }

    /// The events pending when the connection was claimed, oldest first.
    pub fn events(&self) -> &[E] {
        &self.events
    }

    /// Takes the events out, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, E> {
        self.events.drain(..)
    }

    /// The events (oldest first) and the application state at once, so an
    /// application can consume the one while updating the other.
    pub fn split(&mut self) -> (std::vec::Drain<'_, E>, &mut S) {
        (self.events.drain(..), &mut self.state)
    }

    /// The connection's application state, moved with the claim.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

struct Entry<E, S> {
    state: ConnState,
    events: Vec<E>,
    /// `None` while a claim holds it.
    app: Option<S>,
}

struct Table<K, E, S> {
    ready: VecDeque<K>,
    conns: HashMap<K, Entry<E, S>>,
}

impl<K: Copy + Eq + Hash, E, S> Table<K, E, S> {
    fn entry_mut(&mut self, key: K) -> Result<&mut Entry<E, S>, ShuffleError> {
        self.conns
            .get_mut(&key)
            .ok_or(ShuffleError::UnknownConnection)
    }
}

struct Shared<K, E, S> {
    index: usize,
    table: Lock<Table<K, E, S>>,
    /// Length of `ready`, readable without the lock (the idle loop polls it).
    ready_len: AtomicUsize,
}

impl<K: Copy + Eq + Hash, E, S> Shared<K, E, S> {
    /// Appends a connection that just became ready to a locked table.
    fn enqueue(&self, table: &mut Table<K, E, S>, key: K) {
        table.ready.push_back(key);
        self.ready_len.store(table.ready.len(), Ordering::Release);
    }

    /// Pops the first ready connection of a locked table.
    fn claim_first(&self, table: &mut Table<K, E, S>) -> Option<Claim<K, E, S>> {
        while let Some(key) = table.ready.pop_front() {
            self.ready_len.store(table.ready.len(), Ordering::Release);
            let Some(entry) = table.conns.get_mut(&key) else {
                continue;
            };
            let (Some(busy), Some(app)) = (entry.state.on_claim(), entry.app.take()) else {
                continue;
            };
            entry.state = busy;
            return Some(Claim {
                key,
                home: self.index,
                events: std::mem::take(&mut entry.events),
                state: app,
            });
        }
        None
    }
}

/// The home core's handle on its shuffle queue (one per core; not `Sync`).
pub struct Home<K, E, S> {
    shared: Arc<Shared<K, E, S>>,
    _not_sync: PhantomData<Cell<()>>,
}

/// A remote core's handle on another core's shuffle queue (`Sync`, `Clone`).
pub struct Stealer<K, E, S> {
    shared: Arc<Shared<K, E, S>>,
}

impl<K, E, S> Clone for Stealer<K, E, S> {
    fn clone(&self) -> Self {
        Stealer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: Copy + Eq + Hash, E, S> Home<K, E, S> {
    /// Creates the shuffle queue of core `index`.
    pub fn new(index: usize) -> Self {
        Home {
            shared: Arc::new(Shared {
                index,
                table: Lock::new(Table {
                    ready: VecDeque::new(),
                    conns: HashMap::new(),
                }),
                ready_len: AtomicUsize::new(0),
            }),
            _not_sync: PhantomData,
        }
    }

    /// Index of this core.
    pub fn index(&self) -> usize {
        self.shared.index
    }

    /// A handle other cores use to steal from this queue.
    pub fn stealer(&self) -> Stealer<K, E, S> {
        Stealer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Registers a new, idle connection with its application state.
    pub fn open(&mut self, key: K, app: S) -> Result<(), ShuffleError> {
        let mut table = self.shared.table.lock();
        if table.conns.contains_key(&key) {
            return Err(ShuffleError::AlreadyOpen);
        }
        table.conns.insert(
            key,
            Entry {
                state: ConnState::Idle,
                events: Vec::new(),
                app: Some(app),
            },
        );
        Ok(())
    }

    /// Appends an event to the connection's queue; an idle connection
    /// becomes ready and joins the end of the shuffle queue.
    pub fn push_event(&mut self, key: K, event: E) -> Result<(), ShuffleError> {
        let mut guard = self.shared.table.lock();
        let table = &mut *guard;
        let entry = table.entry_mut(key)?;
        entry.events.push(event);
        let (next, enqueue) = entry.state.on_event();
        entry.state = next;
        if enqueue {
            self.shared.enqueue(table, key);
        }
        Ok(())
    }

    /// Takes the first ready connection (the home core's own dequeue).
    pub fn pop(&mut self) -> Option<Claim<K, E, S>> {
        let mut table = self.shared.table.lock();
        self.shared.claim_first(&mut table)
    }

    /// Ends a claim once every call the application made on it has been
    /// executed: the state returns to the connection, which becomes idle, or
    /// ready again if events arrived meanwhile.
    pub fn release(&mut self, claim: Claim<K, E, S>) -> Result<Released, ShuffleError> {
        if claim.home != self.shared.index {
            return Err(ShuffleError::ForeignClaim {
                claim_home: claim.home,
                core: self.shared.index,
            });
        }
        let Claim {
            key,
            mut events,
            state,
            ..
        } = claim;
        let mut guard = self.shared.table.lock();
        let table = &mut *guard;
        let entry = table.entry_mut(key)?;
        let (next, enqueue) = entry
            .state
            .on_release(!entry.events.is_empty())
            .ok_or(ShuffleError::NotIdle(entry.state))?;
        entry.state = next;
        entry.app = Some(state);
        if entry.events.is_empty() {
            // Give the claim's buffer back so its capacity is reused.
            events.clear();
            entry.events = events;
        }
        if enqueue {
            self.shared.enqueue(table, key);
            return Ok(Released::Requeued);
        }
        Ok(Released::Idle)
    }

    /// Unregisters an idle connection and returns its application state.
    pub fn remove(&mut self, key: K) -> Result<S, ShuffleError> {
        let mut table = self.shared.table.lock();
        let entry = table
            .conns
            .get(&key)
            .ok_or(ShuffleError::UnknownConnection)?;
        if entry.state != ConnState::Idle {
            return Err(ShuffleError::NotIdle(entry.state));
        }
        let entry = table
            .conns
            .remove(&key)
            .ok_or(ShuffleError::UnknownConnection)?;
        entry.app.ok_or(ShuffleError::NotIdle(ConnState::Busy))
    }

    /// The connection's scheduling state, `None` when unknown.
    pub fn state(&self, key: K) -> Option<ConnState> {
        self.shared.table.lock().conns.get(&key).map(|e| e.state)
    }

    /// Number of registered connections.
    pub fn len(&self) -> usize {
        self.shared.table.lock().conns.len()
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of ready connections (a hint: read without the lock).
    pub fn ready_hint(&self) -> usize {
        self.shared.ready_len.load(Ordering::Acquire)
    }
}

impl<K: Copy + Eq + Hash, E, S> Stealer<K, E, S> {
    /// Index of the core this queue belongs to.
    pub fn home_index(&self) -> usize {
        self.shared.index
    }

    /// Number of ready connections (a hint: read without the lock).
    pub fn ready_hint(&self) -> usize {
        self.shared.ready_len.load(Ordering::Acquire)
    }

    /// Tries to take the first ready connection without waiting for the
    /// lock (thesis ch. 4.5: remote cores steal with a try-lock).
    #[cold]
    pub fn steal(&self) -> Steal<Claim<K, E, S>> {
        if self.ready_hint() == 0 {
            return Steal::Empty;
        }
        let Some(mut table) = self.shared.table.try_lock() else {
            return Steal::Retry;
        };
        match self.shared.claim_first(&mut table) {
            Some(claim) => Steal::Success(claim),
            None => Steal::Empty,
        }
    }
}
