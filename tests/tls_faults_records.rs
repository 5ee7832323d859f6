#![cfg(feature = "tls")]
//! Faults and delivery at the record level (issue #8, T16): a reset in the middle of a
//! record, on our client and under a server's handler; a corrupted record reaching
//! connection_lost once with the TLS error; records that arrive together reaching a plain and
//! a buffered protocol.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;

use asyncio::{EventLoop, Protocol, Transport};
use tls_common::{
    answer_close_notify, blocking_tls_client, read_plaintext, seal, tls_peer, tls_peer_over, Certs,
};
use tls_helpers::faults::*;
use util::{port_of, Recorder};

// Checklist: T28 (connection_lost once, the transport closed, nothing buffered, later writes
// dropped without an error, no timer left).
#[test]
fn reset_in_the_middle_of_a_record_is_connection_reset_and_connection_lost_once_l44_t28() {
    // After the handshake the peer sends one whole record ("x") and the first half of the next
    // in one segment; once "x" arrived we answer, and the peer resets.
    let certs = Certs::get();
    let lp = TestLoop::new();
    let (port, peer) = tls_peer(|mut tcp, mut conn| {
        let mut seal = |data: &[u8]| {
            conn.writer().write_all(data).unwrap();
            let mut out = Vec::new();
            while conn.wants_write() {
                conn.write_tls(&mut out).unwrap();
            }
            out
        };
        let mut wire = seal(b"x");
        let next = seal(&[7u8; 1000]);
        wire.extend_from_slice(&next[..next.len() / 2]);
        tcp.write_all(&wire).unwrap();
        let mut go = [0u8; 1];
        tcp.read_exact(&mut go).unwrap(); // our answer to "x"
        reset(tcp);
    });
    let rec = Recorder {
        on_data: Some(Box::new(|t: &Transport, _: &[u8]| t.write(b"go").unwrap())),
        ..Default::default()
    };
    let (t, proto) = run(
        &lp,
        lp.create_connection(move || rec, "127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost"),
    )
    .unwrap();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    turns(&lp, 10); // room for a second connection_lost
    peer.join().unwrap();
    let p = proto.borrow();
    assert_eq!(
        p.data, b"x",
        "the whole record was delivered, the half one not"
    );
    assert_eq!(
        p.grammar(),
        [
            "connection_made",
            "data",
            "connection_lost(ConnectionReset)"
        ],
        "connection_lost exactly once, with the reset"
    );
    assert!(t.is_closing(), "the transport is closed");
    assert_eq!(t.get_write_buffer_size(), 0);
    assert!(
        t.tls_version().is_some(),
        "TLS info outlives the connection"
    );
    t.write(b"late").unwrap(); // T11: dropped silently
    assert!(
        lp.seen.borrow().is_empty(),
        "OS errors are quiet: {:?}",
        lp.seen.borrow()
    );
    drop(p);
    drop((t, proto));
    lp.assert_released();
}

#[test]
fn corrupted_record_reaches_connection_lost_once_with_the_tls_error_t29_t30() {
    // The protocol-level view of a bad record: connection_lost(InvalidData) once, carrying the
    // crate's TLS error, after the data that came before it.
    let certs = Certs::get();
    let lp = TestLoop::new();
    let (port, peer) = tls_peer(|mut tcp, mut conn| {
        conn.writer().write_all(b"good").unwrap();
        conn.writer().write_all(b"bad!").unwrap(); // two records
        let mut wire = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut wire).unwrap();
        }
        let last = wire.len() - 1;
        wire[last] ^= 0x80; // the second record's tag
        tcp.write_all(&wire).unwrap();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest); // until we close
        rest
    });
    // The Recorder keeps only the kind: `Keep` keeps the error itself too.
    struct Keep(Rc<RefCell<Recorder>>, Rc<RefCell<Option<String>>>);
    impl Protocol for Keep {
        fn connection_made(&mut self, t: Transport) {
            self.0.borrow_mut().connection_made(t)
        }
        fn data_received(&mut self, d: &[u8]) {
            self.0.borrow_mut().data_received(d)
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().eof_received()
        }
        fn connection_lost(&mut self, e: Option<io::Error>) {
            *self.1.borrow_mut() = e
                .as_ref()
                .map(|e| format!("{:?}: {e} tls_inside={}", e.kind(), tls_inside(e)));
            self.0.borrow_mut().connection_lost(e)
        }
    }
    let proto = Rc::new(RefCell::new(Recorder::default()));
    let error = Rc::new(RefCell::new(None));
    let (p, e) = (proto.clone(), error.clone());
    let (t, _) = run(
        &lp,
        lp.create_connection(move || Keep(p, e), "127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost"),
    )
    .unwrap();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    turns(&lp, 10); // room for a second connection_lost
    let alert = peer.join().unwrap();
    let p = proto.borrow();
    assert_eq!(
        p.data, b"good",
        "the record before the bad one was delivered"
    );
    assert_eq!(
        p.grammar(),
        ["connection_made", "data", "connection_lost(InvalidData)"],
        "connection_lost exactly once"
    );
    let error = error.borrow().clone().unwrap();
    assert!(
        error.contains("decryption failed or bad record mac") && error.ends_with("tls_inside=true"),
        "the crate's TLS error inside: {error}"
    );
    // Like CPython's `_do_read` → `_fatal_error`, the alert rustls queued after a bad record
    // is not flushed before the abort (only handshake failures send theirs): the peer sees the
    // connection end, or an alert should that change.
    assert!(
        alert.is_empty() || alert[0] == 0x15,
        "the peer got nothing more, or an alert: {alert:02x?}"
    );
    assert!(t.is_closing());
    assert!(
        lp.seen.borrow().is_empty(),
        "TLS errors are quiet: {:?}",
        lp.seen.borrow()
    );
    drop(p);
    drop((t, proto));
    lp.assert_released();
}

#[test]
fn reset_in_the_middle_of_a_record_on_a_tls_server_fails_the_handlers_read_s19() {
    let lp = TestLoop::new();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    let peer = std::thread::spawn(move || {
        let (mut tcp, mut conn) = blocking_tls_client(port);
        let mut wire = seal(&mut conn, b"ping\n");
        let next = seal(&mut conn, &[7u8; 1000]);
        wire.extend_from_slice(&next[..next.len() / 2]);
        tcp.write_all(&wire).unwrap();
        // The echo proves the server processed the whole record (and holds half the next).
        let echo = read_plaintext(&mut tcp, &mut conn, 5);
        reset(tcp);
        echo
    });
    wait_until(&lp, "the handler's end", || ended.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(peer.join().unwrap().as_deref(), Ok(&b"ping\n"[..]));
    let ended = ended.get();
    assert!(
        ended[0].starts_with("io ConnectionReset"),
        "a typed reset: {ended:?}"
    );
    server.close();
    run(&lp, server.wait_closed());
    lp.assert_released();
}

/// A peer over `theirs` that sends `parts` as one record each, all in one write, and reports
/// how many bytes of ciphertext that was (our loop woken), then answers our close_notify.
fn records_in_one_write(
    lp: &EventLoop,
    theirs: UnixStream,
    parts: Vec<Vec<u8>>,
) -> (std::thread::JoinHandle<()>, mpsc::Receiver<usize>) {
    let (sent, sent_rx) = mpsc::channel();
    let wake = lp.threadsafe();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        let mut wire = Vec::new();
        for part in &parts {
            conn.writer().write_all(part).unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut wire).unwrap();
            }
        }
        sock.write_all(&wire).unwrap();
        sent.send(wire.len()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        answer_close_notify(sock, conn);
    });
    (peer, sent_rx)
}

/// T16 (CPython's `_do_read__copied`): records that arrive together are decrypted in one pass
/// and reach a plain protocol as one data_received with their concatenation.
#[test]
fn records_that_arrive_together_reach_a_plain_protocol_in_one_data_received_t16() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let parts = vec![b"abc".to_vec(), b"def".to_vec(), b"ghi".to_vec()];
    let (peer, sent_rx) = records_in_one_write(&lp, theirs, parts);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the records sent", || sent_rx.try_recv().is_ok());
    wait_until(&lp, "the data", || rec.borrow().data.len() == 9);
    assert_eq!(rec.borrow().data, b"abcdefghi");
    assert_eq!(
        rec.borrow().calls,
        ["connection_made", "data_received(9)"],
        "T16: one data_received for the three records"
    );
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    lp.assert_clean();
}

/// A buffered protocol lending 7 bytes at a time; it records each size hint.
#[derive(Default)]
struct SevenBytes {
    buf: [u8; 7],
    got: Vec<u8>,
    hints: Vec<usize>,
    updates: usize,
    lost: bool,
}

impl Protocol for SevenBytes {
    fn connection_lost(&mut self, _: Option<io::Error>) {
        self.lost = true;
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for SevenBytes {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        self.hints.push(size_hint);
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.updates += 1;
        self.got.extend_from_slice(&self.buf[..n]);
    }
}

/// T16 (CPython's `_do_read__buffered`, ported from the buffered half of test_sslproto.py
/// test_start_tls_client_buf_proto_1): a buffered protocol gets get_buffer with the pending
/// ciphertext as its hint and buffer_updated(n) for what was decrypted into it; a buffer
/// smaller than the data is filled again and again until all of it is delivered, in order.
/// (CPython goes on with the next buffer on the next loop turn; we go on in the same pass.)
#[test]
fn a_buffered_protocol_gets_the_pending_ciphertext_as_hint_and_every_byte_t16() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let (peer, sent_rx) = records_in_one_write(
        &lp,
        theirs,
        vec![data[..600].to_vec(), data[600..].to_vec()],
    );
    let (t, proto) = run(
        &lp,
        lp.create_connection(SevenBytes::default, "", 0)
            .sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost"),
    )
    .expect("the handshake");
    let mut wire = 0;
    wait_until(&lp, "the records sent", || match sent_rx.try_recv() {
        Ok(n) => {
            wire = n;
            true
        }
        Err(_) => false,
    });
    wait_until(&lp, "the data", || proto.borrow().got.len() == data.len());
    let p = proto.borrow();
    assert_eq!(p.got, data);
    assert!(p.updates >= data.len() / 7, "{} updates", p.updates);
    assert!(
        p.hints.iter().any(|&h| h >= wire),
        "T16: the hint is the pending ciphertext ({wire} B): {:?}",
        p.hints
    );
    drop(p);
    t.close();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    peer.join().unwrap();
    lp.assert_clean();
}
