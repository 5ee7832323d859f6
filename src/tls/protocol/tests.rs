//! The layer's own steps, driven the way CPython's test_sslproto.py drives `SSLProtocol`:
//! a client layer on one end of a socketpair, the test thread on the other end as a peer that
//! never answers, and the app transport used before the handshake is done (which no public
//! API hands out).

use std::cell::RefCell;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::{AppState, RawSide, SslState, TlsProtocol};
use crate::error::Error;
use crate::event_loop::EventLoop;
use crate::protocol::Protocol;
use crate::tls::engine::Engine;
use crate::tls::TlsOptions;
use crate::transport::Transport;

/// An app protocol that records its calls.
#[derive(Default)]
struct Calls(Vec<String>);

impl Protocol for Calls {
    fn connection_made(&mut self, _: Transport) {
        self.0.push("connection_made".into());
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.0
            .push(format!("connection_lost({:?})", exc.map(|e| e.kind())));
    }
}

/// A client layer whose ClientHello is out, the peer's end (reads time out after 20 s), the
/// raw transport and the app protocol.
fn layer_mid_handshake(
    lp: &EventLoop,
) -> (Rc<TlsProtocol>, UnixStream, Transport, Rc<RefCell<Calls>>) {
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let engine = Engine::client(Arc::new(config), name).unwrap();
    let app = Rc::new(RefCell::new(Calls::default()));
    let layer = TlsProtocol::new(
        &lp.handle(),
        engine,
        app.clone(),
        Some("localhost".into()),
        TlsOptions::default(),
        true,
    );
    let (ours, peer) = UnixStream::pair().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let l = layer.clone();
    let raw = lp
        .run_until_complete(
            lp.handle()
                .connect_accepted_socket(move || RawSide(l), ours),
        )
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(layer.state.get(), SslState::DoHandshake);
    (layer, peer, raw, app)
}

/// Reads one TLS record (header and body) from `s`.
fn read_record(s: &mut UnixStream) -> Vec<u8> {
    let mut rec = vec![0u8; 5];
    s.read_exact(&mut rec).unwrap();
    let len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
    rec.resize(5 + len, 0);
    s.read_exact(&mut rec[5..]).unwrap();
    rec
}

fn turns(lp: &EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// T24, port of test_sslproto.py test_close_during_handshake (bpo-29743): close() on the app
/// transport during the handshake aborts: the state is UNWRAPPED at once, the raw transport is
/// closed with no close_notify sent, the handshake's waiter fails and the app, never
/// connected, hears nothing; no timer is left.
#[test]
fn t24_close_during_the_handshake_aborts_without_close_notify() {
    let lp = EventLoop::new().unwrap();
    let (layer, mut peer, raw, app) = layer_mid_handshake(&lp);
    let hello = read_record(&mut peer);
    assert_eq!(hello[0], 0x16, "the ClientHello");
    let waiter = layer.waiter().expect("pending");
    let t = layer.app_transport().expect("made with the layer");
    t.close();
    assert_eq!(
        layer.state.get(),
        SslState::Unwrapped,
        "T24: aborted at once"
    );
    assert!(t.is_closing() && raw.is_closing());
    turns(&lp, 5);
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "T24: no close_notify, nothing after the ClientHello: {rest:?}"
    );
    let r = lp
        .run_until_complete(async move { waiter.wait().await })
        .unwrap();
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    assert!(app.borrow().0.is_empty(), "{:?}", app.borrow().0);
    assert_eq!(
        lp.stats().timers,
        0,
        "the handshake timer went with the connection"
    );
}

/// T28, port of test_sslproto.py test_connection_lost (issue #472): connection_lost during
/// the handshake fails the waiter with the loss's error, leaves the layer UNWRAPPED with its
/// timers cancelled, and later data and writes are ignored without an error.
#[test]
fn t28_connection_lost_mid_handshake_fails_the_waiter_and_later_calls_are_ignored() {
    let lp = EventLoop::new().unwrap();
    let (layer, mut peer, raw, app) = layer_mid_handshake(&lp);
    read_record(&mut peer);
    let waiter = layer.waiter().expect("pending");
    let t = layer.app_transport().expect("made with the layer");
    assert!(layer.handshake_timer.borrow().is_some());
    layer.connection_lost(Some(io::ErrorKind::ConnectionReset.into()));
    assert_eq!(layer.state.get(), SslState::Unwrapped);
    assert!(
        layer.handshake_timer.borrow().is_none(),
        "T28: timers cancelled"
    );
    assert!(t.is_closing(), "T28: the app transport is marked closed");
    let r = lp
        .run_until_complete(async move { waiter.wait().await })
        .unwrap();
    match r {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("T28: the loss's error: {other:?}"),
    }
    // Later calls: ignored, no error, nothing queued.
    layer.data_received(&[0x16, 0x03, 0x03, 0x00, 0x01, 0x00]);
    assert_eq!(layer.engine.borrow().pending_ciphertext(), 0);
    assert!(t.write(b"late").is_ok());
    assert_eq!(t.get_write_buffer_size(), 0);
    assert_eq!(
        layer.app_state.get(),
        AppState::Init,
        "never connected: told nothing"
    );
    raw.close();
    turns(&lp, 5);
    assert!(app.borrow().0.is_empty(), "{:?}", app.borrow().0);
    assert_eq!(lp.stats().timers, 0);
}
