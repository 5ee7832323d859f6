//! The streams docs' TCP echo client in blocking std: connect, send 'Hello World!', read up to
//! 100 bytes, close. Same output as examples/tcp_echo_client.rs (message, --host, --port).
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

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
    let mut stream = TcpStream::connect((host.as_str(), port))?;

    println!("Send: {message:?}");
    stream.write_all(message.as_bytes())?;

    let mut data = vec![0; 100];
    let n = stream.read(&mut data)?;
    println!("Received: {:?}", String::from_utf8_lossy(&data[..n]));

    println!("Close the connection");
    stream.shutdown(Shutdown::Both)?;
    Ok(())
}
