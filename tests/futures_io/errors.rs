//! Errors as `io::Error` in every trait: a stored exception, an exception of a retry kind (as
//! `Other`), a peer's reset (as `ConnectionReset`).

use super::*;

#[test]
fn a_set_exception_surfaces_as_io_error_in_every_trait() {
    run(async {
        let ((mut reader, writer), (_b_reader, b_writer)) = stream_pair().await;
        b_writer.write(b"buffered").unwrap();
        // Let the bytes arrive, then fail the reader: S19 says reads fail even so.
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).await.unwrap();
        reader.set_exception(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
        let mut buf = [0u8; 4];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (io::ErrorKind::TimedOut, "no answer".into())
        );
        let e = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // S48: drain, and so poll_write and poll_flush, report the reader's exception.
        let e = (&writer).write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = (&writer).flush().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        writer.close();
        b_writer.close();
    });
}

/// futures-io forbids `Interrupted` and `WouldBlock` from every poll: a caller may retry the
/// first at once, and a sticky exception of that kind (a cancellation passed on as an
/// `io::Error`, say) would spin such a caller for ever. Such an exception comes out as kind
/// `Other` from every trait, the original inside: a cancellation still reads as one, an OS
/// error keeps its errno. It came out as `Interrupted` (or `WouldBlock`).
#[test]
fn an_exception_of_a_retry_kind_comes_out_of_the_io_traits_as_other() {
    fn cancellation(e: &io::Error) -> bool {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<asyncio::Error>());
        matches!(inner, Some(asyncio::Error::Cancelled))
    }
    fn errno(e: &io::Error) -> Option<i32> {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<io::Error>());
        inner.and_then(io::Error::raw_os_error)
    }
    type Check = fn(&io::Error) -> bool;
    let cases: [(io::Error, Check); 3] = [
        (asyncio::Error::Cancelled.into(), cancellation),
        (io::Error::from_raw_os_error(libc::EINTR), |e| {
            errno(e) == Some(libc::EINTR)
        }),
        (io::Error::from_raw_os_error(libc::EAGAIN), |e| {
            errno(e) == Some(libc::EAGAIN)
        }),
    ];
    for (exc, inside) in cases {
        run(async move {
            let ((mut reader, writer), (_b_reader, b_writer)) = stream_pair().await;
            let what = format!("{exc:?}");
            reader.set_exception(exc);
            let mut buf = [0u8; 4];
            let read = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
            let fill = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
            let write = (&writer).write_all(b"x").await.unwrap_err();
            let flush = (&writer).flush().await.unwrap_err();
            let close = AsyncWriteExt::close(&mut &writer).await.unwrap_err();
            for (call, e) in [
                ("read", read),
                ("fill_buf", fill),
                ("write", write),
                ("flush", flush),
                ("close", close),
            ] {
                assert_eq!(e.kind(), io::ErrorKind::Other, "{call} with {what}: {e:?}");
                assert!(
                    inside(&e),
                    "{call} with {what}: the original is inside: {e:?}"
                );
            }
            writer.close();
            b_writer.close();
        });
    }
}

#[test]
fn a_peer_reset_surfaces_as_connection_reset() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (connected, wait_connected) = std::sync::mpsc::channel();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        wait_connected.recv().unwrap(); // reset only once the client's connect has completed
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST
    });
    run(async move {
        let (mut reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        connected.send(()).unwrap();
        let mut buf = [0u8; 16];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        writer.wait_closed().await.unwrap_err();
        // S50: the connection is gone; writes fail instead of vanishing.
        let e = (&writer).write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        let e = AsyncWriteExt::close(&mut &writer).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    });
    peer.join().unwrap();
}
