//! Two loop.start_tls on one transport (T33, T9, D14): the second replaces the first's layer
//! as the transport's protocol, and the first must still end.

use super::*;

/// Both upgrades start in the same turn, against a peer that reads and never answers; each
/// has a 1 s handshake timeout. The second `set_protocol` drops the first layer from the
/// transport, and with it the last strong hold on it: its handshake timer (which holds it
/// weakly) found it gone, and its waiter was never told, so the first start_tls hung for
/// ever, past its own timeout (CPython's layer lives on in its timer: it fails at the
/// timeout and force-closes the transport, ending both). Now the first fails at once with
/// `Error::InvalidState` naming the replacement, its guard closes the transport as after any
/// failed start_tls, and the second fails with it: neither waits for a timeout. Checked
/// against the old code: the first is still pending after 5 s.
#[test]
fn t33_t9_d14_a_second_start_tls_on_one_transport_ends_the_first_at_once() {
    run(async {
        let (server, port, _seen) = plain_server(|reader, writer, _seen| async move {
            let _ = reader.read(-1).await; // the ClientHellos, unanswered
            writer.close();
            Ok(())
        })
        .await?;
        let lp = asyncio::get_running_loop()?;
        let (plain, rec) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let upgrade = || {
            lp.start_tls(&plain, rec.clone(), Certs::get().client_config(&[]), false)
                .server_hostname("localhost")
                .ssl_handshake_timeout(Duration::from_secs(1))
        };
        let (first, second) = (upgrade(), upgrade());
        let first = asyncio::spawn(async move { first.await.map(drop) });
        let second = asyncio::spawn(async move { second.await.map(drop) });
        let started = Instant::now();
        let first = asyncio::timeout(Duration::from_secs(5), first)
            .await
            .expect("the first start_tls hung past its handshake timeout")
            .expect("not cancelled");
        let Err(Error::InvalidState(why)) = first else {
            panic!("the first start_tls: {first:?}");
        };
        assert!(why.contains("protocol was replaced"), "{why}");
        let second = asyncio::timeout(Duration::from_secs(5), second)
            .await
            .expect("the second start_tls hung")
            .expect("not cancelled");
        let e = second.expect_err("the transport was closed under it");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "ended by a handshake timeout, not at once: {:?}",
            started.elapsed()
        );
        assert!(plain.is_closing(), "T33: the failed start_tls closed it");
        server.close();
        Ok(())
    });
}
