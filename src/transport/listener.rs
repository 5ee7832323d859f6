//! Listening sockets: `listen()`, the registration for readable events, and `accept()`.
//!
//! Mirrors the socket half of the server machinery in CPython
//! `Lib/asyncio/selector_events.py`: `_start_serving` (`sock.listen(backlog)`, `_add_reader`),
//! `_stop_serving` (`_remove_reader`) and the `sock.accept()` of `_accept_connection`
//! (L101–L103). The policy around it (how many connections per event, the EMFILE back-off of
//! D6, `reserve_fd`, attaching connections to their server) is `server/accept.rs`'s, which
//! calls this file and never mio.
//!
//! Ground rules: a [`Listener`] is a TCP or Unix listening socket (or a stream one of another
//! family, such as AF_VSOCK, served as a TCP one with no addresses) whose mio type stays
//! inside this file; its registration is edge-triggered and readable only, so the caller
//! accepts until `WouldBlock` or comes back on its own (no new event arrives for connections
//! already queued). Accepted sockets come out non-blocking and close-on-exec, ready for a socket
//! transport. Calls down only into `event_loop::io`. With `event_loop`, `transport` is the only
//! module that touches mio (DESIGN.md).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use mio::Interest;

use super::socket::Socket;
use super::Address;
use crate::event_loop::io::IoHandler;
use crate::event_loop::LoopHandle;
use crate::slots::SlotKey;

/// A listening socket of either family, and the address it listens on (read once, at
/// `listen`: it does not change while the socket is open).
pub(crate) struct Listener(Kind, Option<Address>, Names);

/// What the listener's address says of its connections' local addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    /// Every accepted connection's local address is the listener's (`accepted_sockname`).
    Listeners,
    /// Each connection has its own: ask the kernel per connection.
    Own,
}

enum Kind {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
    /// A stream listener of another family (`AF_VSOCK`, ...), served as a TCP one is, with no
    /// address: std and mio read only inet ones.
    Other(mio::net::TcpListener),
}

/// Whether `sock` was set up for transparent proxying (Linux `IP_TRANSPARENT`, set by a
/// caller passing its own socket): its connections' local addresses are their original
/// destinations, not the listener's. True also when the kernel will not say.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn transparent(sock: &socket2::Socket) -> bool {
    match sock.domain() {
        Ok(socket2::Domain::UNIX) => false,
        Ok(socket2::Domain::IPV4) => sock.ip_transparent_v4().unwrap_or(true),
        // A v6 socket also takes the v4 option (for v4-mapped connections).
        Ok(_) => {
            sock.ip_transparent_v6().unwrap_or(true) || sock.ip_transparent_v4().unwrap_or(true)
        }
        Err(_) => true,
    }
}

/// Elsewhere: a TCP listener's connections are asked (BSD's `IP_BINDANY` works alike).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn transparent(sock: &socket2::Socket) -> bool {
    !matches!(sock.domain(), Ok(socket2::Domain::UNIX))
}

impl Listener {
    /// `sock.listen(backlog)` on a bound, non-blocking socket (Python's `_start_serving`, L100,
    /// L105); the family follows the socket.
    ///
    /// # Errors
    /// `listen`'s error, or the `SO_DOMAIN` query's; the socket is closed then.
    pub(crate) fn listen(sock: socket2::Socket, backlog: u32) -> io::Result<Listener> {
        sock.listen(backlog.min(i32::MAX as u32) as i32)?;
        let names = if transparent(&sock) {
            Names::Own
        } else {
            Names::Listeners
        };
        let kind = match sock.domain()? {
            socket2::Domain::UNIX => Kind::Unix(mio::net::UnixListener::from_std(sock.into())),
            socket2::Domain::IPV4 | socket2::Domain::IPV6 => {
                Kind::Tcp(mio::net::TcpListener::from_std(sock.into()))
            }
            _ => Kind::Other(mio::net::TcpListener::from_std(sock.into())),
        };
        let address = match &kind {
            Kind::Tcp(l) => l.local_addr().ok().map(Address::Inet),
            Kind::Unix(l) => l.local_addr().ok().map(Address::Unix),
            Kind::Other(_) => None,
        };
        Ok(Listener(kind, address, names))
    }

    /// One connection from the backlog, non-blocking, with the peer's address (L103); none
    /// for a family other than inet and Unix.
    ///
    /// # Errors
    /// `WouldBlock` when the backlog is empty; `accept`'s other errors as they come (EMFILE
    /// and its kin, `ECONNABORTED`, `EINTR`): what they mean is the caller's policy.
    pub(crate) fn accept(&self) -> io::Result<(Socket, Option<Address>)> {
        match &self.0 {
            Kind::Tcp(l) => l
                .accept()
                .map(|(s, a)| (Socket::Tcp(s), Some(Address::Inet(a)))),
            Kind::Unix(l) => l
                .accept()
                .map(|(s, a)| (Socket::Unix(s), Some(Address::Unix(a)))),
            // Not mio's accept: it reads the peer's address as inet, and for any other family
            // closes the connection it has just accepted and fails with InvalidInput.
            Kind::Other(l) => {
                let (sock, _peer) = socket2::SockRef::from(l).accept()?; // close-on-exec
                sock.set_nonblocking(true)?;
                let stream = mio::net::TcpStream::from_std(sock.into());
                Ok((Socket::Tcp(stream), None))
            }
        }
    }

    /// The address the socket listens on (`Server.sockets`, L104).
    pub(crate) fn address(&self) -> Option<Address> {
        self.1.clone()
    }

    /// The local address of every connection accepted here, when the listener's own address
    /// says it, so that the transport need not ask `getsockname` once per connection (L56):
    /// a TCP listener bound to one address accepts only connections to that address and
    /// port; a Unix connection's name is its listener's on Linux (the kernel shares the bound
    /// name with every accepted socket, and only a bound socket can listen). `None` for a
    /// wildcard address (0.0.0.0, `::`: each connection has its own destination), for a
    /// transparent-proxy listener (`IP_TRANSPARENT`: it accepts connections to any address
    /// the firewall sends it) and elsewhere.
    pub(crate) fn accepted_sockname(&self) -> Option<&Address> {
        if self.2 == Names::Own {
            return None;
        }
        match self.1.as_ref()? {
            // `to_canonical`: a v4-mapped 0.0.0.0 is a wildcard too.
            a @ Address::Inet(inet) if !inet.ip().to_canonical().is_unspecified() => Some(a),
            #[cfg(target_os = "linux")]
            a @ Address::Unix(_) => Some(a),
            _ => None,
        }
    }

    /// Registers for readable events (Python's `_add_reader(sock, _accept_connection)`):
    /// `handler` is called from the loop's run phase with no loop state borrowed.
    ///
    /// # Errors
    /// The registry's error; nothing is registered then.
    pub(crate) fn register(
        &mut self,
        lp: &LoopHandle,
        handler: Rc<dyn IoHandler>,
    ) -> io::Result<SlotKey> {
        let fd = self.as_raw_fd();
        match &mut self.0 {
            Kind::Tcp(l) | Kind::Other(l) => lp
                .inner
                .register_handler((l, fd, Interest::READABLE), handler),
            Kind::Unix(l) => lp
                .inner
                .register_handler((l, fd, Interest::READABLE), handler),
        }
    }

    /// Removes the registration made by [`register`](Self::register) (Python's
    /// `_remove_reader`); the handler is dropped after the loop's borrow ends. A stale `key`
    /// (the loop closed meanwhile) is ignored.
    pub(crate) fn deregister(&mut self, lp: &LoopHandle, key: SlotKey) {
        match &mut self.0 {
            Kind::Tcp(l) | Kind::Other(l) => lp.inner.deregister(key, l),
            Kind::Unix(l) => lp.inner.deregister(key, l),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match &self.0 {
            Kind::Tcp(l) | Kind::Other(l) => l.as_raw_fd(),
            Kind::Unix(l) => l.as_raw_fd(),
        }
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::{Kind, Listener, Names};
    use socket2::{Domain, Socket, Type};
    use std::net::SocketAddr;

    fn listening(domain: Domain, at: &str, transparent: bool) -> Option<Listener> {
        let sock = Socket::new(domain, Type::STREAM, None).unwrap();
        if transparent {
            if let Err(e) = sock.set_ip_transparent_v4(true) {
                eprintln!("skipped: setting IP_TRANSPARENT needs CAP_NET_ADMIN ({e})");
                return None;
            }
        }
        sock.bind(&at.parse::<SocketAddr>().unwrap().into())
            .unwrap();
        Some(Listener::listen(sock, 8).unwrap())
    }

    // Checklist: L56. A listener bound to one address names its connections' local address,
    // unless it is a transparent proxy's (IP_TRANSPARENT, a socket passed in with `sock`): its
    // connections keep their original destinations, which only the kernel knows.
    #[test]
    fn l56_a_transparent_listener_leaves_each_connections_sockname_to_the_kernel() {
        let plain = listening(Domain::IPV4, "127.0.0.1:0", false).unwrap();
        assert!(plain.accepted_sockname().is_some());
        let wildcard = listening(Domain::IPV4, "0.0.0.0:0", false).unwrap();
        assert!(wildcard.accepted_sockname().is_none());
        let Some(v4) = listening(Domain::IPV4, "127.0.0.1:0", true) else {
            return;
        };
        assert!(v4.accepted_sockname().is_none());
        if let Some(v6) = listening(Domain::IPV6, "[::1]:0", true) {
            assert!(v6.accepted_sockname().is_none());
        }
    }

    // Checklist: L101, L103. A listener of a family neither inet nor Unix (AF_VSOCK, given with
    // `sock`) accepts with no peer address. mio's accept reads the address as inet: for any
    // other family it closed the connection it had just accepted and failed with
    // InvalidInput, so no such connection was ever served. No such family connects locally on
    // every machine (vsock needs vsock_loopback), so a Unix listener stands in for one here.
    #[test]
    fn l103_a_listener_of_another_family_serves_its_connections_with_no_address() {
        use std::io::{ErrorKind, Read};
        use std::os::fd::{AsRawFd, OwnedFd};
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
        let name = format!("asyncio-l103-other-family-{}", std::process::id());
        let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
        let std_listener = UnixListener::bind_addr(&addr).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let as_tcp = std::net::TcpListener::from(OwnedFd::from(std_listener));
        let listener = mio::net::TcpListener::from_std(as_tcp);

        // What accepting used to do: the connection is lost.
        let mut first = UnixStream::connect_addr(&addr).unwrap();
        let e = listener.accept().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(
            first.read(&mut [0; 1]).unwrap(),
            0,
            "closed by mio's accept"
        );

        let other = Listener(Kind::Other(listener), None, Names::Own);
        let _second = UnixStream::connect_addr(&addr).unwrap();
        let (sock, peer) = other.accept().unwrap();
        assert!(peer.is_none(), "no address rather than a wrong one");
        let fd = sock.as_raw_fd();
        // SAFETY: fcntl's F_GETFL and F_GETFD read the flags of a descriptor `sock` owns and
        // keeps open here; no memory is passed.
        #[allow(unsafe_code)]
        let (status, fd_flags) = unsafe {
            (
                libc::fcntl(fd, libc::F_GETFL),
                libc::fcntl(fd, libc::F_GETFD),
            )
        };
        assert_eq!(status & libc::O_NONBLOCK, libc::O_NONBLOCK, "non-blocking");
        assert_eq!(
            fd_flags & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC,
            "close-on-exec"
        );
        let Err(e) = other.accept() else {
            panic!("the backlog is empty")
        };
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    }
}
