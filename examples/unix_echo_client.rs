//! The TCP echo client over a Unix socket (`open_unix_connection`).
//!
//! Run: `cargo run --example echo_server -- --unix /tmp/echo.sock` in one terminal, then
//! `cargo run --example unix_echo_client -- 'Hello World!' --unix /tmp/echo.sock`.

mod common;

use common::{Arg, Cli, Flag};

static CLI: Cli = Cli {
    name: "unix_echo_client",
    about: "The streams echo client over a Unix socket: sends MESSAGE to the echo server at\n\
            --unix PATH, prints what comes back, closes.",
    args: &[Arg::new("MESSAGE", "the text to send").default("Hello World!")],
    flags: &[Flag::value(
        "unix",
        "PATH",
        "the server's Unix socket (required)",
    )],
};

async fn client(message: String, path: String) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_unix_connection(&path).await?;
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
    writer.wait_closed().await
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (message, path) = (args.get("MESSAGE"), args.get("unix"));
    CLI.finish_run(asyncio::run(client(message, path)))
}
