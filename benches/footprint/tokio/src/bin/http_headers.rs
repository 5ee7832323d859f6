//! The streams docs' "Get HTTP headers" client on tokio + tokio-rustls: HEAD over HTTP/1.0,
//! https with the system CA store, each header printed as `HTTP header> …`.
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls;

trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

async fn print_http_headers(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>()?)),
        None => (authority, None),
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    let tcp = tokio::net::TcpStream::connect((host, port.unwrap_or(default_port))).await?;
    let stream: Box<dyn Stream> = if scheme == "https" {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_string())?;
        Box::new(
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?,
        )
    } else {
        Box::new(tcp)
    };
    let mut stream = BufReader::new(stream);

    let query = format!("HEAD {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(query.as_bytes()).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line).await? == 0 {
            break; // EOF: the server closed after the headers
        }
        let line: String = line.iter().map(|&b| b as char).collect();
        let line = line.trim_end();
        if !line.is_empty() {
            println!("HTTP header> {line}");
        }
    }
    stream.shutdown().await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: http_headers URL")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(print_http_headers(&url))
}
