//! A stream's getters while its user holds the stream's protocol (`get_protocol()`, its
//! `RefCell` borrowed mutably across an `.await`): each answers what was configured, as it
//! would with the protocol free, and none panics with "already borrowed".

mod util;

use util::stream_on;

use std::time::Duration;

use asyncio::EventLoop;

// Checklist: D14 (no panic on any argument or state). The drain and idle timeouts' getters
// borrowed the core, which is the protocol the user holds: both panicked "already borrowed".
#[test]
fn d14_timeout_getters_answer_while_the_protocol_is_held() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    {
        let _held = proto.borrow_mut();
        assert_eq!(writer.drain_timeout(), None, "never set");
        assert_eq!(writer.idle_timeout(), None, "never set");
    }
    writer.set_drain_timeout(Some(Duration::from_secs(7)));
    writer.set_idle_timeout(Some(Duration::from_secs(9)));
    {
        let _held = proto.borrow_mut();
        assert_eq!(writer.drain_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(writer.idle_timeout(), Some(Duration::from_secs(9)));
        let _ = writer.buffer_info(); // already answered while held; kept so
    }
    writer.set_drain_timeout(None);
    writer.set_idle_timeout(None);
    {
        let _held = proto.borrow_mut();
        assert_eq!(writer.drain_timeout(), None, "cleared");
        assert_eq!(writer.idle_timeout(), None, "cleared");
    }
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14. An idle timeout that has fired reads `None` (it is spent), held or not.
#[test]
fn d14_a_fired_idle_timeout_reads_none_while_the_protocol_is_held() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    writer.set_drain_timeout(Some(Duration::from_secs(3)));
    writer.set_idle_timeout(Some(Duration::ZERO));
    util::run_until(&lp, 20, || writer.is_closing());
    assert_eq!(writer.idle_timeout(), None, "spent, free");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    assert_eq!(writer.idle_timeout(), None, "spent, held");
    assert_eq!(writer.drain_timeout(), Some(Duration::from_secs(3)), "kept");
    drop(held);
    lp.close().unwrap();
}

// Checklist: S17, D14. A user holding the stream's protocol shared (`get_protocol()`, its
// `RefCell` borrowed, not mutably) leaves the reader readable, but its feeds wait for the
// borrow to end. `at_eof` read the reader alone: an EOF fed meanwhile, which applies once
// the borrow ends, read as not at EOF, and bytes fed meanwhile were not in `read_buffered`
// (checked by reverting: false, Some(0)). Both now answer as if the queued calls had run,
// as CPython's reader, which has no borrows, would.
#[test]
fn s17_d14_at_eof_and_read_buffered_count_the_feeds_made_while_the_protocol_is_held_shared() {
    let lp = EventLoop::new().unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    {
        let _held = proto.borrow();
        reader.feed_eof();
        assert!(reader.at_eof(), "EOF fed while held, nothing buffered");
        assert_eq!(writer.buffer_info().read_buffered, Some(0));
    }
    assert!(reader.at_eof(), "free: the same");
    writer.transport().abort();
    lp.close().unwrap();

    let lp = EventLoop::new().unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    {
        let _held = proto.borrow();
        reader.feed_data(b"xy");
        reader.feed_eof();
        reader.feed_data(b"refused after EOF");
        assert!(!reader.at_eof(), "two bytes fed before the EOF");
        assert_eq!(writer.buffer_info().read_buffered, Some(2));
    }
    assert!(!reader.at_eof(), "free: the same");
    assert_eq!(writer.buffer_info().read_buffered, Some(2));
    writer.transport().abort();
    lp.close().unwrap();
}
