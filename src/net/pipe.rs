//! `loop.connect_read_pipe` and `loop.connect_write_pipe`: wrap one end of a pipe in a
//! transport and wait for `connection_made`.
//!
//! Mirrors `connect_read_pipe` / `connect_write_pipe` in CPython `Lib/asyncio/base_events.py`
//! (the transports are `_UnixReadPipeTransport` / `_UnixWritePipeTransport` in
//! `unix_events.py`; here `transport/pipe.rs`). Nothing here touches mio.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use super::connect::wait_connection_made;
use crate::error::Error;
use crate::event_loop::LoopHandle;
use crate::protocol::Protocol;
use crate::transport::life_path::LifePath;
use crate::transport::pipe::{Direction, PipeTransport};
use crate::transport::Transport;

impl LoopHandle {
    /// Reads from `pipe` with a protocol made by `factory` (Python's
    /// `loop.connect_read_pipe(protocol_factory, pipe)`). The transport owns the descriptor
    /// from now on (it is made non-blocking, and closed with the transport) and resolves once
    /// `connection_made` has run. The protocol then gets `data_received` for each read,
    /// `eof_received` at end of file and `connection_lost(None)` last.
    ///
    /// The transport reads and can be paused (`pause_reading`, `resume_reading`); the
    /// writing methods return [`Error::Unsupported`]. `get_extra_info("pipe")` is the
    /// descriptor while open.
    ///
    /// # Errors
    /// `InvalidArgument` for a descriptor that is no pipe, socket or character device (a
    /// regular file, a directory: Python's ValueError), before anything is done to it; the
    /// OS error if it cannot be polled (`/dev/null`: `EPERM` from epoll;
    /// [`crate::open_read_pipe`] falls back to a helper thread for all of those);
    /// `InvalidState` if the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// #[derive(Default)]
    /// struct Collect(Vec<u8>, bool);
    /// impl asyncio::Protocol for Collect {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         self.0.extend_from_slice(data)
    ///     }
    ///     fn connection_lost(&mut self, _exc: Option<std::io::Error>) {
    ///         self.1 = true
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     // A pipe works the same; a socket pair is used here as the other end.
    ///     let (reader, mut writer) = std::os::unix::net::UnixStream::pair()?;
    ///     writer.write_all(b"hello")?;
    ///     drop(writer); // EOF after "hello"
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (_transport, proto) = lp.connect_read_pipe(Collect::default, reader).await?;
    ///     for _ in 0..1000 {
    ///         if proto.borrow().1 { break }
    ///         asyncio::yield_now().await;
    ///     }
    ///     assert_eq!(proto.borrow().0, b"hello");
    ///     assert!(proto.borrow().1, "connection_lost after EOF");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn connect_read_pipe<P, F>(
        &self,
        factory: F,
        pipe: impl Into<OwnedFd>,
    ) -> Result<(Transport, Rc<RefCell<P>>), Error>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P,
    {
        let proto = Rc::new(RefCell::new(factory()));
        let t = self
            .connect_pipe_rc(pipe.into(), Direction::Read, proto.clone())
            .await?;
        Ok((t, proto))
    }

    /// Writes to `pipe` with a protocol made by `factory` (Python's
    /// `loop.connect_write_pipe(protocol_factory, pipe)`). The transport owns the descriptor
    /// (made non-blocking, closed with the transport) and resolves once `connection_made`
    /// has run.
    ///
    /// Writes never block: what the pipe does not take is buffered, with
    /// `pause_writing`/`resume_writing` at the water marks. `write_eof()` closes the pipe
    /// once the buffer is flushed (the reader sees EOF), as `close()` does. If the reading
    /// end is closed, the protocol gets `connection_lost` with a `BrokenPipe` error. The
    /// reading methods do nothing (`is_reading()` is false).
    ///
    /// # Errors
    /// `InvalidArgument` for a descriptor that is no pipe, socket or character device (a
    /// regular file: Python's ValueError), before anything is done to it; the OS error if it
    /// cannot be polled (`/dev/null`: `EPERM`); `InvalidState` if the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     // A pipe works the same; a socket pair is used here as the other end.
    ///     let (mut reader, writer) = std::os::unix::net::UnixStream::pair()?;
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _) = lp.connect_write_pipe(|| Quiet, writer).await?;
    ///     assert!(transport.can_write_eof());
    ///     transport.write(b"to the pipe")?;
    ///     transport.write_eof()?; // closes our end once flushed
    ///     for _ in 0..1000 {
    ///         if transport.get_extra_info("pipe").is_none() { break }
    ///         asyncio::yield_now().await;
    ///     }
    ///     let mut got = String::new();
    ///     reader.read_to_string(&mut got)?;
    ///     assert_eq!(got, "to the pipe");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn connect_write_pipe<P, F>(
        &self,
        factory: F,
        pipe: impl Into<OwnedFd>,
    ) -> Result<(Transport, Rc<RefCell<P>>), Error>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P,
    {
        let proto = Rc::new(RefCell::new(factory()));
        let t = self
            .connect_pipe_rc(pipe.into(), Direction::Write, proto.clone())
            .await?;
        Ok((t, proto))
    }

    /// The two above with a ready-made protocol (the streams' core).
    pub(crate) async fn connect_pipe_rc<P: Protocol + 'static>(
        &self,
        pipe: OwnedFd,
        direction: Direction,
        proto: Rc<RefCell<P>>,
    ) -> Result<Transport, Error> {
        let t = PipeTransport::create(self, pipe, direction, proto)?;
        wait_connection_made(self, t.handle(), Transport::close).await
    }
}
