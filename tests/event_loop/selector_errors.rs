//! What the loop says when epoll refuses it: a registration refused by `epoll_ctl`, a poll
//! refused by `epoll_wait`. CPython lets the selector's `OSError` through in both cases, errno
//! and all (`selectors.EpollSelector.register`, `BaseEventLoop._run_once`).

use super::io_callbacks::{counter, counting_cb};
use super::*;

/// A number no process can have open: above any descriptor limit, never reused by another
/// test's file while this one runs.
const NEVER_OPEN: RawFd = i32::MAX;

/// The errno, kind and text of an `Error::Io`; anything else fails the test.
fn os_error(got: Result<(), Error>) -> (i32, std::io::ErrorKind, String) {
    match got {
        Err(Error::Io(e)) => (
            e.raw_os_error().unwrap(),
            e.kind(),
            Error::Io(e).to_string(),
        ),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

/// `add_reader` / `add_writer` on a closed descriptor number: CPython raises the selector's
/// `OSError(9, 'Bad file descriptor')`, shown `[Errno 9] Bad file descriptor` (probed with
/// python3 3.11: `os.pipe()`, both ends closed, `loop.add_reader(r, cb)`; the same for
/// `add_writer`), and keeps no registration. We answered `InvalidArgument("Invalid file
/// object: …")`, CPython's `ValueError` text, with the errno lost in a string (checked by
/// reverting the fix).
// Checklist: L17.
#[test]
fn l17_add_reader_or_writer_on_a_closed_fd_is_the_selectors_ebadf() {
    for write in [false, true] {
        let lp = EventLoop::new().unwrap();
        let (calls, dropped) = counter();
        let got = if write {
            lp.add_writer(NEVER_OPEN, counting_cb(&calls, &dropped))
        } else {
            lp.add_reader(NEVER_OPEN, counting_cb(&calls, &dropped))
        };
        let (errno, _, text) = os_error(got);
        assert_eq!(errno, libc::EBADF, "write: {write}");
        assert_eq!(text, "[Errno 9] Bad file descriptor", "write: {write}");
        assert!(
            dropped.get(),
            "write: {write}: the refused callback is not kept"
        );
        assert_eq!(lp.stats().io_registrations, 0, "write: {write}");
        assert!(matches!(lp.remove_reader(NEVER_OPEN), Ok(false)));
        assert!(matches!(lp.remove_writer(NEVER_OPEN), Ok(false)));
    }
}

/// A regular file: epoll refuses it with EPERM, which CPython raises as
/// `PermissionError(1, 'Operation not permitted')` (probed with python3 3.11:
/// `loop.add_reader(tempfile.TemporaryFile().fileno(), cb)`). Ours is an `Error::Io` of kind
/// `PermissionDenied` with that errno and text; it was `InvalidArgument` (checked by reverting
/// the fix).
// Checklist: L17.
#[test]
fn l17_add_reader_on_a_regular_file_is_the_selectors_permission_error() {
    let dir = util::temp_dir("selector-eperm");
    let file = std::fs::File::create(dir.join("plain")).unwrap();
    let lp = EventLoop::new().unwrap();
    for write in [false, true] {
        let (calls, dropped) = counter();
        let got = if write {
            lp.add_writer(file.as_raw_fd(), counting_cb(&calls, &dropped))
        } else {
            lp.add_reader(file.as_raw_fd(), counting_cb(&calls, &dropped))
        };
        let (errno, kind, text) = os_error(got);
        assert_eq!(errno, libc::EPERM, "write: {write}");
        assert_eq!(kind, std::io::ErrorKind::PermissionDenied, "write: {write}");
        assert_eq!(text, "[Errno 1] Operation not permitted", "write: {write}");
        assert!(dropped.get(), "write: {write}");
        assert_eq!(lp.stats().io_registrations, 0, "write: {write}");
    }
    drop(file); // then `dir` removes itself
}

/// The loop's epoll descriptor replaced behind its back (`dup2` of `/dev/null` over it, in
/// one step, so no other test's file can take the number meanwhile): every `epoll_wait` fails
/// with EINVAL. CPython's `_run_once` lets the selector's `OSError` out of `run_forever` and
/// `run_until_complete` before running anything of that iteration; the loop is left not
/// running, its callbacks still queued, and can run again (failing again) or be closed
/// (probed with python3 3.11: the selector's descriptor closed, a `call_soon` ticker queued:
/// `OSError(9, 'Bad file descriptor')` from both, 0 ticks, `close()` fine). Ours logged
/// "poll failed" and polled again: the ticker below, which stops the loop at its 100th turn,
/// made the run end `Ok` after 100 ticks (`run_until_complete`: "Event loop stopped before
/// Future completed."), and with nothing queued the loop spun for ever (checked by reverting
/// the fix).
// Checklist: L2, L12, L14, L16.
#[test]
fn l2_a_failing_poll_ends_the_run_with_its_os_error() {
    let lp = EventLoop::new().unwrap();
    let epoll = lp.handle().as_raw_fd();
    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: both are open descriptors of this process; dup2 closes the loop's epoll
    // instance and makes `epoll` a second descriptor of /dev/null, which the loop's poll
    // then owns and closes. Replacing it under the loop is the fault under test.
    assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), epoll) }, epoll);
    drop(null);
    let ticks = ticker(&lp);
    expect_einval(lp.run_forever(), "run_forever");
    assert_eq!(ticks.get(), 0, "the failed iteration ran nothing");
    assert!(!lp.is_running());
    lp.stop(); // a stop asked before the run: its one iteration fails the same way
    expect_einval(lp.run_forever(), "run_forever again");
    expect_einval(
        lp.run_until_complete(asyncio::sleep(Duration::from_secs(3600))),
        "run_until_complete",
    );
    expect_einval(lp.run_once(None), "run_once");
    assert_eq!(ticks.get(), 0);
    assert_eq!(lp.stats().ready, 1, "the ticker is still queued");
    lp.close().unwrap();
    assert!(lp.is_closed());
    assert_eq!(lp.handle().as_raw_fd(), -1);
}

/// Queues a callback that re-queues itself and stops the loop at its 100th turn; returns the
/// count of turns.
fn ticker(lp: &EventLoop) -> Rc<Cell<usize>> {
    fn tick(h: asyncio::LoopHandle, n: Rc<Cell<usize>>) {
        n.set(n.get() + 1);
        if n.get() >= 100 {
            h.stop();
        } else {
            let h2 = h.clone();
            h.call_soon(move || tick(h2, n)).unwrap();
        }
    }
    let (n, h) = (Rc::new(Cell::new(0)), lp.handle());
    let n2 = n.clone();
    lp.call_soon(move || tick(h, n2)).unwrap();
    n
}

/// `got` is the poll's own error: EINVAL (epoll_wait on a descriptor that is no epoll).
fn expect_einval<T: std::fmt::Debug>(got: Result<T, Error>, what: &str) {
    match got {
        Err(Error::Io(e)) => {
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{what}");
            assert_eq!(
                Error::Io(e).to_string(),
                "[Errno 22] Invalid argument",
                "{what}"
            );
        }
        other => panic!("{what}: expected the poll's EINVAL, got {other:?}"),
    }
}
