//! The TCP echo client over a Unix socket (`open_unix_connection`).
//!
//! Run: `cargo run --example echo_server -- --unix /tmp/echo.sock` in one terminal, then
//! `cargo run --example unix_echo_client -- 'Hello World!' --unix /tmp/echo.sock`.

mod common;

async fn client(message: String, path: String) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_unix_connection(&path).await?;
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
    writer.wait_closed().await
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::Args::parse()?;
    let message = args
        .positional
        .first()
        .cloned()
        .unwrap_or_else(|| "Hello World!".to_string());
    let path = args
        .get("unix")
        .ok_or("usage: unix_echo_client [MESSAGE] --unix PATH")?
        .to_string();
    asyncio::run(client(message, path))??;
    Ok(())
}
