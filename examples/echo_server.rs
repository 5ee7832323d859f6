//! A looping echo server on the streams layer, for benchmarks and tests: for each connection,
//! read, write, drain, until EOF; then close. TCP or Unix.
//!
//! Run: `cargo run --release --example echo_server -- [--host H] [--port P] [--unix PATH]
//! [--tls-cert CHAIN.pem --tls-key KEY.pem] [--proxy-protocol] [--idle-timeout SECS]
//! [--workers N]`. With
//! the two TLS options it serves TLS (rustls; try it with `examples/tls_echo_client.rs --cafile
//! CA.pem`). With `--proxy-protocol` it sits behind a load balancer: each connection must start
//! with a PROXY header (v1 or v2, e.g. HAProxy's `send-proxy-v2`), and the server prints
//! `Connection from PEER`, the client's address the header carries. With `--idle-timeout` a
//! connection silent both ways that long is closed (the writer's `set_idle_timeout`); 0 is
//! refused (asyncio's `timeout=0` expires at once; leave the flag out for no timeout). With
//! `--workers N` (TCP only) it serves on N threads, each running its own loop with its own
//! `SO_REUSEPORT` listener on each address (`asyncio::serve_on_threads`); the main thread's
//! loop only waits for SIGINT / SIGTERM, then closes the workers and joins them. Prints
//! `Serving on ADDR, ...` once listening, every address listened on (`--host ''` is every
//! interface: `0.0.0.0:P, [::]:Q`), as Python's docs example prints its server's sockets.

mod common;

use std::io::ErrorKind;
use std::sync::OnceLock;
use std::time::Duration;

use asyncio::{StreamReader, StreamWriter};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "echo_server",
    about: "A looping echo server on the streams layer (read, write, drain until EOF), TCP or\n\
            Unix, plain or TLS. Prints `Serving on ADDR`, serves until SIGINT or SIGTERM, then\n\
            closes and exits 130 or 143.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the address to listen on").default("127.0.0.1"),
        Flag::value("port", "P", "the port to listen on; 0 lets the OS pick").default("8888"),
        Flag::value("unix", "PATH", "listen on this Unix socket instead of TCP"),
        Flag::value(
            "tls-cert",
            "CHAIN.pem",
            "serve TLS with this certificate chain",
        ),
        Flag::value("tls-key", "KEY.pem", "and this private key"),
        Flag::switch(
            "proxy-protocol",
            "expect a PROXY v1/v2 header first (behind a load balancer); print each peer",
        ),
        Flag::value(
            "workers",
            "N",
            "serve on N threads (TCP): a loop each, with an SO_REUSEPORT listener per address",
        )
        .default("1"),
        Flag::value(
            "idle-timeout",
            "SECS",
            "close a connection silent both ways this long (decimals, more than 0; none if absent)",
        ),
    ],
};

/// One connection: read what arrived, write it back, drain, until EOF.
///
/// It reads through the reader's own buffer (`read(n)`, as Python's docs do with
/// `await reader.read(100)`), not into a buffer of its own: a connection waiting for its next
/// message then holds no read buffer at all (an emptied reader buffer goes back to a small
/// per-loop pool; see `LoopStats::reader_buffers`), about 1 KiB in all. A `vec![0; 64 * 1024]`
/// kept per connection for `read_into` would make that 65 KiB: 650 MiB for 10 000 mostly idle
/// clients. `read` returns each message as a new `Vec`; `read_into` into a buffer that is
/// yours saves that allocation where a connection is never idle for long.
///
/// With `--idle-timeout`, a connection silent both ways that long (a client that says
/// nothing, or one that stops reading what it is sent) is closed under the waiting read or
/// drain, which then fails with a `TimedOut` error.
async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), asyncio::Error> {
    match echo_until_eof(reader, writer).await {
        // The client reset the connection, or was gone when we wrote: it left, which is no
        // failure of this server's (the loop's handler would print it as an unhandled one).
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
            log::info!(target: "echo_server", "{e}: the client left");
            Ok(())
        }
        // `--idle-timeout` closed the connection: this server's own rule, whether the echo
        // was waiting to read or to drain (a client that stopped reading), so no failure.
        Err(e) if e.kind() == ErrorKind::TimedOut => {
            log::info!(target: "echo_server", "{e}: connection closed");
            Ok(())
        }
        done => done,
    }
}

/// The echo loop itself, until the client's EOF; [`echo`] decides what its errors mean.
async fn echo_until_eof(reader: StreamReader, writer: StreamWriter) -> Result<(), asyncio::Error> {
    writer.set_idle_timeout(IDLE_TIMEOUT.get().copied());
    loop {
        let data = reader.read(64 * 1024).await?; // up to 64 KiB of what is buffered
        if data.is_empty() {
            break; // EOF: the client is done
        }
        writer.write(&data)?;
        writer.drain().await?; // backpressure: a client that does not read stops us here
    }
    writer.close();
    writer.wait_closed().await
}

/// `--idle-timeout SECS`, once parsed.
static IDLE_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Where to listen, from the command line.
enum Listen {
    Tcp(String, u16),
    Unix(String),
}

/// `--tls-cert F --tls-key F`: the PEM chain and key to serve TLS with.
type TlsFiles = Option<(String, String)>;

/// `echo`, printing the client's address first (the one a PROXY header carried).
async fn echo_and_print_peer(reader: StreamReader, writer: StreamWriter) -> asyncio::Result<()> {
    let peer = writer.peername().map(|a| a.to_string()).unwrap_or_default();
    common::say!("Connection from {peer}"); // a closed stdout must not end the connection
    echo(reader, writer).await
}

/// The server configuration from `--tls-cert` / `--tls-key`, loaded once for every worker.
#[cfg(feature = "tls")]
type TlsConfig = std::sync::Arc<asyncio::tls::rustls::ServerConfig>;
#[cfg(not(feature = "tls"))]
type TlsConfig = std::convert::Infallible;

/// `--workers N` (N > 1): N threads, each a loop serving `echo` on its own listeners. This
/// future waits for the workers to end; cancelled (SIGINT / SIGTERM on the main loop), it
/// drops the group, which closes every worker, aborts its connections and joins its thread.
async fn serve_on_threads(
    workers: usize,
    host: String,
    port: u16,
    tls_files: TlsFiles,
    proxy: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let tls: Option<TlsConfig> = match tls_files {
        None => None,
        #[cfg(feature = "tls")]
        Some((cert, key)) => Some(asyncio::tls::server_config(cert, key)?.into()),
        #[cfg(not(feature = "tls"))]
        Some(_) => return Err("TLS needs the `tls` feature, off in this build".into()),
    };
    // Run on each worker thread: the same keywords as the one-loop server.
    let configure = move |start: asyncio::StartServer| {
        let start = if proxy {
            start.proxy_protocol(asyncio::ProxyProtocol::Required)
        } else {
            start
        };
        match &tls {
            None => start,
            #[cfg(feature = "tls")]
            Some(config) => start.ssl(config.clone()),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    };
    // The callback is made on each worker thread, so it need not be `Send`.
    let group = if proxy {
        asyncio::serve_on_threads(workers, || echo_and_print_peer, &host, port)
    } else {
        asyncio::serve_on_threads(workers, || echo, &host, port)
    }
    .configure(configure)
    .start()?;
    // Every address listened on, as the one-loop server prints them: each worker has a
    // listener on each (or shares one), so an address is named once, in the order bound.
    let mut addrs: Vec<String> = Vec::new();
    for a in group.sockets().iter().map(|a| a.to_string()) {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    common::say!("Serving on {} ({workers} workers)", addrs.join(", "));
    Ok(group.wait_closed().await?)
}

async fn serve(
    listen: Listen,
    tls_files: TlsFiles,
    proxy: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = match (listen, proxy) {
        (Listen::Unix(path), false) => asyncio::start_unix_server(echo, path),
        (Listen::Tcp(host, port), false) => asyncio::start_server(echo, &host, port),
        (Listen::Unix(path), true) => asyncio::start_unix_server(echo_and_print_peer, path),
        (Listen::Tcp(host, port), true) => asyncio::start_server(echo_and_print_peer, &host, port),
    };
    let start = if proxy {
        // The header comes first on each connection, before any TLS.
        start.proxy_protocol(asyncio::ProxyProtocol::Required)
    } else {
        start
    };
    let server = tls(start, tls_files)?.await?;
    let addrs: Vec<String> = server.sockets().iter().map(|a| a.to_string()).collect();
    common::say!("Serving on {}", addrs.join(", "));
    Ok(server.serve_forever().await?) // Ok once the server is closed
}

/// Serve TLS with `tls_files`, if given.
fn tls(
    server: asyncio::StartServer,
    tls_files: TlsFiles,
) -> Result<asyncio::StartServer, Box<dyn std::error::Error>> {
    match tls_files {
        None => Ok(server), // plain TCP / Unix
        #[cfg(feature = "tls")]
        Some((cert, key)) => Ok(server.ssl(asyncio::tls::server_config(cert, key)?)),
        #[cfg(not(feature = "tls"))]
        Some(_) => Err("TLS needs the `tls` feature, off in this build".into()),
    }
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let listen = match args.opt("unix") {
        Some(path) => Listen::Unix(path),
        None => Listen::Tcp(args.get("host"), args.port("port")),
    };
    let tls_files = match (args.opt("tls-cert"), args.opt("tls-key")) {
        (None, None) => None,
        (Some(_), Some(_)) if !cfg!(feature = "tls") => {
            args.fail("--tls-cert needs the `tls` feature, off in this build")
        }
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(_), None) => args.fail("--tls-cert needs --tls-key"),
        (None, Some(_)) => args.fail("--tls-key needs --tls-cert"),
    };
    if let Some(d) = args.seconds("idle-timeout") {
        let _ = IDLE_TIMEOUT.set(d);
    }
    // Ctrl-C or `kill`: the server closes (its Unix socket file removed), then exit 130 / 143.
    let proxy = args.is_set("proxy-protocol");
    // Out of range: a usage error, as for every other flag (not a runtime error from start).
    let workers = args.get_in("workers", 1..=asyncio::streams::MAX_WORKERS);
    let result = match (workers, listen) {
        (1, listen) => common::run_until_signal(async move {
            serve(listen, tls_files, proxy)
                .await
                .map_err(|e| e.to_string())
        }),
        (_, Listen::Unix(_)) => args.fail("--workers needs TCP, not --unix"),
        (n, Listen::Tcp(host, port)) => common::run_until_signal(async move {
            serve_on_threads(n, host, port, tls_files, proxy)
                .await
                .map_err(|e| e.to_string())
        }),
    };
    CLI.finish_served(result)
}
