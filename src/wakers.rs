//! Waker lists whose entries leave with their wait: the waiting side of an outcome set once
//! by another thread or the loop (a child's exit, a helper thread's end, a server group's
//! end), as CPython's done-future is awaited by any number of tasks.
//!
//! Each wait files its waker under a key of its own ([`KeyedWakers::file`]); polled again it
//! refreshes that one entry, and dropped before the outcome (abandoned under a `timeout`, in
//! a select, with its task) it takes the entry back through its [`Withdraw`] guard. So a wait
//! that gave up keeps no task alive and repeated timed waits do not grow the list (D12).
//! Ground rule: a waker is dropped or woken only after the lock or borrow of its list is
//! released (dropping or waking one may run a task's code).

use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

/// The key of a wait not filed yet.
pub(crate) const UNFILED: u64 = 0;

/// Wakers by wait key, in filing order. Kept under the owner's lock.
#[derive(Default)]
pub(crate) struct KeyedWakers(Vec<(u64, Waker)>);

impl KeyedWakers {
    /// Files `waker` for the wait `*key` ([`UNFILED`] before its first filing, then given a
    /// key no other wait of the process holds), or refreshes its entry.
    pub(crate) fn file(&mut self, key: &mut u64, waker: &Waker) -> Option<Waker> {
        if *key != UNFILED {
            if let Some((_, w)) = self.0.iter_mut().find(|(k, _)| k == key) {
                if !w.will_wake(waker) {
                    // The caller drops the old one after its lock.
                    return Some(std::mem::replace(w, waker.clone()));
                }
                return None;
            }
        } else {
            static LAST: AtomicU64 = AtomicU64::new(UNFILED);
            *key = LAST.fetch_add(1, Ordering::Relaxed) + 1;
        }
        self.0.push((*key, waker.clone()));
        None
    }

    /// Files `waker` for a wait that has nowhere to keep a key (a futures-io wait through a
    /// shared writer), once per distinct waker until the next wake-up of all.
    #[cfg(feature = "futures-io")]
    pub(crate) fn file_unkeyed(&mut self, waker: &Waker) {
        let known = self
            .0
            .iter()
            .any(|(k, w)| *k == UNFILED && w.will_wake(waker));
        if !known {
            self.0.push((UNFILED, waker.clone()));
        }
    }

    /// Empties the list in place (its capacity kept), for waking every entry.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Waker> + '_ {
        self.0.drain(..).map(|(_, w)| w)
    }

    /// Takes back the entry of wait `key`: `None` when it was woken (or never filed, or `key`
    /// is [`UNFILED`], the mark of unkeyed entries, which no wait may take back). Out of line:
    /// only a wait dropped before its wake-up gets here, from a dozen places, each of which
    /// otherwise carried its own copy of the search.
    #[inline(never)]
    pub(crate) fn remove(&mut self, key: u64) -> Option<Waker> {
        if key == UNFILED {
            return None;
        }
        let at = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.swap_remove(at).1)
    }

    /// Empties the list, for waking every entry once the lock is released.
    pub(crate) fn take(&mut self) -> Vec<Waker> {
        self.0.drain(..).map(|(_, w)| w).collect()
    }

    /// How many waits are filed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// A wait's key, and how to take its entry back: `withdraw(key)` runs on drop once the key was
/// filed (it must release its lock before dropping what it removed).
pub(crate) struct Withdraw<F: FnMut(u64)> {
    pub(crate) key: u64,
    withdraw: F,
}

impl<F: FnMut(u64)> Withdraw<F> {
    pub(crate) fn new(withdraw: F) -> Self {
        Withdraw {
            key: UNFILED,
            withdraw,
        }
    }
}

impl<F: FnMut(u64)> Drop for Withdraw<F> {
    fn drop(&mut self) {
        if self.key != UNFILED {
            (self.withdraw)(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn a_refiled_wait_keeps_one_entry_and_a_removed_one_leaves_none() {
        let (a, b) = (Arc::new(Noop), Arc::new(Noop));
        let mut list = KeyedWakers::default();
        let (mut ka, mut kb) = (UNFILED, UNFILED);
        assert!(list.file(&mut ka, &Waker::from(a.clone())).is_none());
        let old = list.file(&mut ka, &Waker::from(b.clone()));
        assert!(old.is_some(), "another waker replaces the entry");
        drop(old);
        assert!(list.file(&mut kb, &Waker::from(b.clone())).is_none());
        assert_ne!(ka, kb);
        assert_eq!((list.len(), Arc::strong_count(&a)), (2, 1));
        drop(list.remove(ka));
        assert!(list.remove(ka).is_none(), "removed once");
        assert_eq!(list.take().len(), 1);
        assert_eq!(Arc::strong_count(&b), 1);
    }

    #[test]
    fn withdraw_runs_only_for_a_filed_key() {
        let ran = std::cell::Cell::new(0);
        drop(Withdraw::new(|_| ran.set(ran.get() + 1)));
        let mut filed = Withdraw::new(|k| ran.set(ran.get() + k));
        filed.key = 5;
        drop(filed);
        assert_eq!(ran.get(), 5);
    }
}
