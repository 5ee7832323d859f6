//! Get HTTP headers: Python's asyncio streams docs example ("Get HTTP headers"), ported line
//! for line: sends `HEAD` over HTTP/1.0 and prints each response header as `HTTP header> …`.
//!
//! Run: `cargo run --example http_headers -- http://example.com/path/page.html`, or an
//! `https://` URL: TLS with the default verifying context (`ssl=True`: the system CA bundle, or
//! the one named by `SSL_CERT_FILE` / `SSL_CERT_DIR`), port 443 unless the URL names one. An
//! explicit port is honoured (`http://127.0.0.1:8080/`).

mod common;

use common::{Arg, Cli};

static CLI: Cli = Cli {
    name: "http_headers",
    about: "Get HTTP headers (Python's streams docs example): sends HEAD over HTTP/1.0 to URL\n\
            (http:// or https://) and prints each response header as `HTTP header> ...`.",
    args: &[Arg::new("URL", "e.g. http://example.com/path/page.html").required()],
    flags: &[],
};

async fn print_http_headers(url: Url) -> Result<(), Box<dyn std::error::Error>> {
    let (reader, writer) = match url.scheme.as_str() {
        #[cfg(feature = "tls")]
        "https" => {
            asyncio::open_connection(&url.hostname, url.port.unwrap_or(443))
                .ssl(true)
                .await?
        }
        #[cfg(not(feature = "tls"))]
        "https" => return Err("https needs the `tls` feature, off in this build".into()),
        _ => asyncio::open_connection(&url.hostname, url.port.unwrap_or(80)).await?,
    };

    let query = format!(
        "HEAD {} HTTP/1.0\r\nHost: {}\r\n\r\n",
        url.path, url.hostname
    );

    writer.write(query.as_bytes())?;
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break; // EOF: the server closed after the headers
        }
        // latin-1 decode: every byte is one char.
        let line: String = line.iter().map(|&b| b as char).collect();
        let line = line.trim_end();
        if !line.is_empty() {
            common::say!("HTTP header> {line}");
        }
    }

    // Ignore the body, close the socket
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

/// The parts of `urllib.parse.urlsplit` this example uses.
struct Url {
    scheme: String,
    hostname: String,
    port: Option<u16>,
    path: String,
}

impl std::str::FromStr for Url {
    type Err = String;

    /// `urllib.parse.urlsplit`, reduced: `scheme://host[:port][/path]`.
    fn from_str(url: &str) -> Result<Url, String> {
        let (scheme, rest) = url.split_once("://").ok_or("not a URL: no scheme://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.starts_with('[') != authority.contains(']') {
            return Err("Invalid IPv6 URL: a '[' without its ']', or the other way".into());
        }
        let (hostname, port) = match authority.rsplit_once(':') {
            // In `[v6]`, the last ':' is the address's own unless the bracket closes before it.
            // An empty port (`host:`) is no port, as urlsplit reads it.
            Some((h, "")) if !authority.starts_with('[') || h.ends_with(']') => (h, None),
            Some((h, p)) if !authority.starts_with('[') || h.ends_with(']') => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("bad port {p:?}: not a port number (0 to 65535)"))?,
                ),
            ),
            _ => (authority, None),
        };
        let hostname = hostname
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase();
        Ok(Url {
            scheme: scheme.to_lowercase(),
            hostname,
            port,
            path: path.to_string(),
        })
    }
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let url: Url = CLI.parse().get("URL");
    CLI.finish_run(asyncio::run(async {
        print_http_headers(url).await.map_err(|e| e.to_string())
    }))
}
