//! The streams docs' "Get HTTP headers" client in blocking std + rustls: HEAD over HTTP/1.0,
//! https with the system CA store, each header printed as `HTTP header> …`.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: http_headers URL")?;
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>()?)),
        None => (authority, None),
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    let tcp = TcpStream::connect((host, port.unwrap_or(default_port)))?;
    let stream: Box<dyn Stream> = if scheme == "https" {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_string())?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
        Box::new(rustls::StreamOwned::new(conn, tcp))
    } else {
        Box::new(tcp)
    };
    let mut stream = BufReader::new(stream);

    let query = format!("HEAD {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.get_mut().write_all(query.as_bytes())?;
    stream.get_mut().flush()?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line)? == 0 {
            break; // EOF: the server closed after the headers
        }
        let line: String = line.iter().map(|&b| b as char).collect();
        let line = line.trim_end();
        if !line.is_empty() {
            println!("HTTP header> {line}");
        }
    }
    Ok(()) // dropping the stream closes the socket
}
