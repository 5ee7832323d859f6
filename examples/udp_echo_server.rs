//! UDP echo server: the "UDP Echo Server" example of Python's asyncio docs page "Transports
//! and Protocols", ported. One [`DatagramProtocol`] serves every client: each datagram is sent
//! back to the address it came from. Like the Python original it serves for an hour; SIGINT or
//! SIGTERM stops it sooner.
//!
//! Run: `cargo run --example udp_echo_server [-- --host H --port P]` (defaults 127.0.0.1 and
//! 9999; port 0 lets the OS pick). Then, in another terminal:
//! `cargo run --example udp_echo_client`.
//!
//! Prints `Starting UDP server`, then (our addition, so that a server on port 0 can be found)
//! `Serving on ('127.0.0.1', 9999)`; per datagram, as Python does:
//! `Received 'Hello World!' from ('127.0.0.1', 50000)`, `Send 'Hello World!' to ('127.0.0.1', 50000)`.

mod common;

use std::io;
use std::time::Duration;

use asyncio::{Address, DatagramProtocol, DatagramTransport};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "udp_echo_server",
    about: "UDP echo server (Python's Transports and Protocols docs example): sends every\n\
            datagram back to its sender. Prints `Starting UDP server` and `Serving on ADDR`,\n\
            serves for an hour or until SIGINT or SIGTERM (then exits 130 or 143).",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the address to listen on").default("127.0.0.1"),
        Flag::value("port", "P", "the port to listen on; 0 lets the OS pick").default("9999"),
    ],
};

/// Python's `EchoServerProtocol`.
#[derive(Default)]
struct EchoServerProtocol {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for EchoServerProtocol {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        let message = String::from_utf8_lossy(data);
        common::say!(
            "Received {} from {}",
            common::py_repr(&message),
            show(&addr)
        );
        common::say!("Send {} to {}", common::py_repr(&message), show(&addr));
        if let Some(transport) = &self.transport {
            // sendto() never blocks: a datagram the socket cannot take now (WouldBlock) is
            // queued whole and sent when it is writable. A send the kernel refuses goes to
            // error_received; an Err here is a bad address, which one we received from is not.
            if let Err(e) = transport.sendto(data, Some(&addr)) {
                common::say_err!("sendto failed: {e}");
            }
        }
    }

    fn error_received(&mut self, exc: io::Error) {
        // A send or receive failed (e.g. an ICMP error from a client gone away): the
        // endpoint stays open and serves the others.
        // As Python shows an OSError: `[Errno 111] Connection refused`.
        common::say_err!("Error received: {}", asyncio::Error::Io(exc));
    }
}

/// An address as Python prints it: `('127.0.0.1', 9999)`.
fn show(a: &Address) -> String {
    match a.as_inet() {
        Some(inet) => common::py_addr(&inet),
        None => a.to_string(),
    }
}

async fn main_task(host: String, port: u16) -> Result<(), asyncio::Error> {
    common::say!("Starting UDP server");
    let lp = asyncio::get_running_loop()?;

    // One protocol instance will be created to serve all client requests. A bind error
    // (address in use) ends the program here with that error.
    let (transport, _protocol) = lp
        .create_datagram_endpoint(EchoServerProtocol::default)
        .local_addr(&host, port)
        .await?;
    if let Some(addr) = transport.sockname() {
        common::say!("Serving on {}", show(&addr));
    }

    // `try: await asyncio.sleep(3600)  finally: transport.close()`; a signal drops this
    // future, and the loop's shutdown closes the transport.
    asyncio::sleep(Duration::from_secs(3600)).await;
    transport.close();
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (host, port): (String, u16) = (args.get("host"), args.port("port"));
    CLI.finish_served(common::run_until_signal(main_task(host, port)))
}
