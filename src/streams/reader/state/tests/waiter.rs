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
