#![cfg(feature = "tls")]
//! Garbage to a TLS server (issue #8): random bytes, an HTTP request, a truncated
//! ClientHello, a corrupted record and an EOF without close_notify, each failing only its own
//! connection while the server keeps serving; the same through `start_tls`, typed.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use tls_common::{blocking_tls_client, client_hello, read_plaintext, seal};
use tls_helpers::faults::*;
use util::port_of;

/// What a misbehaving client sends to a TLS server.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Garbage {
    /// 4 KiB from a fixed-seed generator, then it waits for the server.
    RandomBytes,
    /// `GET / HTTP/1.1`, then it waits.
    HttpRequest,
    /// The first half of a real ClientHello, then EOF.
    TruncatedHello,
    /// A good handshake and line, then a record with one bit flipped.
    CorruptedRecord,
    /// A good handshake and line, then a TCP FIN without close_notify.
    EofWithoutCloseNotify,
}

impl Garbage {
    const ALL: [Garbage; 5] = [
        Garbage::RandomBytes,
        Garbage::HttpRequest,
        Garbage::TruncatedHello,
        Garbage::CorruptedRecord,
        Garbage::EofWithoutCloseNotify,
    ];

    fn during_handshake(self) -> bool {
        matches!(
            self,
            Garbage::RandomBytes | Garbage::HttpRequest | Garbage::TruncatedHello
        )
    }

    /// Plays the client on a thread; returns what it saw of the server's answer.
    fn play(self, port: u16, hello: Vec<u8>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || match self {
            Garbage::RandomBytes | Garbage::HttpRequest | Garbage::TruncatedHello => {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(BOUND)).unwrap();
                match self {
                    Garbage::RandomBytes => {
                        s.write_all(&Rng(0x6a7b_a6e5).bytes(4096)).unwrap();
                    }
                    Garbage::HttpRequest => s
                        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        .unwrap(),
                    _ => {
                        s.write_all(&hello[..hello.len() / 2]).unwrap();
                        s.shutdown(Shutdown::Write).unwrap();
                    }
                }
                let mut got = Vec::new();
                let end = match s.read_to_end(&mut got) {
                    Ok(_) => "EOF".to_string(),
                    Err(e) => format!("{:?}", e.kind()),
                };
                // An alert record is 0x15 0x03 0x03 0x00 0x02 <level> <description>.
                match got.as_slice() {
                    [] => format!("nothing, {end}"),
                    [0x15, 3, _, 0, 2, level, desc] => {
                        format!("alert {level}/{desc:?}, {end}")
                    }
                    other => format!("{} bytes {:02x?}, {end}", other.len(), other),
                }
            }
            Garbage::CorruptedRecord => {
                let (mut tcp, mut conn) = blocking_tls_client(port);
                tcp.write_all(&seal(&mut conn, b"fine\n")).unwrap();
                assert_eq!(
                    read_plaintext(&mut tcp, &mut conn, 5).as_deref(),
                    Ok(&b"fine\n"[..])
                );
                let mut bad = seal(&mut conn, b"corrupt me\n");
                let last = bad.len() - 1;
                bad[last] ^= 0x01; // in the AEAD tag
                tcp.write_all(&bad).unwrap();
                match read_plaintext(&mut tcp, &mut conn, usize::MAX) {
                    Ok(more) => format!("clean end after {} B", more.len()),
                    Err(e) => e,
                }
            }
            Garbage::EofWithoutCloseNotify => {
                let (mut tcp, mut conn) = blocking_tls_client(port);
                tcp.write_all(&seal(&mut conn, b"hello\n")).unwrap();
                assert_eq!(
                    read_plaintext(&mut tcp, &mut conn, 6).as_deref(),
                    Ok(&b"hello\n"[..])
                );
                tcp.shutdown(Shutdown::Write).unwrap(); // FIN, no close_notify
                let rest = read_plaintext(&mut tcp, &mut conn, usize::MAX);
                let close_notify = conn.reader().read(&mut [0u8; 1]).ok() == Some(0);
                format!("{:?} close_notify={close_notify}", rest.map(|v| v.len()))
            }
        })
    }
}

#[test]
fn garbage_to_a_tls_server_fails_that_connection_and_the_server_keeps_serving_t29_d9() {
    let hello = client_hello();
    let lp = TestLoop::new();
    capture_log::start();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    // Connected before the garbage and kept through every case (concurrent service).
    let steady = GoodClient::connect(&lp, port);
    steady.echo(&lp, b"before\n");
    let mut report = Vec::new();
    for case in Garbage::ALL {
        let failures = handshake_failures().len();
        let handled = ended.len();
        let peer = case.play(port, hello.clone());
        if case.during_handshake() {
            wait_until(&lp, "the server's handshake failure", || {
                handshake_failures().len() == failures + 1
            });
        } else {
            wait_until(&lp, "the handler's end", || ended.len() == handled + 1);
        }
        wait_until(&lp, "the bad connection to go", || {
            server.connection_count() == 1
        });
        let peer_saw = peer.join().expect("the raw client");
        let server_saw = if case.during_handshake() {
            handshake_failures()[failures].clone()
        } else {
            ended.get()[handled].clone()
        };
        match case {
            Garbage::RandomBytes | Garbage::HttpRequest => {
                assert!(
                    server_saw.starts_with("SSL handshake failed: "),
                    "{case:?}: {server_saw}"
                );
                assert!(
                    peer_saw.starts_with("alert 2/"),
                    "{case:?}: a fatal alert tells the client why: {peer_saw}"
                );
            }
            Garbage::TruncatedHello => assert_eq!(
                server_saw,
                "SSL handshake failed: the peer closed the connection during the TLS handshake",
                "{case:?}"
            ),
            Garbage::CorruptedRecord => {
                assert!(
                    // Issue #13: over streams too, a TLS failure is `Error::Tls`, typed.
                    server_saw.starts_with("tls InvalidData: decryption failed or bad record mac"),
                    "{case:?}: {server_saw}"
                );
                // No alert after the handshake (see the protocol-level test); FIN or RST.
                assert!(
                    ["clean end after 0 B", "io ConnectionReset"].contains(&peer_saw.as_str())
                        || peer_saw.starts_with("tls AlertReceived(BadRecordMac)"),
                    "{case:?}: {peer_saw}"
                );
            }
            Garbage::EofWithoutCloseNotify => {
                assert_eq!(server_saw, "eof close_notify=false", "{case:?}: D9");
                assert!(peer_saw.starts_with("Ok(0)"), "{case:?}: {peer_saw}");
            }
        }
        report.push(format!(
            "{case:?}: server: {server_saw} | client: {peer_saw}"
        ));
        // The server still serves: the old client, and a new one.
        steady.echo(&lp, format!("after {case:?}\n").as_bytes());
        let fresh = GoodClient::connect(&lp, port);
        fresh.echo(&lp, b"fresh\n");
        fresh.close(&lp);
        wait_until(&lp, "the fresh client to go", || {
            server.connection_count() == 1
        });
    }
    steady.close(&lp);
    wait_until(&lp, "every connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(
        handshake_failures().len(),
        3,
        "exactly the three handshake-time cases failed the handshake: {:?}",
        handshake_failures()
    );
    assert!(
        lp.seen.borrow().is_empty(),
        "no panic, nothing reported: {:?}",
        lp.seen.borrow()
    );
    server.close();
    run(&lp, server.wait_closed());
    lp.assert_released();
    for line in report {
        println!("{line}");
    }
}

#[test]
fn garbage_during_the_handshake_is_a_typed_error_t29_t49() {
    // The same handshake-time garbage against the server side of `start_tls`, whose future
    // returns the error: `Error::Tls` for bytes that are not TLS, `ConnectionReset` for an EOF
    // in the middle of a ClientHello (as CPython's `eof_received` during the handshake).
    let hello = client_hello();
    let lp = TestLoop::new();
    let upgrade = StartTlsServer::start(&lp);
    let port = port_of(&upgrade.server);
    let cases = [
        (Garbage::RandomBytes, "tls InvalidData"),
        (Garbage::HttpRequest, "tls InvalidData"),
        (Garbage::TruncatedHello, "io ConnectionReset"),
    ];
    for (i, (case, expected)) in cases.into_iter().enumerate() {
        let peer = case.play(port, hello.clone());
        wait_until(&lp, "the start_tls outcome", || {
            upgrade.outcomes.len() == i + 1
        });
        wait_until(&lp, "the connection to go", || {
            upgrade.server.connection_count() == 0
        });
        let peer_saw = peer.join().unwrap();
        let outcome = upgrade.outcomes.get()[i].clone();
        assert!(outcome.starts_with(expected), "{case:?}: {outcome}");
        println!("{case:?}: start_tls: {outcome} | client: {peer_saw}");
    }
    // A good client is still served.
    let (_tcp, _conn) = {
        let peer = std::thread::spawn(move || blocking_tls_client(port));
        wait_until(&lp, "the good handshake", || upgrade.outcomes.len() == 4);
        peer.join().unwrap()
    };
    assert_eq!(upgrade.outcomes.get()[3], "ok");
    drop((_tcp, _conn));
    wait_until(&lp, "the good client to go", || {
        upgrade.server.connection_count() == 0
    });
    upgrade.server.close();
    run(&lp, upgrade.server.wait_closed());
    drop(upgrade);
    lp.assert_released();
}

#[test]
fn eof_without_close_notify_is_an_error_when_the_server_requires_it_d9() {
    let lp = TestLoop::new();
    let (server, ended) = tls_server(&lp, |b| b.ssl_require_close_notify(true));
    let port = port_of(&server);
    let peer = Garbage::EofWithoutCloseNotify.play(port, Vec::new());
    wait_until(&lp, "the handler's end", || ended.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    let peer_saw = peer.join().unwrap();
    let ended = ended.get();
    assert!(
        ended[0].starts_with("tls InvalidData") && ended[0].contains("close_notify"),
        "D9: a truncation error: {ended:?}"
    );
    println!("server: {} | client: {peer_saw}", ended[0]);
    server.close();
    run(&lp, server.wait_closed());
    lp.assert_clean();
}
