//! `Slots<T>`: a slab whose keys carry a generation, so a stale key is detected, not obeyed.
//!
//! asyncio names its handles by Python object identity; we name tasks and I/O sources by slab
//! key plus generation instead of by pointer (STYLE habit 7). A key whose slot was freed and
//! reused has an older generation and finds nothing: a stale wake-up wakes nobody, a stale
//! readiness event reaches no one.

use slab::Slab;

/// A key into [`Slots`]: slot index plus the generation the slot had when the value went in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct SlotKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A slab with generation-checked keys.
pub(crate) struct Slots<T> {
    /// The values. Invariant: a live entry's generation equals `generations[index]`.
    entries: Slab<T>,
    /// Generation of every slot index ever used; bumped when a slot is vacated.
    generations: Vec<u32>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Slots {
            entries: Slab::new(),
            generations: Vec::new(),
        }
    }

    /// Stores `value`; the key is valid until [`remove`](Self::remove).
    pub(crate) fn insert(&mut self, value: T) -> SlotKey {
        let index = self.entries.insert(value);
        if index == self.generations.len() {
            self.generations.push(0);
        }
        debug_assert!(
            index < self.generations.len(),
            "slab index {index} skipped a slot"
        );
        SlotKey {
            index: index as u32,
            generation: self.generations[index],
        }
    }

    /// The key the next `insert` will return (so a value can know its own key).
    pub(crate) fn vacant_key(&self) -> SlotKey {
        let index = self.entries.vacant_key();
        let generation = self.generations.get(index).copied().unwrap_or(0);
        SlotKey {
            index: index as u32,
            generation,
        }
    }

    /// The live key at `index`, if the slot is occupied.
    pub(crate) fn key_at(&self, index: u32) -> Option<SlotKey> {
        let i = index as usize;
        self.entries.contains(i).then(|| SlotKey {
            index,
            generation: self.generations[i],
        })
    }

    /// The live entry at `index` whose generation, truncated by `mask`, is `generation`: what a
    /// task waker names. One lookup.
    pub(crate) fn get_masked(
        &self,
        index: u32,
        generation: u32,
        mask: u32,
    ) -> Option<(SlotKey, &T)> {
        let i = index as usize;
        let value = self.entries.get(i)?;
        let full = *self.generations.get(i)?;
        (full & mask == generation).then_some((
            SlotKey {
                index,
                generation: full,
            },
            value,
        ))
    }

    fn live(&self, key: SlotKey) -> bool {
        let i = key.index as usize;
        self.entries.contains(i) && self.generations[i] == key.generation
    }

    pub(crate) fn get(&self, key: SlotKey) -> Option<&T> {
        if self.live(key) {
            self.entries.get(key.index as usize)
        } else {
            None
        }
    }

    pub(crate) fn get_mut(&mut self, key: SlotKey) -> Option<&mut T> {
        if self.live(key) {
            self.entries.get_mut(key.index as usize)
        } else {
            None
        }
    }

    /// Removes and returns the value; `None` for a stale key.
    // Out of line: once per registration or task, never per message; inlined, the slab's
    // removal was copied into each register, deregister and task-end path.
    #[inline(never)]
    pub(crate) fn remove(&mut self, key: SlotKey) -> Option<T> {
        if !self.live(key) {
            return None;
        }
        let i = key.index as usize;
        self.generations[i] = self.generations[i].wrapping_add(1);
        Some(self.entries.remove(i))
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes every value, bumping every generation, and returns them in the slab that held
    /// them (iterated in slot order): handed over whole, not collected into a new `Vec`.
    pub(crate) fn drain(&mut self) -> Slab<T> {
        for (i, _) in self.entries.iter() {
            self.generations[i] = self.generations[i].wrapping_add(1);
        }
        std::mem::take(&mut self.entries)
    }

    /// The live values, in slot order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Live keys, in slot order.
    pub(crate) fn keys(&self) -> Vec<SlotKey> {
        let mut keys = Vec::with_capacity(self.entries.len());
        for (i, _) in self.entries.iter() {
            keys.push(SlotKey {
                index: i as u32,
                generation: self.generations[i],
            });
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_key_finds_nothing_after_reuse() {
        let mut s = Slots::new();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index, b.index, "slot reused");
        assert_ne!(a, b);
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
    }

    #[test]
    fn vacant_key_predicts_insert() {
        let mut s = Slots::new();
        let k = s.insert(1);
        s.remove(k);
        let predicted = s.vacant_key();
        assert_eq!(s.insert(2), predicted);
        assert_eq!(
            s.drain().into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(s.get(predicted), None);
        assert_eq!(s.len(), 0);
    }
}
