//! Lock, Semaphore and Queue against models of CPython 3.11's algorithms, under random
//! interleavings (proptest).

use super::*;

// ---- Lock and Semaphore against CPython's algorithm ------------------------------------------

/// Random interleavings of acquire, release, a waiter's turn and a waiter's cancellation,
/// run on the real primitive and on a model of CPython 3.11's `locks.py` (a deque of
/// futures; `_wake_up_first`, `_wake_up_next`; the `except CancelledError` paths). One
/// difference is modelled: a dropped Rust future leaves the deque at once, where Python's
/// cancelled future leaves it when its task next runs. After every step the two must agree on
/// `value()` / `locked()` and on which waiters are through.
mod against_cpython {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use std::collections::VecDeque;

    #[derive(Clone, Debug)]
    enum Op {
        /// A new `acquire()`, polled once.
        Acquire,
        /// `release()` (on a bounded semaphore it may be refused).
        Release,
        /// The task of the n-th live waiter (mod their count) runs: its future is polled.
        Turn(usize),
        /// The n-th live waiter is cancelled: its future is dropped.
        Cancel(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Acquire),
            2 => Just(Op::Release),
            3 => (0usize..8).prop_map(Op::Turn),
            2 => (0usize..8).prop_map(Op::Cancel),
        ];
        prop::collection::vec(op, 1..80)
    }

    /// A waiter's future: `done` once CPython would have called `set_result` on it.
    struct PyFut {
        id: usize,
        done: bool,
    }

    /// CPython 3.11 `Semaphore` / `BoundedSemaphore`.
    struct PySem {
        value: usize,
        bound: Option<usize>,
        waiters: VecDeque<PyFut>,
    }

    impl PySem {
        fn locked(&self) -> bool {
            self.value == 0 || !self.waiters.is_empty()
        }
        fn wake_up_next(&mut self) {
            if let Some(f) = self.waiters.iter_mut().find(|f| !f.done) {
                self.value -= 1;
                f.done = true;
            }
        }
        /// `acquire()` up to its first suspension: true if it returned at once.
        fn acquire(&mut self, id: usize) -> bool {
            if !self.locked() {
                self.value -= 1;
                return true;
            }
            self.waiters.push_back(PyFut { id, done: false });
            false
        }
        fn release(&mut self) -> bool {
            if self.bound.is_some_and(|b| self.value >= b) {
                return false; // ValueError
            }
            self.value += 1;
            self.wake_up_next();
            true
        }
        fn position(&self, id: usize) -> usize {
            self.waiters.iter().position(|f| f.id == id).unwrap()
        }
        /// The waiter's task runs: true if its acquire() returns.
        fn turn(&mut self, id: usize) -> bool {
            let at = self.position(id);
            if !self.waiters[at].done {
                return false;
            }
            self.waiters.remove(at);
            if self.value > 0 {
                self.wake_up_next();
            }
            true
        }
        fn cancel(&mut self, id: usize) {
            let at = self.position(id);
            let fut = self.waiters.remove(at).unwrap();
            if fut.done {
                self.value += 1;
                self.wake_up_next();
            }
        }
    }

    /// CPython 3.11 `Lock`.
    struct PyLock {
        locked: bool,
        waiters: VecDeque<PyFut>,
    }

    impl PyLock {
        fn wake_up_first(&mut self) {
            if let Some(f) = self.waiters.front_mut() {
                f.done = true;
            }
        }
        fn acquire(&mut self, id: usize) -> bool {
            if !self.locked && self.waiters.is_empty() {
                self.locked = true;
                return true;
            }
            self.waiters.push_back(PyFut { id, done: false });
            false
        }
        fn release(&mut self) -> bool {
            if !self.locked {
                return false; // RuntimeError('Lock is not acquired.')
            }
            self.locked = false;
            self.wake_up_first();
            true
        }
        fn position(&self, id: usize) -> usize {
            self.waiters.iter().position(|f| f.id == id).unwrap()
        }
        fn turn(&mut self, id: usize) -> bool {
            let at = self.position(id);
            if !self.waiters[at].done {
                return false;
            }
            self.waiters.remove(at);
            self.locked = true;
            true
        }
        fn cancel(&mut self, id: usize) {
            let at = self.position(id);
            self.waiters.remove(at);
            if !self.locked {
                self.wake_up_first();
            }
        }
    }

    type Waiting<'a> = Vec<(usize, Pin<Box<dyn Future<Output = ()> + 'a>>)>;

    fn poll_ready(fut: &mut Pin<Box<dyn Future<Output = ()> + '_>>) -> bool {
        fut.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    fn check_semaphore(initial: usize, bounded: bool, ops: &[Op]) -> Result<(), TestCaseError> {
        let plain = Semaphore::new(initial);
        let bound = BoundedSemaphore::new(initial);
        let mut model = PySem {
            value: initial,
            bound: bounded.then_some(initial),
            waiters: VecDeque::new(),
        };
        let mut live: Waiting<'_> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Acquire => {
                    let mut fut: Pin<Box<dyn Future<Output = ()>>> = if bounded {
                        Box::pin(bound.acquire())
                    } else {
                        Box::pin(plain.acquire())
                    };
                    let now = poll_ready(&mut fut);
                    prop_assert_eq!(now, model.acquire(id), "acquire #{} at once", id);
                    if !now {
                        live.push((id, fut));
                    }
                }
                Op::Release => {
                    let ok = if bounded {
                        bound.release().is_ok()
                    } else {
                        plain.release();
                        true
                    };
                    prop_assert_eq!(ok, model.release(), "release #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let through = poll_ready(&mut live[at].1);
                    prop_assert_eq!(through, model.turn(live[at].0), "turn of #{}", live[at].0);
                    if through {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            let (value, locked) = if bounded {
                (bound.value(), bound.locked())
            } else {
                (plain.value(), plain.locked())
            };
            prop_assert_eq!(value, model.value, "value after step {} {:?}", id, op);
            prop_assert_eq!(locked, model.locked(), "locked after step {} {:?}", id, op);
        }
        Ok(())
    }

    fn check_lock(ops: &[Op]) -> Result<(), TestCaseError> {
        let lock = Lock::new();
        let mut model = PyLock {
            locked: false,
            waiters: VecDeque::new(),
        };
        let mut live: Waiting<'_> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Acquire => {
                    let mut fut: Pin<Box<dyn Future<Output = ()>>> = Box::pin(lock.acquire());
                    let now = poll_ready(&mut fut);
                    prop_assert_eq!(now, model.acquire(id), "acquire #{} at once", id);
                    if !now {
                        live.push((id, fut));
                    }
                }
                Op::Release => {
                    prop_assert_eq!(lock.release().is_ok(), model.release(), "release #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let through = poll_ready(&mut live[at].1);
                    prop_assert_eq!(through, model.turn(live[at].0), "turn of #{}", live[at].0);
                    if through {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            prop_assert_eq!(
                lock.locked(),
                model.locked,
                "locked after step {} {:?}",
                id,
                op
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0x5e_4a_f0),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn semaphore_follows_cpython_under_any_interleaving(initial in 0usize..4, ops in ops()) {
            check_semaphore(initial, false, &ops)?;
        }

        #[test]
        fn bounded_semaphore_follows_cpython_under_any_interleaving(
            initial in 0usize..4,
            ops in ops(),
        ) {
            check_semaphore(initial, true, &ops)?;
        }

        #[test]
        fn lock_follows_cpython_under_any_interleaving(ops in ops()) {
            check_lock(&ops)?;
        }
    }
}

// ---- Queue against CPython's algorithm -------------------------------------------------------

/// As `against_cpython` above, for `Queue`: random interleavings of put, get, put_nowait,
/// get_nowait, a waiter's turn and a waiter's cancellation, on the real queue and on a model
/// of CPython 3.11's `queues.py` (`_putters` / `_getters` deques, `_wakeup_next`, the
/// `while self.full()` / `while self.empty()` loops, the cancellation paths); a dropped
/// Rust future leaves its deque at once. Both must agree on every outcome and on `qsize()`.
mod queue_against_cpython {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use std::collections::VecDeque;

    #[derive(Clone, Debug)]
    enum Op {
        Put,
        Get,
        PutNowait,
        GetNowait,
        /// The task of the n-th live waiter (mod their count) runs.
        Turn(usize),
        /// The n-th live waiter is cancelled.
        Cancel(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Put),
            3 => Just(Op::Get),
            1 => Just(Op::PutNowait),
            1 => Just(Op::GetNowait),
            4 => (0usize..8).prop_map(Op::Turn),
            2 => (0usize..8).prop_map(Op::Cancel),
        ];
        prop::collection::vec(op, 1..80)
    }

    /// A waiting `put(item)` (Some) or `get()` (None), and whether its future is done.
    struct PyWaiter {
        id: usize,
        item: Option<usize>,
        done: bool,
    }

    struct PyQueue {
        maxsize: usize,
        items: VecDeque<usize>,
        putters: VecDeque<usize>,
        getters: VecDeque<usize>,
        waiters: Vec<PyWaiter>,
    }

    impl PyQueue {
        fn full(&self) -> bool {
            self.maxsize > 0 && self.items.len() >= self.maxsize
        }
        fn waiter(&mut self, id: usize) -> &mut PyWaiter {
            self.waiters.iter_mut().find(|w| w.id == id).unwrap()
        }
        /// `_wakeup_next`: every future left in a deque is pending here.
        fn wakeup_next(&mut self, getters: bool) {
            let next = if getters {
                self.getters.pop_front()
            } else {
                self.putters.pop_front()
            };
            if let Some(id) = next {
                self.waiter(id).done = true;
            }
        }
        fn put_nowait(&mut self, item: usize) -> bool {
            if self.full() {
                return false;
            }
            self.items.push_back(item);
            self.wakeup_next(true);
            true
        }
        fn get_nowait(&mut self) -> Option<usize> {
            let item = self.items.pop_front()?;
            self.wakeup_next(false);
            Some(item)
        }
        /// One step of `put` / `get` for waiter `id` (new or woken): `Some(outcome)` when it
        /// returns (`None` item for a put), `None` when it waits (again).
        fn step(&mut self, id: usize, item: Option<usize>) -> Option<Option<usize>> {
            match item {
                Some(item) => {
                    if self.full() {
                        self.putters.push_back(id);
                        return None;
                    }
                    assert!(self.put_nowait(item));
                    Some(None)
                }
                None => {
                    if self.items.is_empty() {
                        self.getters.push_back(id);
                        return None;
                    }
                    Some(self.get_nowait())
                }
            }
        }
        fn start(&mut self, id: usize, item: Option<usize>) -> Option<Option<usize>> {
            let out = self.step(id, item);
            if out.is_none() {
                self.waiters.push(PyWaiter {
                    id,
                    item,
                    done: false,
                });
            }
            out
        }
        fn turn(&mut self, id: usize) -> Option<Option<usize>> {
            let w = self.waiter(id);
            if !w.done {
                return None;
            }
            w.done = false;
            let item = w.item;
            let out = self.step(id, item);
            if out.is_some() {
                self.waiters.retain(|w| w.id != id);
            }
            out
        }
        fn cancel(&mut self, id: usize) {
            let at = self.waiters.iter().position(|w| w.id == id).unwrap();
            let w = self.waiters.remove(at);
            let putter = w.item.is_some();
            let deque = if putter {
                &mut self.putters
            } else {
                &mut self.getters
            };
            deque.retain(|&k| k != id);
            if putter && w.done && !self.full() {
                self.wakeup_next(false);
            }
            if !putter && w.done && !self.items.is_empty() {
                self.wakeup_next(true);
            }
        }
    }

    enum Live<'a> {
        Put(Put<'a, usize>),
        Get(Get<'a, usize>),
    }

    impl Live<'_> {
        fn poll(&mut self) -> Option<Option<usize>> {
            let mut cx = Context::from_waker(Waker::noop());
            match self {
                Live::Put(p) => match Pin::new(p).poll(&mut cx) {
                    Poll::Ready(()) => Some(None),
                    Poll::Pending => None,
                },
                Live::Get(g) => match Pin::new(g).poll(&mut cx) {
                    Poll::Ready(item) => Some(Some(item)),
                    Poll::Pending => None,
                },
            }
        }
    }

    fn check(maxsize: usize, ops: &[Op]) -> Result<(), TestCaseError> {
        let q: Queue<usize> = Queue::new(maxsize);
        let mut model = PyQueue {
            maxsize,
            items: VecDeque::new(),
            putters: VecDeque::new(),
            getters: VecDeque::new(),
            waiters: Vec::new(),
        };
        let mut live: Vec<(usize, Live<'_>)> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Put | Op::Get => {
                    let (mut fut, item) = match op {
                        Op::Put => (Live::Put(q.put(id)), Some(id)),
                        _ => (Live::Get(q.get()), None),
                    };
                    let out = fut.poll();
                    prop_assert_eq!(out, model.start(id, item), "{:?} #{}", op, id);
                    if out.is_none() {
                        live.push((id, fut));
                    }
                }
                Op::PutNowait => {
                    let ok = q.put_nowait(id).is_ok();
                    prop_assert_eq!(ok, model.put_nowait(id), "put_nowait #{}", id);
                }
                Op::GetNowait => {
                    let got = q.get_nowait().ok();
                    prop_assert_eq!(got, model.get_nowait(), "get_nowait #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let wid = live[at].0;
                    let out = live[at].1.poll();
                    prop_assert_eq!(out, model.turn(wid), "turn of #{}", wid);
                    if out.is_some() {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            prop_assert_eq!(q.qsize(), model.items.len(), "qsize after {} {:?}", id, op);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0x90_e0_e5),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn queue_follows_cpython_under_any_interleaving(maxsize in 0usize..4, ops in ops()) {
            check(maxsize, &ops)?;
        }
    }
}
