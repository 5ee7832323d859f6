//! TCP echo server using streams: Python's asyncio streams docs example ("TCP echo server
//! using streams"), ported line for line. Each connection: read up to 100 bytes, echo them,
//! close. Serves forever.
//!
//! Run: `cargo run --example tcp_echo_server [-- --host H --port P]` (port 0 picks a free port;
//! the `Serving on …` line says which).

mod common;

use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "tcp_echo_server",
    about: "TCP echo server using streams (Python's streams docs example): each connection gets\n\
            up to 100 bytes echoed, then is closed. Prints `Serving on ADDR`, serves until SIGINT\n\
            or SIGTERM, then closes and exits 130 or 143.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the address to listen on").default("127.0.0.1"),
        Flag::value("port", "P", "the port to listen on; 0 lets the OS pick").default("8888"),
    ],
};

use asyncio::{StreamReader, StreamWriter};

async fn handle_echo(reader: StreamReader, writer: StreamWriter) -> Result<(), asyncio::Error> {
    let data = reader.read(100).await?;
    let message = String::from_utf8_lossy(&data).into_owned();
    let addr = writer
        .peername()
        .and_then(|a| a.as_inet())
        .map(|a| common::py_addr(&a))
        .unwrap_or_default();

    common::say!("Received {} from {addr}", common::py_repr(&message));

    common::say!("Send: {}", common::py_repr(&message));
    writer.write(&data)?;
    writer.drain().await?;

    common::say!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

async fn main_task(host: String, port: u16) -> Result<(), asyncio::Error> {
    let server = asyncio::start_server(handle_echo, &host, port).await?;

    let addrs: Vec<String> = server
        .sockets()
        .iter()
        .filter_map(|a| a.as_inet())
        .map(|a| common::py_addr(&a))
        .collect();
    common::say!("Serving on {}", addrs.join(", "));

    // `async with server: await server.serve_forever()`
    server
        .scope(|server| async move {
            // Ends, with Ok, only when the server is closed.
            server.serve_forever().await
        })
        .await
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (host, port) = (args.get("host"), args.port("port"));
    // Ctrl-C or `kill`: the server closes, then exit 130 / 143.
    CLI.finish_served(common::run_until_signal(main_task(host, port)))
}
