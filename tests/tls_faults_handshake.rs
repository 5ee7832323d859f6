#![cfg(feature = "tls")]
//! Faults before a TLS handshake completes (issue #8): a reset or an EOF in the middle of
//! the handshake, on our client and on our servers, and a close_notify in place of the
//! peer's next flight (plaintext, or sealed under the TLS 1.2 keys), which must fail the
//! handshake at once, typed, not by its timeout.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use asyncio::tls::rustls;
use asyncio::Error;
use tls_common::{client_hello, hello_of, raw_peer, Certs};
use tls_helpers::faults::*;
use tls_helpers::forwarding_recorder;
use util::{port_of, Forward};

/// Reads one TLS record (header and body) from `s`.
fn read_record(s: &mut TcpStream) -> Vec<u8> {
    let mut rec = vec![0u8; 5];
    s.read_exact(&mut rec).unwrap();
    let len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
    rec.resize(5 + len, 0);
    s.read_exact(&mut rec[5..]).unwrap();
    rec
}

// Checklist: T28 (the pending handshake's waiter fails with the loss's error).
#[test]
fn reset_in_the_middle_of_the_handshake_fails_the_connect_with_connection_reset_t8() {
    // The peer reads our ClientHello, answers with half of a real server flight (made by an
    // in-memory rustls server from that very ClientHello), then resets.
    let certs = Certs::get();
    let lp = TestLoop::new();
    let config = certs.server_config(&[]);
    let (port, peer) = raw_peer(move |mut s| {
        let hello = read_record(&mut s);
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        conn.read_tls(&mut &hello[..]).unwrap();
        conn.process_new_packets().unwrap();
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight).unwrap();
        }
        assert!(flight.len() > 100, "a server flight: {} B", flight.len());
        s.write_all(&flight[..flight.len() / 2]).unwrap();
        reset(s);
        flight.len()
    });
    let (factory, made) = forwarding_recorder();
    let r = run(
        &lp,
        lp.create_connection(factory, "127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost"),
    );
    let flight = peer.join().unwrap();
    let e = r.err().expect("the handshake cannot complete");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(matches!(e, Error::Io(_)), "{}", describe(&e));
    let rec = made.borrow().clone().expect("the factory ran");
    assert!(
        rec.borrow().calls.is_empty(),
        "T8: nothing reaches the protocol of a failed handshake: {:?}",
        rec.borrow().calls
    );
    lp.assert_released();
    println!(
        "reset after {} of {flight} B of the server flight",
        flight / 2
    );
}

/// T10, T5; CPython: SslProtoHandshakeTests.test_eof_received_waiter,
/// TestSSL.test_ssl_handshake_connection_lost. The peer reads our ClientHello and closes (a
/// FIN, not a reset): the pending create_connection fails with a bare ConnectionReset, and the
/// protocol gets neither connection_made nor connection_lost; nothing is reported.
#[test]
fn eof_after_the_client_hello_fails_the_connect_with_connection_reset_t10() {
    let lp = TestLoop::new();
    let (port, peer) = raw_peer(move |mut s| {
        let hello = read_record(&mut s);
        assert_eq!(hello[0], 0x16, "a handshake record");
        drop(s);
    });
    let (factory, made) = forwarding_recorder();
    let r = run(
        &lp,
        lp.create_connection(factory, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname(""),
    );
    peer.join().unwrap();
    let e = r.err().expect("the handshake cannot complete");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(matches!(e, Error::Io(_)), "{}", describe(&e));
    let rec = made.borrow().clone().expect("the factory ran");
    assert!(
        rec.borrow().calls.is_empty(),
        "T5: no connection_lost without connection_made: {:?}",
        rec.borrow().calls
    );
    lp.assert_released();
}

#[test]
fn reset_in_the_middle_of_the_handshake_on_a_tls_server_drops_that_connection_t36_d14() {
    // Half a ClientHello, then RST: the `.ssl()` server drops the connection without calling
    // the handler; the `start_tls` server returns the typed error.
    let hello = client_hello();
    let lp = TestLoop::new();
    capture_log::start();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    let upgrade = StartTlsServer::start(&lp);
    let uport = port_of(&upgrade.server);
    for (srv, port) in [(&server, port), (&upgrade.server, uport)] {
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        wait_until(&lp, "the accept", || srv.connection_count() == 1);
        raw.write_all(&hello[..hello.len() / 2]).unwrap();
        reset(raw);
        wait_until(&lp, "the connection to go", || srv.connection_count() == 0);
    }
    wait_until(&lp, "the start_tls outcome", || upgrade.outcomes.len() == 1);
    let outcome = upgrade.outcomes.get();
    assert!(
        outcome[0].starts_with("io ConnectionReset"),
        "a typed ConnectionReset: {outcome:?}"
    );
    assert!(ended.get().is_empty(), "T36: the handler never ran");
    let app = upgrade.apps.borrow()[0].clone();
    assert_eq!(
        app.borrow().calls,
        ["connection_made", "connection_lost(ConnectionReset)"],
        "start_tls failed: the error goes to its caller, and the app's connection ends with it \
         (D14; CPython calls no connection_lost here, so a stream over it waits forever)"
    );
    assert!(
        handshake_failures().is_empty(),
        "{:?}",
        handshake_failures()
    );
    assert!(
        lp.seen.borrow().is_empty(),
        "no panic, nothing reported: {:?}",
        lp.seen.borrow()
    );
    close_both_and_check(&lp, server, upgrade);
}

// ───────────────────── close_notify during the handshake ─────────────────────

/// A warning-level close_notify alert record in plaintext: `15 03 03 00 02 01 00`.
const CLOSE_NOTIFY: [u8; 7] = [0x15, 3, 3, 0, 2, 1, 0];

/// The opening words of the close_notify-during-the-handshake error (OpenSSL's, as Python's
/// `ssl.SSLZeroReturnError` gives them).
const CLOSED_DURING_HANDSHAKE: &str = "TLS/SSL connection has been closed (EOF)";

/// What a raw peer read after sending its last bytes, until our side closed.
fn rest_of(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(BOUND)).unwrap();
    let mut got = Vec::new();
    let end = match s.read_to_end(&mut got) {
        Ok(_) => "EOF".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    format!("{} B, then {end}", got.len())
}

// Checklist: T8, T10 (a handshake the peer ended fails at once, typed, not by the timeout).
#[test]
fn a_server_that_answers_the_client_hello_with_close_notify_fails_the_connect_at_once_t8() {
    // rustls lets a warning-level close_notify pass while the version is not settled yet, so
    // the handshake used to wait for the whole ssl_handshake_timeout; OpenSSL (so CPython)
    // fails it at once with SSLZeroReturnError. With a 60 s timeout, only the close can end
    // this connect within the test's bound.
    let lp = TestLoop::new();
    let (port, peer) = raw_peer(move |mut s| {
        let hello = read_record(&mut s);
        assert_eq!(hello[0], 0x16, "a handshake record first");
        s.write_all(&CLOSE_NOTIFY).unwrap();
        rest_of(s) // the socket stays open until our side closes it
    });
    let made = Rc::new(Cell::new(false));
    let m = made.clone();
    let r = run(
        &lp,
        lp.create_connection(
            move || {
                m.set(true);
                Forward(Rc::default())
            },
            "127.0.0.1",
            port,
        )
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost")
        .ssl_handshake_timeout(Duration::from_secs(60)),
    );
    let e = r.err().expect("the handshake cannot complete");
    let peer_saw = peer.join().unwrap();
    assert!(matches!(e, Error::Tls(_)), "{}", describe(&e));
    assert!(
        e.to_string().starts_with(CLOSED_DURING_HANDSHAKE),
        "the close, not the timeout: {}",
        describe(&e)
    );
    assert!(made.get(), "the factory ran");
    lp.assert_released();
    println!("client: {} | peer: {peer_saw}", describe(&e));
}

// Checklist: T8, T36 (the handshake fails at once; the handler never runs).
#[test]
fn a_client_hello_then_close_notify_fails_that_handshake_at_once_t8_t36() {
    // The client's ClientHello and a plaintext close_notify in one write, for a TLS 1.2 and a
    // TLS 1.3 offer: rustls ignores a warning once TLS 1.2 is chosen (so the server waited
    // for the 60 s timeout) and refuses it in TLS 1.3. Both end at once, with one error.
    let lp = TestLoop::new();
    capture_log::start();
    let (server, ended) = tls_server(&lp, |b| b.ssl_handshake_timeout(Duration::from_secs(60)));
    let upgrade = StartTlsServer::start(&lp); // start_tls' default timeout: 60 s
    let tls12 = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let hellos = [
        ("TLS 1.2", hello_of(Arc::new(tls12))),
        ("TLS 1.3", client_hello()),
    ];
    for (i, (version, hello)) in hellos.iter().enumerate() {
        for srv in [&server, &upgrade.server] {
            let mut s = TcpStream::connect(("127.0.0.1", port_of(srv))).unwrap();
            wait_until(&lp, "the accept", || srv.connection_count() == 1);
            s.write_all(&[&hello[..], &CLOSE_NOTIFY].concat()).unwrap();
            let peer = std::thread::spawn(move || rest_of(s));
            wait_until(&lp, "the connection to go", || srv.connection_count() == 0);
            // Our side closed the socket: the peer reads to its end.
            println!("{version}: client saw {}", peer.join().unwrap());
        }
        wait_until(&lp, "the start_tls outcome", || {
            upgrade.outcomes.len() == i + 1
        });
        let outcome = upgrade.outcomes.get()[i].clone();
        assert!(
            outcome.starts_with(&format!("tls InvalidData: {CLOSED_DURING_HANDSHAKE}")),
            "{version}: the close, typed: {outcome}"
        );
        println!("{version}: start_tls: {outcome}");
    }
    let failures = handshake_failures();
    assert_eq!(failures.len(), 4, "two servers, two offers: {failures:?}");
    for f in &failures {
        assert!(
            f.starts_with(&format!("SSL handshake failed: {CLOSED_DURING_HANDSHAKE}")),
            "{f}"
        );
    }
    assert!(ended.get().is_empty(), "T36: the handler never ran");
    close_both_and_check(&lp, server, upgrade);
}

// Checklist: T8, T10 (an encrypted close_notify ends a TLS 1.2 handshake at once, typed).
#[test]
fn a_tls12_server_that_sends_an_encrypted_close_notify_for_its_finished_fails_the_connect_t8() {
    // After its ChangeCipherSpec the peer's records are encrypted, so the close_notify it
    // sends instead of its Finished hides its level and description; rustls lets a warning
    // one pass, and the connect used to wait for the whole ssl_handshake_timeout. OpenSSL
    // (so CPython) fails it at once, as a plaintext one (the test above).
    let lp = TestLoop::new();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || close_notify_for_finished(theirs));
    let r = run(
        &lp,
        lp.create_connection(|| Forward(Rc::default()), "", 0)
            .sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_secs(60)),
    );
    let e = r.err().expect("the handshake cannot complete");
    peer.join().unwrap();
    assert!(matches!(e, Error::Tls(_)), "{}", describe(&e));
    assert!(
        e.to_string().starts_with(CLOSED_DURING_HANDSHAKE),
        "the close, not the timeout: {}",
        describe(&e)
    );
    lp.assert_released();
}

/// A TLS 1.2 server over `sock` that answers the client's last flight with its
/// ChangeCipherSpec and then, instead of its Finished, a close_notify: the first record under
/// the new keys (sequence number 0), sealed with the keys the handshake agreed (extracted
/// from rustls, which has no way to send it there itself). Reads until our side closes.
fn close_notify_for_finished(mut sock: UnixStream) {
    use rustls::crypto::cipher::{OutboundChunks, OutboundPlainMessage};
    use rustls::{ConnectionTrafficSecrets as Keys, SupportedCipherSuite};
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let mut config = tls_common::tls12_server_config();
    config.enable_secret_extraction = true;
    let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
    tls_common::handshake_keeping_last_flight(&mut sock, &mut conn);
    let mut last = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut last).unwrap();
    }
    let mut at = 0; // the end of the ChangeCipherSpec record
    while last[at] != 0x14 {
        at += 5 + usize::from(u16::from_be_bytes([last[at + 3], last[at + 4]]));
    }
    at += 6;
    let Some(SupportedCipherSuite::Tls12(suite)) = conn.negotiated_cipher_suite() else {
        panic!("TLS 1.2 was negotiated");
    };
    let (Keys::Aes128Gcm { key, iv }
    | Keys::Aes256Gcm { key, iv }
    | Keys::Chacha20Poly1305 { key, iv }) = conn.dangerous_extract_secrets().unwrap().tx.1
    else {
        panic!("a known AEAD");
    };
    let fixed = suite.aead_alg.key_block_shape().fixed_iv_len;
    let (fixed_iv, explicit) = iv.as_ref().split_at(fixed);
    let alert = suite
        .aead_alg
        .encrypter(key, fixed_iv, explicit)
        .encrypt(
            OutboundPlainMessage {
                typ: rustls::ContentType::Alert,
                version: rustls::ProtocolVersion::TLSv1_2,
                payload: OutboundChunks::Single(&[1, 0]), // warning, close_notify
            },
            0,
        )
        .unwrap()
        .encode();
    assert_ne!(alert.len(), CLOSE_NOTIFY.len(), "sealed, not plaintext");
    sock.write_all(&[&last[..at], &alert].concat()).unwrap();
    tls_common::drain(&mut sock);
}
