//! The TLS layer's transport (issue #5, Part T): start_tls over paused writing, a protocol's
//! misuse inside the layer, an app protocol held across awaits, set_protocol, reading pauses,
//! the extra info CPython's ports read, and a connection dropped after connection_made.
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
use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter, Transport};
use tls_common::Certs;
use tls_helpers::{
    bulk_client_before_start_tls, bulk_sender, close_both, echo, loop_and_tls_echo_server,
    loop_start_tls_after_go, narrow_plain_recorder, open_tls, open_tls_sock, plain_recorder,
    recorder_over_tls, run, small_window_listener, tls_echo_server, tls_server, turn_until,
    until_paused, upgrading_server_on, BOUND, BULK,
};
use util::Recorder;

/// Whether `p` is the protocol `t` calls now.
fn calls(t: &Transport, p: asyncio::ProtocolRef) -> bool {
    t.get_protocol().is_some_and(|now| Rc::ptr_eq(&now, &p))
}

mod app_protocol;
mod dropped_connect;
mod extra_info;
mod reading;
mod segments;
mod start_tls;
mod write_limits;
