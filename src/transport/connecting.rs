//! Connecting sockets: the non-blocking connect under `create_connection`, and the adoption
//! of sockets that are connected already.
//!
//! Mirrors `BaseSelectorEventLoop.sock_connect`, `_sock_connect` and `_sock_connect_cb` in
//! CPython `Lib/asyncio/selector_events.py` (L88, L93), and the `sock.setblocking(False)` of
//! `create_connection(sock=…)` in `base_events.py` (L85, L122). `net/connect.rs` makes and
//! binds the TCP socket (CPython's `_connect_sock`) and decides what an error says; this file
//! starts the connect, waits for the socket to turn writable, reads `SO_ERROR`, and hands back
//! the [`Socket`] a socket transport runs on.
//!
//! Ground rules:
//! - the socket is owned by the connecting future from its first line to its last: dropping
//!   the future at any await deregisters and closes it (L94; happy eyeballs drops losers);
//! - a writable event is a hint, not an answer: `SO_ERROR`, then `getpeername`, decide, and a
//!   wake-up that finds neither an error nor a peer (`ENOTCONN`) waits again;
//! - calls down only into `event_loop::io` (a registration whose readiness wakes this future).
//!   With `event_loop`, `transport` is the only module that touches mio (DESIGN.md).

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use mio::Interest;
use socket2::SockAddr;

use super::socket::Socket;
use crate::event_loop::LoopHandle;
use crate::slots::SlotKey;

/// Why a TCP connect failed, told apart as CPython's `sock_connect` tells them: its caller
/// shows an `Immediate` error as it is (`[Errno 101] Network is unreachable`), an `Outcome` as
/// `Connect call failed <address>` (L93).
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// `connect` itself failed (`ENETUNREACH`, `EAGAIN` when no local port or route was free,
    /// ...), or the wait could not be set up (the loop's registry).
    Immediate(io::Error),
    /// The connect went on in the background and failed: `SO_ERROR` once the socket turned
    /// writable (`ECONNREFUSED`, `ETIMEDOUT`, ...).
    Outcome(io::Error),
}

/// Python's `sock_connect` for TCP: connects `sock` (non-blocking, made and maybe bound by
/// the caller) to `addr` and resolves once the connection is established.
///
/// # Errors
/// The connect's error, from `connect` itself or from `SO_ERROR` once the socket turns
/// writable, which [`ConnectError`] says.
///
/// # Cancel safety
/// Dropping the future closes the socket.
pub(crate) async fn sock_connect(
    lp: &LoopHandle,
    sock: socket2::Socket,
    addr: &SocketAddr,
) -> Result<Socket, ConnectError> {
    start_connect(&sock, &(*addr).into()).map_err(ConnectError::Immediate)?;
    let stream = mio::net::TcpStream::from_std(sock.into());
    let reg = Registration::new(lp, Socket::Tcp(stream)).map_err(ConnectError::Immediate)?;
    wait_connected(reg).await.map_err(ConnectError::Outcome)
}

/// Python's `sock_connect` for a Unix socket: a new non-blocking stream socket connected to
/// `addr` (a path or an abstract name, L112).
///
/// # Errors
/// As [`sock_connect`]; `ENOENT` or `ECONNREFUSED` come from `connect` itself, `EAGAIN` too
/// when the listener's backlog is full.
///
/// # Cancel safety
/// Dropping the future closes the socket.
pub(crate) async fn sock_connect_unix(lp: &LoopHandle, addr: &SockAddr) -> io::Result<Socket> {
    // socket2, not mio's `UnixStream::connect_addr`: mio's address is one byte short for an
    // abstract name that starts with NUL, so it named another socket.
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    start_connect(&sock, addr)?;
    let stream = mio::net::UnixStream::from_std(sock.into());
    connected(lp, Socket::Unix(stream)).await
}

/// A connected TCP stream given to `create_connection(sock=…)`: non-blocking from now on.
pub(crate) fn adopt_tcp(sock: std::net::TcpStream) -> io::Result<Socket> {
    sock.set_nonblocking(true)?;
    Ok(Socket::Tcp(mio::net::TcpStream::from_std(sock)))
}

/// A connected Unix stream given to `create_connection(sock=…)`: non-blocking from now on.
pub(crate) fn adopt_unix(sock: std::os::unix::net::UnixStream) -> io::Result<Socket> {
    sock.set_nonblocking(true)?;
    Ok(Socket::Unix(mio::net::UnixStream::from_std(sock)))
}

/// Starts a non-blocking connect; `Ok` also when it goes on in the background.
fn start_connect(s: &socket2::Socket, addr: &SockAddr) -> io::Result<()> {
    connect_started(s.connect(addr))
}

/// What a non-blocking `connect` answered, read as CPython's `_sock_connect` reads it: `Ok`
/// when connected or under way, so that writability decides. Under way: `EINPROGRESS`; and
/// `EINTR`, since POSIX lets an interrupted connect go on asynchronously (CPython waits after
/// `InterruptedError` as after `BlockingIOError`). Not `EAGAIN`, where CPython waits too:
/// nothing is under way then (a Unix socket's listener has a full backlog; a TCP socket found
/// no free local port or route, connect(2)), so no writable edge would ever end the wait.
// Checklist: L93.
fn connect_started(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        other => other,
    }
}

/// Python's `_sock_connect_cb` for a socket whose connect is under way: registers it, then
/// [`wait_connected`].
async fn connected(lp: &LoopHandle, sock: Socket) -> io::Result<Socket> {
    wait_connected(Registration::new(lp, sock)?).await
}

/// Python's `_sock_connect_cb`: waits for writability until the connect has an outcome.
async fn wait_connected(reg: Registration<'_>) -> io::Result<Socket> {
    loop {
        // Registration reports a socket that is writable already: no edge is missed.
        reg.writable().await;
        if connect_done(reg.socket())? {
            return Ok(reg.into_inner());
        }
    }
}

/// The outcome of a connect in flight: `Ok(true)` connected, `Ok(false)` not yet (a spurious
/// wake-up), `Err` the connect's error (`SO_ERROR`).
fn connect_done(sock: &Socket) -> io::Result<bool> {
    let (error, peer) = match sock {
        Socket::Tcp(s) => (s.take_error()?, s.peer_addr().map(drop)),
        Socket::Unix(s) => (s.take_error()?, s.peer_addr().map(drop)),
    };
    if let Some(e) = error {
        return Err(e);
    }
    match peer {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// A connecting socket registered for writability; deregistered and closed on drop.
struct Registration<'a> {
    lp: &'a LoopHandle,
    /// The loop registration (a `Wakers` entry). Invariant: live while `sock` is `Some`.
    key: SlotKey,
    /// The socket. Invariant: `Some` until [`into_inner`](Self::into_inner).
    sock: Option<Socket>,
}

impl<'a> Registration<'a> {
    fn new(lp: &'a LoopHandle, mut sock: Socket) -> io::Result<Self> {
        let key = lp.inner.register_wakers(&mut sock, Interest::WRITABLE)?;
        Ok(Registration {
            lp,
            key,
            sock: Some(sock),
        })
    }

    fn socket(&self) -> &Socket {
        self.sock.as_ref().expect("socket present until into_inner")
    }

    /// Waits for the next writable event.
    async fn writable(&self) {
        poll_fn(|cx| self.lp.inner.poll_io(self.key, true, cx)).await
    }

    /// Deregisters and hands the socket back, for its transport to register.
    fn into_inner(mut self) -> Socket {
        let mut sock = self.sock.take().expect("socket present until into_inner");
        self.lp.inner.deregister(self.key, &mut sock);
        sock
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(mut sock) = self.sock.take() {
            self.lp.inner.deregister(self.key, &mut sock);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::connect_started;

    fn errno(code: i32) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(code))
    }

    /// L93: an interrupted connect goes on, for TCP and Unix sockets alike (it used to be
    /// reported as the connect's error).
    #[test]
    fn l93_eintr_is_a_connect_under_way() {
        assert!(connect_started(errno(libc::EINTR)).is_ok());
        assert!(connect_started(errno(libc::EINPROGRESS)).is_ok());
        assert!(connect_started(Ok(())).is_ok());
        let refused = connect_started(errno(libc::ECONNREFUSED));
        assert_eq!(
            refused.map_err(|e| e.raw_os_error()),
            Err(Some(libc::ECONNREFUSED))
        );
    }

    /// `EAGAIN` starts nothing, for a TCP socket (no free local port or route) as for a Unix
    /// one (the listener's full backlog): an error with its errno, not a wait that no
    /// writable edge would end (a TCP socket's used to wait forever).
    #[test]
    fn l93_eagain_is_an_error_with_its_errno() {
        let e = connect_started(errno(libc::EAGAIN));
        assert_eq!(e.map_err(|e| e.raw_os_error()), Err(Some(libc::EAGAIN)));
    }
}
