//! Closing a writer: close, wait_closed (kept, repeated or abandoned), a write or a drain
//! after the close, EOF fed to the reader, an unclosed writer dropped (S42, S45, S46, S56,
//! S57, S64).

use super::*;

#[test]
fn test_wait_closed_on_close_s45_s46_s51() {
    run(async {
        let (server, reader, writer) = echo_pair().await;
        writer.write(b"x\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"x\n");
        assert!(!writer.is_closing());
        writer.close();
        assert!(writer.is_closing(), "S45: closing at once");
        writer.wait_closed().await.unwrap();
        writer.wait_closed().await.unwrap(); // any number of times
        writer.write(b"after close").unwrap(); // S42: dropped silently
        let e = writer.drain().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "S51");
        assert_eq!(e.to_string(), "Connection lost");
        assert!(
            reader.at_eof() || reader.read(-1).await.is_ok(),
            "S64: EOF fed on a clean close"
        );
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn s56_dropping_an_unclosed_writer_closes_the_connection() {
    run(async {
        let server = asyncio::start_server(
            |reader: StreamReader, writer: StreamWriter| async move {
                let _ = reader.readline().await;
                drop(writer); // never closed: Drop closes the transport (3.13 behaviour)
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        writer.write(b"hi\n").unwrap();
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"",
            "the server side closed"
        );
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn test_wait_closed_on_close_with_unread_data_s46() {
    run(async {
        let server = asyncio::start_server(
            |_r: StreamReader, w: StreamWriter| async move {
                w.write(b"unread data")?;
                w.drain().await?;
                // Keep the connection until the client closes.
                let _ = _r.read(-1).await;
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        // Data sits unread in our reader; closing still completes (S46).
        writer.close();
        writer.wait_closed().await.unwrap();
        drop(reader);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn test_async_writer_api_s46() {
    run(async {
        let (server, reader, writer) = echo_pair().await;
        writer.write(b"line\n").unwrap();
        writer.drain().await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line\n");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

/// CPython's `test_async_writer_api_exception_after_close`: an HTTP/1.0 exchange read to the
/// server's EOF, then `close()`, a `write` and a `drain`: the write is dropped without an
/// error (S42), the drain yields once, in which the close completes (nothing was buffered), and
/// fails with `ConnectionResetError('Connection lost')` (S49, S51); nothing is reported.
#[test]
fn test_async_writer_api_exception_after_close_s42_s49_s51() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // `run_test_server`'s answer to a GET: a status line, headers, the body, then close.
    let httpd = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        assert_eq!(request, b"GET / HTTP/1.0\r\n\r\n");
        s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nTest message")
            .unwrap();
    });
    run(async move {
        let seen = util::capture_exceptions(&asyncio::get_running_loop().unwrap());
        let (rd, wr) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        wr.write(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(rd.readline().await.unwrap(), b"HTTP/1.0 200 OK\r\n");
        let data = rd.read(-1).await.unwrap();
        assert!(data.ends_with(b"\r\n\r\nTest message"), "{data:?}");
        wr.close();
        wr.write(b"data").unwrap(); // S42: dropped, no error
        let e = wr.drain().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "S51: {e}");
        assert_eq!(e.to_string(), "Connection lost");
        assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    });
    httpd.join().unwrap();
}

#[test]
fn test_eof_feed_when_closing_writer_s17_s46_s64() {
    run(async {
        let (server, reader, writer) = echo_pair().await;
        writer.close();
        writer.wait_closed().await.unwrap();
        assert!(reader.at_eof(), "S64: connection_lost(None) feeds EOF");
        server.close();
        server.wait_closed().await;
    });
}

/// A waker that counts its clones' lives through the `Arc` it is made of: one per task.
struct TaskWaker;

impl std::task::Wake for TaskWaker {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// S46, D12: a `wait_closed` abandoned while it waits (under a `timeout`, in a `select`, in a
/// request task that ends) takes its waker back. It stayed in the connection's waiter list
/// until the connection was lost, holding its task alive: one task's memory per abandoned
/// wait, for the whole life of a long-lived connection.
#[test]
fn s46_an_abandoned_wait_closed_leaves_no_waker_behind() {
    run(async {
        let (a, b) = asyncio::socketpair().unwrap();
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
        // Many tasks, each polling a wait_closed once and giving it up.
        let tasks: Vec<_> = (0..8).map(|_| std::sync::Arc::new(TaskWaker)).collect();
        for task in &tasks {
            let waker = std::task::Waker::from(task.clone());
            let mut cx = std::task::Context::from_waker(&waker);
            let mut wait = Box::pin(writer.wait_closed());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            // Polled again with the same task: still one registration.
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            drop(wait);
        }
        for (i, task) in tasks.iter().enumerate() {
            assert_eq!(
                std::sync::Arc::strong_count(task),
                1,
                "task {i}'s waker outlived its abandoned wait_closed"
            );
        }
        // A wait_closed kept is still woken by the close.
        let kept = writer.wait_closed();
        writer.close();
        kept.await.unwrap();
        peer.close();
    });
}

#[test]
fn s57_the_reader_and_the_closed_waiter_are_shared_with_the_protocol() {
    // StreamReaderProtocol holds its reader weakly and owns the "closed" future; the port
    // shares both (Rc), which differs only in when garbage goes away: a reader handle
    // outlives the protocol's connection_lost with its bytes and EOF, and a writer whose
    // reader was dropped still closes and waits for the close.
    run(async {
        let bye = |_r: StreamReader, w: StreamWriter| async move {
            w.write(b"bye")?;
            w.close();
            w.wait_closed().await
        };
        let server = asyncio::start_server(bye, "127.0.0.1", 0).await.unwrap();
        let port = port_of(&server);

        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let mut turns = 0;
        while util::reader_field(&reader, "eof") != "true" {
            asyncio::yield_now().await; // the bytes and the EOF arrive; nobody reads yet
            turns += 1;
            assert!(turns < 100_000, "no EOF: {reader:?}");
        }
        writer.close();
        writer.wait_closed().await.unwrap(); // connection_lost has run
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"bye",
            "S57: the reader outlives the protocol's hold on it"
        );

        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        drop(reader);
        writer.write(b"x").unwrap();
        writer.close();
        assert!(
            writer.wait_closed().await.is_ok(),
            "S57: the closed waiter is the protocol's, not the reader's"
        );
        server.close();
        server.wait_closed().await;
    });
}
