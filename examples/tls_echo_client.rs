//! TLS echo client using streams: the streams docs' "TCP echo client" with `ssl=` added, as in
//! Python `open_connection(host, port, ssl=ssl.create_default_context(cafile=…))`.
//!
//! Run: `cargo run --example echo_server -- --tls-cert CHAIN.pem --tls-key KEY.pem` in one
//! terminal, then `cargo run --example tls_echo_client -- --cafile CA.pem ['Hello World!']
//! [--host H] [--port P] [--server-hostname NAME]`. The server's certificate must be issued by
//! the CA in `--cafile` for NAME (default: the host). Prints what it sends and receives, and the
//! negotiated protocol version and cipher suite.

mod common;

#[cfg(feature = "tls")]
async fn tls_echo_client(args: common::Args) -> Result<(), Box<dyn std::error::Error>> {
    let cafile = args
        .get("cafile")
        .ok_or("usage: tls_echo_client --cafile CA.pem")?;
    let host = args.get("host").unwrap_or("127.0.0.1");
    let port = args.port(8888)?;
    let message = args
        .positional
        .first()
        .map_or("Hello World!", String::as_str);
    let config = asyncio::tls::client_config_with_roots(cafile)?;
    let (reader, writer) = asyncio::open_connection(host, port)
        .ssl(config)
        .server_hostname(args.get("server-hostname").unwrap_or(host))
        .await?;
    let t = writer.transport();
    println!(
        "TLS: {} {}",
        t.tls_version().unwrap_or_default(),
        t.cipher_suite().unwrap_or_default()
    );

    println!("Send: {}", common::py_repr(message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!(
        "Received: {}",
        common::py_repr(&String::from_utf8_lossy(&data))
    );

    println!("Close the connection");
    writer.close(); // sends close_notify, waits for the server's
    writer.wait_closed().await?;
    Ok(())
}

#[cfg(feature = "tls")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::Args::parse()?;
    asyncio::run(async move { tls_echo_client(args).await.map_err(|e| e.to_string()) })??;
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    Err("tls_echo_client needs the `tls` feature, off in this build".into())
}
