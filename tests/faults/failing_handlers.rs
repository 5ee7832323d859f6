//! Failing handlers beside healthy ones: async and plain handlers that fail are reported once
//! and close only their own connection (S60, S61, D7).

use super::*;

/// Healthy clients echo, failing ones connect in the middle, healthy ones echo on; the failures
/// are each reported once and close only their own connection.
fn healthy_clients_survive_failing_ones(
    lp: &EventLoop,
    port: u16,
    bad: &'static [&'static [u8]],
) -> usize {
    const GOOD: usize = 4;
    const ROUNDS: usize = 10;
    let bad_done = Rc::new(Cell::new(0usize));
    run(lp, async move {
        let mut tasks = Vec::new();
        for i in 0..GOOD {
            let bad_done = bad_done.clone();
            tasks.push(asyncio::spawn(async move {
                let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                echo_once(&r, &w, format!("hello {i}\n").as_bytes()).await;
                while bad_done.get() < bad.len() {
                    asyncio::yield_now().await; // the failing clients run meanwhile
                }
                for round in 0..ROUNDS {
                    echo_once(&r, &w, format!("client {i} round {round}\n").as_bytes()).await;
                }
                w.close();
                w.wait_closed().await.unwrap();
            }));
        }
        for &first_line in bad {
            let bad_done = bad_done.clone();
            tasks.push(asyncio::spawn(async move {
                let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                w.write(first_line).unwrap();
                // The server closes this connection: EOF, not a hang. A handler that fails
                // before the transport has read `first_line` closes a socket with unread
                // bytes, which the kernel answers with RST (CPython alike): a reset is a close.
                let reset = match r.read(-1).await {
                    Ok(rest) => {
                        assert_eq!(rest, b"", "{first_line:?}");
                        false
                    }
                    Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
                    Err(e) => panic!("{first_line:?}: {e}"),
                };
                w.close();
                match w.wait_closed().await {
                    Ok(()) => {}
                    // wait_closed reports the error the connection was lost with (S51).
                    Err(Error::Io(e))
                        if reset && e.kind() == std::io::ErrorKind::ConnectionReset => {}
                    Err(e) => panic!("{first_line:?}: wait_closed: {e}"),
                }
                bad_done.set(bad_done.get() + 1);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // And a new connection after the failures is served too.
        let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        echo_once(&r, &w, b"late\n").await;
        w.close();
        w.wait_closed().await.unwrap();
    });
    GOOD
}

#[test]
fn failing_async_handlers_leave_other_connections_running_s60_d7() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    // A failing handler that has put its writer somewhere else: only the failure path can
    // close that connection (dropping the writer would close it too, S56).
    let stash: Rc<RefCell<Vec<StreamWriter>>> = Rc::default();
    let keep = stash.clone();
    let server = run(
        &lp,
        asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| {
                let keep = keep.clone();
                async move {
                    let first = r.readline().await?;
                    match &first[..] {
                        b"panic\n" => panic!("handler panicked on purpose"),
                        b"err\n" => {
                            return Err(Error::InvalidArgument("handler failed on purpose".into()))
                        }
                        b"stash\n" => {
                            keep.borrow_mut().push(w);
                            return Err(Error::InvalidArgument("handler kept its writer".into()));
                        }
                        _ => {}
                    }
                    w.write(&first)?;
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
                }
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    let bad: &[&[u8]] = &[b"panic\n", b"err\n", b"stash\n"];
    healthy_clients_survive_failing_ones(&lp, port_of(&server), bad);
    assert!(server.is_serving());
    run_until(&lp, 1000, || server.connection_count() == 0);
    assert!(
        stash.borrow()[0].is_closing(),
        "D7: the failed handler's transport is closed"
    );
    stash.borrow_mut().clear();
    let seen = seen.borrow().clone();
    assert_eq!(seen.len(), 3, "one report per failure: {seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Unhandled exception in client_connected_cb")));
    assert!(seen
        .iter()
        .any(|s| s.ends_with("panicked: handler panicked on purpose")));
    assert!(seen
        .iter()
        .any(|s| s.ends_with("handler failed on purpose")));
    assert!(seen.iter().any(|s| s.ends_with("handler kept its writer")));
    server.close();
    run_until(&lp, 100, || lp.stats().tasks == 0);
    assert_loop_empty(&lp, 0);
}

#[test]
fn failing_plain_handlers_leave_other_connections_running_s61_d7() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    // A plain callback starts an echo task itself; it fails when the connection number says so.
    let n = Rc::new(Cell::new(0usize));
    let server = run(
        &lp,
        asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| -> Result<(), Error> {
                n.set(n.get() + 1);
                match n.get() {
                    5 => panic!("plain handler panicked on purpose"),
                    6 => return Err(Error::InvalidArgument("plain handler failed".into())),
                    _ => {}
                }
                asyncio::spawn(async move {
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
                })
                .detach();
                Ok(())
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    // Connections 1-4 are the healthy ones (they connect first), 5 and 6 fail, 7 is the late one.
    healthy_clients_survive_failing_ones(&lp, port_of(&server), &[b"x\n", b"y\n"]);
    let seen = seen.borrow().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Unhandled exception in client_connected_cb")));
    server.close();
    run_until(&lp, 1000, || {
        server.connection_count() == 0 && lp.stats().tasks == 0
    });
    assert_loop_empty(&lp, 0);
}
