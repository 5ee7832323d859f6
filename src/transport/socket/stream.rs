//! `Socket`: the connected stream under a socket transport, TCP or Unix, with the few
//! operations the transport needs (read, write, writev, shutdown, addresses, mio `Source`).

use std::io::{self, IoSlice};
#[cfg(not(target_os = "linux"))]
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use crate::transport::Address;

#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Socket {
    /// One `recv` (see `sys.rs` for why not std's on Linux).
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        return super::sys::recv(self.as_raw_fd(), buf);
        #[cfg(not(target_os = "linux"))]
        match self {
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Unix(s) => (&*s).read(buf),
        }
    }

    /// One `send`, never raising `SIGPIPE`.
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        return super::sys::send(self.as_raw_fd(), buf);
        #[cfg(not(target_os = "linux"))]
        match self {
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Unix(s) => (&*s).write(buf),
        }
    }

    /// One vectored send, never raising `SIGPIPE` either.
    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        return super::sys::send_vectored(self.as_raw_fd(), bufs);
        #[cfg(not(target_os = "linux"))]
        match self {
            Socket::Tcp(s) => (&*s).write_vectored(bufs),
            Socket::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(Shutdown::Write),
            Socket::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    pub(crate) fn local_addr(&self) -> Option<Address> {
        match self {
            Socket::Tcp(s) => s.local_addr().ok().map(Address::Inet),
            Socket::Unix(s) => s.local_addr().ok().map(Address::Unix),
        }
    }

    pub(crate) fn peer_addr(&self) -> Option<Address> {
        match self {
            Socket::Tcp(s) => s.peer_addr().ok().map(Address::Inet),
            Socket::Unix(s) => s.peer_addr().ok().map(Address::Unix),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Source for Socket {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.register(r, t, i),
            Socket::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.reregister(r, t, i),
            Socket::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.deregister(r),
            Socket::Unix(s) => s.deregister(r),
        }
    }
}
