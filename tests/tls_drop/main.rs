//! TLS connections dropped or ended early (issue #5, Part T): a pending handshake dropped, a
//! closing carrier, start_tls after EOF or a failure, and a stream reader paused around
//! stream start_tls.
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
    bulk_client_before_start_tls, close_both, every_waiter_fails, fails, forwarding_recorder,
    open_tls, plain_recorder, plain_server, run, start_tls_server_recording, tls_echo_server,
    tls_err, turn_until, until_paused, BOUND, BULK,
};
use util::{poll_with, Panicky, Recorder};

/// A server that sends a line and 16 bytes more, then upgrades and sends `BULK` bytes over
/// TLS; a client with limit 4 that read the line, so its reader holds 16 bytes > 2 x 4 and
/// has paused the raw transport (S14), before its own `start_tls`.
async fn a_reader_paused_before_start_tls(
) -> Result<(asyncio::Server, StreamReader, StreamWriter), Error> {
    let server = asyncio::start_server(
        |r: StreamReader, mut w: StreamWriter| async move {
            w.write(b"GO\n0123456789abcdef")?; // 16 bytes beyond the line
            w.start_tls(Certs::get().server_config(&[])).await?;
            w.write(&vec![b'b'; BULK])?;
            w.drain().await?;
            r.read(-1).await?;
            w.close();
            w.wait_closed().await
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port).limit(4).await?;
    assert_eq!(reader.readline().await?, b"GO\n");
    assert_eq!(
        util::reader_field(&reader, "paused"),
        "true",
        "16 bytes > 2 x 4"
    );
    Ok((server, reader, writer))
}

/// Yields, at most 10,000 times, until `probe` has been woken.
async fn yield_until_woken(probe: &util::Probe) {
    for _ in 0..10_000 {
        if probe.woken() > 0 {
            break;
        }
        asyncio::yield_now().await;
    }
}

/// [`a_reader_paused_before_start_tls`], with the raw transport and the stream's protocol
/// (for the tests that hold it).
async fn a_paused_reader_and_its_protocol() -> Result<
    (
        asyncio::Server,
        StreamReader,
        StreamWriter,
        asyncio::Transport,
        asyncio::ProtocolRef,
    ),
    Error,
> {
    let (server, reader, writer) = a_reader_paused_before_start_tls().await?;
    let raw = writer.transport().clone();
    let proto = raw.get_protocol().expect("the stream's protocol");
    Ok((server, reader, writer, raw, proto))
}

/// The end of an [`a_reader_paused_before_start_tls`] test: the reader gets the 16 bytes and
/// the server's bulk, then the writer and the server close.
async fn read_the_rest_and_close(
    server: asyncio::Server,
    reader: &StreamReader,
    writer: &StreamWriter,
) -> Result<(), Error> {
    assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
    assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
    close_both(writer, server).await
}

/// `writer`'s stream start_tls as a client of the test CA, to "localhost": the future, not
/// yet polled.
fn upgrade_as_localhost_client(
    writer: &mut StreamWriter,
) -> impl std::future::Future<Output = Result<asyncio::Transport, Error>> + '_ {
    writer
        .start_tls(Certs::get().client_config(&[]))
        .server_hostname("localhost")
        .into_future()
}

mod dropped_and_closing;
mod failed_start_tls;
mod held_protocol;
mod paused_reader;
mod reported;
mod writes;
