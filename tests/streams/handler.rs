//! The server's client_connected_cb: when its first step runs, what it reads that arrived
//! before it started, and how its failure, panic or cancellation ends the connection and is
//! reported (S58–S61, D7).

use super::*;

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
        each_server_closes_our_connection(&servers).await;
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

/// A panic payload whose own drop panics (`panic_any` of this).
struct PayloadPanicsOnDrop;

impl Drop for PayloadPanicsOnDrop {
    fn drop(&mut self) {
        panic!("payload drop fails");
    }
}

#[test]
fn s60_s61_l35_a_handler_panic_whose_payload_panics_on_drop_is_reported_and_closes() {
    // S60, S61, L35: the handler's panic payload was dropped before the connection was told
    // of the failure; a drop that panics skipped the report and the close. Each kind of
    // handler: an async one panicking before its future exists, one panicking in its
    // future, a plain one.
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    lp.run_until_complete(asyncio::timeout(BOUND, async {
        #[allow(unreachable_code)]
        let before = |_r: StreamReader, _w: StreamWriter| {
            std::panic::panic_any(PayloadPanicsOnDrop);
            async {}
        };
        let inside = |_r: StreamReader, _w: StreamWriter| async move {
            if true {
                std::panic::panic_any(PayloadPanicsOnDrop);
            }
        };
        let plain = |_r: StreamReader, _w: StreamWriter| -> Result<(), std::io::Error> {
            std::panic::panic_any(PayloadPanicsOnDrop)
        };
        let servers = [
            asyncio::start_server(before, "127.0.0.1", 0).await.unwrap(),
            asyncio::start_server(inside, "127.0.0.1", 0).await.unwrap(),
            asyncio::start_server(plain, "127.0.0.1", 0).await.unwrap(),
        ];
        each_server_closes_our_connection(&servers).await;
    }))
    .unwrap()
    .unwrap();
    let seen = seen.borrow();
    let handler = seen
        .iter()
        .filter(|s| s.starts_with("Unhandled exception in client_connected_cb"))
        .count();
    let drops = seen
        .iter()
        .filter(|s| {
            **s == "Exception in callback drop of a panic payload | panicked: payload drop fails"
        })
        .count();
    assert_eq!((handler, drops, seen.len()), (3, 3, 6), "{seen:?}");
}

/// Connects to each server, sees it close the connection (EOF), then closes both ends.
async fn each_server_closes_our_connection(servers: &[asyncio::Server]) {
    for s in servers {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(s))
            .await
            .unwrap();
        assert_eq!(reader.read(-1).await.unwrap(), b"", "the server closed");
        writer.close();
        writer.wait_closed().await.unwrap();
        s.close();
        s.wait_closed().await;
    }
}
