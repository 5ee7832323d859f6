//! loop.start_tls and TLS in TLS (issue #5, Part T): a busy or misbehaving app protocol, typed
//! failures for every waiter after the handshake, create_server/create_connection ports over
//! ssl, and start_tls that fails on either side (issue 17).
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
use std::future::IntoFuture;
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::tls::rustls;
use asyncio::{Error, StreamReader, StreamWriter, Transport};
use tls_common::{tls_peer, Certs};
use tls_helpers::{
    cert_error, echo, every_waiter_fails, fails, handler_done, loop_and_tls_echo_server, open_tls,
    plain_server, recorder_over_tls, run, stale_test_ca, start_tls_server_recording,
    tls_echo_server, tls_err, BOUND,
};
use util::{Forward, Recorder};

/// Server config that asks for a client certificate signed by `roots`.
fn server_config_trusting_clients_of(
    roots: &std::path::Path,
) -> std::sync::Arc<rustls::ServerConfig> {
    let certs = Certs::get();
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(asyncio::tls::load_certs(roots).unwrap());
    let verifier = rustls::server::WebPkiClientVerifier::builder(std::sync::Arc::new(store))
        .build()
        .unwrap();
    std::sync::Arc::new(
        rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                asyncio::tls::load_certs(&certs.cert).unwrap(),
                asyncio::tls::load_private_key(&certs.key).unwrap(),
            )
            .unwrap(),
    )
}

mod app_protocol;
mod create_over_ssl;
mod failures_after_handshake;
mod segments;
mod server_upgrade;
mod start_tls_fails;
mod twice;
