//! Streams over real sockets (issue #4): open_connection, start_server, StreamWriter, drain,
//! the handler's failure modes. Tests are named after CPython's test_streams.py where they
//! port one, and cite the S ids they cover. Reader-only cases live in tests/streams_reader.rs.

mod util;

use util::port_of;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, StreamReader, StreamWriter};

const BOUND: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh loop, bounded, and returns its output.
fn run<F: std::future::Future + 'static>(fut: F) -> F::Output {
    util::run_fresh(BOUND, fut)
}

/// An echo server and one client connection to it.
async fn echo_pair() -> (asyncio::Server, StreamReader, StreamWriter) {
    let server = asyncio::start_server(echo_handler, "127.0.0.1", 0)
        .await
        .unwrap();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
        .await
        .unwrap();
    (server, reader, writer)
}

async fn echo_handler(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

#[test]
fn test_open_connection_s1_s24_s25_s27_s62() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"line1\nline2\nrest").unwrap();
    });
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line1\n");
        assert_eq!(reader.readline().await.unwrap(), b"line2\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"rest");
        assert!(reader.at_eof());
        assert_eq!(reader.read(-1).await.unwrap(), b"");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    peer.join().unwrap();
}

#[test]
fn s1_s4_a_bad_limit_fails_before_any_io() {
    run(async {
        // Port 1 on loopback refuses; the limit error must come first (no connection tried).
        let e = asyncio::open_connection("127.0.0.1", 1)
            .limit(0)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let e = asyncio::start_server(echo_handler, "127.0.0.1", 0)
            .limit(0)
            .await
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "Limit cannot be <= 0");
    });
}

#[test]
fn test_start_server_s58_s59_s68_s73_s75() {
    run(async {
        let server = asyncio::start_server(echo_handler, "127.0.0.1", 0)
            .await
            .unwrap();
        assert!(
            server.is_serving(),
            "S68: listening when start_server returns"
        );
        let port = port_of(&server);
        for i in 0..3 {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
            let msg = format!("hello {i}\n");
            writer.write(msg.as_bytes()).unwrap();
            assert_eq!(reader.readline().await.unwrap(), msg.as_bytes());
            writer.write_eof().unwrap();
            assert_eq!(
                reader.read(-1).await.unwrap(),
                b"",
                "server closes after our EOF"
            );
            writer.close();
            writer.wait_closed().await.unwrap();
        }
        server.close();
        assert!(!server.is_serving());
        assert!(server.sockets().is_empty(), "S69");
        server.wait_closed().await; // S75: no connection left
    });
}

#[test]
fn test_start_unix_server_s5_s3() {
    let dir = util::temp_dir("streams-unix");
    let path = dir.join("echo.sock");
    let p2 = path.clone();
    run(async move {
        let server = asyncio::start_unix_server(echo_handler, &p2).await.unwrap();
        let (reader, writer) = asyncio::open_unix_connection(&p2).await.unwrap();
        writer.write(b"over unix\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"over unix\n");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
    assert!(!path.exists(), "S5: the socket file is removed on close");
}

#[test]
fn l118_unix_paths_as_str_pathbuf_and_non_utf8_bytes() {
    // SelectorEventLoopUnixSocketTests.test_create_unix_server_pathlib: str, bytes and
    // path-like all name the socket; here &str, PathBuf and an OsStr of bytes that are not
    // UTF-8 (which a str cannot hold).
    use std::os::unix::ffi::OsStrExt;
    let dir = util::temp_dir("streams-unix-paths");
    let by_str = dir.join("as-str.sock");
    let by_str = by_str.to_str().unwrap().to_owned();
    let by_buf = dir.join("as-pathbuf.sock");
    let by_bytes = dir.join(std::ffi::OsStr::from_bytes(b"bytes-\xff\xfe.sock"));
    let paths = (by_str.clone(), by_buf.clone(), by_bytes.clone());
    run(async move {
        let (by_str, by_buf, by_bytes) = paths;
        let servers = [
            asyncio::start_unix_server(echo_handler, by_str.as_str())
                .await
                .unwrap(),
            asyncio::start_unix_server(echo_handler, by_buf.clone())
                .await
                .unwrap(),
            asyncio::start_unix_server(echo_handler, by_bytes.as_os_str())
                .await
                .unwrap(),
        ];
        for path in [std::path::PathBuf::from(&by_str), by_buf, by_bytes] {
            let (reader, writer) = asyncio::open_unix_connection(&path).await.unwrap();
            writer.write(b"path\n").unwrap();
            assert_eq!(reader.readline().await.unwrap(), b"path\n");
            let peer = match writer.get_extra_info("peername") {
                Some(asyncio::ExtraInfo::Address(asyncio::Address::Unix(a))) => a,
                other => panic!("peername {other:?}"),
            };
            assert_eq!(
                peer.as_pathname(),
                Some(path.as_path()),
                "the same bytes back"
            );
            writer.close();
            writer.wait_closed().await.unwrap();
        }
        for server in servers {
            server.close();
            server.wait_closed().await;
        }
    });
    assert!(!std::path::Path::new(&by_str).exists() && !by_buf.exists() && !by_bytes.exists());
}

#[test]
fn test_open_connection_error_s19_s48_s64() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        // Reset only once the client is connected (else the connect itself may see it).
        go_rx.recv_timeout(BOUND).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        let mut s = s;
        s.write_all(b"partial").unwrap();
        // Dropped with linger 0: RST.
    });
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        go_tx.send(()).unwrap();
        // The data may or may not arrive before the reset; the error must come, typed.
        let mut got = Vec::new();
        let err = loop {
            match reader.read(100).await {
                Ok(d) if d.is_empty() => panic!("clean EOF instead of a reset"),
                Ok(d) => got.extend(d),
                Err(e) => break e,
            }
        };
        peer.join().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        let e = reader.readline().await.unwrap_err();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "S19: every later read raises it"
        );
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "S48: drain raises the reader's error"
        );
        assert!(
            writer.wait_closed().await.is_err(),
            "S46: wait_closed raises the loss error"
        );
    });
}

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
fn test_multiple_drain_s50_s52_s65() {
    // A peer that reads nothing until told: the writer's transport pauses; two drains wait.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        go_rx.recv_timeout(BOUND).unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let written = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let writer = Rc::new(writer);
        let chunk = vec![5u8; 64 * 1024];
        let mut written = 0;
        while writer.transport().get_write_buffer_size() <= 64 * 1024 {
            writer.write(&chunk).unwrap();
            written += chunk.len();
        }
        let released = Rc::new(Cell::new(0));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (w, r) = (writer.clone(), released.clone());
            tasks.push(asyncio::spawn(async move {
                w.drain().await.unwrap();
                r.set(r.get() + 1);
            }));
        }
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert_eq!(released.get(), 0, "drain returned while paused");
        go_tx.send(()).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(released.get(), 2, "S52: resume releases every waiter");
        writer.close();
        writer.wait_closed().await.unwrap();
        written
    });
    assert_eq!(peer.join().unwrap(), written);
}

#[test]
fn test_unhandled_exceptions_s60_s61_d7() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let kinds = ["err", "panic", "plain-err"];
    lp.run_until_complete(asyncio::timeout(BOUND, async {
        let failing = |_r: StreamReader, _w: StreamWriter| async move {
            Err::<(), Error>(Error::InvalidArgument("handler failed".into()))
        };
        let panicking = |_r: StreamReader, _w: StreamWriter| async move {
            if true {
                panic!("handler panicked");
            }
        };
        let plain = |_r: StreamReader, _w: StreamWriter| -> Result<(), std::io::Error> {
            Err(std::io::Error::other("plain failed"))
        };
        let servers = [
            asyncio::start_server(failing, "127.0.0.1", 0)
                .await
                .unwrap(),
            asyncio::start_server(panicking, "127.0.0.1", 0)
                .await
                .unwrap(),
            asyncio::start_server(plain, "127.0.0.1", 0).await.unwrap(),
        ];
        for s in &servers {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(s))
                .await
                .unwrap();
            // The server closes the connection: we see EOF.
            assert_eq!(reader.read(-1).await.unwrap(), b"");
            writer.close();
            writer.wait_closed().await.unwrap();
            s.close();
            s.wait_closed().await;
        }
    }))
    .unwrap()
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), kinds.len(), "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.starts_with("Unhandled exception in client_connected_cb")),
        "{seen:?}"
    );
    assert!(seen[0].ends_with("handler failed"));
    assert!(seen[1].ends_with("panicked: handler panicked"));
    assert!(seen[2].ends_with("plain failed"));
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
fn s16_readexactly_beyond_twice_the_limit_over_a_real_socket() {
    run(async {
        const N: usize = 1 << 20;
        let server = asyncio::start_server(
            |_r: StreamReader, w: StreamWriter| async move {
                let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
                w.write(&data)?;
                w.drain().await?;
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .limit(1024)
            .await
            .unwrap();
        let got = reader.readexactly(N).await.unwrap();
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn s22_d1_a_cancelled_readline_over_a_socket_loses_nothing() {
    run(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Rc::new(RefCell::new(Some(rx)));
        let server = asyncio::start_server(
            move |_r: StreamReader, w: StreamWriter| {
                let rx = rx.borrow_mut().take().unwrap();
                async move {
                    w.write(b"first half ")?;
                    w.drain().await?;
                    // Wait (bounded) until the client's readline has been cancelled.
                    while rx.try_recv().is_err() {
                        asyncio::sleep(Duration::from_millis(1)).await;
                    }
                    w.write(b"second half\n")?;
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        // A readline that sees the first half arrive, then is cancelled by its timeout.
        let r = asyncio::timeout(Duration::from_millis(20), reader.readline()).await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "the line cannot be complete yet"
        );
        tx.send(()).unwrap();
        assert_eq!(
            reader.readline().await.unwrap(),
            b"first half second half\n"
        );
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn flooding_client_that_never_reads_keeps_server_memory_bounded() {
    // The echo handler drains after each write: with a client that sends 32 MiB and reads
    // nothing, the server's write buffer stays near the high-water mark and its reader near
    // 2 x limit + one read; the peer's sends block instead.
    let lp = EventLoop::new().unwrap();
    let max_buffered = Rc::new(Cell::new(0usize));
    let m = max_buffered.clone();
    let server = lp
        .run_until_complete(asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let m = m.clone();
                async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = reader.read_into(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        writer.write(&buf[..n])?;
                        m.set(m.get().max(writer.transport().get_write_buffer_size()));
                        writer.drain().await?;
                    }
                    writer.close();
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let port = port_of(&server);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let mut sent = 0usize;
        while sent < 32 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break, // blocked: backpressure reached us
            }
        }
        done_tx.send(sent).unwrap();
        s // keep the socket open until joined
    });
    let mut sent = None;
    for _ in 0..100_000 {
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
        if let Ok(n) = done_rx.try_recv() {
            sent = Some(n);
            break;
        }
    }
    let sent = sent.expect("client never finished");
    assert!(
        sent < 32 << 20,
        "the client was never blocked: no backpressure"
    );
    assert!(
        max_buffered.get() <= 64 * 1024 + 64 * 1024,
        "server write buffer grew to {}",
        max_buffered.get()
    );
    drop(client.join().unwrap());
    server.close();
    server.abort_clients();
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
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

/// S49, S51: on a closing transport `drain` yields exactly one turn (CPython's `sleep(0)`):
/// a callback queued before it has run when it returns, one queued by that callback has not.
/// With bytes still being flushed (the peer does not read) and writing not paused, it then
/// returns normally; once the connection is lost, it fails with `Connection lost`.
#[test]
fn s49_s51_drain_on_a_closing_transport_yields_exactly_one_turn() {
    run(async {
        let (a, b) = asyncio::socketpair().unwrap();
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
        peer.transport().pause_reading(); // our bytes stay in our buffer
        writer
            .transport()
            .set_write_buffer_limits(Some(usize::MAX), None)
            .unwrap(); // never paused: drain has nothing to wait for but the close
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            if writer.transport().get_write_buffer_size() > 0 {
                break;
            }
            writer.write(&chunk).unwrap();
        }
        assert!(
            writer.transport().get_write_buffer_size() > 0,
            "the kernel took 64 MiB"
        );
        writer.close();
        assert!(writer.is_closing());
        let lp = asyncio::get_running_loop().unwrap();
        let turns = Rc::new(Cell::new(0));
        let (t, l) = (turns.clone(), lp.clone());
        lp.call_soon(move || {
            t.set(1);
            l.call_soon(move || t.set(2)).unwrap();
        })
        .unwrap();
        writer.drain().await.unwrap(); // still flushing: S51 returns normally
        assert_eq!(turns.get(), 1, "drain took one turn, not {}", turns.get());
        writer.transport().abort();
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Connection lost",
            "S51 once the connection is lost"
        );
        peer.close();
    });
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

#[test]
fn test_drain_raises_s48_s49_s50_s66() {
    // The peer closes abruptly while we keep writing: drain eventually raises the loss error.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (connected, go) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        // Reset only once the client has seen its connect succeed: a reset racing the
        // connect's completion check is a failed connect ([Errno 104], as in CPython).
        go.recv_timeout(Duration::from_secs(20)).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    });
    run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        connected.send(()).unwrap();
        peer.join().unwrap();
        let mut err = None;
        for _ in 0..10_000 {
            writer.write(&[0u8; 1024]).unwrap(); // never an error (S42)
            if let Err(e) = writer.drain().await {
                err = Some(e);
                break;
            }
            asyncio::yield_now().await;
        }
        let e = err.expect("drain never raised");
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        );
    });
}

/// S60 (3.12+/3.13, gh-113538): a handler task cancelled part-way closes its transport, as
/// `transport.close()` does: what the handler wrote and the transport still buffers is sent,
/// then EOF. It aborted, so the client got the response cut short, then a clean-looking EOF.
/// A Unix socket keeps the kernel's share small: most of the 4 MiB waits in the transport.
#[test]
fn s60_a_cancelled_handler_closes_its_connection_gracefully_keeping_what_it_wrote() {
    const N: usize = 4 << 20;
    let dir = util::temp_dir("streams-cancel");
    let path = dir.join("cancel.sock");
    run(async move {
        let seen = util::capture_exceptions(&asyncio::get_running_loop().unwrap());
        let handler: Rc<RefCell<Option<asyncio::TaskRef>>> = Rc::default();
        let h = handler.clone();
        let server = asyncio::start_unix_server(
            move |_r: StreamReader, w: StreamWriter| {
                let h = h.clone();
                async move {
                    let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
                    w.write(&data)?;
                    assert!(
                        w.transport().get_write_buffer_size() > 0,
                        "the test needs bytes left in the transport's buffer"
                    );
                    *h.borrow_mut() = asyncio::current_task()?;
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                }
            },
            &path,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_unix_connection(&path).await.unwrap();
        for _ in 0..1000 {
            if handler.borrow().is_some() {
                break;
            }
            asyncio::yield_now().await;
        }
        let task = handler.borrow_mut().take().expect("the handler ran");
        assert!(task.cancel());
        let got = reader.read(-1).await.unwrap();
        assert_eq!(got.len(), N, "S60: every byte the handler wrote arrives");
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        assert!(
            seen.borrow().is_empty(),
            "S60: silently: {:?}",
            seen.borrow()
        );
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}

/// S60 with L32: a handler that passes a cancellation on with `?` (here from awaiting a task
/// that was cancelled) ends as a cancelled task does, its connection closed silently, as
/// CPython's handler task ends cancelled when `CancelledError` escapes it. It was reported to
/// the exception handler as "Unhandled exception in client_connected_cb".
#[test]
fn s60_a_handler_passing_a_cancellation_on_closes_silently_l32() {
    run(async {
        let seen = util::capture_exceptions(&asyncio::get_running_loop().unwrap());
        let server = asyncio::start_server(
            |_r: StreamReader, w: StreamWriter| async move {
                let inner = asyncio::spawn(std::future::pending::<()>());
                inner.cancel();
                w.write(b"bye")?;
                inner.await?; // Err(Error::Cancelled), passed on
                Ok::<_, Error>(())
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"bye",
            "closed, not aborted"
        );
        assert!(
            seen.borrow().is_empty(),
            "S60: silently: {:?}",
            seen.borrow()
        );
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn test_unhandled_cancel_s60() {
    // A handler task cancelled (here by asyncio::run's shutdown, L41) closes its transport
    // quietly: nothing reaches the exception handler.
    let (seen, client) = asyncio::run(async {
        let seen = util::capture_exceptions(&asyncio::get_running_loop().unwrap());
        let server = asyncio::start_server(
            |_r: StreamReader, _w: StreamWriter| async move {
                std::future::pending::<()>().await;
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        for _ in 0..5 {
            asyncio::yield_now().await;
        }
        (seen, (reader, writer))
    })
    .unwrap();
    assert!(
        seen.borrow().is_empty(),
        "S60: a cancelled handler is not reported: {:?}",
        seen.borrow()
    );
    drop(client);
}

#[test]
fn test_open_unix_connection_s3_s25_s27() {
    let dir = util::temp_dir("open-unix");
    let path = dir.join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"line1\nline2\n").unwrap();
    });
    run(async move {
        let (reader, writer) = asyncio::open_unix_connection(&path).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line1\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"line2\n");
        writer.close();
    });
    peer.join().unwrap();
}

#[test]
fn test_open_unix_connection_error_s19_s64() {
    let dir = util::temp_dir("open-unix-err");
    let path = dir.join("missing.sock");
    run(async move {
        let e = asyncio::open_unix_connection(&path)
            .await
            .expect_err("connected to nothing");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn d12_an_abandoned_wait_closed_or_drain_does_not_poison_later_calls() {
    // CPython: cancelling wait_closed() cancels the closed future, and every later
    // wait_closed() raises CancelledError. D12: abandoning a wait is not cancelling the
    // connection.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (release, go) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        go.recv_timeout(Duration::from_secs(20)).unwrap(); // not reading until told
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let sent = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let r = asyncio::timeout(Duration::from_millis(5), writer.wait_closed()).await;
        assert!(matches!(r, Err(Error::Timeout)), "still open: {r:?}");
        // Fill the socket and our buffer past the high-water mark: drain must wait.
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        while writer.transport().get_write_buffer_size() <= 64 * 1024 {
            writer.write(&chunk).unwrap();
            sent += chunk.len();
            assert!(sent < 64 << 20, "the write buffer never filled");
        }
        let r = asyncio::timeout(Duration::from_millis(5), writer.drain()).await;
        assert!(matches!(r, Err(Error::Timeout)), "paused: {r:?}");
        release.send(()).unwrap();
        writer.drain().await.unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
        writer.wait_closed().await.unwrap();
        sent
    });
    assert_eq!(peer.join().unwrap(), sent, "every byte arrived");
}

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
fn s9_start_server_refuses_an_address_together_with_sock_before_binding() {
    // S9 (streams face of L96/L114): host/port or path with sock= is refused with CPython's
    // text, before anything is bound or removed. (A bool for ssl, no address at all, and a
    // sock that is not a stream socket cannot be written in Rust.)
    let dir = util::temp_dir("s9");
    let path = dir.join("stale.sock");
    // A stale socket file: a path server would remove it before binding (L115); a refused
    // call must not.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let (tcp, unix) = run({
        let path = path.clone();
        async move {
            let noop = |_r: StreamReader, w: StreamWriter| w.close();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let tcp = asyncio::start_server(noop, "127.0.0.1", 0)
                .sock(listener)
                .await
                .map(drop);
            let listener = std::os::unix::net::UnixListener::bind(path.with_extension("other"));
            let unix = asyncio::start_unix_server(noop, &path)
                .sock(listener.unwrap())
                .await
                .map(drop);
            (tcp, unix)
        }
    });
    assert!(
        matches!(&tcp, Err(Error::InvalidArgument(m))
            if m == "host/port and sock can not be specified at the same time"),
        "S9: {tcp:?}"
    );
    assert!(
        matches!(&unix, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "S9: {unix:?}"
    );
    assert!(path.exists(), "S9: refused before touching the path");
}

#[test]
fn s66_a_clean_loss_releases_the_drains_waiting_while_paused() {
    // FlowControlMixin.connection_lost(None) completes every pending drain waiter with None:
    // a drain blocked above the high-water mark returns Ok when the connection ends without
    // an error (here abort(), whose connection_lost carries none). The loss with an error is
    // tests/faults.rs reset_during_a_blocked_drain_fails_the_drain_s48_s50.
    let (a, _peer) = asyncio::socketpair().unwrap(); // the peer never reads
    run(async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let writer = Rc::new(writer);
        let (_low, high) = writer.transport().get_write_buffer_limits();
        let chunk = vec![7u8; 64 * 1024];
        let mut writes = 0;
        while writer.transport().get_write_buffer_size() <= high {
            writer.write(&chunk).unwrap();
            writes += 1;
            assert!(writes < 4096, "256 MiB written and never paused");
        }
        let drains: Vec<_> = (0..2)
            .map(|_| {
                let w = writer.clone();
                asyncio::spawn(async move { w.drain().await })
            })
            .collect();
        asyncio::yield_now().await; // both drains run and wait: writing is paused
        assert!(drains.iter().all(|d| !d.is_done()), "the drains wait");
        writer.transport().abort();
        for d in drains {
            let out = d.await.unwrap();
            assert!(out.is_ok(), "S66: a clean loss releases the drain: {out:?}");
        }
        let after = writer.drain().await;
        assert!(
            matches!(&after, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset
                && e.to_string() == "Connection lost"),
            "S50: a later drain: {after:?}"
        );
        assert!(writer.wait_closed().await.is_ok(), "S46: a clean close");
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

/// Records the turn in which its `connection_made` ran: the reference for a stream server's
/// connection accepted in the same turn.
struct TurnOfMade {
    turn: Rc<Cell<u32>>,
    made_at: Rc<Cell<Option<u32>>>,
}

impl asyncio::Protocol for TurnOfMade {
    fn connection_made(&mut self, t: asyncio::Transport) {
        self.made_at.set(Some(self.turn.get()));
        t.close();
    }
}

#[test]
fn s58_an_async_handler_takes_its_first_step_one_turn_after_connection_made() {
    // CPython's connection_made calls the callback and `create_task`s its coroutine: the
    // handler's first step runs in the next turn. A Protocol server's connection that is
    // accepted in the same turn as the stream server's (both clients connect before the loop
    // polls) marks the turn of connection_made; the turns are counted by the test, one per
    // run_once.
    let lp = EventLoop::new().unwrap();
    let turn = Rc::new(Cell::new(0u32));
    let (made_at, first_step_at) = (Rc::new(Cell::new(None)), Rc::new(Cell::new(None)));
    let (t, m) = (turn.clone(), made_at.clone());
    let reference = lp
        .run_until_complete(lp.create_server(
            move || TurnOfMade {
                turn: t.clone(),
                made_at: m.clone(),
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let (t, f) = (turn.clone(), first_step_at.clone());
    let handler = move |_r: StreamReader, w: StreamWriter| {
        let (t, f) = (t.clone(), f.clone());
        async move {
            f.set(Some(t.get()));
            w.close();
        }
    };
    let server = lp
        .run_until_complete(asyncio::start_server(handler, "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let a = std::net::TcpStream::connect(("127.0.0.1", port_of(&reference))).unwrap();
    let b = std::net::TcpStream::connect(("127.0.0.1", port_of(&server))).unwrap();
    util::run_until(&lp, 100, || {
        turn.set(turn.get() + 1);
        first_step_at.get().is_some()
    });
    let made = made_at.get().expect("the reference connection was made");
    assert_eq!(
        first_step_at.get(),
        Some(made + 1),
        "S58: the handler's first step comes one turn after connection_made (made in turn {made})"
    );
    drop((a, b));
    reference.close();
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

#[test]
fn s59_bytes_and_eof_sent_before_the_handler_starts_wait_in_its_reader() {
    // The client's bytes and EOF are all in the server's socket before the accept: the
    // handler, async or plain, reads all of them (nothing read before its start is lost).
    let lp = EventLoop::new().unwrap();
    let got = util::Log::default();
    let g = got.clone();
    let reads = move |r: StreamReader, w: StreamWriter| {
        let g = g.clone();
        async move {
            g.push(String::from_utf8_lossy(&r.read(-1).await?));
            w.close();
            Ok::<_, Error>(())
        }
    };
    let g = got.clone();
    let plain = move |r: StreamReader, w: StreamWriter| {
        let g = g.clone();
        asyncio::spawn(async move {
            g.push(String::from_utf8_lossy(&r.read(-1).await.unwrap()));
            w.close();
        })
        .detach();
    };
    let servers = [
        lp.run_until_complete(asyncio::start_server(reads, "127.0.0.1", 0)),
        lp.run_until_complete(asyncio::start_server(plain, "127.0.0.1", 0)),
    ]
    .map(|s| s.unwrap().unwrap());
    let mut clients = Vec::new();
    for s in &servers {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port_of(s))).unwrap();
        c.write_all(b"early").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        clients.push(c);
    }
    util::run_until(&lp, 100, || got.len() == 2);
    assert_eq!(got.get(), ["early", "early"], "S59");
    for s in &servers {
        s.close();
        lp.run_until_complete(s.wait_closed()).unwrap();
    }
}

#[test]
fn s60_a_connection_aborted_before_its_handler_starts_still_reaches_the_handler() {
    // The connection is aborted after the accept and before connection_made has run: the
    // handler still starts, one turn after connection_made, and its reader sees the end.
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let got = util::Log::default();
    let g = got.clone();
    let handler = move |r: StreamReader, w: StreamWriter| {
        let g = g.clone();
        async move {
            g.push(format!("{:?} closing={}", r.read(-1).await, w.is_closing()));
        }
    };
    let server = lp
        .run_until_complete(asyncio::start_server(handler, "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let c = std::net::TcpStream::connect(("127.0.0.1", port_of(&server))).unwrap();
    util::run_until(&lp, 100, || server.connection_count() == 1);
    server.abort_clients(); // connection_lost is queued behind connection_made
    util::run_until(&lp, 100, || got.len() == 1);
    assert_eq!(got.get(), ["Ok([]) closing=true"]);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(c);
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

#[test]
fn s60_a_handler_task_dropped_with_its_loop_before_its_first_step_closes_its_connection() {
    // The loop closes between connection_made and the handler's first step: the task is
    // dropped, reported as pending (as CPython reports a task destroyed pending), and its
    // connection closed; the handler never ran.
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let handler = move |_r: StreamReader, _w: StreamWriter| {
        r.set(true);
        async {}
    };
    let server = lp
        .run_until_complete(asyncio::start_server(handler, "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port_of(&server))).unwrap();
    let tasks = lp.stats().tasks;
    util::run_until(&lp, 100, || lp.stats().tasks > tasks);
    assert!(
        !ran.get(),
        "the handler runs in the turn after connection_made"
    );
    lp.close().unwrap();
    assert!(!ran.get());
    assert!(
        seen.borrow()
            .iter()
            .any(|s| s.starts_with("Task was destroyed but it is pending!")),
        "{:?}",
        seen.borrow()
    );
    c.set_read_timeout(Some(BOUND)).unwrap();
    let mut rest = Vec::new();
    assert!(
        matches!(c.read_to_end(&mut rest), Ok(0) | Err(_)),
        "the connection is closed"
    );
}

/// S60: a failed handler's report names its client, so a server's log says whose
/// connection failed (`peername: 127.0.0.1:PORT`), not only the transport's number. Before,
/// the report held `transport` and `exception` only.
#[test]
fn s60_a_failed_handler_report_names_the_client() {
    let lp = EventLoop::new().unwrap();
    let details: Rc<RefCell<Vec<(&'static str, String)>>> = Rc::default();
    let d = details.clone();
    lp.handle().set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            d.borrow_mut().extend(ctx.details.iter().cloned());
        },
    ));
    let handler = |r: StreamReader, w: StreamWriter| async move {
        let _writer = w; // held: the connection stays open until the failure closes it
        r.readexactly(100).await?; // the client sends less, then its EOF
        Ok::<_, Error>(())
    };
    let client = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let server = asyncio::start_server(handler, "127.0.0.1", 0)
                .await
                .unwrap();
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
                .await
                .unwrap();
            writer.write(b"short").unwrap();
            writer.write_eof().unwrap();
            assert_eq!(reader.read(-1).await.unwrap(), b"", "the server closed");
            let client = writer.sockname().unwrap().to_string();
            writer.close();
            server.close();
            server.wait_closed().await;
            client
        }))
        .unwrap()
        .unwrap();
    let details = details.borrow();
    assert!(
        details.contains(&("peername", client.clone())),
        "{client}: {details:?}"
    );
    assert!(
        details.iter().any(|(k, _)| *k == "transport"),
        "{details:?}"
    );
}

#[test]
fn s60_s61_a_callback_panicking_before_it_returns_its_future_is_reported_and_closes() {
    // The async callback's own code, before its future exists, runs in the handler's task:
    // a panic there is the handler's failure (reported, connection closed), not the loop's.
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    #[allow(unreachable_code)]
    let handler = |_r: StreamReader, _w: StreamWriter| {
        if true {
            panic!("before the future");
        }
        async {}
    };
    lp.run_until_complete(asyncio::timeout(BOUND, async {
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .await
            .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        assert_eq!(reader.read(-1).await.unwrap(), b"", "the server closed");
        writer.close();
        server.close();
        server.wait_closed().await;
    }))
    .unwrap()
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Unhandled exception in client_connected_cb")
            && seen[0].ends_with("panicked: before the future"),
        "{seen:?}"
    );
}
