//! Reading on a TLS transport: is_reading and get_protocol answered as the socket transport
//! answers them (L79, L82, T17), and which transport a stream reader pauses (T19, S54).

use super::*;

#[test]
fn l79_l82_t17_the_tls_transport_answers_is_reading_and_get_protocol_as_the_socket_one_does() {
    // One `Transport` contract for both: `is_reading()` is "not closing and not paused", and
    // the protocol is let go at the loss. CPython 3.11 agrees on the second (its
    // `SSLProtocol.connection_lost` drops `_app_protocol`, so `get_protocol()` is None) but
    // its TLS transport answers `is_reading()` with the pause flag alone, True after close()
    // and after the loss, where its socket transport says False: we keep the socket's answer.
    run(async {
        let (tls_server, port) = tls_echo_server(&[]).await?;
        let plain_server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
        let plain_port = plain_server.sockets()[0].as_inet().unwrap().port();
        let lp = asyncio::get_running_loop()?;
        let (tls, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let (plain, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", plain_port)
            .await?;
        for (what, t) in [("tls", &tls), ("socket", &plain)] {
            assert!(t.is_reading(), "{what}: open");
            t.pause_reading();
            assert!(!t.is_reading(), "{what}: T17, L79: paused");
            t.resume_reading();
            assert!(t.is_reading(), "{what}: resumed");
            assert!(t.get_protocol().is_some(), "{what}: L52, T6");
            t.close();
            assert!(
                !t.is_reading(),
                "{what}: L79: a closing transport reads no more"
            );
            for _ in 0..10_000 {
                if t.get_protocol().is_none() {
                    break;
                }
                asyncio::yield_now().await; // the close completes on later turns
            }
            assert!(
                t.get_protocol().is_none(),
                "{what}: L82: released at the loss"
            );
            assert!(!t.is_reading(), "{what}: lost");
        }
        tls_server.close();
        plain_server.close();
        Ok(())
    });
}

#[test]
fn t19_with_ssl_the_reader_pauses_the_tls_transport() {
    // T19 with T17: a reader over open_connection(ssl) pauses the TLS app transport, whose
    // is_reading() then says so; reading resumes it.
    run(async {
        let server = asyncio::start_server(
            |r: StreamReader, w: StreamWriter| bulk_sender(r, w, false),
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = open_tls(port).limit(1024).await?;
        until_paused(&reader).await;
        assert!(
            !writer.transport().is_reading(),
            "T19: the TLS app transport is the one paused"
        );
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(writer.transport().is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

#[test]
fn t19_s54_after_stream_start_tls_the_reader_pauses_the_raw_transport() {
    // T19 with S54: the reader keeps the transport connection_made gave it, so after
    // StreamWriter.start_tls its pause stops the raw socket transport, and the TLS
    // transport's own reading is never paused.
    run(async {
        let (server, reader, mut writer) = bulk_client_before_start_tls().await?;
        let raw = writer.transport().clone();
        let tls = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        until_paused(&reader).await;
        assert!(!raw.is_reading(), "T19, S54: the raw transport is paused");
        assert!(tls.is_reading(), "T19, S54: the TLS transport is not");
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(raw.is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

/// T18; CPython: `_SSLProtocolTransport.set_read_buffer_limits`, `get_read_buffer_limits`,
/// `get_read_buffer_size`, `SSLProtocol._control_ssl_reading`. While the app's reading is
/// paused the layer holds ciphertext, and stops reading the socket below at the high mark:
/// lowered to 16 KiB it stops there (not at the 256 KiB default); raised above what it holds,
/// the socket is read again at once; the app then gets every byte. A plain transport has no
/// such marks. (The three calls did not exist: the item's marks could not be read or set.)
#[test]
fn t18_the_ciphertext_read_marks_are_read_set_and_applied_at_once() {
    const SENT: usize = 1 << 20;
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = upgrading_server_on(
        &lp,
        |reader: StreamReader, writer: StreamWriter| async move {
            assert_eq!(reader.readline().await?, b"SEND\n");
            writer.write(&vec![5u8; SENT])?;
            writer.drain().await?;
            let _ = reader.read(-1).await?; // the client's close_notify
            writer.close();
            writer.wait_closed().await
        },
    );
    let (raw, rec) = plain_recorder(&lp, port);
    assert_eq!(raw.get_read_buffer_limits(), None, "T18: TLS only");
    assert_eq!(raw.get_read_buffer_size(), None, "T18: TLS only");
    assert!(matches!(
        raw.set_read_buffer_limits(Some(1024), None),
        Err(Error::Unsupported(_))
    ));
    let tls = loop_start_tls_after_go(&lp, &raw, &rec);
    assert_eq!(
        tls.get_read_buffer_limits(),
        Some((64 * 1024, 256 * 1024)),
        "T18: the defaults"
    );
    assert!(matches!(
        tls.set_read_buffer_limits(Some(1), Some(2)),
        Err(Error::InvalidArgument(_))
    ));
    tls.set_read_buffer_limits(Some(16 * 1024), None).unwrap();
    assert_eq!(tls.get_read_buffer_limits(), Some((4 * 1024, 16 * 1024)));
    tls.pause_reading();
    tls.write(b"SEND\n").unwrap();
    turn_until(&lp, "the socket paused at the lowered mark", || {
        !raw.is_reading()
    });
    let held = tls.get_read_buffer_size().unwrap();
    assert!(
        (16 * 1024..256 * 1024).contains(&held),
        "T18: paused at the lowered mark (one socket read past it at most), not the default: \
         {held}"
    );
    assert_eq!(
        rec.borrow().data,
        b"GO\n",
        "T17: nothing delivered while paused"
    );
    tls.set_read_buffer_limits(Some(4 * SENT), None).unwrap();
    assert!(raw.is_reading(), "T18: the new marks apply at once");
    tls.resume_reading();
    util::run_until(&lp, 100_000, || rec.borrow().data.len() == 3 + SENT);
    assert_eq!(tls.get_read_buffer_size(), Some(0));
    tls.close();
    util::run_until(&lp, 1000, || rec.borrow().lost);
    assert_eq!(
        tls.get_read_buffer_limits(),
        None,
        "gone with the connection"
    );
    assert_eq!(tls.get_read_buffer_size(), None);
    tls.set_read_buffer_limits(Some(1024), None).unwrap(); // checked, nothing to change
    assert!(tls.set_read_buffer_limits(Some(1), Some(2)).is_err());
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

#[test]
fn l79_t27_a_tls_transport_over_a_closing_raw_one_is_not_reading() {
    // L79 with T27: once the raw transport under the layer is closing (here aborted by its
    // owner), the TLS transport's is_closing() is true at once, so is_reading() must be false
    // at once too, whatever the app protocol's kind (plain, or buffered: the read path
    // follows it). It said true until the layer's own closed flag was set.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = upgrading_server_on(&lp, echo);
    for buffered in [false, true] {
        let (raw, rec) = plain_recorder(&lp, port);
        let tls = loop_start_tls_after_go(&lp, &raw, &rec);
        if buffered {
            let collect = Rc::new(RefCell::new(super::app_protocol::Collect::default()));
            tls.set_protocol(collect).unwrap();
        }
        assert!(tls.is_reading() && !tls.is_closing(), "open");
        raw.abort();
        assert!(tls.is_closing(), "T27: the raw transport is closing");
        assert!(
            !tls.is_reading(),
            "L79: closing, so not reading (buffered: {buffered})"
        );
        util::run_until(&lp, 1000, || tls.get_protocol().is_none());
        assert!(!tls.is_reading(), "L79: lost (buffered: {buffered})");
    }
    server.close();
}

/// A buffered app protocol whose buffer holds 10 bytes; it logs each `buffer_updated` and
/// queues, from it, a callback that logs too (so the log shows which loop turn each ran in);
/// with `pause`, the first one pauses the app's reading and queues its resume.
struct TenByTen {
    log: util::Log,
    buf: [u8; 10],
    calls: usize,
    pause: bool,
    transport: Option<Transport>,
}

impl asyncio::Protocol for TenByTen {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn data_received(&mut self, _: &[u8]) {
        self.log.push("data_received");
    }
    fn eof_received(&mut self) -> bool {
        self.log.push("eof");
        false
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for TenByTen {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.calls += 1;
        let k = self.calls;
        self.log.push(format!("bu{k}({n})"));
        let lp = asyncio::get_running_loop().unwrap();
        let log = self.log.clone();
        lp.call_soon(move || log.push(format!("x{k}"))).unwrap();
        if self.pause && k == 1 {
            let t = self.transport.clone().unwrap();
            t.pause_reading();
            self.log.push("paused");
            let log = self.log.clone();
            lp.call_soon(move || {
                log.push("resume");
                t.resume_reading();
            })
            .unwrap();
        }
    }
}

/// T16, T17; CPython: `SSLProtocol._do_read__buffered`. One pass fills the app's buffer once
/// (as many records as fit) and calls buffer_updated once; a filled buffer queues the next
/// pass (call_soon, before buffer_updated runs) instead of going on, so the loop's other
/// callbacks run between two buffers; a pause inside buffer_updated leaves the queued pass
/// nothing to do, and the resume queues a new one. The traces are CPython 3.11's, printed by
/// `tests/cpython_traces/tls_buffered_reads.py` for 35 bytes in one record. We used to fill
/// and hand over every buffer in the same pass (`bu1 bu2 bu3 bu4 x1 x2 x3 x4`).
#[test]
fn t16_t17_a_buffered_app_gets_one_buffer_per_pass_as_cpython_hands_them() {
    let cases = [
        (false, "bu1(10) bu2(10) x1 bu3(10) x2 bu4(5) x3 x4"),
        (
            true,
            "bu1(10) paused x1 resume bu2(10) bu3(10) x2 bu4(5) x3 x4",
        ),
    ];
    let lp = asyncio::EventLoop::new().unwrap();
    let server = lp.run_until_complete(tls_server(
        |reader: StreamReader, writer: StreamWriter| async move {
            writer.write(&[b'a'; 35])?; // one record
            let _ = reader.read(-1).await?; // until the client's close
            writer.close();
            Ok(())
        },
    ));
    let (server, port) = server.unwrap().unwrap();
    for (pause, cpython) in cases {
        let log = util::Log::default();
        let l = log.clone();
        let connect = lp
            .create_connection(
                move || TenByTen {
                    log: l.clone(),
                    buf: [0; 10],
                    calls: 0,
                    pause,
                    transport: None,
                },
                "127.0.0.1",
                port,
            )
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost");
        let (t, _) = tls_helpers::connected(&lp, connect);
        util::run_until(&lp, 1000, || log.get().last().is_some_and(|s| s == "x4"));
        assert_eq!(
            log.get().join(" "),
            cpython,
            "pause in buffer_updated: {pause}"
        );
        t.close();
        util::run_until(&lp, 1000, || t.get_protocol().is_none());
    }
    server.close();
}
