//! The waiter slot (S20, S21), the stored exception (S18, S19) and the limit's check (S11).

use super::*;

#[test]
fn s11_limit_zero_is_rejected() {
    let e = ReaderState::new(0).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m == "Limit cannot be <= 0"),
        "{e}"
    );
}

#[test]
fn s18_s19_exception_is_handed_out_again_and_again() {
    let mut st = ReaderState::new(8).unwrap();
    let _ = st.set_exception(&io::Error::new(
        io::ErrorKind::ConnectionReset,
        "peer reset",
    ));
    for _ in 0..3 {
        let Some(Error::Io(e)) = st.exception() else {
            panic!()
        };
        assert_eq!(
            (e.kind(), e.to_string()),
            (io::ErrorKind::ConnectionReset, "peer reset".into())
        );
    }
    let _ = st.set_exception(&io::Error::from_raw_os_error(libc::EPIPE));
    let Some(Error::Io(e)) = st.exception() else {
        panic!()
    };
    assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "errno kept");
}

#[test]
fn s20_s21_waiter_slot_follows_ids() {
    let mut st = ReaderState::new(8).unwrap();
    let (mut a, mut b, w) = (0, 0, noop());
    assert!(st.poll_read(3, &mut a, w).is_pending());
    assert!(
        st.poll_read(3, &mut a, w).is_pending(),
        "re-poll tripped S20"
    );
    match st.poll_readexactly(3, &mut b, w) {
        Poll::Ready(Err(Error::InvalidState(m))) => assert_eq!(
            m,
            "readexactly() called while another coroutine is already waiting for incoming data"
        ),
        other => panic!("{other:?}"),
    }
    st.end_wait(b); // not the owner: no effect
    assert_eq!(st.waiter_id(), Some(a));
    st.end_wait(a);
    assert!(st.waiter_id().is_none());
    assert!(st.poll_readexactly(3, &mut b, w).is_pending());
    assert!(st.feed_data(b"x").is_some(), "the waiter is woken");
    assert!(st.waiter_id().is_none(), "woken waiter still in the slot");
}

/// A waker that counts its wakes.
fn counting() -> (std::sync::Arc<Wakes>, Waker) {
    let count = std::sync::Arc::new(Wakes::default());
    (count.clone(), Waker::from(count))
}

#[derive(Default)]
struct Wakes(std::sync::atomic::AtomicU32);

impl std::task::Wake for Wakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Wakes {
    fn get(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[test]
fn s17_l62_a_read_through_that_meets_eof_leaves_the_reader_at_eof_in_that_call() {
    let (mut st, fake) = with_transport(8);
    let (wakes, waker) = counting();
    let (mut id, mut out) = (0, [0u8; 16]);
    assert!(st.would_wait(&out));
    fake.through.set(Some(Through::Wait));
    assert_eq!(
        st.read_through(std::ptr::null(), &mut out, &mut id, &waker)
            .unwrap(),
        None
    );
    assert!(!st.at_eof());
    fake.through.set(Some(Through::Eof));
    assert_eq!(
        st.read_through(std::ptr::null(), &mut out, &mut id, &waker)
            .unwrap(),
        Some(0),
        "the read that met the EOF returns it"
    );
    assert!(st.at_eof(), "at EOF as the read returns, not a turn later");
    assert!(st.waiter_id().is_none(), "the read holds no waiter slot");
    assert_eq!(id, 0);
    // The transport's eof_received feeds it again on a later turn: nothing changes.
    assert!(st.feed_eof().is_none());
    assert!(st.at_eof());
    assert_eq!(wakes.get(), 0, "nobody was woken");
    // And every read after it sees EOF without waiting.
    assert!(matches!(
        st.poll_read_into(&mut out, &mut id, &waker),
        Poll::Ready(Ok(0))
    ));
    assert!(matches!(st.poll_read(-1, &mut id, &waker), Poll::Ready(Ok(ref v)) if v.is_empty()));
}

#[test]
fn s17_feed_eof_twice_wakes_and_changes_nothing_the_second_time() {
    let (mut st, _fake) = with_transport(8);
    let (wakes, waker) = counting();
    let mut id = 0;
    feed(&mut st, b"ab");
    assert!(st.poll_readexactly(3, &mut id, &waker).is_pending());
    st.feed_eof()
        .expect("the first EOF wakes the waiting read")
        .wake();
    assert_eq!(wakes.get(), 1);
    let before = format!("{st:?}");
    assert!(st.feed_eof().is_none(), "a second EOF wakes no one");
    assert_eq!(format!("{st:?}"), before, "a second EOF changes nothing");
    assert!(!st.at_eof(), "at_eof waits for the buffer to empty");
    match st.poll_readexactly(3, &mut id, &waker) {
        Poll::Ready(Err(Error::IncompleteRead { partial, expected })) => {
            assert_eq!((partial.as_slice(), expected), (&b"ab"[..], Some(3)));
        }
        other => panic!("{other:?}"),
    }
    assert!(st.at_eof());
    assert!(st.feed_eof().is_none());
    assert!(st.at_eof());
    assert_eq!(wakes.get(), 1);
}
