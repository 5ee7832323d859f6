//! A read-through that does not end by reading the socket: dropped after the peer's edge
//! woke it (S22), woken by `feed_data`, failed by its read timeout and dropped unpolled. None
//! loses a byte or an EOF, or leaves a waker that takes the next edge (S17, S62).

use super::*;

#[test]
fn a_read_into_dropped_after_its_wake_up_loses_no_byte_and_no_eof_s22() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut buf = [0u8; 64];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            assert!(poll_with(read.as_mut(), &waker).is_pending());
            peer.write_all(b"abc").unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            turn_until(&flag).await;
            // The edge went to the waiting read, which is dropped without reading it.
            assert_eq!(reader_buffered(&reader), 0);
        }
        assert_eq!(reader.read(100).await.unwrap(), b"abc");
        assert_eq!(reader.read(100).await.unwrap(), b"");
        assert!(reader.at_eof());
    });
}

#[test]
fn feed_data_wakes_a_read_into_waiting_on_the_transport_and_the_next_one_reads_through() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 64];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await;
            reader.feed_data(b"fed");
            assert_eq!(read.await.unwrap(), 3);
        }
        assert_eq!(&buf[..3], b"fed");
        peer.write_all(b"net").unwrap();
        assert_eq!(reader.read_into(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"net");
    });
}

#[test]
fn a_read_into_woken_by_feed_data_leaves_nothing_that_stops_a_readline_next() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 8];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await; // parked on the transport
            reader.feed_data(b"fed");
            assert_eq!(read.await.unwrap(), 3); // woken by the reader, not the socket
        }
        // The next edge must reach whoever reads next, here a readline on the protocol path.
        peer.write_all(b"line\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line\n");
    });
}

#[test]
fn a_read_into_woken_by_feed_data_leaves_no_waker_that_swallows_the_next_edge_s17_s62() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 8];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await; // parked on the transport
            reader.feed_data(b"fed");
            assert_eq!(read.await.unwrap(), 3); // woken by the reader, not the socket
        }
        // Nobody reads now. As in CPython, the protocol path still takes the peer's bytes
        // and EOF into the reader (S62, S17): the next edge must not go to the read_into
        // that has already returned.
        late_bytes_and_eof_reach_the_reader(&reader, &mut peer).await;
        assert_eq!(reader.read(-1).await.unwrap(), b"late");
        assert!(reader.at_eof());
    });
}

/// With nobody reading, the peer writes 4 bytes and shuts down: as in CPython (S62, S17),
/// the protocol path still takes them and the EOF into the reader (bounded: 10 000 turns).
async fn late_bytes_and_eof_reach_the_reader(
    reader: &asyncio::StreamReader,
    peer: &mut std::os::unix::net::UnixStream,
) {
    peer.write_all(b"late").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    for _ in 0..10_000 {
        if reader_buffered(reader) == 4 && eof_fed(reader) {
            break;
        }
        asyncio::yield_now().await;
    }
    assert_eq!(
        reader_buffered(reader),
        4,
        "the peer's bytes reached the reader"
    );
    assert!(eof_fed(reader), "the peer's EOF reached the reader");
}

/// EOF was fed to `reader` (its Debug output says so).
fn eof_fed(reader: &asyncio::StreamReader) -> bool {
    util::reader_field(reader, "eof") == "true"
}

#[test]
fn a_read_into_failed_by_a_zero_read_timeout_and_dropped_unpolled_leaves_no_parked_waker() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 8];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await; // parked on the transport
                                            // Wakes the read to fail it; it is dropped before it looks again.
            reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
        }
        reader.set_read_timeout(None).unwrap();
        late_bytes_and_eof_reach_the_reader(&reader, &mut peer).await;
    });
}

#[test]
fn a_read_into_failed_by_its_read_timeout_firing_and_dropped_unpolled_leaves_no_parked_waker() {
    // The third way a read is woken other than by the socket: the read timeout's timer fails
    // it. Dropped before it looks again, it must not leave its waker parked on the transport.
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut buf = [0u8; 8];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await; // parked on the transport
                                            // The timer finds the read past its 5 ms and wakes it to fail; it is not polled
                                            // again (this task sleeps meanwhile), then dropped.
            asyncio::sleep(Duration::from_millis(100)).await;
        }
        reader.set_read_timeout(None).unwrap();
        late_bytes_and_eof_reach_the_reader(&reader, &mut peer).await;
    });
}
