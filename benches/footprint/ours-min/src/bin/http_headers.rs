//! The streams docs' "Get HTTP headers" client on this crate, in the shape of tokio/src/bin/:
//! HEAD over HTTP/1.0, https with the system CA store, each header printed as `HTTP header> …`.

async fn print_http_headers(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>()?)),
        None => (authority, None),
    };
    let (reader, writer) = if scheme == "https" {
        asyncio::open_connection(host, port.unwrap_or(443))
            .ssl(true)
            .await?
    } else {
        asyncio::open_connection(host, port.unwrap_or(80)).await?
    };

    let query = format!("HEAD {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    writer.write(query.as_bytes())?;
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break; // EOF: the server closed after the headers
        }
        let line: String = line.iter().map(|&b| b as char).collect();
        let line = line.trim_end();
        if !line.is_empty() {
            println!("HTTP header> {line}");
        }
    }
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: http_headers URL")?;
    asyncio::run(async { print_http_headers(&url).await.map_err(|e| e.to_string()) })??;
    Ok(())
}
