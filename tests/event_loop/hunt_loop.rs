//! Event-loop API edges compared with CPython 3.11, one probe of `python3` per test (the
//! CPython result is quoted in each test's comment).

use super::*;

/// L17: a negative descriptor is refused with CPython's words for it. CPython 3.11:
/// `loop.add_reader(-1, cb)`, `add_writer(-1, cb)`, `remove_reader(-1)` and
/// `remove_writer(-1)` each raise `ValueError('Invalid file descriptor: -1')`
/// (`selectors._fileobj_to_fd`). We said `Invalid file object: -1`, CPython's text for an
/// object without `fileno()`.
#[test]
fn l17_a_negative_fd_is_an_invalid_file_descriptor_as_in_cpython() {
    let lp = EventLoop::new().unwrap();
    let refusals = [
        lp.add_reader(-1, || ()).err(),
        lp.add_writer(-1, || ()).err(),
        lp.remove_reader(-1).err(),
        lp.remove_writer(-1).err(),
    ];
    for refused in refusals {
        match refused {
            Some(Error::InvalidArgument(m)) => assert_eq!(m, "Invalid file descriptor: -1"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
    assert_eq!(lp.stats().io_registrations, 0);
}
