//! TLS echo client using streams: the streams docs' "TCP echo client" with `ssl=` added, as in
//! Python `open_connection(host, port, ssl=ssl.create_default_context(cafile=…))`.
//!
//! Run: `cargo run --example echo_server -- --tls-cert CHAIN.pem --tls-key KEY.pem` in one
//! terminal, then `cargo run --example tls_echo_client -- --cafile CA.pem ['Hello World!']
//! [--host H] [--port P] [--server-hostname NAME]`. The server's certificate must be issued by
//! the CA in `--cafile` for NAME (default: the host). Prints what it sends and receives, and the
//! negotiated protocol version and cipher suite.

mod common;

use common::{Arg, Cli, Flag};

static CLI: Cli = Cli {
    name: "tls_echo_client",
    about: "TLS echo client using streams: sends MESSAGE to a TLS echo server whose certificate\n\
            the CA in --cafile issued, prints the TLS version and cipher suite, then the echo.",
    args: &[Arg::new("MESSAGE", "the text to send").default("Hello World!")],
    flags: &[
        Flag::value("cafile", "CA.pem", "the CA to trust (required)"),
        Flag::value("host", "H", "the server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the server's port").default("8888"),
        Flag::value(
            "server-hostname",
            "NAME",
            "the name to check the certificate against [default: the host]",
        ),
    ],
};

/// The command line, read.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
struct Options {
    cafile: String,
    host: String,
    port: u16,
    server_hostname: Option<String>,
    message: String,
}

#[cfg(feature = "tls")]
async fn tls_echo_client(opt: Options) -> Result<(), Box<dyn std::error::Error>> {
    let Options {
        cafile,
        host,
        port,
        server_hostname,
        message,
    } = opt;
    let config = asyncio::tls::client_config_with_roots(cafile)?;
    let (reader, writer) = asyncio::open_connection(&host, port)
        .ssl(config)
        .server_hostname(server_hostname.as_deref().unwrap_or(&host))
        .await?;
    let t = writer.transport();
    println!(
        "TLS: {} {}",
        t.tls_version().unwrap_or_default(),
        t.cipher_suite().unwrap_or_default()
    );

    println!("Send: {}", common::py_repr(&message));
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

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let opt = Options {
        cafile: args.get("cafile"),
        host: args.get("host"),
        port: args.get("port"),
        server_hostname: args.opt("server-hostname"),
        message: args.get("MESSAGE"),
    };
    #[cfg(feature = "tls")]
    let result = asyncio::run(async move { tls_echo_client(opt).await.map_err(|e| e.to_string()) });
    #[cfg(not(feature = "tls"))]
    let result: Result<Result<(), String>, asyncio::Error> = {
        drop(opt); // read all the same: --help and bad values behave as with TLS
        Ok(Err("needs the `tls` feature, off in this build".into()))
    };
    CLI.finish_run(result)
}
