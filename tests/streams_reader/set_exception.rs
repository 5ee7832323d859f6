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
