//! Wakers kept by pending polls: a flush or read polled with ever new wakers keeps only the last,
//! and tasks flushing through a shared writer are all woken.

use super::*;

/// A pending `poll_flush` on the owned writer polled again and again, each time with another
/// waker, keeps only the last one (the futures-io contract: only the latest poll's waker must
/// be woken), which the resume wakes; and a writer dropped while waiting leaves no waker
/// behind. Every distinct waker used to be kept until the next resume: a caller wrapping its
/// waker anew at each poll grew the list by one per poll while the peer stayed slow.
// Checklist: S48, S50.
#[test]
fn a_pending_flush_polled_with_ever_new_wakers_keeps_only_the_last() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, mut writer), (peer_reader, _peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap(); // far above the high-water mark
    let wakers = counting_wakers(1000);
    for (i, a) in wakers.iter().enumerate() {
        let waker = Waker::from(a.clone());
        let mut cx = Context::from_waker(&waker);
        let polled = if i % 2 == 0 {
            Pin::new(&mut writer).poll_flush(&mut cx)
        } else {
            Pin::new(&mut writer).poll_write(&mut cx, b"x").map_ok(drop)
        };
        assert!(polled.is_pending(), "poll {i}: the writer is paused");
    }
    assert_eq!(held(&wakers), 1, "wakers kept for one pending wait");
    let last = wakers.last().unwrap();
    assert_eq!(std::sync::Arc::strong_count(last), 2, "the last is kept");
    // The peer reads it all: writing resumes, and the last waker is woken.
    let got = lp
        .run_until_complete(async move { peer_reader.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turns(&lp, 5);
    assert_eq!(last.woken(), 1, "the last poll's waker is woken");
    assert_eq!(wakers.iter().map(|a| a.woken()).sum::<usize>(), 1);
    assert_eq!(held(&wakers), 0, "a woken waiter leaves the list");
    // Paused again, polled, then the writer dropped while it waits: the waker goes with it.
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let again = counting_wakers(1);
    let waker = Waker::from(again[0].clone());
    let polled = Pin::new(&mut writer).poll_flush(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    drop(waker);
    assert_eq!(held(&again), 1);
    drop(writer);
    assert_eq!(held(&again), 0, "a dropped writer's wait keeps its waker");
    turns(&lp, 5);
}

/// Through a shared reference, tasks wait side by side: each distinct waker is kept and woken
/// at the resume (a writer shared by two tasks must wake both). The reason the shared impl
/// cannot keep only the last waker as the owned one does.
// Checklist: S48.
#[test]
fn tasks_flushing_through_a_shared_writer_are_all_woken() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, writer), (peer_reader, _peer_writer)) = lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let wakers = counting_wakers(2);
    for a in &wakers {
        let waker = Waker::from(a.clone());
        let polled = Pin::new(&mut &writer).poll_flush(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
    }
    assert_eq!(held(&wakers), 2);
    let got = lp
        .run_until_complete(async move { peer_reader.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turns(&lp, 5);
    assert!(wakers.iter().all(|a| a.woken() == 1), "both tasks woken");
    writer.close();
    turns(&lp, 5);
}

/// The read side keeps one waker too: a pending `poll_read` or `poll_fill_buf` polled with ever
/// new wakers holds only the last, which the data wakes.
// Checklist: S20.
#[test]
fn a_pending_read_polled_with_ever_new_wakers_keeps_only_the_last() {
    for fill_buf in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((mut reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        let wakers = counting_wakers(1000);
        for a in &wakers {
            let waker = Waker::from(a.clone());
            let mut cx = Context::from_waker(&waker);
            let pending = if fill_buf {
                futures_util::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut reader), &mut cx)
                    .is_pending()
            } else {
                let mut buf = [0u8; 16];
                futures_util::io::AsyncRead::poll_read(Pin::new(&mut reader), &mut cx, &mut buf)
                    .is_pending()
            };
            assert!(pending, "fill_buf {fill_buf}: nothing to read yet");
        }
        assert_eq!(held(&wakers), 1, "fill_buf {fill_buf}: wakers kept");
        peer.write(b"hi").unwrap();
        turns(&lp, 5);
        assert_eq!(wakers.last().unwrap().woken(), 1, "fill_buf {fill_buf}");
        peer.close();
        turns(&lp, 5);
    }
}
