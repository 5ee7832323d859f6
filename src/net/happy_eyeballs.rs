//! Happy eyeballs: the staggered race of connection attempts, and the error `create_connection`
//! raises when every attempt failed.
//!
//! Mirrors `staggered_race` in CPython `Lib/asyncio/staggered.py` (L91) and the error
//! combination at the end of `BaseEventLoop.create_connection` in `base_events.py` (L92).
//!
//! CPython runs each attempt in its own task, chained by `Event`s and `wait_for(…, delay)`. Here
//! the race is one future that owns its attempts: a `Vec` of boxed, pinned attempt futures, oldest
//! first, and one [`Sleep`] re-armed in place ([`Sleep::reset`]) each time an attempt starts.
//! Cancelling an attempt is dropping its future (which closes its socket); dropping the race
//! drops them all, so no task outlives it and nothing needs awaiting after a cancel.
//!
//! Ground rules: attempt closures and futures are user code, called with no borrow held (the
//! race has no `RefCell`); every poll of the race polls every running attempt, oldest first,
//! which is cheap for the handful of addresses a name resolves to. Calls down only into
//! `crate::time`.

use std::future::{poll_fn, Future};
use std::io;
use std::iter::Enumerate;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event_loop::current_loop;
use crate::time::{sleep, Sleep};

/// Runs `attempts` with staggered starts and returns the first success (Python's
/// `staggered.staggered_race`, L91).
///
/// Attempt 0 starts at once. The next attempt starts when the most recently started one fails
/// or `delay` passes since it started, whichever comes first. (CPython also takes `delay=None`,
/// attempts strictly one after another; `create_connection` without a delay does that with a
/// plain loop, `connect_in_turn` in `connect.rs`, so this race always staggers.) The first
/// attempt to succeed wins and every other running attempt is dropped at once (its socket
/// closed). If attempts finish between two polls of the race, the oldest ready one wins
/// (CPython: the first to resume).
///
/// Returns the winner's output and index, or `None` when every attempt failed (or there were
/// none), together with the error of every attempt that failed, in attempt order. Unlike
/// CPython's list, attempts dropped because another won leave no entry (CPython records a
/// `CancelledError` for them), and the winner leaves no `None`.
///
/// # Panics
/// When the race is polled outside a running loop (it sleeps).
///
/// # Cancel safety
/// Dropping the future drops every running attempt and the delay timer; attempts not yet
/// started are never called.
pub(crate) async fn staggered_race<T, F, Fut>(attempts: Vec<F>, delay: Duration) -> RaceOutcome<T>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut race = Race {
        exceptions: Vec::with_capacity(attempts.len()),
        pending: attempts.into_iter().enumerate(),
        running: Vec::new(),
        delay,
        timer: None,
    };
    poll_fn(|cx| race.poll_race(cx)).await
}

/// What [`staggered_race`] returns: the winner's output and index, if any, and the errors of the
/// attempts that failed, in attempt order (Python's `(winner_result, winner_index, exceptions)`).
pub(crate) type RaceOutcome<T> = (Option<(T, usize)>, Vec<Error>);

/// The state of one [`staggered_race`].
struct Race<F, Fut> {
    /// Attempts not yet started, with their indexes.
    pending: Enumerate<std::vec::IntoIter<F>>,
    /// Attempts started and not yet finished, oldest first (indexes increasing).
    running: Vec<(usize, Pin<Box<Fut>>)>,
    /// One entry per started attempt: its error once it failed. Invariant: `len()` is the
    /// number of attempts started, so the newest attempt's index is `len() - 1`.
    exceptions: Vec<Option<Error>>,
    /// The stagger: the next attempt starts this long after the newest one at the latest.
    delay: Duration,
    /// Due `delay` after the newest attempt started. Invariant: `Some` only while an attempt is
    /// still pending, so a finished stagger holds no wheel entry.
    timer: Option<Sleep>,
}

impl<F, Fut> Race<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    fn poll_race<T>(&mut self, cx: &mut Context<'_>) -> Poll<RaceOutcome<T>>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        loop {
            let mut newest_failed = false;
            let mut i = 0;
            while i < self.running.len() {
                let (index, fut) = &mut self.running[i];
                let index = *index;
                match fut.as_mut().poll(cx) {
                    Poll::Pending => i += 1,
                    Poll::Ready(Ok(output)) => {
                        self.running.clear(); // the losers' sockets close here
                        self.timer = None;
                        return Poll::Ready((Some((output, index)), self.take_errors()));
                    }
                    Poll::Ready(Err(e)) => {
                        drop(self.running.remove(i));
                        self.exceptions[index] = Some(e);
                        newest_failed |= index + 1 == self.exceptions.len();
                    }
                }
            }
            let start_next = newest_failed || self.running.is_empty() || self.delay_passed(cx);
            if start_next && self.start_next() {
                continue; // poll the new attempt now
            }
            if self.running.is_empty() {
                debug_assert_eq!(self.pending.len(), 0, "race ended with attempts left");
                return Poll::Ready((None, self.take_errors()));
            }
            return Poll::Pending;
        }
    }

    /// Whether the stagger timer has fired (registering the waker if not).
    fn delay_passed(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.timer {
            Some(timer) => Pin::new(timer).poll(cx).is_ready(),
            None => false,
        }
    }

    /// Starts the next attempt and re-arms the timer; false when none is left.
    fn start_next(&mut self) -> bool {
        let Some((index, attempt)) = self.pending.next() else {
            return false;
        };
        debug_assert_eq!(
            index,
            self.exceptions.len(),
            "attempt {index} started out of turn"
        );
        self.exceptions.push(None);
        self.running.push((index, Box::pin(attempt())));
        let timer = self.timer.take();
        self.timer = if self.pending.len() == 0 {
            None // the last attempt started: nothing left to stagger
        } else if let Some(mut timer) = timer {
            let now = current_loop().map_or_else(Instant::now, |lp| lp.time());
            timer.reset(crate::event_loop::clock::deadline_after(now, self.delay));
            Some(timer)
        } else {
            Some(sleep(self.delay))
        };
        true
    }

    fn take_errors(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.exceptions)
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The one error `create_connection` reports when no attempt connected (L92).
///
/// - none recorded (possible under happy eyeballs) → `Error::Io(TimedOut,
///   "create_connection failed")`;
/// - exactly one → it, unchanged;
/// - several with the same text → the first;
/// - otherwise `Error::Io` with `Multiple exceptions: ` and every message joined by `, `, of the
///   kind they all share, else [`io::ErrorKind::Other`], and with the OS error number they all
///   share, if any (CPython's has none; ours keeps it, as every failed system call's error
///   does: `raw_os_error()` is 111 when every address refused).
pub(crate) fn combine_errors(mut errors: Vec<Error>) -> Error {
    // One pass over the errors in place (no second Vec of them), the message built by hand
    // (no `join`): this runs once per failed connect, and every byte of it ships in every client.
    let Some(first) = errors.first() else {
        return Error::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "create_connection failed",
        ));
    };
    let model = crate::error::text_of(first);
    let mut kind = Some(first.kind());
    let mut code = first.raw_os_error();
    let mut message = String::from("Multiple exceptions: ");
    message.push_str(&model);
    let mut same_text = true;
    for e in &errors[1..] {
        let text = crate::error::text_of(e);
        same_text &= text == model;
        if kind != Some(e.kind()) {
            kind = None;
        }
        if code != e.raw_os_error() {
            code = None;
        }
        message.push_str(", ");
        message.push_str(&text);
    }
    if same_text {
        return errors.swap_remove(0);
    }
    let kind = kind.unwrap_or(io::ErrorKind::Other);
    Error::Io(match code {
        Some(code) => crate::error::OsError::shared(kind, code, message),
        None => io::Error::new(kind, message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::clock::ManualClock;
    use crate::event_loop::EventLoop;
    use crate::time::timeout;
    use std::cell::RefCell;
    use std::future::pending;
    use std::rc::Rc;
    use std::task::Waker;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An ordered record of what attempts did, with virtual times.
    #[derive(Clone, Default)]
    struct Log(Rc<RefCell<Vec<String>>>);

    impl Log {
        fn push(&self, s: impl Into<String>) {
            self.0.borrow_mut().push(s.into());
        }
        fn get(&self) -> Vec<String> {
            self.0.borrow().clone()
        }
    }

    /// Logs `cancel {index}` when dropped before [`disarm`](Self::disarm): the attempt's future
    /// was dropped while running.
    struct CancelGuard(Option<(Log, usize)>);

    impl CancelGuard {
        fn disarm(mut self) {
            self.0 = None;
        }
    }

    impl Drop for CancelGuard {
        fn drop(&mut self) {
            if let Some((log, i)) = self.0.take() {
                log.push(format!("cancel {i}"));
            }
        }
    }

    /// The loop's virtual time in whole milliseconds.
    fn now_ms(clock: &ManualClock) -> u128 {
        clock.elapsed().as_millis()
    }

    /// Runs `fut` as a task on a loop with a manual clock, advancing it 1 ms after every
    /// iteration. Bounded: fails the test after 100 000 iterations (100 virtual seconds).
    fn run_virtual<T: 'static>(
        clock: &ManualClock,
        fut: impl Future<Output = T> + 'static,
    ) -> (EventLoop, T) {
        run_ticking(clock, fut, false)
    }

    /// `run_virtual`, and with `every_iteration` the clock moves 1 ms per loop iteration,
    /// busy or not: a log of times is then a log of iterations.
    fn run_ticking<T: 'static>(
        clock: &ManualClock,
        fut: impl Future<Output = T> + 'static,
        every_iteration: bool,
    ) -> (EventLoop, T) {
        let lp = EventLoop::with_clock(clock.clone()).unwrap();
        let out = Rc::new(RefCell::new(None));
        let o = out.clone();
        lp.spawn(async move { *o.borrow_mut() = Some(fut.await) })
            .unwrap()
            .detach();
        for _ in 0..100_000 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
            if let Some(v) = out.borrow_mut().take() {
                return (lp, v);
            }
            // Time passes only while the loop has nothing ready, as in CPython's test loop:
            // a task woken by a timer runs one iteration after it, at the same time.
            if every_iteration || lp.stats().ready == 0 {
                clock.advance(ms(1));
            }
        }
        panic!("the race did not finish within 100 virtual seconds");
    }

    fn messages(errors: &[Error]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    // CPython's StaggeredTests pass `delay=None` where the attempts finish at once; this race
    // always staggers, so those ports pass 100 ms, which they never reach.

    #[test]
    fn l91_test_empty() {
        type Attempt = fn() -> std::future::Ready<Result<u32, Error>>;
        let attempts: Vec<Attempt> = Vec::new();
        let clock = ManualClock::new();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert!(winner.is_none());
        assert!(errors.is_empty());
    }

    #[test]
    fn l91_test_one_successful() {
        let log = Log::default();
        let attempts: Vec<_> = (0..2)
            .map(|i| {
                let log = log.clone();
                move || async move {
                    log.push(format!("start {i}"));
                    Ok::<_, Error>(format!("Res: {i}"))
                }
            })
            .collect();
        let clock = ManualClock::new();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert_eq!(winner, Some(("Res: 0".to_string(), 0)));
        assert!(errors.is_empty());
        assert_eq!(log.get(), ["start 0"], "attempt 1 must never start");
    }

    #[test]
    fn l91_test_first_error_second_successful() {
        let attempts: Vec<_> = (0..2)
            .map(|i| {
                move || async move {
                    if i == 0 {
                        return Err(Error::InvalidArgument(i.to_string()));
                    }
                    Ok(format!("Res: {i}"))
                }
            })
            .collect();
        let clock = ManualClock::new();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert_eq!(winner, Some(("Res: 1".to_string(), 1)));
        assert!(matches!(&errors[..], [Error::InvalidArgument(m)] if m == "0"));
    }

    #[test]
    fn l91_test_first_timeout_second_successful() {
        let log = Log::default();
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..2)
            .map(|i| {
                let (log, clock) = (log.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    let guard = CancelGuard(Some((log.clone(), i)));
                    if i == 0 {
                        sleep(Duration::from_secs(10)).await; // far beyond the delay
                    }
                    guard.disarm();
                    Ok::<_, Error>(format!("Res: {i}"))
                }
            })
            .collect();
        let (lp, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert_eq!(winner, Some(("Res: 1".to_string(), 1)));
        assert!(
            errors.is_empty(),
            "a cancelled attempt records no error (port)"
        );
        assert_eq!(log.get(), ["start 0 at 0", "start 1 at 100", "cancel 0"]);
        assert_eq!(
            lp.stats().timers,
            0,
            "the loser's sleep and the stagger timer are gone"
        );
    }

    #[test]
    fn l91_test_none_successful() {
        let attempts: Vec<_> = (0..2)
            .map(|i| move || async move { Err::<(), _>(Error::InvalidArgument(i.to_string())) })
            .collect();
        let clock = ManualClock::new();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert!(winner.is_none());
        assert_eq!(messages(&errors), ["0", "1"]);
    }

    /// A minimal `asyncio.Event` for the multiple-winners case.
    #[derive(Clone, Default)]
    struct Event(Rc<RefCell<(bool, Vec<Waker>)>>);

    impl Event {
        fn set(&self) {
            let wakers = {
                let mut state = self.0.borrow_mut();
                state.0 = true;
                std::mem::take(&mut state.1)
            };
            wakers.into_iter().for_each(Waker::wake);
        }
        async fn wait(&self) {
            poll_fn(|cx| {
                let mut state = self.0.borrow_mut();
                if state.0 {
                    return Poll::Ready(());
                }
                state.1.push(cx.waker().clone());
                Poll::Pending
            })
            .await
        }
    }

    #[test]
    fn l91_test_multiple_winners() {
        let (log, event) = (Log::default(), Event::default());
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..3)
            .map(|i| {
                let (log, event, clock) = (log.clone(), event.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    let guard = CancelGuard(Some((log.clone(), i)));
                    if i == 2 {
                        // `do_set`: wakes attempts 0 and 1 together, then never finishes.
                        event.set();
                        pending::<()>().await;
                    }
                    event.wait().await;
                    guard.disarm();
                    Ok::<_, Error>(i)
                }
            })
            .collect();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert_eq!(winner, Some((0, 0)), "the oldest ready attempt wins");
        assert!(errors.is_empty());
        assert_eq!(
            log.get(),
            [
                "start 0 at 0",
                "start 1 at 100",
                "start 2 at 200",
                "cancel 1",
                "cancel 2"
            ]
        );
    }

    #[test]
    fn l91_test_cancelled_dropping_the_race_drops_every_attempt() {
        // Port of test_cancelled: cancelling is dropping; every started attempt is dropped with
        // the race, unstarted ones are never called, and no timer is left behind.
        let log = Log::default();
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..3)
            .map(|i| {
                let (log, clock) = (log.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    let _guard = CancelGuard(Some((log.clone(), i)));
                    pending::<Result<(), Error>>().await
                }
            })
            .collect();
        let race = staggered_race(attempts, ms(100));
        let (lp, out) = run_virtual(&clock, timeout(ms(150), race));
        assert!(matches!(out, Err(Error::Timeout)));
        assert_eq!(
            log.get(),
            ["start 0 at 0", "start 1 at 100", "cancel 0", "cancel 1"]
        );
        assert_eq!(lp.stats().timers, 0);
    }

    #[test]
    fn l91_the_newest_failing_starts_the_next_before_the_delay() {
        let log = Log::default();
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..3)
            .map(|i| {
                let (log, clock) = (log.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    match i {
                        0 => pending().await,
                        1 => {
                            sleep(ms(30)).await;
                            Err(Error::InvalidArgument("1".into()))
                        }
                        _ => Ok(i),
                    }
                }
            })
            .collect();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert_eq!(winner, Some((2, 2)));
        assert_eq!(messages(&errors), ["1"]);
        assert_eq!(
            log.get(),
            ["start 0 at 0", "start 1 at 100", "start 2 at 130"]
        );
    }

    #[test]
    fn l91_an_older_attempt_failing_does_not_hurry_the_next() {
        // Only the newest attempt's failure starts the next one early (CPython chains each
        // attempt to its predecessor's `Event`). Errors come back in attempt order.
        let log = Log::default();
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..3)
            .map(|i| {
                let (log, clock) = (log.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    let at = [150, 120, 0][i];
                    sleep(ms(at)).await;
                    Err::<(), _>(Error::InvalidArgument(i.to_string()))
                }
            })
            .collect();
        let (_, (winner, errors)) = run_virtual(&clock, staggered_race(attempts, ms(100)));
        assert!(winner.is_none());
        assert_eq!(messages(&errors), ["0", "1", "2"]);
        // Attempt 0 fails at 150 while attempt 1 runs: attempt 2 still waits for 200.
        assert_eq!(
            log.get(),
            ["start 0 at 0", "start 1 at 100", "start 2 at 200"]
        );
    }

    #[test]
    fn l27_l91_a_zero_delay_starts_each_attempt_an_iteration_after_the_last() {
        // CPython's `wait_for(previous_failed.wait(), 0)` still yields once, so attempts start
        // one iteration apart, never all in one step. The stagger timer is one `Sleep` reset
        // per attempt: each reset must suspend again (the clock moves 1 ms per iteration).
        let log = Log::default();
        let clock = ManualClock::new();
        let attempts: Vec<_> = (0..4)
            .map(|i| {
                let (log, clock) = (log.clone(), clock.clone());
                move || async move {
                    log.push(format!("start {i} at {}", now_ms(&clock)));
                    if i < 3 {
                        pending::<()>().await;
                    }
                    Ok(i)
                }
            })
            .collect();
        let (_, (winner, errors)) =
            run_ticking(&clock, staggered_race(attempts, Duration::ZERO), true);
        assert_eq!(winner, Some((3, 3)));
        assert!(errors.is_empty());
        assert_eq!(
            log.get(),
            [
                "start 0 at 0",
                "start 1 at 1",
                "start 2 at 2",
                "start 3 at 3"
            ]
        );
    }

    fn io(kind: io::ErrorKind, msg: &str) -> Error {
        Error::Io(io::Error::new(kind, msg.to_string()))
    }

    #[test]
    fn l92_combine_errors() {
        use io::ErrorKind::*;
        // None recorded: TimeoutError('create_connection failed').
        let e = combine_errors(vec![]);
        assert_eq!(
            (e.kind(), e.to_string()),
            (TimedOut, "create_connection failed".into())
        );
        // One: unchanged.
        let e = combine_errors(vec![io(AddrInUse, "in use")]);
        assert_eq!((e.kind(), e.to_string()), (AddrInUse, "in use".into()));
        // Same text: the first.
        let e = combine_errors(vec![io(ConnectionRefused, "refused"), io(Other, "refused")]);
        assert_eq!(
            (e.kind(), e.to_string()),
            (ConnectionRefused, "refused".into())
        );
        // Different texts, one kind: that kind, every message.
        let e = combine_errors(vec![
            io(ConnectionRefused, "refused ::1"),
            io(ConnectionRefused, "refused 127.0.0.1"),
        ]);
        assert_eq!(e.kind(), ConnectionRefused);
        assert_eq!(
            e.to_string(),
            "Multiple exceptions: refused ::1, refused 127.0.0.1"
        );
        // Mixed kinds: Other.
        let e = combine_errors(vec![
            io(ConnectionRefused, "refused"),
            io(TimedOut, "timed out"),
            Error::InvalidArgument("bad".into()),
        ]);
        assert_eq!(e.kind(), Other);
        assert_eq!(
            e.to_string(),
            "Multiple exceptions: refused, timed out, bad"
        );
    }

    #[test]
    fn l92_combined_errors_keep_the_errno_they_share() {
        // CPython's `OSError('Multiple exceptions: …')` has errno None; ours keeps the number
        // when every failure has it, and shows the text alone (each part names it already).
        let os = |code: i32, text: &str| {
            let e = io::Error::from_raw_os_error(code);
            Error::Io(crate::error::OsError::io(&e, text.into()))
        };
        let refused = libc::ECONNREFUSED;
        let e = combine_errors(vec![os(refused, "to ::1"), os(refused, "to 127.0.0.1")]);
        assert_eq!(e.raw_os_error(), Some(refused), "{e:?}");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let text = format!(
            "Multiple exceptions: [Errno {refused}] to ::1, [Errno {refused}] to 127.0.0.1"
        );
        assert_eq!(e.to_string(), text);
        assert_eq!(
            e.duplicate().raw_os_error(),
            Some(refused),
            "a shared copy keeps it"
        );
        assert_eq!(e.duplicate().to_string(), text);
        // Different numbers, or one failure without any: none.
        let e = combine_errors(vec![os(refused, "a"), os(libc::ETIMEDOUT, "b")]);
        assert_eq!(e.raw_os_error(), None);
        let e = combine_errors(vec![
            os(refused, "a"),
            io(io::ErrorKind::ConnectionRefused, "b"),
        ]);
        assert_eq!(e.raw_os_error(), None);
    }
}
