//! Small helpers shared by the examples: Python-style `repr` of text and addresses (so the
//! ported examples print what the Python ones print) and a tiny argument parser.
#![allow(dead_code)]

use std::net::SocketAddr;

/// Python's `repr()` of a `str`: single quotes unless the text contains one.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's repr of a socket address tuple: `('127.0.0.1', 8888)`.
pub fn py_addr(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("('{}', {})", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!(
            "('{}', {}, {}, {})",
            v6.ip(),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id()
        ),
    }
}

/// Command-line options: `--name value` pairs and the positional arguments.
pub struct Args {
    pairs: Vec<(String, String)>,
    pub positional: Vec<String>,
}

impl Args {
    pub fn parse() -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut positional = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                pairs.push((name.to_string(), value));
            } else {
                positional.push(a);
            }
        }
        Ok(Args { pairs, positional })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn port(&self, default: u16) -> Result<u16, String> {
        match self.get("port") {
            None => Ok(default),
            Some(p) => p.parse().map_err(|_| format!("bad --port {p:?}")),
        }
    }
}

/// A minimal stderr logger so `ASYNCIO_TRACE=1` (the layer trace) and `ASYNCIO_DEBUG=1`
/// (slow-callback warnings) show up; warnings and errors are always shown.
pub fn init_logging() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            eprintln!("{:5} {}: {}", r.level(), r.target(), r.args());
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    let verbose = ["ASYNCIO_TRACE", "ASYNCIO_DEBUG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty() && v != "0"));
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if verbose {
            log::LevelFilter::Info
        } else {
            log::LevelFilter::Warn
        });
    }
}
