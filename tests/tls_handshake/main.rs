//! The TLS handshake (issue #5, Part T): both ways with extra info, client auth, the
//! certificate checks that refuse a peer (wrong name, unknown CA, expired, stale roots, wrong
//! key), plain-text peers, handshake timeouts, how a connection ends (close_notify, EOF), and
//! the words both sides read when a handshake is refused.
//! Certificates are made at test time (`tls_common`).
//! Every wait is bounded by `asyncio::timeout`.
#![cfg(feature = "tls")]

#[path = "../tls_common/mod.rs"]
mod tls_common;
#[path = "../tls_helpers/mod.rs"]
mod tls_helpers;
#[path = "../util/mod.rs"]
mod util;

use std::cell::RefCell;
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::tls::rustls;
use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter, Transport};
use tls_common::{blocking_tls_peer, raw_peer, Certs, PeerScript};
use tls_helpers::{
    cert_error, close_both, echo, expired_tls_echo_server, is_expired, loop_and_tls_echo_server,
    open_tls, run, stale_test_ca, tls_echo_server, tls_err, BOUND,
};
use util::Recorder;

/// Opens a TLS client to `port` and returns the error it fails with.
async fn refused(config: std::sync::Arc<rustls::ClientConfig>, port: u16, name: &str) -> Error {
    match asyncio::open_connection("127.0.0.1", port)
        .ssl(config)
        .server_hostname(name)
        .await
    {
        Ok(_) => panic!("handshake with {name} should have failed"),
        Err(e) => e,
    }
}

mod both_ways;
mod certificate_checks;
mod plain_text_peers;
mod refusals_in_words;
mod timeouts_and_endings;
