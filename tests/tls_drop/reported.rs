//! Failures reported to the loop's handler over TLS (L18, S60): a foreign waker panicking as a
//! read or handshake ends, and a handler failing after a reset, with the client's peername.

use super::*;

/// Lets the loop turn until `seen` holds a report (bounded).
async fn until_reported(seen: &RefCell<Vec<String>>) {
    for _ in 0..10_000 {
        if !seen.borrow().is_empty() {
            return;
        }
        asyncio::yield_now().await;
    }
}

// Checklist: L18. Another executor's waker on a read over TLS (the layer delivers the
// plaintext, the stream protocol wakes the read) and on start_tls' handshake (the layer wakes
// it as the handshake ends): its panic is the waker owner's failure, reported as a
// callback's, and the connection lives on. Inside the layer's calls it used to be the
// protocol's failure ("Fatal error on SSL protocol" for the read, the raw transport's
// "data_received() call failed" for the handshake), which ended the connection.
#[test]
fn l18_a_foreign_waker_that_panics_as_a_tls_read_or_handshake_ends_is_reported_and_the_connection_lives(
) {
    run(async {
        let lp = asyncio::get_running_loop()?;
        let seen = util::capture_exceptions(&lp);
        let (server, port) = tls_echo_server(&[]).await?;
        let waker = std::task::Waker::from(std::sync::Arc::new(Panicky));
        let (reader, writer) = open_tls(port).await?;
        let echoed = {
            let mut read = std::pin::pin!(reader.read(8));
            assert!(poll_with(read.as_mut(), &waker).is_pending()); // parked with it
            writer.write(b"x")?;
            until_reported(&seen).await;
            read.await?
        };
        assert_eq!(echoed, b"x");
        writer.write(b"y")?;
        assert_eq!(reader.read(8).await?, b"y", "still connected");
        assert_eq!(
            std::mem::take(&mut *seen.borrow_mut()),
            ["Exception in callback stream reader wake-up | panicked: foreign waker failed"]
        );
        writer.close();
        writer.wait_closed().await?;
        // The handshake's waiter: a plain connection, upgraded by start_tls polled by hand.
        let (plain, protocol) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let tls = {
            let mut upgrade = std::pin::pin!(lp
                .start_tls(&plain, protocol, Certs::get().client_config(&[]), false)
                .server_hostname("localhost")
                .into_future());
            assert!(poll_with(upgrade.as_mut(), &waker).is_pending());
            until_reported(&seen).await;
            upgrade.await?
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        assert_eq!(
            *seen.borrow(),
            ["Exception in callback TLS handshake wake-up | panicked: foreign waker failed"]
        );
        tls.close();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// S60 over TLS: a handler that fails because its client reset the connection is reported
/// with the client's peername, as on a plain socket (the report the plain server gives since
/// the client's address was added to it). The TLS transport asked its raw transport, which
/// the layer lets go of with the loss, so after a reset the report had no peername (checked
/// by reverting: only the 'transport' key).
// Checklist: S60.
#[test]
fn s60_a_tls_handler_failing_after_a_reset_is_reported_with_the_clients_peername() {
    let lp = asyncio::EventLoop::new().unwrap();
    let details: Rc<RefCell<Vec<(&'static str, String)>>> = Rc::default();
    let d = details.clone();
    lp.handle().set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            d.borrow_mut().extend(ctx.details.iter().cloned());
        },
    ));
    let handler = |r: StreamReader, w: StreamWriter| async move {
        let _writer = w; // held: the connection stays open until the failure closes it
        r.readexactly(100).await?; // the client sends less, then resets
        Ok::<_, Error>(())
    };
    let client = lp
        .run_until_complete(asyncio::timeout(Duration::from_secs(20), async {
            let server = asyncio::start_server(handler, "127.0.0.1", 0)
                .ssl(Certs::get().server_config(&[]))
                .await?;
            let port = util::port_of(&server);
            let client = asyncio::to_thread(move || {
                let (mut tcp, mut conn) = tls_common::blocking_tls_client(port);
                io::Write::write_all(&mut tcp, &tls_common::seal(&mut conn, b"short")).unwrap();
                let me = tcp.local_addr().unwrap().to_string();
                socket2::SockRef::from(&tcp)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(tcp); // linger 0: RST
                me
            })
            .await?;
            for _ in 0..100_000 {
                if !details.borrow().is_empty() {
                    break;
                }
                asyncio::yield_now().await;
            }
            server.close();
            server.wait_closed().await;
            Ok::<_, Error>(client)
        }))
        .unwrap()
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
