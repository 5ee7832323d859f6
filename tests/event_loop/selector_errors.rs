//! What the loop says when epoll refuses it: a registration refused by `epoll_ctl`. CPython
//! lets the selector's `OSError` through, errno and all (`selectors.EpollSelector.register`).

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
