//! Polls while the user holds the stream's protocol (`get_protocol()` across an `.await`): reads,
//! `consume` and writes wait for the release, never panic, and a writer dropped meanwhile leaves
//! no waker behind (D12, D14).

use super::*;

/// D12 (a wait given up leaves nothing behind): an owned writer dropped while its futures-io
/// drain waits and while its user holds the stream's protocol (`get_protocol()`, borrowed
/// across an `.await`) takes its waker back once the borrow ends, as a dropped `drain()` does.
/// It could not borrow the core at its drop, and the entry stayed among the waiters, keeping
/// its task alive, until the next wake-up of all (checked by reverting: still held).
#[test]
fn d12_a_writer_dropped_while_its_protocol_is_held_leaves_no_waker_behind() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, mut writer), (_peer_reader, _peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap(); // far above the high-water mark
    let wakers = counting_wakers(1);
    let waker = Waker::from(wakers[0].clone());
    let polled = Pin::new(&mut writer).poll_flush(&mut Context::from_waker(&waker));
    assert!(polled.is_pending(), "paused: the flush waits");
    drop(waker);
    assert_eq!(held(&wakers), 1, "its waker is filed");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let guard = proto.borrow_mut();
    drop(writer);
    turns(&lp, 3);
    assert_eq!(
        held(&wakers),
        1,
        "the core is held: the entry waits for the release"
    );
    drop(guard);
    turns(&lp, 3);
    assert_eq!(
        held(&wakers),
        0,
        "the dropped writer's waker is still filed"
    );
    assert_eq!(wakers[0].woken(), 0, "nobody was woken");
    drop(proto);
    turns(&lp, 5);
}

/// Runs `lp` until `cond` holds, at most 100 iterations of at most 100 ms each (a transport's
/// own retry for a held protocol may wait a few ms), so that a broken wait fails soon.
fn run_briefly_until(lp: &asyncio::EventLoop, cond: impl Fn() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        lp.run_once(Some(Duration::from_millis(100))).unwrap();
    }
    assert!(cond(), "not reached within 100 iterations");
}

/// The futures-io reads below run in a task of `lp`; each stores its outcome in the cell.
type Outcome<T> = Rc<RefCell<Option<T>>>;

// Checklist: D14 (a held protocol is waited for, never a panic). `poll_read` and
// `poll_fill_buf` borrowed the core unchecked: polled while the user held the stream's
// protocol (`get_protocol()`, borrowed across an `.await`), they panicked with 'already
// borrowed' (checked by reverting: the task failed, no outcome). They now wait for the
// borrow's end as a drain does, then read what arrived meanwhile.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_futures_io_reads_polled_while_the_protocol_is_held_wait_for_the_release() {
    for fill_buf in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((reader, writer), (_peer_reader, peer_writer)) =
            lp.run_until_complete(stream_pair()).unwrap();
        let proto = writer.transport().get_protocol().expect("the protocol");
        let held = proto.borrow_mut();
        let got: Outcome<io::Result<Vec<u8>>> = Rc::default();
        let g = got.clone();
        let task = lp.spawn(async move {
            let mut reader = reader;
            let mut buf = [0u8; 16];
            let read = if fill_buf {
                AsyncBufReadExt::fill_buf(&mut reader)
                    .await
                    .map(<[u8]>::to_vec)
            } else {
                let n = AsyncReadExt::read(&mut reader, &mut buf).await;
                n.map(|n| buf[..n].to_vec())
            };
            *g.borrow_mut() = Some(read);
        });
        task.unwrap().detach();
        peer_writer.write(b"hello").unwrap();
        turns(&lp, 20);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: held, it waits"
        );
        drop(held);
        run_briefly_until(&lp, || got.borrow().is_some());
        let read = got.borrow_mut().take().expect("an outcome");
        assert_eq!(
            read.expect("read once released"),
            b"hello",
            "fill_buf {fill_buf}"
        );
        peer_writer.close();
        turns(&lp, 3);
    }
}

// Checklist: D14, S15. `consume` borrowed the core unchecked: called while the user held the
// stream's protocol it panicked with 'already borrowed' (checked by reverting). It now
// consumes from the copy at once and from the reader at the next futures-io borrow, so the
// bytes it took are neither lost nor read twice.
#[test]
fn d14_a_futures_io_consume_while_the_protocol_is_held_takes_its_bytes_once() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((mut reader, writer), (_peer_reader, peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    peer_writer.write(b"hello world").unwrap();
    util::run_until(&lp, 100, || util::reader_buffered(&reader) == 11);
    let probe = util::Probe::new();
    let fill = |reader: &mut StreamReader| {
        let mut f = poll_fn(|cx| {
            futures_util::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut *reader), cx)
                .map_ok(<[u8]>::to_vec)
        });
        match probe.poll(Pin::new(&mut f)) {
            Poll::Ready(r) => r.expect("buffered bytes"),
            Poll::Pending => panic!("bytes are buffered: no wait"),
        }
    };
    assert_eq!(fill(&mut reader), b"hello world");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    futures_util::io::AsyncBufRead::consume(Pin::new(&mut reader), 6);
    drop(held);
    assert_eq!(fill(&mut reader), b"world", "the consumed bytes are gone");
    futures_util::io::AsyncBufRead::consume(Pin::new(&mut reader), 5);
    assert_eq!(util::reader_buffered(&reader), 0, "all consumed, once");
    peer_writer.close();
    turns(&lp, 3);
}

// Checklist: D14, S48, S44. `poll_write`, `poll_flush` and `poll_close` borrowed the core
// unchecked: polled while the user held the stream's protocol, through the owned writer or a
// shared reference, they panicked with 'already borrowed' (checked by reverting). They now
// wait for the borrow's end, then write (and half-close) as usual; a loop closed meanwhile
// ends the wait with the loop-closed error.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_futures_io_writes_polled_while_the_protocol_is_held_wait_for_the_release() {
    for shared in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((_reader, writer), (peer_reader, _peer_writer)) =
            lp.run_until_complete(stream_pair()).unwrap();
        let proto = writer.transport().get_protocol().expect("the protocol");
        let held = proto.borrow_mut();
        let done: Outcome<io::Result<()>> = Rc::default();
        let d = done.clone();
        let task = lp.spawn(async move {
            let mut writer = writer;
            let out = if shared {
                let mut w = &writer;
                let wrote = w.write_all(b"ping").await;
                match wrote {
                    Ok(()) => w.flush().await,
                    e => e,
                }
            } else {
                writer.write_all(b"ping").await
            };
            let out = match out {
                Ok(()) => AsyncWriteExt::close(&mut writer).await,
                e => e,
            };
            *d.borrow_mut() = Some(out);
        });
        task.unwrap().detach();
        turns(&lp, 20);
        assert!(done.borrow().is_none(), "shared {shared}: held, it waits");
        drop(held);
        run_briefly_until(&lp, || done.borrow().is_some());
        let out = done.borrow_mut().take().expect("an outcome");
        out.expect("written once released");
        let echoed = lp
            .run_until_complete(peer_reader.read(-1))
            .unwrap()
            .unwrap();
        assert_eq!(echoed, b"ping", "shared {shared}: written, then EOF");
    }

    // The loop closes while a write waits for the held protocol: the write ends.
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_reader, mut writer), _peer) = lp.run_until_complete(stream_pair()).unwrap();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    let probe = util::Probe::new();
    let mut write = poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, b"x"));
    assert!(
        probe.poll(Pin::new(&mut write)).is_pending(),
        "held: it waits"
    );
    lp.close().unwrap();
    assert!(probe.woken() > 0, "the loop's close wakes it");
    match probe.poll(Pin::new(&mut write)) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!("after the loop closed: {other:?}"),
    }
    drop(held);
}
