//! Per-shard statistics counters, named as memcached's `stats` reports them.
//!
//! Each shard owns one [`Counters`] and updates it under the shard lock it
//! already holds, so counting costs no extra atomic or shared cache line on
//! the get path; `stats` sums the shards.

/// One memcached counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Keys requested by get/gets (and binary get).
    CmdGet,
    /// Storage commands that reached the store.
    CmdSet,
    /// Touch and get-and-touch requests.
    CmdTouch,
    /// Gets that found a live item.
    GetHits,
    /// Gets that found nothing.
    GetMisses,
    /// Gets that found an expired item.
    GetExpired,
    /// Gets that found an item invalidated by flush_all.
    GetFlushed,
    /// Deletes of a missing key.
    DeleteMisses,
    /// Deletes of a present key.
    DeleteHits,
    /// Increments of a missing key.
    IncrMisses,
    /// Increments of a present key.
    IncrHits,
    /// Decrements of a missing key.
    DecrMisses,
    /// Decrements of a present key.
    DecrHits,
    /// CAS on a missing key.
    CasMisses,
    /// CAS that matched and stored.
    CasHits,
    /// CAS with a stale unique id.
    CasBadval,
    /// Touches of a present key.
    TouchHits,
    /// Touches of a missing key.
    TouchMisses,
    /// Items ever stored.
    TotalItems,
    /// Live items removed to make room.
    Evictions,
    /// Expired or flushed items whose memory was taken back.
    Reclaimed,
}

impl Counter {
    /// Every counter, in the order `stats` prints them.
    pub const ALL: [Counter; 21] = [
        Counter::CmdGet,
        Counter::CmdSet,
        Counter::CmdTouch,
        Counter::GetHits,
        Counter::GetMisses,
        Counter::GetExpired,
        Counter::GetFlushed,
        Counter::DeleteMisses,
        Counter::DeleteHits,
        Counter::IncrMisses,
        Counter::IncrHits,
        Counter::DecrMisses,
        Counter::DecrHits,
        Counter::CasMisses,
        Counter::CasHits,
        Counter::CasBadval,
        Counter::TouchHits,
        Counter::TouchMisses,
        Counter::TotalItems,
        Counter::Evictions,
        Counter::Reclaimed,
    ];

    /// The name memcached's `stats` uses.
    pub fn name(self) -> &'static str {
        match self {
            Counter::CmdGet => "cmd_get",
            Counter::CmdSet => "cmd_set",
            Counter::CmdTouch => "cmd_touch",
            Counter::GetHits => "get_hits",
            Counter::GetMisses => "get_misses",
            Counter::GetExpired => "get_expired",
            Counter::GetFlushed => "get_flushed",
            Counter::DeleteMisses => "delete_misses",
            Counter::DeleteHits => "delete_hits",
            Counter::IncrMisses => "incr_misses",
            Counter::IncrHits => "incr_hits",
            Counter::DecrMisses => "decr_misses",
            Counter::DecrHits => "decr_hits",
            Counter::CasMisses => "cas_misses",
            Counter::CasHits => "cas_hits",
            Counter::CasBadval => "cas_badval",
            Counter::TouchHits => "touch_hits",
            Counter::TouchMisses => "touch_misses",
            Counter::TotalItems => "total_items",
            Counter::Evictions => "evictions",
            Counter::Reclaimed => "reclaimed",
        }
    }
}

/// A set of counters, one slot per [`Counter`].
#[derive(Clone, Debug, Default)]
pub struct Counters {
    values: [u64; Counter::ALL.len()],
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(&mut self, counter: Counter) {
        self.values[counter as usize] += 1;
    }

    /// The current value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.values[counter as usize]
    }

    /// Adds every counter of `other` into `self`.
    pub fn absorb(&mut self, other: &Counters) {
        for (mine, theirs) in self.values.iter_mut().zip(other.values) {
            *mine += theirs;
        }
    }

    /// Sets every counter back to zero (`stats reset`).
    pub fn reset(&mut self) {
        self.values = Default::default();
    }
}
