//! One waiter at a time (S20, S21): a second waiting read is refused by name, a read served
//! from the buffer proceeds, and a dropped pending read frees the slot.

use super::*;

const WAITING: &str = "() called while another coroutine is already waiting for incoming data";

#[test]
fn s20_a_second_waiting_read_is_refused_with_its_name() {
    let r = StreamReader::new();
    let mut first = pin!(r.read(10));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(cx).is_pending());
    assert!(
        first.as_mut().poll(cx).is_pending(),
        "re-polling the waiter tripped S20"
    );

    let refused = |res: Poll<Result<Vec<u8>, Error>>| match res {
        Poll::Ready(Err(Error::InvalidState(m))) => m,
        other => panic!("expected InvalidState, got {other:?}"),
    };
    assert_eq!(refused(poll_once(r.read(1))), format!("read{WAITING}"));
    assert_eq!(
        refused(poll_once(r.readline())),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readuntil(b"x"))),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readuntil_any(&[b"x"]))),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readexactly(1))),
        format!("readexactly{WAITING}")
    );
    let mut buf = [0; 4];
    assert!(matches!(
        poll_once(r.read_into(&mut buf)),
        Poll::Ready(Err(Error::InvalidState(m))) if m == format!("read{WAITING}")
    ));

    // The waiter itself is unaffected and completes.
    r.feed_data(b"abc");
    assert!(matches!(first.as_mut().poll(cx), Poll::Ready(Ok(v)) if v == b"abc"));
}

#[test]
fn s20_a_read_served_from_the_buffer_proceeds() {
    let r = StreamReader::new();
    r.feed_data(b"abc");
    let mut waiting = pin!(r.readexactly(5));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(waiting.as_mut().poll(cx).is_pending());
    assert!(matches!(poll_once(r.read(2)), Poll::Ready(Ok(v)) if v == b"ab"));
    r.feed_data(b"defg");
    assert!(matches!(waiting.as_mut().poll(cx), Poll::Ready(Ok(v)) if v == b"cdefg"));
}

#[test]
fn s20_tasks_racing_for_data() {
    // Two tasks that both need to wait: the second is refused, the first gets the data.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t1 = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    let t2 = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(2).await }
    });
    call_soon(&lp, &r, |r| r.feed_data(b"hello\n"));
    let (a, b) = block(&lp, async { (t1.await.unwrap(), t2.await.unwrap()) });
    assert_eq!(a.unwrap(), b"hello\n");
    assert!(matches!(b, Err(Error::InvalidState(m)) if m == format!("readexactly{WAITING}")));
}

#[test]
fn s21_dropping_a_pending_read_frees_the_slot() {
    let r = StreamReader::new();
    assert!(poll_once(r.readexactly(3)).is_pending()); // polled, then dropped
    assert!(
        poll_once(r.readline()).is_pending(),
        "a dropped read still holds the slot"
    );
    r.feed_data(b"x\n"); // no waiter left to wake: fine
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
}
