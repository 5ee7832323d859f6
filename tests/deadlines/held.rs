//! Deadlines while the user holds the stream's protocol (`get_protocol()`): a read timeout due
//! meanwhile fails the read once the borrow ends, one set right after fires on time, and the idle
//! timeout reads back on every path (D14).

use super::*;

// A read timeout that comes due while the user holds the stream's protocol borrowed (taken
// with get_protocol(), held across loop turns) is enforced once the borrow ends. (Before: the
// timer's callback panicked on the borrow, 'already borrowed', reported as a callback failure,
// and no timer looked at the stream again: the read waited for ever; checked by reverting.)
#[test]
fn a_read_timeout_due_while_the_protocol_is_held_fails_the_read_once_it_is_free() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(100))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.until(|| r.timers() == 1); // the read waits, its deadline armed
    let protocol = r
        .writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    let held = protocol.borrow_mut();
    r.pass(ms(150));
    assert!(
        read.borrow().is_none(),
        "failed while the protocol was held"
    );
    drop(held);
    // The wait is dated by the first look the borrow allowed: a whole timeout from there.
    r.pass_until(ms(200), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
}

// Checklist: D14 (a wait ends on time, never hangs on a user's borrow). The stream's timer
// came due while the user held the stream's protocol (taken with get_protocol()); its look
// waits for the borrow through retries spaced up to 64 ms apart. A read timeout set right
// after the release must still fire on time: the stream believed its timer armed (at the
// time of the entry that had fired), so it armed nothing, and the read failed only when the
// held look's next retry ran, up to 64 ms late (checked by reverting: 10 ms timeout, failed
// after 68 ms).
#[test]
fn a_read_timeout_set_right_after_the_protocol_was_held_fires_on_time() {
    let r = rig();
    r.writer.set_idle_timeout(Some(ms(1_000))); // the timer looks every 125 ms
    r.settle();
    let protocol = r
        .writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    let held = protocol.borrow_mut();
    r.pass(ms(260)); // the look due at 125 ms finds the protocol held, and retries
    drop(held);
    r.reader.set_read_timeout(Some(ms(10))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    let mut waited = 0;
    while read.borrow().is_none() && waited < 200 {
        r.pass(ms(1));
        waited += 1;
    }
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // On time: the timeout, then at most one look period (1 ms here) and one wheel tick.
    assert!(waited <= 12, "a 10 ms read timeout fired after {waited} ms");
}

// Checklist: D14. The idle timeout's getter with the stream's protocol held (taken with
// get_protocol()), on each path of the idle record, which the first set_idle_timeout makes
// (a stream with other timeouts only has none): a read timeout only (None), set (Some),
// spent by firing (None again); and on another stream, set then cleared (None).
#[test]
fn idle_timeout_reads_back_while_the_protocol_is_held_before_set_and_after_firing() {
    let r = rig();
    let protocol = r.writer.transport().get_protocol().expect("the protocol");
    let held = |writer: &StreamWriter, expect: Option<Duration>, what: &str| {
        let _held = protocol.borrow_mut();
        assert_eq!(writer.idle_timeout(), expect, "{what}");
    };
    r.reader.set_read_timeout(Some(ms(5000))).unwrap();
    r.writer.set_drain_timeout(Some(ms(6000)));
    held(&r.writer, None, "read and drain timeouts only");
    r.writer.set_idle_timeout(Some(ms(100)));
    held(&r.writer, Some(ms(100)), "set");
    r.pass_until(ms(100 + 100 / 8 + 2), || r.writer.is_closing());
    assert!(r.writer.is_closing(), "the idle timeout fired");
    held(&r.writer, None, "spent");
    assert_eq!(r.writer.idle_timeout(), None, "spent, free");
    // Set then cleared: the record exists and reads None.
    let other = rig();
    let protocol = other
        .writer
        .transport()
        .get_protocol()
        .expect("the protocol");
    other.writer.set_idle_timeout(Some(ms(100)));
    other.writer.set_idle_timeout(None);
    let _held = protocol.borrow_mut();
    assert_eq!(other.writer.idle_timeout(), None, "cleared");
}
