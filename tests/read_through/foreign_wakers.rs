//! A foreign executor's waker that panics when a read wakes it (L18): reported as a
//! callback's panic, on the read-through path and on the buffered one, and the loop and the
//! connection go on.

use super::*;

/// Polls `read` once with a [`Panicky`] waker (the read must park it), sends a byte from
/// `peer` to wake it, and lets the loop turn until `seen` holds the panic's report.
async fn wake_panicky<F: Future + ?Sized>(
    mut read: std::pin::Pin<&mut F>,
    peer: &mut std::os::unix::net::UnixStream,
    seen: &std::cell::RefCell<Vec<String>>,
) {
    let waker = Waker::from(Arc::new(Panicky));
    assert!(poll_with(read.as_mut(), &waker).is_pending()); // parked with it
    peer.write_all(b"x").unwrap();
    for _ in 0..10_000 {
        if !seen.borrow().is_empty() {
            return;
        }
        asyncio::yield_now().await;
    }
}

// Checklist: L18. A read_into polled by hand with another executor's waker parks that waker
// on the transport; the readable edge wakes it from inside the I/O dispatch. Its panic is
// reported as a callback's is and the loop goes on (it used to unwind out of
// run_until_complete), as the timer's wake-up of such a waker does.
#[test]
fn l18_a_foreign_waker_that_panics_as_its_read_through_is_woken_is_reported_and_the_loop_goes_on() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let s = seen.clone();
    let out = lp.run_until_complete(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 8];
        let n = {
            let mut read = pin!(reader.read_into(&mut buf));
            wake_panicky(read.as_mut(), &mut peer, &s).await;
            // The edge was handed to the read: polled by its task now, it reads the byte.
            read.await.unwrap()
        };
        (n, buf[0])
    });
    assert_eq!(out.unwrap(), (1, b'x'));
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback read_into wake-up | panicked: foreign waker failed"]
    );
}

// Checklist: L18. The same foreign waker on a read that waits in the reader (no memory of its
// own to read through): the stream protocol's data_received wakes it. Its panic is the
// waker owner's failure, reported as a callback's, and the connection lives on, as on the
// read-through path; it used to be the protocol's failure ("Fatal error: protocol.
// buffer_updated() call failed"), which ended the connection.
#[test]
fn l18_a_foreign_waker_that_panics_as_its_buffered_read_is_woken_is_reported_and_the_connection_lives(
) {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let s = seen.clone();
    let out = lp.run_until_complete(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let first = {
            let mut read = pin!(reader.read(8));
            wake_panicky(read.as_mut(), &mut peer, &s).await;
            read.await
        };
        // Still connected both ways.
        writer.write(b"y").unwrap();
        writer.drain().await.unwrap();
        let mut got = [0u8; 1];
        peer.read_exact(&mut got).unwrap();
        peer.write_all(b"z").unwrap();
        let second = reader.read(8).await;
        (
            first.map_err(|e| e.to_string()),
            got,
            second.map_err(|e| e.to_string()),
        )
    });
    let (first, got, second) = out.unwrap();
    assert_eq!(first.as_deref(), Ok(&b"x"[..]));
    assert_eq!((got, second.as_deref()), (*b"y", Ok(&b"z"[..])));
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback stream reader wake-up | panicked: foreign waker failed"]
    );
}
