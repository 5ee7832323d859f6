//! TCP echo client using streams: the first example of Python's asyncio streams docs
//! ("TCP echo client using streams"), ported line for line.
//!
//! Run: `cargo run --example tcp_echo_server` in one terminal, then
//! `cargo run --example tcp_echo_client -- 'Hello World!' [--host H] [--port P]`.
//! Prints `Send: 'Hello World!'`, `Received: 'Hello World!'`, `Close the connection`.

mod common;

async fn tcp_echo_client(message: String, host: String, port: u16) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_connection(&host, port).await?;

    println!("Send: {}", common::py_repr(&message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!(
        "Received: {}",
        common::py_repr(&String::from_utf8_lossy(&data))
    );

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::Args::parse()?;
    let message = args
        .positional
        .first()
        .cloned()
        .unwrap_or_else(|| "Hello World!".to_string());
    let host = args.get("host").unwrap_or("127.0.0.1").to_string();
    let port = args.port(8888)?;
    asyncio::run(tcp_echo_client(message, host, port))??;
    Ok(())
}
