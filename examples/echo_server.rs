//! A looping echo server on the streams layer, for benchmarks and tests: for each connection,
//! read, write, drain, until EOF; then close. TCP or Unix.
//!
//! Run: `cargo run --release --example echo_server -- [--host H] [--port P] [--unix PATH]
//! [--tls-cert CHAIN.pem --tls-key KEY.pem]`. With the two TLS options it serves TLS (rustls;
//! try it with `examples/tls_echo_client.rs --cafile CA.pem`). Prints `Serving on ADDR` once
//! listening.

mod common;

use std::io::Write;

use asyncio::{StreamReader, StreamWriter};

async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), asyncio::Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break; // EOF: the client is done
        }
        writer.write(&buf[..n])?;
        writer.drain().await?; // backpressure: a client that does not read stops us here
    }
    writer.close();
    writer.wait_closed().await
}

async fn serve(args: common::Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = match args.get("unix") {
        Some(path) => tls(asyncio::start_unix_server(echo, path), &args)?.await?,
        None => {
            let host = args.get("host").unwrap_or("127.0.0.1");
            tls(asyncio::start_server(echo, host, args.port(8888)?), &args)?.await?
        }
    };
    let addrs: Vec<String> = server.sockets().iter().map(|a| a.to_string()).collect();
    println!("Serving on {}", addrs.join(", "));
    std::io::stdout().flush()?;
    Ok(server.serve_forever().await?) // Ok once the server is closed
}

/// `--tls-cert F --tls-key F`: serve TLS with that PEM chain and key.
fn tls(
    server: asyncio::StartServer,
    args: &common::Args,
) -> Result<asyncio::StartServer, Box<dyn std::error::Error>> {
    match (args.get("tls-cert"), args.get("tls-key")) {
        (None, None) => Ok(server), // plain TCP / Unix
        #[cfg(feature = "tls")]
        (Some(cert), Some(key)) => Ok(server.ssl(asyncio::tls::server_config(cert, key)?)),
        #[cfg(not(feature = "tls"))]
        (Some(_), Some(_)) => Err("TLS needs the `tls` feature, off in this build".into()),
        _ => Err("--tls-cert and --tls-key go together".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::Args::parse()?;
    asyncio::run(async move { serve(args).await.map_err(|e| e.to_string()) })??;
    Ok(())
}
