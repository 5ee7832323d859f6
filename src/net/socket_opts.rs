//! Socket construction: non-blocking TCP and Unix sockets with the options asyncio sets.
//!
//! Mirrors the socket-making parts of CPython `Lib/asyncio/base_events.py`
//! (`create_connection`'s `_connect_sock`, `create_server`'s per-address loop, L87, L98–L100)
//! and `unix_events.py`. Everything goes through `socket2`, so no `unsafe` is needed here.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::error::{strerror, Error, OsError};

/// Python's bind error text (L87, L99): errno kept, strerror in lower case.
pub(crate) fn bind_error(e: io::Error, addr: &dyn std::fmt::Display) -> io::Error {
    // strerror's text is ASCII: the ASCII case map avoids linking Unicode's tables.
    let text = strerror(&e).to_ascii_lowercase();
    OsError::io(
        &e,
        format!("error while attempting to bind on address {addr}: {text}"),
    )
}

/// A socket given as `sock=` must be SOCK_STREAM (Python's ValueError, `A Stream Socket was
/// expected, got …`): the std TCP and Unix types can hold any socket (socket2's `From`,
/// `from_raw_fd`), and a datagram or seqpacket one would be served as a byte stream.
// Checklist: L85, L95, L96, L114.
pub(crate) fn check_stream(sock: &impl std::os::fd::AsFd) -> Result<(), Error> {
    let ty = socket2::SockRef::from(sock).r#type()?;
    if ty != Type::STREAM {
        return Err(Error::invalid_argument(format!(
            "A Stream Socket was expected, got a {ty:?} socket"
        )));
    }
    Ok(())
}

/// What a Unix entry point says of a socket given as `sock=` that is not a Unix stream socket
/// (CPython's `create_unix_connection`/`create_unix_server` check `sock.family != AF_UNIX or
/// sock.type != SOCK_STREAM`, ValueError `A UNIX Domain Stream Socket was expected, got …`):
/// the std Unix types can hold a socket of any family and type (`From<OwnedFd>`), and a TCP
/// one any type. CPython ends with the socket's repr; ours names its family and type. `None`
/// for a Unix stream socket, or when the socket cannot be read (not a socket: the type check
/// then fails with the OS error).
// Checklist: L111, L114.
pub(crate) fn unix_stream_mismatch(sock: &impl std::os::fd::AsFd) -> Option<&'static str> {
    let sock = socket2::SockRef::from(sock);
    let family = i32::from(sock.local_addr().ok()?.family());
    let ty = sock.r#type().ok()?;
    let inet = family == libc::AF_INET || family == libc::AF_INET6;
    Some(match (family, ty) {
        (libc::AF_UNIX, Type::STREAM) => return None,
        (libc::AF_UNIX, Type::DGRAM) => {
            "A UNIX Domain Stream Socket was expected, got a Unix datagram socket"
        }
        (libc::AF_UNIX, _) => {
            "A UNIX Domain Stream Socket was expected, got a Unix socket of another type"
        }
        (_, Type::STREAM) if inet => "A UNIX Domain Stream Socket was expected, got a TCP socket",
        (_, Type::DGRAM) if inet => "A UNIX Domain Stream Socket was expected, got a UDP socket",
        _ => "A UNIX Domain Stream Socket was expected, got a socket of another family",
    })
}

/// A non-blocking, close-on-exec TCP socket for `addr`'s family.
pub(crate) fn tcp_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Options of a listening TCP socket (L98).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListenOptions {
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) keep_alive: bool,
}

/// A socket that refused `SO_REUSEPORT` (a Unix socket, say), in CPython's words
/// (`_set_reuseport`, where it is a `ValueError`), the errno kept. Used by every
/// `reuse_port` keyword: servers and datagram endpoints.
pub(crate) fn reuse_port_refused(e: &io::Error) -> io::Error {
    let text =
        "reuse_port not supported by socket module, SO_REUSEPORT defined but not implemented.";
    OsError::io(e, text.into())
}

/// A bound (not yet listening) TCP server socket for `addr` (L98, L99).
pub(crate) fn bind_tcp_listener(addr: &SocketAddr, opts: ListenOptions) -> io::Result<Socket> {
    let s = tcp_socket(addr)?;
    if opts.reuse_address {
        s.set_reuse_address(true)?;
    }
    if opts.reuse_port {
        // The errno stays (OsError): serve_on_threads falls back on ENOPROTOOPT.
        s.set_reuse_port(true).map_err(|e| reuse_port_refused(&e))?;
    }
    if opts.keep_alive {
        s.set_keepalive(true)?;
    }
    if addr.is_ipv6() {
        // IPv4 and IPv6 get separate sockets (L98).
        s.set_only_v6(true)?;
    }
    s.bind(&(*addr).into()).map_err(|e| bind_error(e, addr))?;
    Ok(s)
}

/// A non-blocking Unix stream socket bound to `addr` (not yet listening).
pub(crate) fn bind_unix_listener(addr: &SockAddr, shown: &Path) -> io::Result<Socket> {
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.set_nonblocking(true)?;
    s.bind(addr).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            OsError::io(
                &e,
                format!("Address '{}' is already in use", shown.display()),
            )
        } else {
            // Other failures name the path too (issue #13), errno kept.
            OsError::io(&e, format!("{}: '{}'", strerror(&e), shown.display()))
        }
    })?;
    Ok(s)
}

/// Removes a socket file left at `path` by a previous run before a bind there (CPython's check
/// in `create_unix_server` and `create_datagram_endpoint`); leaves anything else alone. A
/// failure to look or remove is reported (visible with no logger), not fatal.
///
/// As CPython's `os.stat`, the look follows a symbolic link: a link to a socket is removed
/// (the link, never its target), so the bind that follows can create the socket there; a
/// link to anything else, or to nothing, stays and the bind fails on it (`AddrInUse`).
// Checklist: L115.
pub(crate) fn remove_stale_socket(path: &Path) {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if let Err(e) = std::fs::remove_file(path) {
                crate::event_loop::debug::error!(
                    "Unable to check or remove stale UNIX socket {}: {e}",
                    path.display()
                );
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            crate::event_loop::debug::error!(
                "Unable to check or remove stale UNIX socket {}: {e}",
                path.display()
            );
        }
    }
}
