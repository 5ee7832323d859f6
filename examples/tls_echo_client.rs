//! TLS echo client using streams: the streams docs' "TCP echo client" with `ssl=` added, as in
//! Python `open_connection(host, port, ssl=ssl.create_default_context(cafile=…))`.
//!
//! Run: `cargo run --example echo_server -- --tls-cert CHAIN.pem --tls-key KEY.pem` in one
//! terminal, then `cargo run --example tls_echo_client -- --cafile CA.pem ['Hello World!']
//! [--host H] [--port P] [--server-hostname NAME] [--reconnect N]`. The server's certificate
//! must be issued by the CA in `--cafile` for NAME (default: the host). Prints what it sends and
//! receives, and the negotiated protocol version and cipher suite. With `--reconnect N` it
//! connects N more times with the same client configuration, and says for each connection
//! whether the handshake resumed the session (rustls keeps the server's tickets in memory on
//! the configuration; a resumed handshake skips the key exchange and the certificate check).

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
        Flag::value(
            "reconnect",
            "N",
            "connect N more times with the same configuration; say which handshakes resumed",
        )
        .default("0"),
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
    reconnect: u32,
}

#[cfg(feature = "tls")]
async fn tls_echo_client(opt: Options) -> Result<(), Box<dyn std::error::Error>> {
    let Options {
        cafile,
        host,
        port,
        server_hostname,
        message,
        reconnect,
    } = opt;
    // One configuration for every connection: its session cache is what lets them resume.
    let config = std::sync::Arc::new(asyncio::tls::client_config_with_roots(cafile)?);
    let name = server_hostname.as_deref().unwrap_or(&host);
    for i in 0..=reconnect {
        if reconnect > 0 {
            common::say!("Connection {}", i + 1);
        }
        echo_once(&host, port, name, config.clone(), &message, reconnect > 0).await?;
    }
    Ok(())
}

/// One connection: send `message`, print the echo, close.
#[cfg(feature = "tls")]
async fn echo_once(
    host: &str,
    port: u16,
    name: &str,
    config: std::sync::Arc<asyncio::tls::rustls::ClientConfig>,
    message: &str,
    say_resumed: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (reader, writer) = asyncio::open_connection(host, port)
        .ssl(config)
        .server_hostname(name)
        .await?;
    let t = writer.transport();
    common::say!(
        "TLS: {} {}",
        t.tls_version().unwrap_or_default(),
        t.cipher_suite().unwrap_or_default()
    );
    if say_resumed {
        let resumed = t.session_resumed() == Some(true);
        common::say!("Session resumed: {}", if resumed { "yes" } else { "no" });
    }

    common::say!("Send: {}", common::py_repr(message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    common::say!(
        "Received: {}",
        common::py_repr(&String::from_utf8_lossy(&data))
    );

    common::say!("Close the connection");
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
        port: args.port("port"),
        server_hostname: args.opt("server-hostname"),
        message: args.get("MESSAGE"),
        reconnect: args.get_in("reconnect", 0..=u32::MAX),
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
