//! Register an open socket to wait for data using streams: Python's asyncio streams docs
//! example ("Register an open socket to wait for data using streams"), ported line for line.
//!
//! Run: `cargo run --example wait_for_data`. Prints `Received: abc`.

mod common;

use common::Cli;

static CLI: Cli = Cli {
    name: "wait_for_data",
    about: "Register an open socket to wait for data using streams (Python's streams docs\n\
            example): a socketpair end wrapped with open_connection_sock; prints `Received: abc`.",
    args: &[],
    flags: &[],
};

use std::io::Write;

async fn wait_for_data() -> Result<(), asyncio::Error> {
    // Get a reference to the current event loop because
    // we want to access low-level APIs.
    let lp = asyncio::get_running_loop()?;

    // Create a pair of connected sockets.
    let (rsock, wsock) = asyncio::socketpair()?;

    // Register the open socket to wait for data.
    let (reader, writer) = asyncio::open_connection_sock(rsock).await?;

    // Simulate the reception of data from the network
    let wsock = std::rc::Rc::new(std::cell::RefCell::new(wsock));
    let w = wsock.clone();
    lp.call_soon(move || w.borrow_mut().write_all(b"abc"))?;

    // Wait for data
    let data = reader.read(100).await?;

    // Got data, we are done: close the socket
    common::say!("Received: {}", String::from_utf8_lossy(&data));
    writer.close();
    writer.wait_closed().await?;

    // Close the second socket
    drop(wsock);
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    CLI.parse();
    CLI.finish_run(asyncio::run(wait_for_data()))
}
