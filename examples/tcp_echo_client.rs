//! TCP echo client using streams: the first example of Python's asyncio streams docs
//! ("TCP echo client using streams"), ported line for line.
//!
//! Run: `cargo run --example tcp_echo_server` in one terminal, then
//! `cargo run --example tcp_echo_client -- 'Hello World!' [--host H] [--port P]`.
//! Prints `Send: 'Hello World!'`, `Received: 'Hello World!'`, `Close the connection`.

mod common;

use common::{Arg, Cli, Flag};

static CLI: Cli = Cli {
    name: "tcp_echo_client",
    about: "TCP echo client using streams (Python's streams docs example): sends MESSAGE to the\n\
            echo server, prints what comes back, closes.",
    args: &[Arg::new("MESSAGE", "the text to send").default("Hello World!")],
    flags: &[
        Flag::value("host", "H", "the server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the server's port").default("8888"),
    ],
};

async fn tcp_echo_client(message: String, host: String, port: u16) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_connection(&host, port).await?;

    common::say!("Send: {}", common::py_repr(&message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    common::say!(
        "Received: {}",
        common::py_repr(&String::from_utf8_lossy(&data))
    );

    common::say!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (message, host, port) = (args.get("MESSAGE"), args.get("host"), args.port("port"));
    CLI.finish_run(asyncio::run(tcp_echo_client(message, host, port)))
}
