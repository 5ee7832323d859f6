//! The reader's transport (S12) and pausing and resuming it around the limit (S14-S16, S21,
//! D1).

use super::*;

#[test]
fn s12_a_new_reader_has_no_transport_until_set() {
    let mut st = ReaderState::new(4).unwrap();
    assert!(st.transport().is_none(), "S11: no transport yet");
    let fake = Rc::new(FlowTransport::default());
    st.set_transport(Transport {
        inner: fake.clone(),
    });
    assert!(st.transport().is_some());
    feed(&mut st, b"123456789");
    assert_eq!(
        fake.pauses.get(),
        1,
        "S14 acts on the transport given by S12"
    );
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "Transport already set")]
fn s12_a_second_set_transport_is_a_programming_error() {
    // CPython asserts `self._transport is None`; an assert is a debug_assert here.
    let (mut st, _t) = with_transport(4);
    st.set_transport(Transport {
        inner: Rc::new(FlowTransport::default()),
    });
}

#[test]
fn s14_s15_pause_above_twice_limit_resume_at_limit() {
    // S15's example: limit 4; 8 bytes do not pause, a 9th does; reading down to 5 keeps
    // it paused, down to 4 resumes.
    let (mut st, t) = with_transport(4);
    feed(&mut st, b"12345678");
    assert_eq!(t.pauses.get(), 0);
    feed(&mut st, b"9");
    assert!(st.paused && !t.reading.get());
    assert_eq!(t.pauses.get(), 1);
    feed(&mut st, b"0");
    assert_eq!(t.pauses.get(), 1, "paused twice");
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(5, &mut id, w).is_ready());
    assert!(st.paused, "5 bytes left: still paused");
    assert!(st.poll_read(1, &mut id, w).is_ready());
    assert!(!st.paused && t.reading.get());
    assert_eq!(t.resumes.get(), 1);
}

#[test]
fn s14_buffer_updated_pauses_too() {
    let (mut st, t) = with_transport(4);
    receive(&mut st, b"123456789");
    assert_eq!(t.pauses.get(), 1);
}

#[test]
fn s16_readexactly_beyond_twice_limit_does_not_deadlock() {
    // A transport that stops delivering while paused: the read must resume it each wait.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    let mut fed = 0;
    let got = loop {
        match st.poll_readexactly(40, &mut id, w) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => {
                assert!(
                    t.reading.get(),
                    "waiting with the transport paused: deadlock"
                );
                while t.reading.get() {
                    feed(&mut st, &[fed as u8]);
                    fed += 1;
                }
            }
        }
    };
    assert_eq!(got, (0..40).collect::<Vec<u8>>());
    assert!(t.pauses.get() >= 3 && t.resumes.get() >= 3);
}

#[test]
fn d1_read_to_eof_keeps_the_transport_flowing_and_bytes_in_place() {
    // Checklist: S14, S25, D1. read(-1) waits with every byte in place (D1), far past
    // 2 × limit, and the transport keeps reading throughout: CPython's read(-1) takes each
    // chunk out of the buffer (read(limit) in a loop), so its buffer does not stay above the
    // limit and its transport is not left paused.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    for i in 0..10u8 {
        assert!(st.poll_read(-1, &mut id, w).is_pending());
        feed(&mut st, &[i; 5]);
        assert!(t.reading.get(), "read(-1) waits with the transport paused");
    }
    let _ = st.feed_eof();
    assert!(matches!(st.poll_read(-1, &mut id, w), Poll::Ready(Ok(v)) if v.len() == 50));
}

#[test]
fn s14_s16_read_to_eof_does_not_pause_and_resume_the_transport_per_chunk() {
    // Checklist: S14, S16, S25, D1. Each chunk past 2 × limit paused the transport and the
    // read's next wait resumed it (S16): two epoll_ctl calls per socket read for as long as
    // the read lasted. Two chunks per wake-up, as one readable edge may bring: the second
    // comes after the first woke the read, before it looks again.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(-1, &mut id, w).is_pending());
    for i in 0..100u8 {
        assert!(st.feed_data(&[i; 3]).is_some(), "the waiting read is woken");
        assert!(st.feed_data(&[i; 3]).is_none(), "it was woken already");
        receive(&mut st, &[i; 3]);
        assert!(st.poll_read(-1, &mut id, w).is_pending());
    }
    assert_eq!(
        (t.pauses.get(), t.resumes.get()),
        (0, 0),
        "pause/resume transitions while read(-1) waited"
    );
    let _ = st.feed_eof();
    assert!(matches!(st.poll_read(-1, &mut id, w), Poll::Ready(Ok(v)) if v.len() == 900));
    st.end_wait(id);
    assert_eq!(st.waiter_id(), None, "the finished read holds no slot");
}

#[test]
fn s14_s21_a_dropped_read_to_eof_leaves_flow_control_as_it_was() {
    // Checklist: S14, S21. Woken by data, then dropped before it looked again: its slot is
    // free (S20 does not refuse the next read) and the buffer pauses the transport again.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(-1, &mut id, w).is_pending());
    feed(&mut st, b"123456789");
    st.end_wait(id); // what dropping the future does
    let mut other = 0;
    assert!(st.poll_readexactly(20, &mut other, w).is_pending());
    st.end_wait(other);
    feed(&mut st, b"0");
    assert!(
        st.paused && !t.reading.get(),
        "10 bytes over a limit of 4, nobody reading: not paused"
    );
}
