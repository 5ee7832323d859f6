//! UDP echo client: the "UDP Echo Client" example of Python's asyncio docs page "Transports and
//! Protocols", ported. The protocol sends its message from `connection_made`, prints the
//! answer and closes the transport; `connection_lost` completes `on_con_lost` and `main`
//! returns.
//!
//! Run: `cargo run --example udp_echo_server` in one terminal, then
//! `cargo run --example udp_echo_client -- ['Hello World!'] [--host H] [--port P]`.
//! Prints `Send: Hello World!`, `Received: Hello World!`, `Close the socket`,
//! `Connection closed`.
//!
//! As in Python, with no server listening the client prints
//! `Error received: [Errno 111] Connection refused` (the ICMP answer to its datagram, on its
//! connected socket) and keeps waiting: UDP has no connection to lose. Ctrl-C ends it (130).

mod common;

use std::io;

use asyncio::{Address, DatagramProtocol, DatagramTransport, LoopFuture};
use common::{Arg, Cli, Flag};

static CLI: Cli = Cli {
    name: "udp_echo_client",
    about: "UDP echo client (Python's Transports and Protocols docs example): sends MESSAGE\n\
            as one datagram, prints the answer, closes.",
    args: &[Arg::new("MESSAGE", "the text to send").default("Hello World!")],
    flags: &[
        Flag::value("host", "H", "the server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the server's port").default("9999"),
    ],
};

/// Python's `EchoClientProtocol(message, on_con_lost)`.
struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<()>,
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: DatagramTransport) {
        common::say!("Send: {}", self.message);
        // To the remote address (None): sendto() never blocks, and fails only for an address
        // other than the remote one, which None is not.
        if let Err(e) = transport.sendto(self.message.as_bytes(), None) {
            common::say_err!("sendto failed: {e}");
        }
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], _addr: Address) {
        common::say!("Received: {}", String::from_utf8_lossy(data));
        common::say!("Close the socket");
        if let Some(transport) = &self.transport {
            transport.close();
        }
    }

    fn error_received(&mut self, exc: io::Error) {
        // E.g. ECONNREFUSED: nobody listens at the server's port. The endpoint stays open.
        // As Python shows an OSError: `[Errno 111] Connection refused`.
        common::say!("Error received: {}", asyncio::Error::Io(exc));
    }

    fn connection_lost(&mut self, _exc: Option<io::Error>) {
        common::say!("Connection closed");
        // Set once: connection_lost is called exactly once.
        let _ = self.on_con_lost.set_result(());
    }
}

async fn main_task(message: String, host: String, port: u16) -> Result<(), asyncio::Error> {
    let lp = asyncio::get_running_loop()?;
    let on_con_lost = lp.create_future();
    let done = on_con_lost.clone();
    // A name that does not resolve ends the program here with that error.
    let (transport, _protocol) = lp
        .create_datagram_endpoint(move || EchoClientProtocol {
            message,
            on_con_lost,
            transport: None,
        })
        .remote_addr(&host, port)
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
