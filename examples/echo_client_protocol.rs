//! TCP echo client on the Protocol layer: the "TCP Echo Client" example of Python's asyncio
//! docs page "Transports and Protocols", ported. The protocol sends its message from
//! `connection_made` and prints what comes back; when the server closes the connection,
//! `connection_lost` completes `on_con_lost`, `main` returns and [`asyncio::run`] stops the
//! loop.
//!
//! Run: `cargo run --example echo_server_protocol` in one terminal, then
//! `cargo run --example echo_client_protocol -- ['Hello World!'] [--host H] [--port P]`.
//! Prints `Data sent: 'Hello World!'`, `Data received: 'Hello World!'`,
//! `The server closed the connection`.
//!
//! Why a future and not `loop.stop()` from `connection_lost`: if the connection ends during
//! the iteration that completes `create_connection`, that stop would be absorbed by
//! `run_until_complete` (as in Python), and a following `run_forever` would never return.
//! Python's docs switched to `on_con_lost` for the same reason.

mod common;

use std::io;

use asyncio::{LoopFuture, Protocol, Transport};
use common::{Arg, Cli, Flag};

static CLI: Cli = Cli {
    name: "echo_client_protocol",
    about: "TCP echo client on the Protocol layer (Python's Transports and Protocols docs\n\
            example): sends MESSAGE, prints what comes back until the server closes.",
    args: &[Arg::new("MESSAGE", "the text to send").default("Hello World!")],
    flags: &[
        Flag::value("host", "H", "the server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the server's port").default("8888"),
    ],
};

/// Python's `EchoClientProtocol(message, on_con_lost)`.
struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<()>,
}

impl Protocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: Transport) {
        // write() never blocks: what the socket does not take at once (WouldBlock) is buffered
        // and flushed by the transport. It fails only after write_eof(), never called here.
        if let Err(e) = transport.write(self.message.as_bytes()) {
            common::say_err!("write failed: {e}");
        }
        common::say!("Data sent: {}", common::py_repr(&self.message));
    }

    fn data_received(&mut self, data: &[u8]) {
        common::say!(
            "Data received: {}",
            common::py_repr(&String::from_utf8_lossy(data))
        );
    }

    fn eof_received(&mut self) -> bool {
        // EOF: the server closed its side; returning false lets the transport close ours,
        // which ends in connection_lost(None).
        false
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        if let Some(e) = &exc {
            // An error ended the connection (e.g. a reset): say which, then finish all the same.
            common::say_err!("Connection error: {e}");
        }
        common::say!("The server closed the connection");
        // Set once: connection_lost is called exactly once.
        let _ = self.on_con_lost.set_result(());
    }
}

async fn main_task(message: String, host: String, port: u16) -> Result<(), asyncio::Error> {
    let lp = asyncio::get_running_loop()?;
    let on_con_lost = lp.create_future();
    let done = on_con_lost.clone();
    // A refused or unreachable server ends the program here with that error.
    let (transport, _protocol) = lp
        .create_connection(
            move || EchoClientProtocol {
                message,
                on_con_lost,
            },
            &host,
            port,
        )
        .await?;

    // `try: await on_con_lost  finally: transport.close()`
    let lost = done.await;
    transport.close();
    lost
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (message, host, port) = (args.get("MESSAGE"), args.get("host"), args.port("port"));
    CLI.finish_run(asyncio::run(main_task(message, host, port)))
}
