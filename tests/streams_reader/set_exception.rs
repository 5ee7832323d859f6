//! set_exception: what a stored exception does to later reads and to a read already
//! waiting, and a waiting read cancelled, which leaves no waiter behind (S18, S21, S22).

use super::*;

#[test]
fn test_exception() {
    // S18
    let r = StreamReader::new();
    assert!(r.exception().is_none());
    r.set_exception(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
    let e = r.exception().expect("stored");
    assert_eq!(
        (e.kind(), e.to_string()),
        (io::ErrorKind::ConnectionReset, "reset".into())
    );
    // Replaced, not cleared.
    r.set_exception(io_error("second"));
    assert_eq!(r.exception().unwrap().to_string(), "second");
}

#[test]
fn test_exception_waiter() {
    // S18: the waiting read fails with the exception.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t1 = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    let t2 = spawn(&lp, {
        let r = r.clone();
        async move { r.set_exception(io_error("value error")) }
    });
    let (res, ()) = block(&lp, async { (t1.await.unwrap(), t2.await.unwrap()) });
    assert!(is_io(&res, "value error"), "{res:?}");
}

#[test]
fn test_exception_cancel() {
    // S21, S22: a cancelled read leaves no waiter behind.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the readline waits
    assert!(format!("{r:?}").contains("waiting: true"), "{r:?}");
    t.cancel();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(t.is_cancelled());
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
    // A new read may wait (no S20 error) ...
    assert!(poll_once(r.readline()).is_pending());
    // ... and set_exception is careful with a waiter that is gone.
    r.set_exception(io_error("message"));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
}

/// Bytes fed by hand after `feed_eof`, on a reader without a connection. CPython's
/// `feed_data` asserts (`AssertionError('feed_data after feed_eof')`, raised to the caller;
/// under `-O` the bytes are appended). Ours panicked in a debug build (a `debug_assert!`)
/// and appended in a release one, so a read after the EOF could return bytes past it
/// (checked by reverting the fix: the test panics at the second `feed_data`). Now both
/// builds refuse the bytes and make the wrong-state error the reader's exception, as a
/// connection's reader does (tests/regressions.rs,
/// s17_l80_bytes_after_a_hand_fed_eof_fail_the_connection_with_a_typed_error).
// Checklist: S13, S17, S18.
#[test]
fn s17_feed_data_after_feed_eof_is_refused_with_an_invalid_state_exception() {
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"kept");
    r.feed_eof();
    r.feed_data(b""); // empty: nothing, before or after EOF
    assert!(r.exception().is_none(), "empty data is no error");
    r.feed_data(b"late");
    let wrong_state =
        |e: &Error| matches!(e, Error::InvalidState(m) if m == "feed_data after feed_eof");
    let e = r
        .exception()
        .expect("the refusal is the reader's exception");
    assert!(wrong_state(&e), "{e:?}");
    r.feed_data(b"later"); // refused again, no panic, the exception unchanged
    assert!(wrong_state(&r.exception().unwrap()));
    for _ in 0..2 {
        let got = block(&lp, r.read(100));
        assert!(matches!(&got, Err(e) if wrong_state(e)), "{got:?}");
    }
    assert!(!r.at_eof(), "\"kept\" is still buffered");
    let shown = format!("{r:?}");
    assert!(
        shown.contains("buffered: 4,"),
        "nothing appended past the EOF: {shown}"
    );
}
