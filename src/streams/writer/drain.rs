//! [`Drain`], the future of [`StreamWriter::drain`]: one tag to test on its fast path,
//! and past it the waits for a full buffer, a paused writer, a user holding the stream's
//! protocol, and their clean-up when a drain is dropped part-way.

use super::*;
use crate::protocol::{wake_when_cell_free, HeldSlot};

/// The future of [`StreamWriter::drain`]: ready at once in the common case (nothing failed,
/// nothing paused, the transport open), else it waits as `drain` describes.
///
/// # Examples
///
/// ```
/// # asyncio::run(async {
/// # let (a, b) = asyncio::socketpair()?;
/// # let (_, writer) = asyncio::open_connection_sock(a).await?;
/// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
/// writer.write(b"hi")?;
/// let drained: asyncio::streams::Drain<'_> = writer.drain();
/// drained.await?;
/// assert_eq!(reader.readexactly(2).await?, b"hi");
/// # writer.close();
/// # peer.close();
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Drain<'a> {
    writer: &'a StreamWriter,
    /// `None` until a poll leaves the fast path: a fresh or fast drain is one tag to set, test
    /// and drop (a field of its own beside the step cost the echo path 4 instructions).
    slow: Option<SlowDrain>,
}

/// A [`Drain`] past its fast path.
struct SlowDrain {
    step: DrainStep,
    /// While its user holds the stream's protocol: the waker its retry (`when_cell_free`)
    /// wakes once the borrow ends. The retry holds it weakly (a weak count while it waits),
    /// so that a poll meanwhile hands over its waker instead of queueing a retry of its own,
    /// and a drain dropped first takes its waker with it: the retry then wakes nobody.
    held: HeldSlot,
}

/// Where a [`Drain`] is.
#[derive(Clone, Copy)]
enum DrainStep {
    /// Not polled yet: the common case is decided in one borrow.
    Start,
    /// The transport was closing: one turn was yielded so that a `connection_lost` already
    /// scheduled runs first; now check again.
    Yielded,
    /// Paused: waiting for a `resume_writing` after the one counted at `start`, or the loss.
    /// `since`: when the wait began on the loop's clock, if dated (under a drain timeout);
    /// while it is set the drain is counted in `Deadlines::drains_dated`. `key`: its
    /// registration among the core's waiters (`wakers.rs`): polled again while waiting, the
    /// drain replaces its waker rather than add one (only the last poll's must be woken), and
    /// dropped, or done, it takes the entry back (none once a wake-up of all took it).
    Waiting {
        start: u32,
        since: Option<i64>,
        key: u64,
    },
}

impl<'a> Drain<'a> {
    #[inline]
    pub(super) fn new(writer: &'a StreamWriter) -> Drain<'a> {
        Drain { writer, slow: None }
    }
}

impl Future for Drain<'_> {
    type Output = Result<(), Error>;

    /// Inlined into the caller: the common drain (nothing to wait for) is a few tests.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.slow.is_none() {
            // The fast path, out of which nothing else is inlined: nothing to wait for.
            let writer = this.writer;
            // Borrowed elsewhere (a user holding the stream's protocol): the slow path waits.
            if let Ok(core) = writer.core.try_borrow() {
                if core.flow() == Flow::Flowing
                    && !core.reader.has_exception()
                    && !writer.transport.is_closing()
                {
                    return Poll::Ready(Ok(()));
                }
            }
        }
        this.poll_slow(cx)
    }
}

impl Drain<'_> {
    /// Every step but the fast one: an exception, closing, paused, waiting.
    #[cold]
    #[inline(never)]
    fn poll_slow(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        let this = self;
        let writer = this.writer;
        let lp = writer.transport.get_loop();
        if lp.is_closed() && writer.core.try_borrow().map_or(true, |c| !c.is_lost()) {
            // The loop closed while the user held the core (still holds it, or did as it
            // closed, so the transport could not tell it of the loss): no retry and no resume
            // can come any more. End with the loss the core would have heard (D14: no wait
            // hangs); the step stays, for `Drop` to settle a dated wait.
            return Poll::Ready(Err(Error::Io(crate::error::loop_closed_io())));
        }
        if writer.core.try_borrow_mut().is_err() {
            // A user holds the stream's protocol (`get_protocol()`, borrowed across an
            // `.await`): no step below can look at it. Polled again once it is free, retried
            // as a transport retries a held protocol (`Hold`); the step stays as it was.
            wake_when_free(writer, &mut this.slow_mut().held, cx);
            return Poll::Pending;
        }
        match this.slow_mut().step {
            DrainStep::Start => {
                let core = writer.core.borrow();
                if let Some(e) = core.reader.exception() {
                    return Poll::Ready(Err(e));
                }
                let closing = writer.transport.is_closing();
                if core.flow() == Flow::Flowing && !closing {
                    return Poll::Ready(Ok(()));
                }
                drop(core);
                if closing {
                    // S49: let a connection_lost already scheduled run before the check below.
                    this.slow_mut().step = DrainStep::Yielded;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                this.poll_paused(cx)
            }
            DrainStep::Yielded => this.poll_paused(cx),
            DrainStep::Waiting { start, since, key } => {
                let mut core = writer.core.borrow_mut();
                let outcome = if core.resumes != start {
                    Some(Ok(()))
                } else {
                    core.lost_outcome()
                };
                if let Some(outcome) = outcome {
                    if let (Some(_), Some(dl)) = (since, &mut core.deadlines) {
                        dl.drain_wait_ended();
                    }
                    // Polled again, it re-checks from scratch.
                    this.slow_mut().step = DrainStep::Yielded;
                    let entry = core.remove_keyed_waiter(key); // none after a wake-up of all
                    drop(core);
                    drop(entry); // after the borrow: dropping a waker may run its task's code
                    return Poll::Ready(outcome);
                }
                drop(core);
                this.wait(start, since, key, cx)
            }
        }
    }

    /// The state past the fast path, made at its first slow poll.
    fn slow_mut(&mut self) -> &mut SlowDrain {
        self.slow.get_or_insert(SlowDrain {
            step: DrainStep::Start,
            held: None,
        })
    }

    /// After the fast path: lost, flowing again, or wait for the next `resume_writing`.
    fn poll_paused(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        let core = self.writer.core.borrow_mut();
        match core.flow() {
            Flow::Lost => Poll::Ready(Err(Error::Io(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "Connection lost",
            )))),
            Flow::Flowing => Poll::Ready(Ok(())),
            Flow::Paused => {
                let start = core.resumes;
                drop(core);
                self.wait(start, None, 0, cx)
            }
        }
    }

    /// Waits (again) for the resume counted after `start`, unless the drain timeout, counted
    /// from `since` (the first wait), has passed; `key`: the wait's registration (0 before
    /// the first).
    fn wait(
        &mut self,
        start: u32,
        since: Option<i64>,
        key: u64,
        cx: &Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let mut guard = self.writer.core.borrow_mut();
        let core = &mut *guard;
        let mut since = since;
        // Dated only under a drain timeout: a drain that began to wait without one counts
        // from the first look after a timeout is set (`set_drain_timeout` wakes it).
        if let Some(dl) = core
            .deadlines
            .as_mut()
            .filter(|d| d.drain_timeout().is_some())
        {
            let began = match since {
                Some(t) => t,
                None => {
                    dl.drain_wait_dated();
                    *since.insert(dl.fresh_now())
                }
            };
            if dl.drain_timed_out(began, &core.me) {
                dl.drain_wait_ended();
                // Polled again, it re-checks from scratch.
                self.slow_mut().step = DrainStep::Yielded;
                let entry = core.remove_keyed_waiter(key);
                drop(guard);
                drop(entry); // after the borrow: dropping a waker may run its task's code
                return Poll::Ready(Err(Error::Timeout));
            }
        } else if since.take().is_some() {
            // No timeout now (cleared while waiting): a later one counts from its own call,
            // and this drain leaves the dated ones (their last takes the timer away).
            if let Some(dl) = &mut core.deadlines {
                dl.drain_wait_ended();
            }
        }
        let mut key = key;
        let replaced = core.add_keyed_waiter(&mut key, cx.waker());
        self.slow_mut().step = DrainStep::Waiting { start, since, key };
        drop(guard);
        drop(replaced); // after the borrow: dropping a waker may run its task's code
        Poll::Pending
    }
}

/// Files `cx`'s waker to be woken once the user's borrow of `writer`'s protocol ends (a
/// drain's wait on a held protocol), through one retry per wait
/// (`wake_when_cell_free`).
#[cold]
#[inline(never)]
pub(super) fn wake_when_free(writer: &StreamWriter, slot: &mut HeldSlot, cx: &Context<'_>) {
    let (lp, id) = (writer.transport.get_loop(), writer.transport.id());
    wake_when_cell_free(lp, id, Rc::downgrade(&writer.core), slot, cx);
}

/// A drain that waited takes its waker back when dropped, and one dropped while its wait is
/// dated leaves no drain deadline behind for the timer (one branch for every other drain).
impl Drop for Drain<'_> {
    #[inline]
    fn drop(&mut self) {
        // One test of the state's tag for a fast drain: the slow state's fields (the step,
        // the held retry's slot) are all let go of out of line.
        if self.slow.is_some() {
            self.slow_dropped();
        }
    }
}

impl Drain<'_> {
    #[cold]
    #[inline(never)]
    fn slow_dropped(&mut self) {
        let Some(slow) = self.slow.take() else {
            return;
        };
        if let DrainStep::Waiting { since, key, .. } = slow.step {
            let settle = move |cell: &RefCell<StreamCore>| {
                let mut core = cell.borrow_mut();
                if let (Some(_), Some(dl)) = (since, &mut core.deadlines) {
                    dl.drain_wait_ended();
                }
                let waker = core.remove_keyed_waiter(key);
                drop(core);
                drop(waker); // after the borrow: dropping a waker may run its task's code
            };
            // Held by a user, settled once the borrow ends, or else its waker would stay among
            // the waiters and its dated wait be counted for good.
            self.writer.settle_when_free(Box::new(settle));
        }
        drop(slow); // the held retry's slot, if any
    }
}

impl fmt::Debug for Drain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}
