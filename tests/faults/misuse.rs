//! Misuse as typed errors, not hangs or panics: two tasks reading one reader, writes after
//! write_eof or close, streams and servers of a closed loop, writelines to a gone peer (S20,
//! S21, S42, S43, S51, L16, L64, L65, L68, L76, L80).

use super::*;

/// An in-loop echo server (line by line) and one client connected to it.
fn echo_pair(lp: &EventLoop) -> (asyncio::Server, StreamReader, StreamWriter) {
    let server = run(
        lp,
        asyncio::start_server(
            |r: StreamReader, w: StreamWriter| async move {
                loop {
                    let line = r.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    w.write(&line)?;
                    w.drain().await?;
                }
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    let port = port_of(&server);
    let (r, w) = run(lp, asyncio::open_connection("127.0.0.1", port)).unwrap();
    (server, r, w)
}

fn finish(lp: &EventLoop, server: asyncio::Server) {
    server.close();
    let s2 = server.clone();
    run(lp, async move { s2.wait_closed().await });
    assert_loop_empty(lp, 0);
}

#[test]
fn two_tasks_reading_one_reader_is_invalid_state_not_a_hang_s20_s21() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (server, reader, writer) = echo_pair(&lp);
    run(&lp, async move {
        let reader = Rc::new(reader);
        let r = reader.clone();
        let first = asyncio::spawn(async move { r.read(100).await });
        asyncio::yield_now().await; // `first` is waiting now
        assert!(!first.is_done());
        for (e, name) in [
            (reader.readline().await.unwrap_err(), "readuntil"),
            (reader.readuntil(b"!").await.unwrap_err(), "readuntil"),
            (reader.readexactly(3).await.unwrap_err(), "readexactly"),
            (reader.read(5).await.unwrap_err(), "read"),
            (reader.read(-1).await.unwrap_err(), "read"),
        ] {
            assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "{name}() called while another coroutine is already waiting for incoming data"
                )
            );
        }
        writer.write(b"abc\n").unwrap();
        assert_eq!(
            first.await.unwrap().unwrap(),
            b"abc\n",
            "the first reader was not disturbed"
        );
        writer.write(b"def\n").unwrap();
        assert_eq!(
            reader.readline().await.unwrap(),
            b"def\n",
            "S21: the slot is free again"
        );
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    finish(&lp, server);
}

#[test]
fn writes_after_write_eof_or_close_and_drain_after_close_s42_s51_l64_l76() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (server, reader, writer) = echo_pair(&lp);
    run(&lp, async move {
        echo_once(&reader, &writer, b"one\n").await;
        writer.write_eof().unwrap();
        writer.write_eof().unwrap(); // L73: a second one does nothing
        let e = writer.write(b"two\n").unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert_eq!(e.to_string(), "Cannot call write() after write_eof()");
        let e = writer.writelines(&[b"a", b"b"]).unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert_eq!(e.to_string(), "Cannot call writelines() after write_eof()");
        writer.drain().await.unwrap(); // nothing buffered, not closing: returns
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"",
            "the server closed after our EOF"
        );
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    // A second connection: write after close (no write_eof) is dropped without an error.
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        echo_once(&reader, &writer, b"one\n").await;
        writer.close();
        for _ in 0..10 {
            writer.write(b"after close\n").unwrap(); // L76/L81: dropped (warns from the 5th)
            writer.writelines(&[b"x", b"y"]).unwrap();
        }
        // S51: close() with an empty buffer completes within drain's one yield.
        let e = writer.drain().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(e.to_string(), "Connection lost");
        writer.wait_closed().await.unwrap();
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Connection lost",
            "S51: drain after wait_closed"
        );
        writer.write_eof().unwrap(); // L73: nothing on a closed transport
        writer.close(); // idempotent
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"",
            "S64: EOF after our own close"
        );
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    finish(&lp, server);
}

/// S43/L64/L68: after `write_eof`, `writelines` of no chunk at all is refused like any write
/// (CPython 3.11 joins the list and `write(b"")` raises; 3.13's `writelines` raises before
/// looking at the list), as `Transport::writelines` already did; the stream's returned `Ok`.
#[test]
fn s43_writelines_of_no_chunk_after_write_eof_is_refused_too_l68() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    run(&lp, async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        writer.write_eof().unwrap();
        for (what, e) in [
            ("write", writer.write(b"").unwrap_err()),
            ("writelines", writer.writelines(&[]).unwrap_err()),
        ] {
            assert!(matches!(e, Error::InvalidState(_)), "{what}: {e:?}");
            assert_eq!(
                e.to_string(),
                format!("Cannot call {what}() after write_eof()")
            );
        }
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    drop(b);
}

#[test]
fn misuse_streams_of_a_closed_loop_fail_instead_of_hanging() {
    // CPython raises RuntimeError (a future attached to a different loop). Here closing the
    // loop gives each live transport's protocol connection_lost("Event loop is closed"), so
    // the reader fails and wait_closed returns instead of waiting forever.
    let _serial = util::serial();
    let (reader, writer) = {
        let lp = EventLoop::new().unwrap();
        let (server, reader, writer) = echo_pair(&lp);
        server.close();
        lp.close().unwrap();
        (reader, writer)
    };
    asyncio::run(async move {
        let short = Duration::from_millis(200);
        let read = asyncio::timeout(short, reader.read(10)).await;
        assert!(matches!(read, Ok(Err(_))), "read: {read:?}");
        let closed = asyncio::timeout(short, writer.wait_closed()).await;
        assert!(closed.is_ok(), "wait_closed: {closed:?}");
    })
    .unwrap();
}

/// The newcomer's version: a stream returned out of one `asyncio::run` and read in another.
/// The read fails (Python's `Event loop is closed`) and says why: the stream's loop closed
/// when its run returned. Before, the text was Python's alone.
// Checklist: L16.
#[test]
fn misuse_a_stream_kept_past_its_run_says_its_loop_closed_with_the_run() {
    let _serial = util::serial(); // its sockets and loops would count in the others' checks
    let (a, b) = asyncio::socketpair().unwrap();
    let (reader, _writer) = asyncio::run(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let read =
        asyncio::run(
            async move { asyncio::timeout(Duration::from_secs(5), reader.read(10)).await },
        );
    let e = match read {
        Ok(Ok(Err(e))) => e,
        other => panic!("the read did not fail: {other:?}"),
    };
    assert!(matches!(e, asyncio::Error::Io(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("Event loop is closed (the loop this connection was made on: asyncio::run closes its loop as it returns"), "{text}");
    assert!(
        text.contains("use a Runner for several runs on one loop"),
        "{text}"
    );
    drop(b);
}

/// A Protocol connection still open when its run returns hears `connection_lost(Some(err))`
/// as the loop closes. The text said "a stream cannot be used after its run", which blames a
/// use the program never made; it now says the run's end closed the connection.
// Checklist: L44 (lost exactly once, last), L16.
#[test]
fn misuse_a_protocol_connection_open_when_its_run_ends_is_told_the_run_closed_it() {
    use std::cell::RefCell;
    use std::rc::Rc;

    struct Lost(Rc<RefCell<Option<String>>>);
    impl asyncio::Protocol for Lost {
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            *self.0.borrow_mut() = Some(exc.map_or("None".into(), |e| e.to_string()));
        }
    }

    let _serial = util::serial(); // as above
    let (a, b) = asyncio::socketpair().unwrap();
    let lost = Rc::new(RefCell::new(None));
    let seen = lost.clone();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop()?;
        let (_transport, _protocol) = lp.connect_socket(move || Lost(seen), a).await?;
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    let text = lost
        .borrow()
        .clone()
        .expect("connection_lost was called as the loop closed");
    assert!(
        text.starts_with("Event loop is closed (the loop this connection was made on"),
        "{text}"
    );
    assert!(
        text.contains("and with it every connection still open"),
        "{text}"
    );
    assert!(!text.contains("a stream cannot be used"), "{text}");
    drop(b);
}

/// A server or connection set up through a handle kept past its loop's `close()`: nothing
/// was made, so the error is Python's bare `Event loop is closed`, not the text of a stream
/// that outlived its run ("the loop this connection was made on ...").
// Checklist: L1, L24 (a closed loop refuses new work with Event loop is closed).
#[test]
fn misuse_a_server_or_connection_set_up_on_a_closed_loop_says_only_that_it_is_closed() {
    let _serial = util::serial(); // as above
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    lp.close().unwrap();
    let (a, _b) = asyncio::socketpair().unwrap();
    let (server, conn) = asyncio::run(async move {
        let server = h.create_server(Recorder::default, "127.0.0.1", 0).await;
        let conn = h.connect_socket(Recorder::default, a).await;
        (server.map(drop), conn.map(drop))
    })
    .unwrap();
    for (what, r) in [("create_server", server), ("connect_socket", conn)] {
        let e = r.expect_err(what);
        assert_eq!(e.to_string(), "Event loop is closed", "{what}: {e:?}");
    }
}

const SIGPIPE_CHILD: &str = "ASYNCIO_TEST_SIGPIPE_CHILD";

/// The child's half of the next test: `SIGPIPE` back at its default action (as in a C host
/// embedding the loop), then a `writelines` to a peer that has gone.
fn writelines_to_a_gone_peer_child() {
    // SAFETY: the child runs this one test alone (`--test-threads=1`); setting a signal's
    // disposition to its default races with nothing.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    let (a, b) = asyncio::socketpair().unwrap();
    drop(b);
    let lost = asyncio::run(asyncio::timeout(BOUND, async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        // The peer's EOF keeps the write side open (S63); its close makes a send fail EPIPE.
        writer.writelines(&[b"nobody ", b"reads"]).unwrap();
        writer.wait_closed().await
    }))
    .unwrap()
    .expect("bounded");
    let err = lost.expect_err("the write must fail");
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == ErrorKind::BrokenPipe),
        "{err:?}"
    );
    println!("sigpipe child: ok");
}

#[test]
fn writelines_to_a_gone_peer_is_broken_pipe_not_sigpipe_l65_l80() {
    // `write` sends with MSG_NOSIGNAL; the vectored path of `writelines` must too, or a peer
    // that closes kills a process that has not ignored SIGPIPE (a C host, a cdylib).
    // Serialised like the rest of this binary: running the child opens pipes in this process,
    // which the descriptor counts of the other tests would see.
    let _serial = util::serial();
    util::in_child(
        SIGPIPE_CHILD,
        "misuse::writelines_to_a_gone_peer_is_broken_pipe_not_sigpipe_l65_l80",
        "sigpipe child: ok",
        writelines_to_a_gone_peer_child,
    );
}
