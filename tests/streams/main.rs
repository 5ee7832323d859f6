//! Streams over real sockets (issue #4): open_connection, start_server, StreamWriter, drain,
//! the handler's failure modes. Tests are named after CPython's test_streams.py where they
//! port one, and cite the S ids they cover. Reader-only cases live in tests/streams_reader/.

#[path = "../util/mod.rs"]
mod util;

use util::port_of;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, StreamReader, StreamWriter};

const BOUND: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh loop, bounded, and returns its output.
fn run<F: std::future::Future + 'static>(fut: F) -> F::Output {
    util::run_fresh(BOUND, fut)
}

/// An echo server and one client connection to it.
async fn echo_pair() -> (asyncio::Server, StreamReader, StreamWriter) {
    let server = asyncio::start_server(echo_handler, "127.0.0.1", 0)
        .await
        .unwrap();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
        .await
        .unwrap();
    (server, reader, writer)
}

async fn echo_handler(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

mod buffer_info;
mod drain;
mod handler;
mod open_and_serve;
mod reading;
mod writer_close;
