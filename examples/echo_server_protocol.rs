//! TCP echo server on the Protocol layer: the "TCP Echo Server" example of Python's asyncio
//! docs page "Transports and Protocols", ported. No streams: a [`Protocol`] gets
//! `connection_made`, `data_received` and `connection_lost` calls from its transport, and
//! answers through the [`Transport`]. Like the Python original, each connection gets its first
//! chunk echoed and is then closed; the server serves until interrupted.
//!
//! Run: `cargo run --example echo_server_protocol [-- --host H --port P | --unix PATH]`
//! (defaults 127.0.0.1 and 8888; port 0 lets the OS pick, and the `Serving on …` line says
//! which). Then, in another terminal: `cargo run --example echo_client_protocol`.
//!
//! Memory: `data_received` gets a slice of one read buffer the loop shares among all its
//! connections, so a connection holds no read buffer of its own, idle or not (about 0.5 KiB
//! per idle connection in all, transport included). Copy out what you must keep.
//!
//! Prints, per connection, as Python does: `Connection from ('127.0.0.1', 50000)`,
//! `Data received: 'Hello World!'`, `Send: 'Hello World!'`, `Close the client socket`.

mod common;

use std::io;

use asyncio::{Address, Protocol, Server, Transport};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "echo_server_protocol",
    about: "TCP echo server on the Protocol layer (Python's Transports and Protocols docs\n\
            example): each connection gets its first chunk echoed, then is closed. Prints\n\
            `Serving on ADDR`, serves until SIGINT or SIGTERM, then closes and exits 130 or\n\
            143.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the address to listen on").default("127.0.0.1"),
        Flag::value("port", "P", "the port to listen on; 0 lets the OS pick").default("8888"),
        Flag::value("unix", "PATH", "listen on this Unix socket instead of TCP"),
    ],
};

/// Python's `EchoServerProtocol`: echo the first chunk, then close.
#[derive(Default)]
struct EchoServerProtocol {
    transport: Option<Transport>,
}

impl Protocol for EchoServerProtocol {
    fn connection_made(&mut self, transport: Transport) {
        let peername = transport.peername().map(|a| show(&a)).unwrap_or_default();
        common::say!("Connection from {peername}");
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let message = String::from_utf8_lossy(data);
        common::say!("Data received: {}", common::py_repr(&message));

        common::say!("Send: {}", common::py_repr(&message));
        if let Some(transport) = &self.transport {
            // write() never blocks: what the socket does not take at once (WouldBlock) is
            // buffered by the transport and flushed when the socket is writable again.
            if let Err(e) = transport.write(data) {
                // Only a write after write_eof() fails, which this protocol never calls.
                common::say_err!("write failed: {e}");
            }
            common::say!("Close the client socket");
            // Flushes the buffer first, then connection_lost(None).
            transport.close();
        }
    }

    fn eof_received(&mut self) -> bool {
        // EOF: the client closed its side before sending anything; returning false lets the
        // transport close the connection.
        false
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        if let Some(e) = exc {
            // An error ended the connection (e.g. the peer reset it); the server carries on.
            common::say_err!("Connection lost: {e}");
        }
        // None: a normal close (ours, or after EOF): nothing to report.
        self.transport = None;
    }
}

/// An address as Python prints it: `('127.0.0.1', 8888)` for TCP, the path for Unix.
fn show(a: &Address) -> String {
    match a.as_inet() {
        Some(inet) => common::py_addr(&inet),
        None => a.to_string(),
    }
}

async fn main_task(server: asyncio::CreateServer) -> Result<(), asyncio::Error> {
    // `server = await loop.create_server(lambda: EchoServerProtocol(), '127.0.0.1', 8888)`;
    // a bind error (address in use, bad path) ends the program here with that error.
    let server: Server = server.await?;

    let addrs: Vec<String> = server.sockets().iter().map(show).collect();
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
    let unix: Option<String> = args.opt("unix");
    let (host, port): (String, u16) = (args.get("host"), args.port("port"));
    // Ctrl-C or `kill`: the server closes (its Unix socket file removed), then exit 130 / 143.
    let result = common::run_until_signal(async move {
        let lp = asyncio::get_running_loop()?;
        let server = match unix {
            Some(path) => lp.create_unix_server(EchoServerProtocol::default, path),
            None => lp.create_server(EchoServerProtocol::default, &host, port),
        };
        main_task(server).await
    });
    CLI.finish_served(result)
}
