//! The read timeout: it fails a read that waits too long and loses nothing (the next read gets
//! the late bytes; `readexactly`, `readuntil`, `readline` keep what they had), never fails a read
//! the buffer serves, and is changed or cleared while a read waits.

use super::*;

#[test]
fn read_timeout_fires_and_the_next_read_gets_the_late_bytes() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(100))).unwrap();
    assert_eq!(r.reader.read_timeout(), Some(ms(100)));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.until(|| r.timers() == 1); // the read waits, its deadline armed
    r.pass(ms(99));
    assert!(read.borrow().is_none(), "fired before its timeout");
    // Within an eighth of the timeout past it (the timer looks every 12.5 ms).
    r.pass_until(ms(100 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // The connection is fine: bytes sent after the timeout reach the next read.
    r.peer_writer.write(b"late").unwrap();
    let reader = r.reader.clone();
    assert_eq!(
        r.block_on(async move { reader.read(100).await }).unwrap(),
        b"late"
    );
}

#[test]
fn a_timed_out_readexactly_keeps_its_partial_bytes() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(50))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.readexactly(10).await });
    r.peer_writer.write(b"0123").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 4);
    r.pass_until(ms(50 + 50 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    assert_eq!(
        util::reader_buffered(&r.reader),
        4,
        "the partial bytes stay buffered"
    );
    r.peer_writer.write(b"456789").unwrap();
    let reader = r.reader.clone();
    let all = r.block_on(async move { reader.readexactly(10).await });
    assert_eq!(all.unwrap(), b"0123456789");
}

#[test]
fn a_timed_out_readuntil_and_readline_keep_the_line_so_far() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(50))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.readuntil(b";").await });
    r.peer_writer.write(b"key=va").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 6);
    r.pass_until(ms(50 + 50 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // A readline times out too, over the same bytes, and takes none of them.
    let reader = r.reader.clone();
    let line = r.spawn(async move { reader.readline().await });
    r.settle();
    r.pass_until(ms(50 + 50 / 8 + 2), || line.borrow().is_some());
    assert!(matches!(
        line.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    r.peer_writer.write(b"lue;\n").unwrap();
    let reader = r.reader.clone();
    let got = r.block_on(async move {
        let a = reader.readuntil(b";").await?;
        let b = reader.readline().await?;
        Ok::<_, Error>((a, b))
    });
    assert_eq!(got.unwrap(), (b"key=value;".to_vec(), b"\n".to_vec()));
}

#[test]
fn reads_served_from_the_buffer_never_time_out_and_zero_fails_only_a_wait() {
    let r = rig();
    r.reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
    r.peer_writer.write(b"ready").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 5);
    let reader = r.reader.clone();
    let got = r.block_on(async move {
        let first = reader.read(100).await;
        let second = reader.read(100).await; // would wait: fails at once, clock unmoved
        (first, second)
    });
    assert_eq!(got.0.unwrap(), b"ready");
    assert!(matches!(got.1, Err(Error::Timeout)));
}

#[test]
fn a_zero_read_timeout_set_while_a_read_waits_fails_it_at_once() {
    let r = rig();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    assert!(read.borrow().is_none(), "the read waits");
    r.reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
    r.settle(); // no loop time passes
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // Nothing lost: bytes that come next are read as usual.
    r.reader.set_read_timeout(None).unwrap();
    r.peer_writer.write(b"late").unwrap();
    let reader = r.reader.clone();
    assert_eq!(
        r.block_on(async move { reader.read(100).await }).unwrap(),
        b"late"
    );
}

#[test]
fn duration_max_never_fires_and_none_clears() {
    let r = rig();
    r.reader.set_read_timeout(Some(Duration::MAX)).unwrap();
    r.writer.set_idle_timeout(Some(Duration::MAX));
    r.writer.set_drain_timeout(Some(Duration::MAX));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    r.clock.advance(Duration::from_secs(10 * 365 * 24 * 3600)); // ten years
    r.settle();
    assert!(read.borrow().is_none(), "Duration::MAX fired");
    // Cleared: the read waits past what the old timeout would have allowed.
    r.reader.set_read_timeout(Some(ms(10))).unwrap();
    r.reader.set_read_timeout(None).unwrap();
    r.writer.set_idle_timeout(None);
    assert_eq!(
        (r.reader.read_timeout(), r.writer.idle_timeout()),
        (None, None)
    );
    r.clock.advance(Duration::from_secs(60));
    r.settle();
    assert!(read.borrow().is_none(), "a cleared timeout fired");
    r.peer_writer.write(b"x").unwrap();
    r.until(|| read.borrow().is_some());
    assert_eq!(read.borrow_mut().take().unwrap().unwrap(), b"x");
}

#[test]
fn a_read_timeout_needs_a_loop_for_a_reader_fed_by_hand() {
    let reader = StreamReader::new();
    assert!(matches!(
        reader.set_read_timeout(Some(ms(1))),
        Err(Error::InvalidState(_))
    ));
    reader.set_read_timeout(None).unwrap(); // nothing to arm: fine anywhere
    asyncio::run(async {
        let reader = StreamReader::new();
        reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
        reader.feed_data(b"ab");
        assert_eq!(reader.read(1).await.unwrap(), b"a");
        assert_eq!(reader.read(1).await.unwrap(), b"b");
        assert!(matches!(reader.read(1).await, Err(Error::Timeout)));
    })
    .unwrap();
}
