//! Writes over TLS at the edges (T14, T29): write buffer limits of zero, and a raw transport
//! refusing a large write after the handshake.

use super::*;

/// T14 with S67: `set_write_buffer_limits(0)` over TLS pauses the app only while something
/// is buffered, as on a plain transport ("pause whenever the buffer becomes non-empty"). With
/// sslproto's `>= high` rule alone an empty buffer counted as full at high = low = 0, so the
/// app was paused and resumed on alternate calls, and a drain that met a pause made on an
/// empty buffer waited forever on a quiet peer (CPython's third drain hangs the same way).
#[test]
fn t14_write_buffer_limits_of_zero_over_tls_never_pause_on_an_empty_buffer() {
    run(async {
        let (server, port) =
            tls_helpers::tls_server(|r: StreamReader, w: StreamWriter| async move {
                r.read(-1).await?; // reads everything, answers nothing
                w.close();
                w.wait_closed().await
            })
            .await?;
        let (_reader, writer) = open_tls(port).await?;
        writer.transport().set_write_buffer_limits(Some(0), None)?;
        assert_eq!(writer.transport().get_write_buffer_limits(), (0, 0));
        assert!(
            !writer.buffer_info().writing_paused,
            "nothing buffered: not paused"
        );
        for i in 0..4 {
            writer.write(b"hi")?;
            writer.drain().await?; // hung on the second or third
            assert!(!writer.buffer_info().writing_paused, "write {i}");
        }
        close_both(&writer, server).await
    });
}

#[test]
fn d14_t29_a_raw_transport_refusing_a_large_write_after_the_handshake_is_reported_once() {
    // After the upgrade someone shuts the raw transport's write side (its write_eof()): the
    // next large write is encrypted and handed down in many pieces, all refused. The first
    // refusal is the connection's fatal error, reported once (T29); the rest add nothing.
    run(async {
        let reports = util::capture_exceptions(&asyncio::get_running_loop()?);
        let (server, port, done) = tls_helpers::server_held_until_done(|r, mut w| async move {
            w.start_tls(Certs::get().server_config(&[])).await?;
            Ok((r, w))
        })
        .await?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        raw.write_eof()?;
        writer.write(&vec![b'x'; 1 << 20])?; // taken: the refusal is the layer's to report
        for later in every_waiter_fails(&reader, &writer).await {
            assert!(matches!(later, Error::InvalidState(_)), "{later:?}");
        }
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "T29: reported once: {reports:?}");
        done.set();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
