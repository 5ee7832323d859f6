//! Application data that arrives in the same segment as the last handshake record (T7, T16,
//! T17, T20): the layer delivers it right after the handshake, in order, and holds it while
//! the app's reading is paused. The peers put their last flight, their first data (and their
//! close_notify) in one `write`, on a socketpair where one write is one read.

use std::os::unix::net::UnixStream;

use super::*;
use util::{Forward, DATA_THEN_A_CLEAN_END};

/// A TLS 1.2 rustls server over `sock`: its last flight (ChangeCipherSpec, Finished), then
/// `data` and, if `close`, its close_notify, in one write; then it answers our close_notify
/// (when it sent none) and reads until we go.
fn tls12_server_last_flight_with(mut sock: UnixStream, data: &'static [u8], close: bool) {
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let mut conn = tls_common::tls12_server_finished_with(&mut sock, data, close);
    if close {
        tls_common::drain(&mut sock);
    } else {
        tls_common::answer_close_notify(&mut sock, &mut conn);
    }
}

// Checklist: T7, T16 (CPython's `_on_handshake_complete` ends with `_do_read()`).
#[test]
fn t7_t16_data_in_the_segment_of_the_servers_finished_reaches_the_stream() {
    run(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            tls12_server_last_flight_with(theirs, b"first words\n", false)
        });
        let (reader, writer) = open_tls_sock(ours).await?;
        let line = asyncio::timeout(Duration::from_secs(5), reader.readline()).await??;
        assert_eq!(
            line, b"first words\n",
            "T7: the data that came with Finished"
        );
        writer.close();
        writer.wait_closed().await?;
        peer.join().unwrap();
        Ok(())
    });
}

// Checklist: T7, T16, T20 (Finished, data and close_notify in one segment).
#[test]
fn t7_t20_data_and_close_notify_in_the_segment_of_the_servers_finished() {
    run(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let peer =
            std::thread::spawn(move || tls12_server_last_flight_with(theirs, b"bye\n", true));
        let (reader, writer) = open_tls_sock(ours).await?;
        let all = asyncio::timeout(Duration::from_secs(5), reader.read(-1)).await??;
        assert_eq!(all, b"bye\n", "T20: the data, then a clean EOF");
        assert!(
            matches!(
                writer.transport().get_extra_info("close_notify_received"),
                Some(ExtraInfo::Text(t)) if t == "true"
            ),
            "D9: a clean end"
        );
        writer.close();
        writer.wait_closed().await?;
        peer.join().unwrap();
        Ok(())
    });
}

// Checklist: T7, T17 (pause in connection_made holds what came with the handshake).
#[test]
fn t7_t17_a_pause_in_connection_made_holds_the_data_that_came_with_finished() {
    run(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let peer =
            std::thread::spawn(move || tls12_server_last_flight_with(theirs, b"held\n", true));
        let rec = Rc::new(RefCell::new(Recorder {
            on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
            ..Recorder::default()
        }));
        let lp = asyncio::get_running_loop()?;
        let (t, _) = lp
            .create_connection(
                {
                    let rec = rec.clone();
                    move || Forward(rec.clone())
                },
                "",
                0,
            )
            .sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        for _ in 0..50 {
            asyncio::yield_now().await;
        }
        assert_eq!(
            rec.borrow().grammar(),
            ["connection_made"],
            "T17: nothing delivered while paused"
        );
        assert!(!t.is_closing(), "T21: held for the app");
        t.resume_reading();
        for _ in 0..10_000 {
            if rec.borrow().lost {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(
            rec.borrow().grammar(),
            DATA_THEN_A_CLEAN_END,
            "T20: then the data, the EOF and a clean end"
        );
        assert_eq!(rec.borrow().data, b"held\n");
        peer.join().unwrap();
        Ok(())
    });
}

/// A rustls client to `127.0.0.1:port` that sends its Finished, `data` and its close_notify
/// in one write, then reads what comes until EOF and returns it.
fn client_finished_with(port: u16, data: &'static [u8]) -> Vec<u8> {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    tls_common::client_finished_with(&mut tcp, data)
}

// Checklist: T7, T16, T20, T36 (server side: the client's Finished, data and close_notify
// in one segment; the handler reads it all, then EOF, and its answer still goes out).
#[test]
fn t7_t36_data_and_close_notify_in_the_segment_of_the_clients_finished() {
    run(async {
        let read: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
        let seen = read.clone();
        let (server, port) = tls_server(move |r: StreamReader, w: StreamWriter| {
            let seen = seen.clone();
            async move {
                let got = r.read(-1).await?;
                w.write(&got)?; // after the peer's close_notify: dropped (T11, T20)
                *seen.borrow_mut() = Some(got);
                w.close();
                w.wait_closed().await
            }
        })
        .await?;
        let peer = std::thread::spawn(move || client_finished_with(port, b"one segment\n"));
        while !peer.is_finished() {
            asyncio::sleep(Duration::from_millis(2)).await; // bounded by `run`
        }
        assert_eq!(
            peer.join().unwrap(),
            b"",
            "T20: nothing sent after the close_notify"
        );
        assert_eq!(
            read.borrow().as_deref(),
            Some(&b"one segment\n"[..]),
            "T7: the data that came with Finished, then EOF"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
