//! Timer wheel: every pending `call_later`/`call_at` deadline, with O(1) insert and cancel.
//!
//! Mirrors `BaseEventLoop._scheduled` in CPython `Lib/asyncio/base_events.py` (a `heapq` of
//! `events.TimerHandle`s, cancelled lazily) and the bookkeeping behind `TimerHandle.cancel`. The
//! technique is the hierarchical hashed wheel of tokio's `runtime/time/wheel`, with entries linked
//! by slab key instead of intrusive pointers. The loop holds a [`TimerKey`] in each `TimerHandle`;
//! this file calls nothing and owns only the entries and their order.
//!
//! # Ground rules
//!
//! - **Never early.** [`Wheel::advance`]`(now)` hands back exactly the entries whose deadline is
//!   `<= now` (semantics L8), never one that is later.
//! - **Deadline order, then scheduling order** (L7). Entries come out by increasing deadline; equal
//!   deadlines come out in the order they were inserted or [`reset`](Wheel::reset), a stricter
//!   promise than CPython's heap makes.
//! - **Stale keys are rejected.** A key names a slab slot plus a generation; once its entry fired
//!   or was removed, every call with that key is a no-op returning `None`/`false`, even after the
//!   slot is reused. Cancelled entries leave at once, so they never fire, never shorten the poll
//!   and never pile up under schedule/cancel churn (L10).
//! - **An expired entry goes back to the caller** as `(key, deadline, value)`; the wheel runs no
//!   user code (dropping values in [`Wheel::clear`] aside), so the loop can collect, release its
//!   borrow, then call.
//!
//! # Levels
//!
//! Time is a `u64` count of ticks (the loop uses 1 ms). Six levels of 64 slots each; a slot of
//! level `L` spans `64^L` ticks, so one level covers `64^(L+1)`:
//!
//! | level | slot width (ticks) | ≈ at 1 ms | level range (ticks) | ≈ at 1 ms |
//! |-------|-------------------:|----------:|--------------------:|----------:|
//! | 0 | 1 | 1 ms | 64 | 64 ms |
//! | 1 | 64 | 64 ms | 4 096 | 4.1 s |
//! | 2 | 4 096 | 4.1 s | 262 144 | 4.4 min |
//! | 3 | 262 144 | 4.4 min | 16 777 216 | 4.7 h |
//! | 4 | 16 777 216 | 4.7 h | 1 073 741 824 | 12.4 days |
//! | 5 | 1 073 741 824 | 12.4 days | 68 719 476 736 | 2.2 years |
//! | overflow | — | — | beyond 2^36 | — |
//!
//! An entry due at `deadline > elapsed` lives at the level of the highest bit in which
//! `elapsed ^ deadline` is set (bits `6L..6L+6` → level `L`), in slot `(deadline >> 6L) % 64`.
//! A difference above bit 35 sends it to the overflow list. An entry due at `deadline <= elapsed`
//! (scheduled in the past) waits in the due list, kept sorted, and leaves at the next `advance`.
//!
//! # Cascading
//!
//! The wheel keeps one invariant: **every entry sits exactly where a fresh `insert` would put it
//! at the current `elapsed`.** Time moves only in `advance`, which jumps from one occupied slot's
//! start to the next (found from a per-level `u64` occupancy bitmap, so empty slots cost nothing).
//! At a slot's start the slot is taken whole: entries due at that tick are handed back, the rest
//! are re-inserted at a lower level in list order. The overflow list is re-examined when `elapsed`
//! reaches the 2^36-tick span of its earliest entry (tracked as a lower bound, so the jump over
//! empty spans is free too). Since every entry with a given deadline lands in the same place
//! whenever it was scheduled, equal deadlines share one list and FIFO order survives cascading.
//!
//! # Complexity
//!
//! - `insert`, `remove`, `reset`, `get`: O(1), allocation-free once the slab has grown. One
//!   exception: an entry scheduled in the past walks back over the due entries with a later
//!   deadline, which takes past deadlines scheduled in decreasing order between two `advance`s.
//! - `next_deadline`: O(levels).
//! - `advance`: O(levels + occupied slots visited + entries moved), allocating only when `out`
//!   grows. Each entry moves down at most five levels; the overflow list (entries 2.2+ years out)
//!   is walked only when the span of its earliest entry begins.

use std::fmt;

use slab::Slab;

/// Bits of a tick that pick a slot within one level.
const SLOT_BITS: u32 = 6;
/// Slots per level: one bit each in the level's `u64` occupancy bitmap.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels in the wheel; further deadlines wait in the overflow list.
const LEVELS: usize = 6;
/// Ticks covered by the top level (2^36, about 2.2 years at 1 ms).
const WHEEL_RANGE: u64 = 1 << (SLOT_BITS as usize * LEVELS);
/// "No entry" in a `prev`/`next`/`head`/`tail` link. Never a live slab key.
const NIL: u32 = u32::MAX;

/// A timer's name in a [`Wheel`]: slab key plus generation.
///
/// A stale key (its entry already fired or was removed, even if the slot has since been reused)
/// is rejected by every method that takes one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct TimerKey {
    /// Index of the entry in the wheel's slab.
    key: u32,
    /// `Wheel::generations[key]` when the entry was inserted; bumped when it leaves.
    generation: u32,
}

/// Lists in a wheel: one per slot, then the due list and the overflow list.
const LISTS: usize = LEVELS * SLOTS + 2;

/// Which list an entry is linked into: an index into `Wheel::lists`.
///
/// `level * SLOTS + slot` for a wheel slot (the entry is due later than `elapsed`), then
/// [`Place::DUE`] and [`Place::OVERFLOW`]. A flat index rather than an enum, so reaching a list
/// is one array access: matching on an enum took a third of an insert+cancel pair's instructions
/// (callgrind).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Place(u16);

impl Place {
    /// The due list: deadline `<= elapsed`, sorted by deadline, FIFO among equals.
    const DUE: Place = Place((LEVELS * SLOTS) as u16);
    /// The overflow list: the deadline differs from `elapsed` above bit 35 (beyond level 5).
    const OVERFLOW: Place = Place((LEVELS * SLOTS + 1) as u16);

    /// Slot `slot` of level `level`.
    fn slot(level: usize, slot: usize) -> Place {
        debug_assert!(
            level < LEVELS && slot < SLOTS,
            "no slot {slot} at level {level}"
        );
        Place((level * SLOTS + slot) as u16)
    }

    /// `(level, slot)` if this is a wheel slot, `None` for the due and overflow lists.
    fn level_slot(self) -> Option<(usize, usize)> {
        let i = self.0 as usize;
        (i < LEVELS * SLOTS).then_some((i / SLOTS, i % SLOTS))
    }
}

/// A doubly-linked list of entries, by slab key.
#[derive(Clone, Copy, Debug)]
struct List {
    /// First entry, or `NIL`. Invariant: `NIL` iff `tail` is `NIL`.
    head: u32,
    /// Last entry, or `NIL`; new entries are appended here.
    tail: u32,
}

/// A list with no entries.
const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// One pending timer in the slab.
struct Entry<T> {
    /// The caller's value, handed back by `remove` or `advance`.
    value: T,
    /// Tick at which the entry is due. Invariant: `place` is `Wheel::place_for(deadline)` at the
    /// wheel's current `elapsed`.
    deadline: u64,
    /// Previous entry in the same list, or `NIL` at the head.
    prev: u32,
    /// Next entry in the same list, or `NIL` at the tail.
    next: u32,
    /// The list holding this entry.
    place: Place,
}

/// The next point at which `advance` has work: a slot's start, or an overflow span's start.
#[derive(Clone, Copy, Debug)]
struct Expiration {
    /// Tick of that point; later than `elapsed`.
    at: u64,
    /// A slot or `Place::OVERFLOW`: the list to process at `at`.
    place: Place,
}

/// A hierarchical hashed timer wheel: the event loop's `timers` (asyncio's `_scheduled`).
///
/// Values of type `T` are scheduled at an absolute tick and handed back, in deadline order, by
/// [`advance`](Wheel::advance). See the [module docs](self) for the levels and the guarantees;
/// `tests::insert_advance_remove` shows the whole life of two entries.
///
/// Crate-private, as its methods are: users reach it only through `call_later`/`call_at`.
/// So its examples are the unit tests at the foot of this file, one or more per method; a doc
/// test, compiled as a crate of its own, could not name it.
pub(crate) struct Wheel<T> {
    /// Every pending entry. Invariant: each one is linked into exactly the list its `place` names.
    entries: Slab<Entry<T>>,
    /// Generation of each slab slot ever used, bumped whenever its entry leaves (so it outlives
    /// the entry). Invariant: longer than every key the slab has handed out.
    generations: Vec<u32>,
    /// Every list, indexed by [`Place`]: level `L` slot `s` at `L * 64 + s` holds the deadlines
    /// whose highest bit differing from `elapsed` is in `6L..6L+6` and whose bits `6L..6L+6` are
    /// `s`; then the due list, then the overflow list. All in scheduling order except the due
    /// list, which is sorted by deadline (FIFO among equals).
    lists: [List; LISTS],
    /// Bit `s` of `occupied[L]` is set iff level `L` slot `s` is non-empty. Invariant: no bit at or
    /// below the slot `elapsed` is in at that level is set, so the lowest set bit is the next
    /// slot to process.
    occupied: [u64; LEVELS],
    /// A lower bound of the deadlines in the overflow list (exact after each pass over it;
    /// removals leave it low, which only makes the next pass early). Invariant: while the list is
    /// non-empty, it lies in a later 2^36-tick span than `elapsed`.
    overflow_min: u64,
    /// Current tick: the last `advance` target. Never decreases.
    elapsed: u64,
}

impl<T> Wheel<T> {
    /// Creates an empty wheel at tick 0.
    pub(crate) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Creates an empty wheel at tick 0 with room for `n` entries before it allocates.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Wheel {
            entries: Slab::with_capacity(n),
            generations: Vec::with_capacity(n),
            lists: [EMPTY; LISTS],
            occupied: [0; LEVELS],
            overflow_min: u64::MAX,
            elapsed: 0,
        }
    }

    /// Current time of the wheel in ticks: the last [`advance`](Wheel::advance) target.
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of pending entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Schedules `value` at tick `deadline` and returns its key.
    ///
    /// A deadline `<= elapsed()` is due at the next [`advance`](Wheel::advance), whatever its
    /// `now`. O(1); allocates only when the wheel holds more entries than ever before.
    ///
    /// # Panics
    ///
    /// If more than `u32::MAX - 1` entries are pending at once.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let key = self.entries.vacant_key();
        let key32 = match u32::try_from(key) {
            Ok(k) if k != NIL => k,
            _ => panic!("timer wheel is full: slab key {key} does not fit a TimerKey"),
        };
        let known = self.generations.len();
        debug_assert!(
            key <= known,
            "slab key {key} skips past {known} known generations"
        );
        if key == known {
            self.generations.push(0);
        }
        let stored = self.entries.insert(Entry {
            value,
            deadline,
            prev: NIL,
            next: NIL,
            place: Place::DUE,
        });
        debug_assert_eq!(stored, key, "slab did not use its vacant key");
        self.schedule(key32);
        TimerKey {
            key: key32,
            generation: self.generations[key],
        }
    }

    /// Cancels an entry and returns its value; `None` if `key` is stale or unknown. O(1).
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let k = self.live(key)?;
        self.unlink(k);
        Some(self.vacate(k).1)
    }

    /// Re-arms a live entry at `deadline`, keeping its key and allocating nothing.
    ///
    /// The entry counts as newly scheduled: among equal deadlines it now comes last. Returns
    /// `false`, doing nothing, if `key` is stale.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) -> bool {
        let Some(k) = self.live(key) else {
            return false;
        };
        self.unlink(k);
        self.entries[k as usize].deadline = deadline;
        self.schedule(k);
        true
    }

    /// The value of a live entry; `None` if `key` is stale.
    pub(crate) fn get(&self, key: TimerKey) -> Option<&T> {
        let k = self.live(key)?;
        Some(&self.entries[k as usize].value)
    }

    /// The value of a live entry, mutably; `None` if `key` is stale.
    pub(crate) fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let k = self.live(key)?;
        Some(&mut self.entries[k as usize].value)
    }

    /// The deadline (tick) of a live entry; `None` if `key` is stale.
    // Part of the wheel's contract; the loop does not need it, the tests do.
    #[cfg(test)]
    pub(crate) fn deadline(&self, key: TimerKey) -> Option<u64> {
        let k = self.live(key)?;
        Some(self.entries[k as usize].deadline)
    }

    /// A tick at which [`advance`](Wheel::advance) must next be called; `None` when empty.
    ///
    /// Never later than the earliest pending deadline, and `<= elapsed()` when something is
    /// already due. It may be earlier than any deadline: the start of a higher level's slot,
    /// where entries must cascade, or the start of a 2^36-tick span when only overflow entries
    /// remain. The loop polls until this tick, then advances. O(levels).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let due = self.list(Place::DUE).head;
        if due != NIL {
            return Some(self.entries[due as usize].deadline);
        }
        self.next_expiration().map(|e| e.at)
    }

    /// Moves time to `now`, appending every entry due at or before `now` to `out`.
    ///
    /// Entries come as `(key, deadline, value)` by increasing deadline, equal deadlines in
    /// scheduling order; their keys become stale. `now` must not be below `elapsed()` (checked
    /// in debug builds; release builds treat it as `elapsed()`). Costs O(levels + occupied slots
    /// visited + entries moved), not O(now - elapsed), and allocates only when `out` grows.
    /// (The loop calls [`advance_ripe`](Wheel::advance_ripe) through one function, so that it
    /// is compiled once; this form is for the wheel's own tests.)
    #[cfg(test)]
    pub(crate) fn advance(&mut self, now: u64, out: &mut Vec<(TimerKey, u64, T)>) {
        self.advance_ripe(now, out, |_| true);
    }

    /// [`advance`](Wheel::advance) for callers whose ticks are coarser than their deadlines:
    /// an entry due *at* `now` (the tick still under way) leaves only if `ripe(value)` says so;
    /// the others stay pending, in the due list, keys valid, and are asked again at the next
    /// call. Entries due before `now` always leave.
    ///
    /// The loop keys its wheel by the millisecond a deadline falls in and asks `ripe` whether
    /// the exact deadline has passed, so a timer fires neither early nor a tick late.
    pub(crate) fn advance_ripe(
        &mut self,
        now: u64,
        out: &mut Vec<(TimerKey, u64, T)>,
        mut ripe: impl FnMut(&T) -> bool,
    ) {
        let elapsed = self.elapsed;
        debug_assert!(
            now >= elapsed,
            "advance to {now} would move the wheel back from {elapsed}"
        );
        let now = now.max(elapsed);
        // Entries due at `now` that are not ripe yet, in list order: linked back at the end.
        let mut kept = EMPTY;

        // Entries scheduled in the past precede everything in the wheel, already sorted.
        let due = std::mem::replace(self.list_mut(Place::DUE), EMPTY);
        let mut cur = due.head;
        while cur != NIL {
            let entry = &self.entries[cur as usize];
            let next = entry.next;
            if entry.deadline < now || ripe(&entry.value) {
                self.expire(cur, out);
            } else {
                self.keep(cur, &mut kept);
            }
            cur = next;
        }

        while let Some(exp) = self.next_expiration() {
            if exp.at > now {
                break;
            }
            // Jump to the slot's start: empty slots in between cost nothing.
            self.elapsed = exp.at;
            let list = self.take(exp.place);
            let mut cur = list.head;
            while cur != NIL {
                let entry = &self.entries[cur as usize];
                let (next, deadline) = (entry.next, entry.deadline);
                debug_assert!(
                    deadline >= exp.at,
                    "entry {cur} due at {deadline} was still pending at {}",
                    exp.at
                );
                if deadline != exp.at {
                    // Cascade: lands strictly lower (or back in overflow), after any earlier
                    // entry of the same deadline, so list order is kept.
                    self.schedule(cur);
                } else if deadline < now || ripe(&entry.value) {
                    self.expire(cur, out);
                } else {
                    self.keep(cur, &mut kept);
                }
                cur = next;
            }
        }
        self.elapsed = now;
        // Every kept entry is due at `now == elapsed`: the due list's latest deadline, so each
        // is appended, and their order (scheduling order among equals) holds.
        let mut cur = kept.head;
        while cur != NIL {
            let next = self.entries[cur as usize].next;
            self.schedule(cur);
            cur = next;
        }
    }

    /// The least `key(value)` among the entries the next [`advance`](Wheel::advance) would
    /// hand out first: the due list if it is not empty, else the next slot if it is a level-0
    /// slot (whose entries all share one deadline). `None` otherwise (no entry, or the next
    /// work is a cascade: use [`next_deadline`](Wheel::next_deadline)). O(entries looked at).
    ///
    /// The loop uses it to sleep until the exact earliest deadline, not a tick's start.
    pub(crate) fn min_next<K: Ord>(&self, key: impl Fn(&T) -> K) -> Option<K> {
        let place = if self.list(Place::DUE).head != NIL {
            Place::DUE
        } else {
            match self.next_expiration()?.place.level_slot() {
                Some((0, _)) => self.next_expiration()?.place,
                _ => return None,
            }
        };
        let mut cur = self.list(place).head;
        let mut best: Option<K> = None;
        while cur != NIL {
            let entry = &self.entries[cur as usize];
            let k = key(&entry.value);
            if best.as_ref().is_none_or(|b| k < *b) {
                best = Some(k);
            }
            cur = entry.next;
        }
        best
    }

    /// Appends the detached entry `k` to `list` (a private list, linked by the entries).
    fn keep(&mut self, k: u32, list: &mut List) {
        let entry = &mut self.entries[k as usize];
        entry.prev = list.tail;
        entry.next = NIL;
        match list.tail {
            NIL => list.head = k,
            t => self.entries[t as usize].next = k,
        }
        list.tail = k;
    }

    /// Removes every entry, dropping the values; their keys become stale. Time stays put.
    ///
    /// Values are dropped while the wheel is borrowed: a caller whose values re-enter it on drop
    /// should take them out with [`remove`](Wheel::remove) or [`advance`](Wheel::advance) first.
    // Part of the wheel's contract; the loop does not need it, the tests do.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        for (key, _) in self.entries.iter() {
            self.generations[key] = self.generations[key].wrapping_add(1);
        }
        self.entries.clear();
        self.lists = [EMPTY; LISTS];
        self.occupied = [0; LEVELS];
        self.overflow_min = u64::MAX;
    }

    /// The slab index of `key` if it names a live entry.
    fn live(&self, key: TimerKey) -> Option<u32> {
        let k = key.key as usize;
        let current = *self.generations.get(k)?;
        (current == key.generation && self.entries.contains(k)).then_some(key.key)
    }

    /// Where an entry due at `deadline` belongs at the current `elapsed`.
    fn place_for(&self, deadline: u64) -> Place {
        if deadline <= self.elapsed {
            return Place::DUE;
        }
        let level = level_for(self.elapsed, deadline);
        if level >= LEVELS {
            return Place::OVERFLOW;
        }
        Place::slot(
            level,
            (deadline >> (SLOT_BITS as usize * level)) as usize % SLOTS,
        )
    }

    /// Links the unlinked entry `k` where its deadline puts it, as the newest of its deadline.
    fn schedule(&mut self, k: u32) {
        let deadline = self.entries[k as usize].deadline;
        let place = self.place_for(deadline);
        // Append, except in the due list, which stays sorted: walk back over later deadlines.
        let mut after = self.list(place).tail;
        if place == Place::DUE {
            while after != NIL && self.entries[after as usize].deadline > deadline {
                after = self.entries[after as usize].prev;
            }
        }
        let before = match after {
            NIL => self.list(place).head,
            a => self.entries[a as usize].next,
        };
        let entry = &mut self.entries[k as usize];
        entry.place = place;
        entry.prev = after;
        entry.next = before;
        match after {
            NIL => self.list_mut(place).head = k,
            a => self.entries[a as usize].next = k,
        }
        match before {
            NIL => self.list_mut(place).tail = k,
            b => self.entries[b as usize].prev = k,
        }
        if let Some((level, slot)) = place.level_slot() {
            self.occupied[level] |= 1 << slot;
        } else if place == Place::OVERFLOW {
            self.overflow_min = self.overflow_min.min(deadline);
        }
    }

    /// Unlinks entry `k` from its list; an emptied slot loses its occupancy bit, an emptied
    /// overflow list its bound.
    fn unlink(&mut self, k: u32) {
        let Entry {
            prev, next, place, ..
        } = self.entries[k as usize];
        match prev {
            NIL => self.list_mut(place).head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.list_mut(place).tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        if self.list(place).head == NIL {
            if let Some((level, slot)) = place.level_slot() {
                self.occupied[level] &= !(1 << slot);
            } else if place == Place::OVERFLOW {
                // A bound left behind by an emptied list could fall behind `elapsed`.
                self.overflow_min = u64::MAX;
            }
        }
    }

    /// Detaches the whole list at `place`, leaving it empty; its entries keep their links.
    fn take(&mut self, place: Place) -> List {
        if let Some((level, slot)) = place.level_slot() {
            self.occupied[level] &= !(1 << slot);
        } else if place == Place::OVERFLOW {
            // Recomputed exactly as the entries still out of range are put back.
            self.overflow_min = u64::MAX;
        }
        std::mem::replace(self.list_mut(place), EMPTY)
    }

    /// Frees the (already unlinked) entry `k` and makes its key stale.
    fn vacate(&mut self, k: u32) -> (TimerKey, T) {
        let generation = &mut self.generations[k as usize];
        let key = TimerKey {
            key: k,
            generation: *generation,
        };
        *generation = generation.wrapping_add(1);
        (key, self.entries.remove(k as usize).value)
    }

    /// Hands the (detached) entry `k` back through `out`.
    fn expire(&mut self, k: u32, out: &mut Vec<(TimerKey, u64, T)>) {
        let deadline = self.entries[k as usize].deadline;
        let (key, value) = self.vacate(k);
        out.push((key, deadline, value));
    }

    /// The earliest slot start or overflow span start with work, ignoring the due list.
    ///
    /// Lower levels always come first: a level's occupied slots all lie inside the current
    /// slot of the level above, which itself is never occupied.
    fn next_expiration(&self) -> Option<Expiration> {
        for (level, &occupied) in self.occupied.iter().enumerate() {
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS as usize * level;
            let current = (self.elapsed >> shift) as usize % SLOTS;
            let below = u64::MAX >> (63 - current); // bits 0..=current
            debug_assert!(
                occupied & below == 0,
                "level {level} has occupied slots {occupied:#x} at or below the current slot {current}"
            );
            let slot = occupied.trailing_zeros() as usize;
            let level_start = self.elapsed & !((1u64 << (shift + SLOT_BITS as usize)) - 1);
            return Some(Expiration {
                at: level_start + ((slot as u64) << shift),
                place: Place::slot(level, slot),
            });
        }
        if self.list(Place::OVERFLOW).head == NIL {
            return None;
        }
        // The start of the earliest overflow entry's span: there it fits the wheel.
        let at = self.overflow_min & !(WHEEL_RANGE - 1);
        debug_assert!(
            at > self.elapsed,
            "overflow bound {} is not in a span after {}",
            self.overflow_min,
            self.elapsed
        );
        Some(Expiration {
            at,
            place: Place::OVERFLOW,
        })
    }

    /// The list at `place`.
    fn list(&self, place: Place) -> &List {
        &self.lists[place.0 as usize]
    }

    /// The list at `place`, mutably.
    fn list_mut(&mut self, place: Place) -> &mut List {
        &mut self.lists[place.0 as usize]
    }
}

/// The level for `deadline > elapsed`: the highest differing bit, six bits per level.
/// A result of `LEVELS` or more means the overflow list.
fn level_for(elapsed: u64, deadline: u64) -> usize {
    debug_assert!(
        deadline > elapsed,
        "deadline {deadline} is not after {elapsed}"
    );
    let highest = 63 - (elapsed ^ deadline).leading_zeros();
    (highest / SLOT_BITS) as usize
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("occupied", &self.occupied)
            .field("due", &(self.list(Place::DUE).head != NIL))
            .field("overflow", &(self.list(Place::OVERFLOW).head != NIL))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole life of two entries: one fires, one is cancelled, and a fired key goes stale.
    #[test]
    fn insert_advance_remove() {
        let mut wheel = Wheel::new();
        let late = wheel.insert(100, "late");
        let early = wheel.insert(5, "early");
        assert!(wheel.next_deadline().unwrap() <= 5);

        let mut fired = Vec::new();
        wheel.advance(50, &mut fired);
        assert_eq!(fired, [(early, 5, "early")]);
        assert_eq!(wheel.remove(late), Some("late")); // cancelled: never fires
        assert_eq!(wheel.remove(early), None); // stale: already fired
    }
    use proptest::prelude::*;

    type Fired<T> = Vec<(TimerKey, u64, T)>;

    impl<T> Wheel<T> {
        /// Checks every structural invariant; panics with context on the first violation.
        fn check(&self) {
            let mut seen = 0;
            let mut walk = |place: Place, list: List| {
                let (mut prev, mut cur, mut last) = (NIL, list.head, None::<u64>);
                while cur != NIL {
                    let e = &self.entries[cur as usize];
                    assert_eq!(e.prev, prev, "entry {cur} in {place:?}: bad prev link");
                    assert_eq!(e.place, place, "entry {cur} is in the wrong list");
                    assert_eq!(place, self.place_for(e.deadline), "entry {cur} misplaced");
                    if place == Place::DUE {
                        assert!(last <= Some(e.deadline), "due list out of order at {cur}");
                        last = Some(e.deadline);
                    }
                    if place == Place::OVERFLOW {
                        assert!(self.overflow_min <= e.deadline, "overflow_min above {cur}");
                    }
                    seen += 1;
                    (prev, cur) = (cur, e.next);
                }
                assert_eq!(list.tail, prev, "{place:?}: tail is not the last entry");
            };
            for (i, list) in self.lists.iter().enumerate() {
                let place = Place(i as u16);
                if let Some((level, slot)) = place.level_slot() {
                    let bit = self.occupied[level] >> slot & 1 == 1;
                    assert_eq!(bit, list.head != NIL, "level {level} slot {slot}: bitmap");
                }
                walk(place, *list);
            }
            assert_eq!(seen, self.entries.len(), "entries not linked exactly once");
            if let Some(next) = self.next_deadline() {
                let min = self.entries.iter().map(|(_, e)| e.deadline).min().unwrap();
                assert!(
                    next <= min,
                    "next_deadline {next} is after the earliest {min}"
                );
            } else {
                assert!(
                    self.is_empty(),
                    "next_deadline is None on a non-empty wheel"
                );
            }
        }
    }

    fn advance<T>(wheel: &mut Wheel<T>, now: u64) -> Fired<T> {
        let mut out = Vec::new();
        wheel.advance(now, &mut out);
        wheel.check();
        out
    }

    fn values<T: Copy>(fired: &Fired<T>) -> Vec<T> {
        fired.iter().map(|f| f.2).collect()
    }

    #[test]
    fn empty_wheel() {
        let mut wheel = Wheel::<()>::default();
        assert_eq!(
            (wheel.elapsed(), wheel.len(), wheel.next_deadline()),
            (0, 0, None)
        );
        assert!(wheel.is_empty());
        assert!(advance(&mut wheel, 0).is_empty());
        assert!(advance(&mut wheel, u64::MAX / 2).is_empty());
        assert_eq!(wheel.elapsed(), u64::MAX / 2);
        assert_eq!(wheel.next_deadline(), None);
    }

    /// L8: with ticks coarser than deadlines, an entry of the tick under way leaves only once
    /// ripe, keeps its key meanwhile, and entries of earlier ticks leave regardless.
    #[test]
    fn advance_ripe_keeps_unripe_entries_of_the_current_tick() {
        // Values are exact times in tenths of a tick.
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, 57);
        let b = wheel.insert(5, 52);
        let c = wheel.insert(4, 49);
        let d = wheel.insert(70, 700);
        let mut out = Vec::new();
        wheel.advance_ripe(5, &mut out, |&v| v <= 53);
        wheel.check();
        assert_eq!(
            values(&out),
            [49, 52],
            "tick 4 regardless; tick 5 only when ripe"
        );
        assert_eq!(out[1].0, b);
        assert_eq!(wheel.get(a), Some(&57), "the unripe entry keeps its key");
        assert_eq!(wheel.min_next(|&v| v), Some(57));
        assert!(wheel.next_deadline().unwrap() <= 5);
        out.clear();
        wheel.advance_ripe(5, &mut out, |&v| v <= 56);
        assert!(out.is_empty());
        wheel.advance_ripe(5, &mut out, |&v| v <= 58);
        wheel.check();
        assert_eq!(values(&out), [57]);
        assert_eq!(wheel.remove(c), None);
        // Next comes a cascade from level 1: no exact minimum, the tick bound instead.
        assert_eq!(wheel.min_next(|&v| v), None);
        out.clear();
        wheel.advance_ripe(70, &mut out, |_| false);
        wheel.check();
        assert!(out.is_empty());
        assert_eq!(wheel.min_next(|&v| v), Some(700));
        assert_eq!(wheel.remove(d), Some(700));
        assert!(wheel.is_empty());
    }

    /// L8: a deadline at each level's edges fires exactly at its tick, never before.
    #[test]
    fn each_level_fires_on_its_tick() {
        for start in [0, 1, 37, 4_000, 1 << 40] {
            for level in 0..=LEVELS as u32 {
                let width = 1u64 << (SLOT_BITS * level);
                for delta in [width, width + 1, width * 2 - 1, width * 63, width * 64 - 1] {
                    let mut wheel = Wheel::new();
                    advance(&mut wheel, start);
                    let deadline = start + delta;
                    let key = wheel.insert(deadline, delta);
                    wheel.check();
                    let mut now = start;
                    // Follow next_deadline as the loop does: it never overshoots.
                    while let Some(next) = wheel.next_deadline() {
                        assert!(next <= deadline, "next_deadline {next} past {deadline}");
                        if next == deadline {
                            break;
                        }
                        assert!(next > now, "next_deadline {next} does not move from {now}");
                        now = next;
                        assert!(advance(&mut wheel, now).is_empty(), "fired early at {now}");
                    }
                    assert!(advance(&mut wheel, deadline - 1).is_empty());
                    assert_eq!(advance(&mut wheel, deadline), [(key, deadline, delta)]);
                    assert!(wheel.is_empty());
                }
            }
        }
    }

    /// L8: every tick in a range spanning levels 0..=2, advanced one tick at a time.
    #[test]
    fn tick_by_tick() {
        let mut wheel = Wheel::new();
        advance(&mut wheel, 29);
        for deadline in (30..9_000).rev() {
            wheel.insert(deadline, deadline);
        }
        let mut fired = Vec::new();
        for now in 30..9_000 {
            wheel.advance(now, &mut fired);
            assert_eq!(values(&fired), [now], "tick {now}");
            fired.clear();
            if now % 509 == 0 {
                wheel.check();
            }
        }
        assert!(wheel.is_empty());
    }

    /// L7: one jump over many levels yields deadline order, FIFO among equal deadlines, also for
    /// entries scheduled before and after a cascade.
    #[test]
    fn deadline_order_then_fifo_across_cascades() {
        let mut wheel = Wheel::new();
        let deadline = 300_000; // level 3 from tick 0
        wheel.insert(deadline, 'a');
        wheel.insert(5_000, 'x');
        advance(&mut wheel, 262_144); // level 3 slot cascaded; 'x' fired
        wheel.insert(deadline, 'b'); // same deadline, now level 2
        advance(&mut wheel, 299_500); // level 2 slot cascaded at 299_008
        wheel.insert(deadline, 'c'); // level 1
        wheel.insert(deadline - 1, 'w');
        wheel.insert(deadline + 1, 'y');
        wheel.insert(deadline, 'd');
        let fired = advance(&mut wheel, u64::MAX);
        assert_eq!(values(&fired), ['w', 'a', 'b', 'c', 'd', 'y']);
        let deadlines: Vec<u64> = fired.iter().map(|f| f.1).collect();
        assert_eq!(
            deadlines,
            [
                deadline - 1,
                deadline,
                deadline,
                deadline,
                deadline,
                deadline + 1
            ]
        );
    }

    /// L10: removing from the head, middle and tail of one slot leaves the rest in order.
    #[test]
    fn remove_head_middle_tail() {
        for victim in 0..5 {
            let mut wheel = Wheel::new();
            let keys: Vec<_> = (0..5).map(|i| wheel.insert(100, i)).collect();
            assert_eq!(wheel.remove(keys[victim]), Some(victim));
            wheel.check();
            assert_eq!(wheel.remove(keys[victim]), None, "removed twice");
            let expect: Vec<_> = (0..5).filter(|&i| i != victim).collect();
            assert_eq!(values(&advance(&mut wheel, 100)), expect);
        }
        // Removing every entry of a slot clears its bit.
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..3).map(|i| wheel.insert(10_000, i)).collect();
        for key in [keys[1], keys[2], keys[0]] {
            wheel.remove(key);
            wheel.check();
        }
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn reset_moves_and_requeues_last() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(50, 'a');
        let b = wheel.insert(50, 'b');
        let c = wheel.insert(9_999, 'c');
        assert!(wheel.reset(a, 50)); // same deadline: now after 'b'
        assert!(wheel.reset(c, 50)); // from level 2 to level 0
        assert_eq!(wheel.deadline(c), Some(50));
        assert!(wheel.reset(b, 70_000_000_000)); // into overflow
        wheel.check();
        assert_eq!(values(&advance(&mut wheel, 60)), ['a', 'c']);
        assert!(!wheel.reset(a, 100), "reset a fired key");
        assert!(wheel.reset(b, 10)); // into the past: due at once
        assert_eq!(advance(&mut wheel, 60), [(b, 10, 'b')]);
    }

    #[test]
    fn stale_keys_are_rejected() {
        let mut wheel = Wheel::new();
        let fired = wheel.insert(5, 1);
        let removed = wheel.insert(5, 2);
        assert_eq!(wheel.remove(removed), Some(2));
        advance(&mut wheel, 5);
        // Both slab slots are reused by fresh entries with new generations.
        let fresh = [wheel.insert(9, 3), wheel.insert(9, 4)];
        for stale in [fired, removed] {
            assert!(fresh.iter().any(|k| k.key == stale.key), "slot not reused");
            assert_eq!(wheel.get(stale), None);
            assert_eq!(wheel.get_mut(stale), None);
            assert_eq!(wheel.deadline(stale), None);
            assert!(!wheel.reset(stale, 1));
            assert_eq!(wheel.remove(stale), None);
        }
        *wheel.get_mut(fresh[0]).unwrap() += 10;
        assert_eq!(wheel.get(fresh[0]), Some(&13));
        assert_eq!(wheel.len(), 2);
        let unknown = TimerKey {
            key: 77,
            generation: 0,
        };
        assert_eq!(wheel.get(unknown), None);
    }

    /// L6: deadlines at or before `elapsed` are due at the next advance, by deadline.
    #[test]
    fn deadline_in_the_past() {
        let mut wheel = Wheel::new();
        advance(&mut wheel, 1_000);
        wheel.insert(1_000, 'c');
        wheel.insert(990, 'b');
        wheel.insert(1_000, 'd');
        wheel.insert(0, 'a');
        wheel.insert(1_001, 'e');
        wheel.check();
        assert_eq!(wheel.next_deadline(), Some(0));
        assert_eq!(values(&advance(&mut wheel, 1_000)), ['a', 'b', 'c', 'd']);
        assert_eq!(wheel.next_deadline(), Some(1_001));
        assert_eq!(values(&advance(&mut wheel, 1_001)), ['e']);
    }

    /// Days, years and the end of time: overflow entries re-cascade on the exact tick, and a
    /// jump of years costs a few slot visits (this test would not finish if it cost O(ticks)).
    #[test]
    fn huge_deadlines() {
        const DAY: u64 = 86_400_000;
        let deadlines = [
            3 * DAY,
            365 * DAY,
            WHEEL_RANGE - 1,
            WHEEL_RANGE,
            WHEEL_RANGE + 1,
            3 * 365 * DAY,
            1000 * 365 * DAY,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut wheel = Wheel::new();
        for (i, &d) in deadlines.iter().enumerate().rev() {
            wheel.insert(d, i);
        }
        wheel.insert(u64::MAX, 99); // equal to the last: FIFO behind it
        wheel.check();
        for (i, &d) in deadlines.iter().enumerate() {
            assert!(advance(&mut wheel, d - 1).iter().all(|f| f.1 < d));
            let fired = advance(&mut wheel, d);
            let expect: &[usize] = if d == u64::MAX { &[i, 99] } else { &[i] };
            assert_eq!(values(&fired), expect, "deadline {d}");
        }
        assert!(wheel.is_empty());

        // Walking by next_deadline visits few points across 2^64 ticks.
        let mut wheel = Wheel::new();
        wheel.insert(u64::MAX, ());
        let mut steps = 0;
        while let Some(next) = wheel.next_deadline() {
            advance(&mut wheel, next);
            steps += 1;
        }
        assert!(steps < 64, "{steps} steps to reach the end of time");
    }

    #[test]
    fn next_deadline_is_never_late() {
        let mut wheel = Wheel::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let deadline = wheel.elapsed() + (x % (1 << (x % 40)));
            wheel.insert(deadline, ());
            if x % 3 == 0 {
                let next = wheel.next_deadline().unwrap().max(wheel.elapsed());
                advance(&mut wheel, next); // check() asserts the bound
            }
        }
    }

    #[test]
    fn clear_makes_keys_stale() {
        let mut wheel = Wheel::with_capacity(4);
        let keys = [
            wheel.insert(1, 'a'),
            wheel.insert(0, 'b'),
            wheel.insert(1 << 40, 'c'),
        ];
        wheel.clear();
        wheel.check();
        assert_eq!((wheel.len(), wheel.next_deadline()), (0, None));
        let again = wheel.insert(3, 'd');
        for key in keys {
            assert_eq!(wheel.get(key), None, "{key:?} survived clear");
        }
        assert_eq!(advance(&mut wheel, 3), [(again, 3, 'd')]);
    }

    /// One step of the model test.
    #[derive(Clone, Debug)]
    enum Op {
        /// Insert at `elapsed + offset`, or `elapsed - offset` when `past`.
        Insert { offset: u64, past: bool },
        /// Insert at the deadline of the `i`-th pending entry (modulo): equal deadlines scheduled
        /// before and after cascades.
        InsertAlike(usize),
        /// Remove the `i`-th key ever issued (modulo), live or stale.
        Remove(usize),
        /// Reset the `i`-th key ever issued (modulo) to `elapsed + offset`.
        Reset(usize, u64),
        /// Advance by this many ticks (saturating).
        Advance(u64),
    }

    fn offset() -> impl Strategy<Value = u64> {
        prop_oneof![
            0..70u64,
            (0..LEVELS as u32 + 1, 0..3u64).prop_map(|(l, d)| (1u64 << (6 * l)) + d - 1),
            0..300_000u64,
            0..(1u64 << 40),
            Just(u64::MAX),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let jump = prop_oneof![
            prop::sample::select(vec![0, 1, 63, 64, 65, 4_095, 4_096, 262_144, WHEEL_RANGE]),
            0..100_000u64,
            0..(1u64 << 42),
            Just(u64::MAX),
        ];
        prop_oneof![
            4 => (offset(), prop::bool::weighted(0.1))
                .prop_map(|(offset, past)| Op::Insert { offset, past }),
            2 => any::<usize>().prop_map(Op::InsertAlike),
            2 => any::<usize>().prop_map(Op::Remove),
            1 => (any::<usize>(), offset()).prop_map(|(i, o)| Op::Reset(i, o)),
            2 => jump.prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// L7, L8, L10 against a model: a list of (deadline, seq, id) sorted at each advance.
        #[test]
        fn matches_model(ops in prop::collection::vec(op(), 1..120)) {
            let mut wheel = Wheel::new();
            let mut model: Vec<(u64, u64, usize)> = Vec::new();
            let mut keys: Vec<TimerKey> = Vec::new();
            let mut seq = 0;
            for op in ops {
                let now = wheel.elapsed();
                let insert_at = match op {
                    Op::Insert { offset, past: true } => Some(now.saturating_sub(offset)),
                    Op::Insert { offset, past: false } => Some(now.saturating_add(offset)),
                    Op::InsertAlike(i) if !model.is_empty() => Some(model[i % model.len()].0),
                    _ => None,
                };
                match op {
                    Op::Insert { .. } | Op::InsertAlike(_) => {
                        let Some(deadline) = insert_at else { continue };
                        keys.push(wheel.insert(deadline, keys.len()));
                        model.push((deadline, seq, keys.len() - 1));
                        seq += 1;
                    }
                    Op::Remove(i) if !keys.is_empty() => {
                        let id = i % keys.len();
                        let pos = model.iter().position(|m| m.2 == id);
                        prop_assert_eq!(wheel.remove(keys[id]), pos.map(|_| id));
                        if let Some(pos) = pos {
                            model.remove(pos);
                        }
                    }
                    Op::Reset(i, offset) if !keys.is_empty() => {
                        let id = i % keys.len();
                        let deadline = now.saturating_add(offset);
                        let pos = model.iter().position(|m| m.2 == id);
                        prop_assert_eq!(wheel.reset(keys[id], deadline), pos.is_some());
                        if let Some(pos) = pos {
                            model[pos] = (deadline, seq, id);
                            seq += 1;
                        }
                    }
                    Op::Advance(by) => {
                        let to = now.saturating_add(by);
                        model.sort_unstable();
                        let split = model.partition_point(|m| m.0 <= to);
                        let expect: Vec<_> = model.drain(..split).map(|m| (keys[m.2], m.0, m.2)).collect();
                        prop_assert_eq!(advance(&mut wheel, to), expect);
                        prop_assert_eq!(wheel.elapsed(), to);
                    }
                    _ => {}
                }
                wheel.check();
                prop_assert_eq!(wheel.len(), model.len());
                for &(deadline, _, id) in &model {
                    prop_assert_eq!(wheel.get(keys[id]), Some(&id));
                    prop_assert_eq!(wheel.deadline(keys[id]), Some(deadline));
                }
                let min = model.iter().map(|m| m.0).min();
                match (wheel.next_deadline(), min) {
                    (Some(next), Some(min)) => {
                        prop_assert!(next <= min);
                        prop_assert!(min > wheel.elapsed() || next <= wheel.elapsed());
                    }
                    (next, min) => prop_assert_eq!(next.is_none(), min.is_none()),
                }
            }
        }
    }
}
