//! start_tls refused or failed (D14, T8, T10): after the peer's EOF, after `write_eof`, and
//! every waiter failing right after a failed one.

use super::*;

/// D14, T10: start_tls on a stream whose peer has already closed (its EOF read, the plain
/// transport kept open for the half-close, S63) fails at once with ConnectionReset, as
/// CPython's does (its resumed socket reads the EOF again, and the TLS layer fails the
/// handshake). The handshake can never complete; it must not wait for its timeout.
#[test]
fn d14_t10_start_tls_after_the_peers_eof_fails_at_once() {
    run(async {
        // A STARTTLS server that refuses: one line, then it closes.
        let (server, port, seen) = plain_server(|_r, w, seen| async move {
            w.write(b"454 TLS not available\r\n")?;
            w.close();
            w.wait_closed().await?;
            seen.borrow_mut().push("closed".into());
            Ok(())
        })
        .await?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.read(-1).await?, b"454 TLS not available\r\n");
        assert!(
            !writer.is_closing(),
            "S63: a plain stream stays open after EOF"
        );
        let e = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            // Far beyond the bound: only the peer's EOF can end this handshake in time.
            .ssl_handshake_timeout(Duration::from_secs(3600))
            .await
            .expect_err("no handshake with a peer that has closed");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
        let e = fails("wait_closed", writer.wait_closed()).await;
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
        tls_helpers::close_after_handler(server, &seen).await;
        Ok(())
    });
}

/// D14: once `StreamWriter::start_tls` has returned its failure, the stream has failed too:
/// a drain, read or wait_closed made right after it (nothing pending during the upgrade)
/// fails with the same error. The layer tells the stream a turn or two after the handshake
/// failed; a drain in between passed (`Ok`) and a read found the stream still open.
#[test]
fn d14_t8_every_waiter_fails_right_after_a_failed_start_tls() {
    run(async {
        let (server, port, seen) = start_tls_server_recording().await?;
        let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let e = writer
            .start_tls(other)
            .server_hostname("localhost")
            .await
            .expect_err("an unknown issuer is refused");
        assert!(tls_err(&e).is_certificate_error(), "{e:?}");
        // First the drain: it must not pass on a connection the failure has ended.
        let drained = writer.drain().await;
        assert!(
            matches!(&drained, Err(e) if tls_err(e).is_certificate_error()),
            "{drained:?}"
        );
        for e in every_waiter_fails(&reader, &writer).await {
            assert!(tls_err(&e).is_certificate_error(), "{e:?}");
        }
        tls_helpers::close_after_handler(server, &seen).await;
        Ok(())
    });
}

#[test]
fn d14_start_tls_after_write_eof_fails_at_once_instead_of_at_the_handshake_timeout() {
    // The layer cannot send its ClientHello through a transport whose write side is shut
    // (the socket transport refuses the write): that is the handshake's failure, typed and at
    // once, not a silent wait for the peer until the handshake timeout (D14, T8). A read
    // already waiting fails with it too, and the misuse is reported once (T29), not at every
    // refused write.
    run(async {
        let reports = util::capture_exceptions(&asyncio::get_running_loop()?);
        // A server that takes the client's EOF and keeps its side open until the test is
        // done (a half-close is no reason to close): nothing from it ends the handshake.
        let (server, port, done) = tls_helpers::server_held_until_done(|r, w| async move {
            assert_eq!(r.read(-1).await?, b"");
            Ok((r, w))
        })
        .await?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let reader = Rc::new(reader);
        let r = reader.clone();
        let pending = asyncio::spawn(async move { r.read(10).await });
        asyncio::yield_now().await; // the read is waiting
        writer.write_eof()?;
        let upgrade = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_secs(3600));
        let e = fails("start_tls after write_eof", upgrade.into_future()).await;
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert!(e.to_string().contains("write_eof"), "{e}");
        let waiting = fails("the read waiting", async { pending.await.expect("task") }).await;
        assert!(matches!(waiting, Error::InvalidState(_)), "{waiting:?}");
        for later in every_waiter_fails(&reader, &writer).await {
            assert!(matches!(later, Error::InvalidState(_)), "{later:?}");
        }
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "T29: reported once: {reports:?}");
        assert!(reports[0].contains("write_eof"), "{reports:?}");
        done.set();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
