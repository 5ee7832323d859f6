//! TLS arguments (issue #5, Part T): ALPN, PEM files that cannot be read or used, server_hostname
//! rules, and the keyword checks every entry point (TCP, Unix, streams, servers) makes before
//! any I/O, as CPython's.
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
use std::time::Duration;

use asyncio::tls::rustls;
use asyncio::{Error, StreamReader, StreamWriter};
use tls_common::Certs;
use tls_helpers::{
    cert_error, close_both, echo, forwarding_recorder, loop_and_tls_echo_server, run,
    tls_echo_server, tls_err, BOUND,
};
use util::Recorder;

mod alpn;
mod connections;
mod keyword_checks;
mod pem_files;
mod server_hostname;
