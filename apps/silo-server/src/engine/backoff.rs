//! Waiting for a lock bit to clear: spin briefly, then yield the core so a
//! preempted lock holder can run (the machine may have fewer cores than
//! threads).

/// Spins per yield.
const SPINS_PER_YIELD: u32 = 64;

/// Calls `load` until `locked` is false for the loaded value; returns it.
pub(crate) fn wait_unlocked(load: impl Fn() -> u64, locked: impl Fn(u64) -> bool) -> u64 {
    let mut spins = 0u32;
    loop {
        let value = load();
        if !locked(value) {
            return value;
        }
        spins += 1;
        if spins.is_multiple_of(SPINS_PER_YIELD) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}
