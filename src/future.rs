//! `LoopFuture`: a result that some code sets and other code awaits or is called back for
//! (Python's `asyncio.Future`, made by `loop.create_future()`).
//!
//! Mirrors `Future` in CPython `Lib/asyncio/futures.py` (L26): one outcome (a result, an
//! exception, or cancelled), set once; done-callbacks scheduled with `call_soon` in the order
//! they were added, never called in place (L4), also when added to a future already done;
//! `result()` of a pending future is `InvalidState("Result is not ready.")`. The classic use
//! is the docs' protocol examples: `connection_lost` sets a future the main code awaits.
//!
//! The Rust shape: a cloneable handle (`Rc`); awaiting a handle gives `Result<T, Error>` and
//! needs `T: Clone`, since every awaiter gets the result. Ground rules: the state cell is
//! never borrowed while a waker, a callback or user code runs; dropping an awaiting handle
//! leaves the future as it is (cancelling is explicit, [`LoopFuture::cancel`]).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::event_loop::exception::ExceptionContext;
use crate::event_loop::executor::waker::wake_in;
use crate::event_loop::LoopHandle;

/// A done-callback: called once with the future, from the loop.
type DoneCallback<T> = Box<dyn FnOnce(&LoopFuture<T>)>;

/// The id of a done-callback, for [`LoopFuture::remove_done_callback`]: returned by
/// [`add_done_callback`](LoopFuture::add_done_callback); the example on
/// [`remove_done_callback`](LoopFuture::remove_done_callback) uses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

/// Where a future is in its life: pending, then one outcome for good.
enum Outcome<T> {
    Pending,
    Result(T),
    Exception(Error),
    Cancelled,
}

struct State<T> {
    outcome: Outcome<T>,
    /// Tasks awaiting a handle, in the order they began to wait: woken when the outcome is
    /// set. A handle dropped while waiting takes its count back, so tasks that stopped waiting
    /// leave nothing behind.
    waiters: Vec<Waiter>,
    /// Added and not yet scheduled, in order.
    callbacks: Vec<(CallbackId, DoneCallback<T>)>,
    /// The next callback id, and the next waiter's place in the order: one count for both, so
    /// that completion can wake and schedule them in the order they were added (L26).
    next_id: u64,
}

/// A task awaiting a [`LoopFuture`] (CPython adds its `Task.__wakeup` as a done-callback).
struct Waiter {
    waker: Waker,
    /// How many handles wait under `waker`. Invariant: at least 1.
    handles: u32,
    /// When it began to wait, on the count of `State::next_id`.
    added: u64,
}

struct Inner<T> {
    lp: LoopHandle,
    state: RefCell<State<T>>,
    /// An exception was set with no task awaiting the future, and nobody has looked at it
    /// since (`result`, `exception`, an await, `cancel`): reported when the last handle goes
    /// (CPython's `__log_traceback`, L35).
    unretrieved: Cell<bool>,
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        if !self.unretrieved.get() {
            return;
        }
        let outcome = std::mem::replace(&mut self.state.get_mut().outcome, Outcome::Pending);
        if let Outcome::Exception(e) = outcome {
            report_never_retrieved(&self.lp, e);
        }
    }
}

/// CPython's `Future.__del__`: an exception set on a future that every handle let go of
/// unseen is reported through the loop's exception handler (on stderr by default).
// Checklist: L35.
#[cold]
#[inline(never)]
fn report_never_retrieved(lp: &LoopHandle, e: Error) {
    let future = format!("<LoopFuture finished exception={e}>");
    let ctx = ExceptionContext::new("Future exception was never retrieved")
        .with_exception(Box::new(e))
        .with_detail("future", future);
    // A custom handler that itself lets a failed future go unseen reports again from inside
    // this report, and so on without end (CPython's `__del__` runs such reports later, from
    // the collector). A report made inside the same loop's handler for one of these goes to
    // the default handler (its line on stderr) instead of round again.
    let me = Rc::as_ptr(&lp.inner) as usize;
    let entered = REPORTING.try_with(|r| {
        let mut r = r.borrow_mut();
        let fresh = !r.contains(&me);
        if fresh {
            r.push(me);
        }
        fresh
    });
    match entered {
        Ok(false) => crate::event_loop::exception::default_exception_handler(&ctx),
        Ok(true) => {
            let _leave = LeaveReport(me);
            lp.call_exception_handler(&ctx);
        }
        Err(_) => lp.call_exception_handler(&ctx), // thread exit: no record of who reports
    }
}

thread_local! {
    /// The loops (by address) whose exception handler runs a never-retrieved report on this
    /// thread, innermost last: never borrowed while user code runs.
    static REPORTING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Takes its loop off [`REPORTING`] when its report ends, however it ends.
struct LeaveReport(usize);

impl Drop for LeaveReport {
    fn drop(&mut self) {
        let _ = REPORTING.try_with(|r| {
            let mut r = r.borrow_mut();
            if let Some(at) = r.iter().rposition(|&l| l == self.0) {
                r.remove(at);
            }
        });
    }
}

/// A result set once and awaited by any number of tasks (Python's `asyncio.Future`), made by
/// [`LoopHandle::create_future`]. Cloning gives another handle to the same future.
///
/// # Examples
///
/// ```
/// use asyncio::{LoopFuture, Protocol, Transport};
///
/// /// The docs' echo client protocol: tells the main code when the connection is lost.
/// struct Client {
///     on_lost: LoopFuture<bool>,
/// }
/// impl Protocol for Client {
///     fn connection_made(&mut self, t: Transport) {
///         t.write(b"Hello World!").unwrap();
///         t.close();
///     }
///     fn connection_lost(&mut self, _exc: Option<std::io::Error>) {
///         let _ = self.on_lost.set_result(true);
///     }
/// }
///
/// asyncio::run(async {
/// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
/// #       w.write(&r.read(100).await?)?;
/// #       w.close();
/// #       w.wait_closed().await
/// #   };
/// #   let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
/// #   let port = server.sockets()[0].port().unwrap();
///     let lp = asyncio::get_running_loop()?;
///     let on_lost = lp.create_future();
///     let lost = on_lost.clone();
///     lp.create_connection(move || Client { on_lost: lost }, "127.0.0.1", port).await?;
///     assert!(on_lost.await?); // until connection_lost
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub struct LoopFuture<T> {
    inner: Rc<Inner<T>>,
    /// The waker this handle waits under (counted in `waiters`), while it waits.
    waiting: Option<Waker>,
}

impl<T> Clone for LoopFuture<T> {
    fn clone(&self) -> Self {
        LoopFuture {
            inner: self.inner.clone(),
            waiting: None,
        }
    }
}

impl<T> LoopFuture<T> {
    /// Takes this handle's count off its waker's entry (the entry goes at zero).
    fn stop_waiting(&mut self) {
        let Some(mine) = self.waiting.take() else {
            return;
        };
        let removed = {
            let mut state = self.inner.state.borrow_mut();
            let i = state.waiters.iter().position(|w| w.waker.will_wake(&mine));
            match i {
                Some(i) if state.waiters[i].handles > 1 => {
                    state.waiters[i].handles -= 1;
                    None
                }
                // `remove`, not `swap_remove`: the others keep their order.
                Some(i) => Some(state.waiters.remove(i)),
                None => None, // woken already: the outcome took the list
            }
        };
        drop(removed); // after the borrow: a waker's drop may run user code
        drop(mine);
    }
}

impl<T> Drop for LoopFuture<T> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

impl<T> fmt::Debug for LoopFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.inner.state.try_borrow().as_deref() {
            Ok(State {
                outcome: Outcome::Pending,
                ..
            }) => "pending",
            Ok(State {
                outcome: Outcome::Cancelled,
                ..
            }) => "cancelled",
            Ok(_) => "finished",
            Err(_) => "busy",
        };
        f.debug_struct("LoopFuture").field("state", &state).finish()
    }
}

impl LoopHandle {
    /// A new pending future on this loop (Python's `loop.create_future()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future();
    /// let setter = fut.clone();
    /// lp.call_soon(move || setter.set_result("ready"))?;
    /// assert_eq!(lp.run_until_complete(fut)??, "ready");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L26.
    pub fn create_future<T: 'static>(&self) -> LoopFuture<T> {
        LoopFuture {
            waiting: None,
            inner: Rc::new(Inner {
                lp: self.clone(),
                state: RefCell::new(State {
                    outcome: Outcome::Pending,
                    waiters: Vec::new(),
                    callbacks: Vec::new(),
                    next_id: 0,
                }),
                unretrieved: Cell::new(false),
            }),
        }
    }
}

impl<T: 'static> LoopFuture<T> {
    /// The loop the future belongs to (Python's `get_loop()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u8>();
    /// // Code that holds only the future can still schedule on its loop.
    /// let setter = fut.clone();
    /// fut.get_loop().call_soon(move || setter.set_result(1))?;
    /// assert_eq!(lp.run_until_complete(fut)??, 1);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_loop(&self) -> LoopHandle {
        self.inner.lp.clone()
    }

    /// Whether the outcome is set (a result, an exception, or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u8>();
    /// assert!(!fut.done());
    /// fut.set_result(1)?;
    /// assert!(fut.done() && !fut.cancelled());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        !matches!(self.inner.state.borrow().outcome, Outcome::Pending)
    }

    /// Whether the future was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u8>();
    /// assert!(!fut.cancelled());
    /// fut.cancel();
    /// assert!(fut.cancelled() && fut.done());
    /// assert!(fut.set_result(1).is_err(), "a cancelled future takes no result");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        matches!(self.inner.state.borrow().outcome, Outcome::Cancelled)
    }

    /// Sets the result: wakes every awaiter and schedules the done-callbacks.
    ///
    /// # Errors
    /// `Error::InvalidState` if the future is already done (the value is dropped), or if
    /// the loop is closed (the result is set, but no callback can be scheduled: as in
    /// CPython).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<&str>();
    /// assert!(!fut.done());
    /// fut.set_result("first")?;
    /// assert!(fut.done());
    /// assert!(fut.set_result("second").is_err(), "set once");
    /// assert_eq!(lp.run_until_complete(fut)??, "first");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), Error> {
        self.finish(Outcome::Result(value))
    }

    /// Sets an exception: every awaiter and every later [`result`](Self::result) gets it.
    /// If no task awaits the future as it is set, and nobody looks at it then
    /// ([`result`](Self::result), [`exception`](Self::exception), an await or
    /// [`cancel`](Self::cancel)) before the last handle is dropped, it is reported
    /// then through the loop's exception handler as `Future exception was never retrieved`,
    /// as in Python.
    ///
    /// # Errors
    /// As [`set_result`](Self::set_result).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let reply = lp.create_future::<u32>();
    ///     let waiter = asyncio::spawn(reply.clone());
    ///     asyncio::yield_now().await; // the task now awaits `reply`
    ///     reply.set_exception(asyncio::Error::InvalidArgument("bad reply".into()))?;
    ///     let got = waiter.await.expect("not cancelled");
    ///     assert_eq!(got.unwrap_err().to_string(), "bad reply");
    ///     let exc = reply.exception()?; // and every later look gets it too
    ///     assert_eq!(exc.map(|e| e.to_string()).as_deref(), Some("bad reply"));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_exception(&self, exc: Error) -> Result<(), Error> {
        self.finish(Outcome::Exception(exc))
    }

    /// Cancels the future: false if it was already done, else true, with every awaiter
    /// getting `Error::Cancelled` and the done-callbacks scheduled (none can be on a closed
    /// loop: the future is cancelled all the same).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let fut = lp.create_future::<()>();
    ///     let waiter = asyncio::spawn(fut.clone());
    ///     asyncio::yield_now().await; // the task now awaits `fut`
    ///     assert!(fut.cancel());
    ///     assert!(fut.cancelled() && fut.done());
    ///     assert!(!fut.cancel(), "already done");
    ///     assert!(matches!(waiter.await, Ok(Err(asyncio::Error::Cancelled))));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        // As CPython's: a failure of a done future counts as seen.
        self.inner.unretrieved.set(false);
        if self.done() {
            return false;
        }
        let _ = self.finish(Outcome::Cancelled);
        true
    }

    fn finish(&self, outcome: Outcome<T>) -> Result<(), Error> {
        let (waiters, callbacks) = {
            let mut state = self.inner.state.borrow_mut();
            if !matches!(state.outcome, Outcome::Pending) {
                drop(state);
                drop(outcome); // outside the borrow: its drop may be user code
                return Err(Error::invalid_state("invalid state"));
            }
            state.outcome = outcome;
            // A task awaiting a handle now is handed the exception: CPython's `Task.__wakeup`
            // retrieves it whatever the task does next (a cancel before the task runs again
            // included), so only a failure nobody awaits is left to look at.
            let failed = matches!(state.outcome, Outcome::Exception(_));
            self.inner
                .unretrieved
                .set(failed && state.waiters.is_empty());
            (
                std::mem::take(&mut state.waiters),
                std::mem::take(&mut state.callbacks),
            )
        };
        // L25, L26: a waiting task is one of the done-callbacks in CPython (its
        // `Task.__wakeup`), so tasks and callbacks go on the ready queue together, in the order
        // they were added. Our task's waker is queued in place, also while the loop is not
        // running (its `wake` would go through the thread-safe queue, behind every callback).
        // Set from a transport's I/O callback (a protocol's `data_received`), the tasks run in
        // this iteration and the callbacks in the next (D10), so the tasks come first there.
        let lp = &self.inner.lp;
        let mut waiters = waiters.into_iter().peekable();
        let mut scheduled = Ok(());
        for (id, cb) in callbacks {
            while let Some(w) = waiters.next_if(|w| w.added < id.0) {
                wake_in(lp, w.waker, "LoopFuture wake-up");
            }
            if scheduled.is_ok() {
                scheduled = self.schedule(cb);
            }
        }
        for w in waiters {
            wake_in(lp, w.waker, "LoopFuture wake-up");
        }
        scheduled
    }

    /// Schedules one done-callback with `call_soon` (L26).
    fn schedule(&self, cb: DoneCallback<T>) -> Result<(), Error> {
        let me = self.clone();
        self.inner.lp.call_soon(move || cb(&me)).map(drop)
    }

    /// The result, if the future is done with one.
    ///
    /// # Errors
    /// `Error::InvalidState("Result is not ready.")` while pending, `Error::Cancelled` if
    /// cancelled, the exception if one was set.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u32>();
    /// let early = fut.result().unwrap_err();
    /// assert!(matches!(early, asyncio::Error::InvalidState(_)));
    /// assert_eq!(early.to_string(), "Result is not ready.");
    /// fut.set_result(42)?;
    /// assert_eq!(fut.result()?, 42); // no await needed once it is done
    /// assert!(fut.exception()?.is_none());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn result(&self) -> Result<T, Error>
    where
        T: Clone,
    {
        self.inner.unretrieved.set(false);
        match &self.inner.state.borrow().outcome {
            Outcome::Pending => Err(Error::invalid_state("Result is not ready.")),
            Outcome::Result(v) => Ok(v.clone()),
            Outcome::Exception(e) => Err(e.duplicate()),
            Outcome::Cancelled => Err(Error::Cancelled),
        }
    }

    /// The exception, if the future is done with one (`None` if done with a result).
    ///
    /// # Errors
    /// `Error::InvalidState("Exception is not set.")` while pending, `Error::Cancelled` if
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u8>();
    /// assert!(matches!(fut.exception(), Err(asyncio::Error::InvalidState(_)))); // pending
    /// fut.set_result(1)?;
    /// assert!(fut.exception()?.is_none()); // done with a result
    ///
    /// let cancelled = lp.create_future::<u8>();
    /// cancelled.cancel();
    /// assert!(matches!(cancelled.exception(), Err(asyncio::Error::Cancelled)));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    ///
    /// [`set_exception`](Self::set_exception) shows a future done with one.
    pub fn exception(&self) -> Result<Option<Error>, Error> {
        self.inner.unretrieved.set(false);
        match &self.inner.state.borrow().outcome {
            Outcome::Pending => Err(Error::invalid_state("Exception is not set.")),
            Outcome::Result(_) => Ok(None),
            Outcome::Exception(e) => Ok(Some(e.duplicate())),
            Outcome::Cancelled => Err(Error::Cancelled),
        }
    }

    /// Adds a callback run with the future once it is done, scheduled with `call_soon` in
    /// the order of adding (at once, with `call_soon`, if it is done already).
    ///
    /// # Errors
    /// `Error::InvalidState` if the future is done and the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<u32>();
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// for name in ["first", "second"] {
    ///     let seen = seen.clone();
    ///     fut.add_done_callback(move |f| seen.borrow_mut().push((name, f.result().unwrap())))?;
    /// }
    /// fut.set_result(7)?; // schedules them; nothing runs yet
    /// assert!(seen.borrow().is_empty());
    /// lp.run_until_complete(fut)??;
    /// assert_eq!(*seen.borrow(), [("first", 7), ("second", 7)]);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn add_done_callback(
        &self,
        callback: impl FnOnce(&LoopFuture<T>) + 'static,
    ) -> Result<CallbackId, Error> {
        let mut state = self.inner.state.borrow_mut();
        let id = CallbackId(state.next_id);
        state.next_id += 1;
        if matches!(state.outcome, Outcome::Pending) {
            state.callbacks.push((id, Box::new(callback)));
            return Ok(id);
        }
        drop(state);
        self.schedule(Box::new(callback))?;
        Ok(id)
    }

    /// Removes a callback not yet scheduled; returns how many were removed (0 or 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let fut = lp.create_future::<()>();
    /// let called = Rc::new(Cell::new(false));
    /// let flag = called.clone();
    /// let id = fut.add_done_callback(move |_| flag.set(true))?;
    /// assert_eq!(fut.remove_done_callback(id), 1);
    /// assert_eq!(fut.remove_done_callback(id), 0); // gone already
    /// fut.set_result(())?;
    /// lp.run_until_complete(fut)??;
    /// assert!(!called.get());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn remove_done_callback(&self, id: CallbackId) -> usize {
        let removed: Vec<_> = {
            let mut state = self.inner.state.borrow_mut();
            let (gone, kept) = std::mem::take(&mut state.callbacks)
                .into_iter()
                .partition(|(i, _)| *i == id);
            state.callbacks = kept;
            gone
        };
        removed.len() // dropped after the borrow: a callback's drop may be user code
    }
}

/// Awaiting a handle waits for the outcome: the result, the exception, or
/// `Error::Cancelled`. Dropping a handle that waits only withdraws its wait: the future is
/// not cancelled (other handles may still want it), and nothing of the waiter stays behind.
impl<T: Clone + 'static> Future for LoopFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pending = matches!(self.inner.state.borrow().outcome, Outcome::Pending);
        if !pending {
            self.waiting = None; // the outcome took the list, our count with it
            return Poll::Ready(self.result());
        }
        if self
            .waiting
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        self.stop_waiting(); // polled by another task than before
        let counted = {
            let mut state = self.inner.state.borrow_mut();
            let found = state
                .waiters
                .iter_mut()
                .find(|w| w.waker.will_wake(cx.waker()));
            found.map(|w| w.handles += 1).is_some()
        };
        if !counted {
            // Cloned outside the borrow: a waker's clone is its executor's code, and may look
            // at this future.
            let waker = cx.waker().clone();
            let mut state = self.inner.state.borrow_mut();
            let added = state.next_id;
            state.next_id += 1;
            state.waiters.push(Waiter {
                waker,
                handles: 1,
                added,
            });
        }
        self.waiting = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::{Error, EventLoop};

    #[test]
    fn l26_callbacks_run_from_the_loop_in_order_also_when_added_late() {
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<&str>();
        let log = Rc::new(RefCell::new(Vec::new()));
        let add = |name: &'static str| {
            let log = log.clone();
            fut.add_done_callback(move |f| log.borrow_mut().push((name, f.result().unwrap())))
                .unwrap()
        };
        add("a");
        let b = add("b");
        add("c");
        assert_eq!(fut.remove_done_callback(b), 1);
        assert_eq!(fut.remove_done_callback(b), 0);
        assert!(matches!(fut.result(), Err(Error::InvalidState(m)) if m == "Result is not ready."));
        fut.set_result("x").unwrap();
        assert!(log.borrow().is_empty(), "L4: nothing runs in set_result");
        add("late"); // on a done future: scheduled too, after the others
        assert!(log.borrow().is_empty());
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
        assert_eq!(*log.borrow(), [("a", "x"), ("c", "x"), ("late", "x")]);
    }

    #[test]
    fn l26_one_outcome_for_good() {
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<u8>();
        fut.set_exception(Error::invalid_argument("bad")).unwrap();
        assert!(fut.done() && !fut.cancelled());
        assert!(matches!(fut.set_result(1), Err(Error::InvalidState(_))));
        assert!(!fut.cancel(), "done: cancel does nothing");
        assert!(matches!(fut.result(), Err(Error::InvalidArgument(m)) if m == "bad"));
        assert!(matches!(
            fut.exception(),
            Ok(Some(Error::InvalidArgument(_)))
        ));

        let c = lp.create_future::<u8>();
        assert!(c.cancel());
        assert!(c.cancelled() && c.done());
        assert!(matches!(c.result(), Err(Error::Cancelled)));
        assert!(matches!(c.exception(), Err(Error::Cancelled)));
        assert!(matches!(
            lp.run_until_complete(c),
            Ok(Err(Error::Cancelled))
        ));
    }

    #[test]
    fn every_awaiter_gets_the_result_and_a_dropped_one_changes_nothing() {
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<String>();
        let tasks: Vec<_> = (0..3).map(|_| lp.spawn(fut.clone()).unwrap()).collect();
        let given_up = lp.spawn(fut.clone()).unwrap();
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
        given_up.cancel();
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
        assert!(
            !fut.done(),
            "an awaiter cancelled leaves the future pending"
        );
        fut.set_result("all".to_string()).unwrap();
        for t in tasks {
            assert_eq!(lp.run_until_complete(t).unwrap().unwrap().unwrap(), "all");
        }
    }

    #[test]
    fn set_result_on_a_closed_loop_sets_it_and_says_so() {
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<u8>();
        fut.add_done_callback(|_| {}).unwrap();
        lp.close().unwrap();
        assert!(matches!(fut.set_result(3), Err(Error::InvalidState(_))));
        assert_eq!(fut.result().unwrap(), 3);
        let c = lp.create_future::<u8>();
        c.add_done_callback(|_| {}).unwrap();
        assert!(c.cancel(), "cancelled, though its callback cannot run");
        assert!(c.cancelled());
    }

    #[test]
    fn d12_waiters_that_gave_up_leave_nothing_behind() {
        // A long-lived future awaited with a timeout by many short-lived tasks (a shutdown
        // signal, say): each waiter that gives up takes its waker back, so the list does not
        // grow with every task that ever waited.
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<u8>();
        let f = fut.clone();
        lp.run_until_complete(async move {
            for _ in 0..100 {
                let g = f.clone();
                let t = crate::spawn(async move {
                    crate::timeout(std::time::Duration::ZERO, g).await.is_err()
                });
                assert_eq!(t.await, Ok(true), "timed out");
            }
        })
        .unwrap();
        assert!(fut.inner.state.borrow().waiters.is_empty());
    }

    #[test]
    fn two_handles_in_one_task_share_a_waker_and_one_leaving_keeps_the_other_woken() {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::{Context, Poll};
        let lp = EventLoop::new().unwrap();
        let fut = lp.create_future::<u8>();
        let (mut a, mut b) = (fut.clone(), fut.clone());
        let woken = std::sync::Arc::new(Counter::default());
        let waker = std::task::Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
        assert!(
            Pin::new(&mut b).poll(&mut cx).is_pending(),
            "a re-poll counts once"
        );
        assert_eq!(fut.inner.state.borrow().waiters[0].handles, 2);
        drop(a);
        assert_eq!(fut.inner.state.borrow().waiters.len(), 1, "b still waits");
        fut.set_result(9).unwrap();
        assert_eq!(woken.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(matches!(Pin::new(&mut b).poll(&mut cx), Poll::Ready(Ok(9))));
        drop(b);
        assert!(fut.inner.state.borrow().waiters.is_empty());
    }

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
