//! Backpressure you can see (issue #16): `buffer_info` and `LoopStats` while a writer fills a
//! peer that does not read, `kernel_unsent` in bytes, and a lost connection's figures.

use super::*;

/// Backpressure you can see (issue #16): a writer filling a peer that does not read. The peer
/// reader fills to twice its limit and stops reading, then the kernel buffers fill, then the
/// writer's transport buffer passes its high-water mark and writing pauses; `LoopStats` counts
/// the same. Once the peer reads, everything flows back down in the opposite order.
#[test]
fn buffer_info_follows_a_writer_filling_a_peer_that_does_not_read() {
    run(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = asyncio::socketpair()?;
        let (_r, writer) = asyncio::open_connection_sock(a).await?;
        let (reader, peer) = asyncio::open_connection_sock(b).await?;
        let start = writer.buffer_info();
        assert_eq!(start.write_buffered, 0);
        assert!(!start.writing_paused && !start.reading_paused);
        assert_eq!(
            start.kernel_unsent, None,
            "a Unix socket: the OS does not say"
        );

        let chunk = vec![7u8; 16 * 1024];
        let mut written = 0usize;
        let mut peer_paused_first = false;
        for _ in 0..10_000 {
            if writer.buffer_info().writing_paused {
                break;
            }
            writer.write(&chunk)?;
            written += chunk.len();
            asyncio::yield_now().await; // the peer's transport reads meanwhile
            let p = peer.buffer_info();
            if p.reading_paused && !writer.buffer_info().writing_paused {
                peer_paused_first = true;
            }
        }
        let w = writer.buffer_info();
        let p = peer.buffer_info();
        assert!(w.writing_paused, "writing never paused: {w:?}");
        assert!(w.write_buffered > w.high_water, "{w:?}");
        assert!(
            peer_paused_first,
            "the reader stops reading before the writer pauses"
        );
        assert!(p.reading_paused, "{p:?}");
        assert!(p.read_buffered.is_some_and(|n| n > 2 * 64 * 1024), "{p:?}");
        let s = lp.stats();
        assert_eq!(s.writing_paused, 1, "{s:?}");
        assert!(s.reading_paused >= 1, "{s:?}");
        assert_eq!(s.write_buffered, w.write_buffered, "{s:?}");

        // The peer reads everything: the writer's drain returns, the buffers empty out.
        let drained = async {
            writer.drain().await?;
            Ok::<_, asyncio::Error>(writer.buffer_info())
        };
        let read_all = reader.readexactly(written);
        let (w, got) = util::join(drained, read_all).await;
        let w = w?;
        assert_eq!(got?.len(), written);
        assert!(
            !w.writing_paused && w.write_buffered <= w.low_water,
            "{w:?}"
        );
        let p = peer.buffer_info();
        assert_eq!(p.read_buffered, Some(0));
        assert!(!p.reading_paused, "{p:?}");
        assert_eq!(lp.stats().writing_paused, 0);
        writer.close();
        peer.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap();
}

/// Backpressure you can see (issue #16): `kernel_unsent` counts bytes. On TCP, `SIOCOUTQ` says
/// how many bytes the kernel holds unsent (at most what it was handed); on a Unix socket the
/// same call gives the memory the peer's unread data takes (768 for one byte), not bytes, so
/// there the figure is `None`, as where the OS does not say. It used to be that memory figure.
#[cfg(target_os = "linux")]
#[test]
fn kernel_unsent_counts_bytes_on_tcp_and_is_none_on_a_unix_socket() {
    run(async {
        let (a, b) = asyncio::socketpair()?;
        let (_r, writer) = asyncio::open_connection_sock(a).await?;
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await?;
        writer.write(b"x")?;
        writer.drain().await?;
        assert_eq!(writer.buffer_info().kernel_unsent, None, "a Unix socket");
        writer.close();
        peer.close();

        // TCP, a peer that does not read: what the kernel holds unsent grows, in bytes.
        let held: Rc<RefCell<Vec<(StreamReader, StreamWriter)>>> = Rc::default();
        let keep = held.clone();
        let server = asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| keep.borrow_mut().push((r, w)),
            "127.0.0.1",
            0,
        )
        .await?;
        let (_r, writer) = asyncio::open_connection("127.0.0.1", port_of(&server)).await?;
        assert_eq!(writer.buffer_info().kernel_unsent, Some(0));
        let chunk = vec![7u8; 64 * 1024];
        let mut written = 0;
        for _ in 0..2_000 {
            let w = writer.buffer_info();
            if w.writing_paused && w.kernel_unsent.is_some_and(|n| n > 0) {
                break;
            }
            writer.write(&chunk)?;
            written += chunk.len();
            asyncio::yield_now().await;
        }
        let w = writer.buffer_info();
        let unsent = w.kernel_unsent.expect("TCP on Linux says");
        assert!(unsent > 0, "{w:?}");
        assert!(
            unsent <= written - w.write_buffered,
            "more than it was handed: {w:?}"
        );
        writer.transport().abort();
        server.close();
        for (_, w) in held.borrow_mut().drain(..) {
            w.transport().abort();
        }
        Ok::<_, asyncio::Error>(())
    })
    .unwrap();
}

/// Backpressure you can see (issue #16): a lost connection has no writing paused. The writer
/// paused above its high-water mark, then the connection was aborted: `buffer_info` went on
/// saying `writing_paused` beside an empty buffer, though `drain()` no longer waits (it
/// fails).
#[test]
fn buffer_info_of_a_lost_connection_shows_no_writing_paused() {
    run(async {
        let (a, b) = asyncio::socketpair()?;
        let (_r, writer) = asyncio::open_connection_sock(a).await?;
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await?;
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..1000 {
            if writer.buffer_info().writing_paused {
                break;
            }
            writer.write(&chunk)?;
            asyncio::yield_now().await;
        }
        assert!(
            writer.buffer_info().writing_paused,
            "{:?}",
            writer.buffer_info()
        );
        writer.transport().abort();
        let _ = writer.wait_closed().await;
        let info = writer.buffer_info();
        assert_eq!(info.write_buffered, 0, "{info:?}");
        assert!(!info.writing_paused, "{info:?}");
        assert!(
            writer.drain().await.is_err(),
            "drain fails, it does not wait"
        );
        peer.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap();
}
