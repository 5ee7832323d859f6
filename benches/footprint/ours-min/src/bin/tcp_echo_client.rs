//! The streams docs' TCP echo client on this crate, in the shape of tokio/src/bin/ (plain args,
//! no logger, no usage text): connect, send 'Hello World!', read up to 100 bytes, close.

async fn tcp_echo_client(message: String, host: String, port: u16) -> Result<(), asyncio::Error> {
    let (reader, writer) = asyncio::open_connection(&host, port).await?;

    println!("Send: {message:?}");
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!("Received: {:?}", String::from_utf8_lossy(&data));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut message = "Hello World!".to_string();
    let (mut host, mut port) = ("127.0.0.1".to_string(), 8888);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            _ => message = a,
        }
    }
    asyncio::run(tcp_echo_client(message, host, port))??;
    Ok(())
}
