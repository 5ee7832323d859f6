//! A stream reader paused around stream start_tls (S54, S14, T22): paused before it, held
//! or resumed as its handshake ends, and closed while paused.

use super::*;

/// T22 with S54, T25: after `StreamWriter::start_tls` a reader that stopped at its limit has
/// paused the raw transport; closing the writer then ends the shutdown at once, with the TLS
/// error that the peer's data, unread and arriving after our close_notify, is (application
/// data after close notify). The layer reads on while it waits for the peer's close_notify
/// (as it does when it paused the raw transport itself, T18), and so meets that data. It
/// used to wait for the shutdown timeout and end with TimedOut; then it dropped the data and
/// ended cleanly. CPython 3.11 ends so (checked with an app that pauses reading mid-bulk and
/// closes): OpenSSL's `SSL_shutdown` fails with APPLICATION_DATA_AFTER_CLOSE_NOTIFY, which
/// reaches connection_lost and so `wait_closed`.
#[test]
fn t22_s54_close_after_start_tls_while_the_reader_paused_the_raw_transport() {
    run(async {
        let (server, reader, mut writer) = bulk_client_before_start_tls().await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            // Far beyond the bound: the shutdown must end on what the peer sends.
            .ssl_shutdown_timeout(Duration::from_secs(3600))
            .await?;
        until_paused(&reader).await;
        assert!(
            !raw.is_reading(),
            "S54: the reader paused the raw transport"
        );
        writer.close();
        let end = writer.wait_closed().await;
        assert!(
            matches!(&end, Err(Error::Tls(e))
                if e.to_string().starts_with("application data after close notify")),
            "T25: {end:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn s54_s14_a_reader_paused_before_stream_start_tls_keeps_the_raw_transport_paused() {
    // S54 with S14: the reader's pause acts on the raw transport, before the upgrade and
    // after it. A reader that had paused it (plaintext over its limit, still unread) when
    // start_tls ran must find it paused again once the handshake is done; else the peer's
    // TLS data pours into a reader that believes it has stopped it.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        assert!(
            !raw.is_reading(),
            "S14, S54: the reader is paused, so is the raw transport ({} bytes buffered)",
            util::reader_buffered(&reader)
        );
        assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(raw.is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s54_s14_a_paused_reader_whose_protocol_is_held_as_the_handshake_ends_pauses_once_free() {
    // S54 with S14, the re-pause's borrow: the stream's protocol, taken with get_protocol()
    // before the upgrade, held across turns as the handshake ends (no call of ours holds
    // it then). The re-pause waits for the borrow to end instead of being skipped, which
    // left the raw transport reading for a reader that believed it had stopped it.
    run(async {
        let (server, reader, mut writer, raw, proto) = a_paused_reader_and_its_protocol().await?;
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(upgrade_as_localhost_client(&mut writer));
            assert!(probe.poll(upgrade.as_mut()).is_pending());
            let swapped = raw.get_protocol().expect("a protocol");
            assert!(!Rc::ptr_eq(&swapped, &proto), "the handshake did not start");
            let held = proto.borrow_mut();
            yield_until_woken(&probe).await;
            assert!(probe.woken() > 0, "the handshake never ended");
            drop(held); // the handshake's hook ran (before the wake-up) and found it held
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            assert!(
                !raw.is_reading(),
                "S14, S54: the reader is paused, the raw transport reads on ({} bytes held)",
                util::reader_buffered(&reader)
            );
            upgrade.await?
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        read_the_rest_and_close(server, &reader, &writer).await
    });
}

#[test]
fn s54_s14_a_paused_reader_stops_the_raw_transport_as_the_stream_start_tls_handshake_ends() {
    // S54 with S14: the reader had paused the raw transport before start_tls (as a server),
    // and the peer sends its Finished and 1 MiB of data in one go. What came in the read
    // that ended the handshake is delivered; the raw transport then stops. It used to stay
    // reading until the start_tls task ran, which took in the whole MiB (up to 16 reads of
    // 256 KiB in the same read event) into a reader that believed it had stopped it. The
    // peer runs in memory on this thread: what the socket holds of its flight (more than one
    // read's worth) is in it before the loop looks; a thread sends the rest once the
    // assertions are made. The buffer asked for is what a stock kernel grants
    // (net.core.wmem_max, 212 992 bytes, which the kernel doubles): where a larger one was
    // capped, a blocking write of the whole MiB on the loop's own thread never ended.
    run(async {
        use std::io::Write;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair()?;
        socket2::SockRef::from(&theirs).set_send_buffer_size(212_992)?;
        let (reader, mut writer) = asyncio::open_connection_sock(ours).limit(4).await?;
        theirs.write_all(b"0123456789abcdef")?;
        for _ in 0..1000 {
            if util::reader_field(&reader, "paused") == "true" {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(util::reader_field(&reader, "paused"), "true", "16 > 2 x 4");
        let mut client = rustls::ClientConnection::new(
            Certs::get().client_config(&[]),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        client.set_buffer_limit(None);
        while client.wants_write() {
            client.write_tls(&mut theirs)?;
        }
        let raw = writer.transport().clone();
        let upgrade = asyncio::spawn(async move {
            writer.start_tls(Certs::get().server_config(&[])).await?;
            Ok::<_, Error>(writer)
        });
        theirs.set_nonblocking(true)?;
        for _ in 0..10_000 {
            if !client.is_handshaking() {
                break;
            }
            asyncio::yield_now().await;
            match client.read_tls(&mut theirs) {
                Ok(_) => drop(client.process_new_packets().unwrap()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        assert!(!client.is_handshaking(), "the server's flight came");
        let bulk = 1 << 20;
        client.writer().write_all(&vec![b'b'; bulk])?;
        let mut flight = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut flight)?;
        }
        // Its Finished, then as much of the data as the socket takes.
        let mut sent = 0;
        while sent < flight.len() {
            match theirs.write(&flight[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        let one_read = asyncio::constants::MAX_READ_SIZE;
        assert!(
            sent >= one_read + (64 << 10),
            "the socket holds more than one read's worth: {sent} bytes"
        );
        let rest = flight.split_off(sent);
        theirs.set_nonblocking(false)?;
        let writer = upgrade.await.expect("task")?;
        let held = util::reader_buffered(&reader);
        assert!(
            held <= 16 + one_read,
            "S14, S54: one read's worth at most, not the {sent} bytes sent: {held} bytes"
        );
        assert!(!raw.is_reading(), "S14, S54: still paused");
        // The rest of the flight goes in as the reader makes room.
        let feeder = std::thread::spawn(move || theirs.write_all(&rest).map(|()| theirs));
        assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
        assert_eq!(reader.readexactly(bulk).await?.len(), bulk);
        let theirs = feeder.join().expect("the feeder thread")?;
        writer.close();
        drop(theirs);
        let _ = writer.wait_closed().await;
        Ok(())
    });
}

#[test]
fn s54_s14_a_reader_resumed_during_stream_start_tls_is_not_paused_again_and_reads_on() {
    // S54 with S14/S15: the reader had paused the raw transport, and another task reads the
    // plaintext it held while the handshake runs (resuming it, S15), then waits in read_into
    // on the emptied reader. The upgrade must not pause the transport again (the reader is
    // no longer paused), and the read, which cannot read the socket straight through (its
    // bytes are the TLS layer's now), gets the decrypted data.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let reader = Rc::new(reader);
        let raw = writer.transport().clone();
        let (r, upgraded) = (reader.clone(), Rc::new(std::cell::Cell::new(false)));
        let up = upgraded.clone();
        let other = asyncio::spawn(async move {
            // First polled once start_tls is waiting for its handshake.
            let held = r.readexactly(16).await?;
            assert!(!up.get(), "read while the handshake runs");
            let mut buf = vec![0u8; 1024];
            let first = r.read_into(&mut buf).await?;
            Ok::<_, Error>((held, buf[..first].to_vec()))
        });
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        upgraded.set(true);
        let (held, first) = other.await.expect("task")?;
        assert_eq!(held, b"0123456789abcdef");
        assert!(
            !first.is_empty() && first.iter().all(|&b| b == b'b'),
            "{first:?}"
        );
        assert_eq!(
            reader.readexactly(BULK - first.len()).await?.len(),
            BULK - first.len()
        );
        assert!(raw.is_reading(), "S15: reading");
        close_both(&writer, server).await
    });
}
