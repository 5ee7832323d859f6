//! An echo client fed from standard input, without blocking the loop: each line typed on
//! stdin is sent to the echo server as it comes, each reply printed as it comes back; end of
//! input (Ctrl-D, or the end of a piped file) half-closes the connection (`write_eof`), and
//! the client then waits for the server to finish and close.
//!
//! Run: `cargo run --example echo_server` in one terminal, then
//! `cargo run --example stdin_echo_client -- [--host H] [--port P]` and type lines, or
//! `printf 'a\nb\n' | cargo run --example stdin_echo_client`. Prints `Received: 'a\n'` per
//! reply and `Server closed the connection` at the end.
//!
//! Standard input is read through `asyncio::stdin()`: directly from the loop for a pipe or a
//! socket, through a helper thread for a terminal or a file (see `asyncio::stdin`).

mod common;

use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "stdin_echo_client",
    about: "Echo client fed from stdin: sends each input line to the echo server, prints each\n\
            reply; at end of input half-closes and waits for the server to close.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the server's port").default("8888"),
    ],
};

async fn stdin_echo_client(host: String, port: u16) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_connection(&host, port).await?;
    let input = asyncio::stdin().await?;

    // Lines from stdin to the server, concurrently with the replies below.
    let forward = asyncio::spawn(async move {
        loop {
            let line = input.readline().await?;
            if line.is_empty() {
                break; // end of input
            }
            writer.write(&line)?;
            writer.drain().await?;
        }
        writer.write_eof()?; // half-close: the server sees EOF after our last line
        Ok::<_, asyncio::Error>(writer)
    });

    // Replies until the server closes.
    loop {
        let data = reader.read(4096).await?;
        if data.is_empty() {
            break;
        }
        common::say!(
            "Received: {}",
            common::py_repr(&String::from_utf8_lossy(&data))
        );
    }
    common::say!("Server closed the connection");
    let writer = forward.await??;
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (host, port) = (args.get("host"), args.port("port"));
    CLI.finish_run(asyncio::run(stdin_echo_client(host, port)))
}
