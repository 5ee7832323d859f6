//! `StreamWriter`: writing to a connection, with backpressure through `drain`.
//!
//! Mirrors `StreamWriter` and `FlowControlMixin._drain_helper` in CPython
//! `Lib/asyncio/streams.py` (S41–S52, S56), and `StreamWriter.start_tls` (S53–S55). `write`
//! never waits: it hands bytes to the transport, which sends at once or buffers. `drain` waits
//! while the transport's buffer is above its high-water mark. `start_tls` drains, awaits the
//! loop-level `LoopHandle::start_tls` and swaps the writer's transport, as CPython's does.
//!
//! Ground rules: the core is never borrowed while the transport is called (a `write` may call
//! the protocol's `pause_writing`, which borrows the core). Calls down into `transport` and,
//! for `start_tls`, `tls`; nothing below knows this file.

use std::cell::{OnceCell, RefCell};
use std::fmt;
#[cfg(feature = "tls")]
use std::future::IntoFuture;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::core::{Flow, HandlerState, StreamCore};
use super::deadline::Activity;
use crate::error::Error;
use crate::event_loop::debug::trace_enabled;
#[cfg(feature = "tls")]
use crate::protocol::ProtocolRef;
use crate::protocol::{wake_once_cell_free, when_cell_free, CellAction, Hold, Need};
#[cfg(feature = "tls")]
use crate::tls::{StartTls, TlsContext};
use crate::transport::{Address, BufferInfo, ExtraInfo, Transport};
use crate::wakers::Withdraw;

mod drain;
pub use drain::Drain;

/// The end of a helper thread (`pipe.rs`), as a stream sees it: writing, `wait_closed` waits
/// for it; reading, the end of input asks its error (`StreamCore::read_pipe`). A trait object
/// in the writer and the core, so that programs that never move bytes through a helper thread
/// (sockets, pipes) do not link the helper's wait, error and drop code.
pub(super) trait HelperWait: Send + Sync {
    /// Ready once the thread is done (`Err`: its write error); else files the wait `*key`.
    fn poll_done(&self, key: &mut u64, cx: &Context<'_>) -> Poll<Result<(), Error>>;
    /// Takes back the entry of the wait `key`, dropped before the thread ended.
    fn withdraw(&self, key: u64);
    /// A copy of the thread's error, if it is done and had one.
    fn error(&self) -> Option<std::io::Error>;
}

/// The end of a helper thread's writing, for `wait_closed`; the wait takes its waker back if
/// dropped first (`wakers.rs`).
async fn helper_done(helper: &dyn HelperWait) -> Result<(), Error> {
    let mut done = Withdraw::new(|key| helper.withdraw(key));
    poll_fn(|cx| helper.poll_done(&mut done.key, cx)).await
}

/// The writing half of a stream connection (Python's `asyncio.StreamWriter`).
///
/// Dropping a writer whose transport is still open closes the transport and logs a warning
/// (Python 3.13): call [`close`](Self::close) (and [`wait_closed`](Self::wait_closed)) when
/// done. Keep it bound while the connection is in use, even to only read: `let (reader, _) =
/// open_connection(..).await?` drops it at once (where Python's `reader, _ = …` keeps it), and
/// the reader then sees EOF; write `let (reader, _writer) = …`.
///
/// With the `futures-io` feature (off by default) the writer, and `&StreamWriter`, are also
/// `futures_io::AsyncWrite`: `poll_write` is `drain` then `write`, `poll_flush` is `drain`,
/// `poll_close` is `write_eof` (over TLS: `close`, then the wait for the connection to go); see
/// that impl (requires the `futures-io` feature).
///
/// # Examples
///
/// ```
/// # asyncio::run(async {
/// # let (a, b) = asyncio::socketpair()?;
/// # let (_, writer) = asyncio::open_connection_sock(a).await?;
/// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
/// writer.write(b"hello ")?;
/// writer.writelines(&[b"wor", b"ld"])?;
/// writer.drain().await?; // waits only if the buffer is above its high-water mark
/// assert_eq!(reader.readexactly(11).await?, b"hello world");
/// writer.close();
/// writer.wait_closed().await?;
/// # writer.close();
/// # peer.close();
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S56.
pub struct StreamWriter {
    transport: Transport,
    pub(super) core: Rc<RefCell<StreamCore>>,
    /// What only some writers need, boxed on first need: a writer without any is three words
    /// (every idle connection's handler holds one).
    extras: OnceCell<Box<Extras>>,
}

/// A writer's rarely used parts.
#[derive(Default)]
struct Extras {
    /// In debug mode (L23): where the writer was made, for the unclosed-writer warning.
    created: Option<std::backtrace::Backtrace>,
    /// Writing a regular file or a terminal through a helper thread (`pipe.rs`): that
    /// thread's completion, which `wait_closed` also waits for.
    helper: Option<std::sync::Arc<dyn HelperWait>>,
    /// Where writes record activity for the idle timeout; set by the first
    /// [`set_idle_timeout`](StreamWriter::set_idle_timeout), empty before.
    activity: OnceCell<Rc<Activity>>,
    /// The drain timeout last set (`Deadlines::drain`, which only `set_drain_timeout`
    /// changes), kept here so the getter needs no borrow of the core, which a user may hold.
    drain_timeout: std::cell::Cell<Option<Duration>>,
    /// The owned writer's futures-io waits (`futures_io.rs`): one waker each, filed on the
    /// first wait.
    #[cfg(feature = "futures-io")]
    io: super::futures_io::WriteSide,
}

impl StreamWriter {
    pub(crate) fn new(transport: Transport, core: Rc<RefCell<StreamCore>>) -> Self {
        let extras = OnceCell::new();
        if transport.get_loop().get_debug() {
            let _ = extras.set(Box::new(Extras {
                created: Some(std::backtrace::Backtrace::force_capture()),
                ..Extras::default()
            }));
        }
        StreamWriter {
            transport,
            core,
            extras,
        }
    }

    /// The extras, made on first need.
    fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_init(Box::default);
        self.extras.get_mut().expect("just made")
    }

    /// The owned writer's futures-io waits, made (with the extras) on the first one.
    #[cfg(feature = "futures-io")]
    pub(super) fn io_waits(&self) -> &super::futures_io::WriteSide {
        &self.extras.get_or_init(Box::default).io
    }

    /// Runs `settle` on the core now if it is free, else once the user's borrow of the
    /// stream's protocol ends (`get_protocol()`, held across an `.await`), as a held
    /// protocol's calls wait (`Hold`): what a dropped wait takes back (its waker, its dated
    /// drain) must not stay behind until the next wake-up of all. A closing loop drops the
    /// retry: the core then goes as it is.
    #[cold]
    #[inline(never)]
    pub(super) fn settle_when_free(&self, settle: CellAction<StreamCore>) {
        if self.core.try_borrow_mut().is_ok() {
            return settle(&self.core);
        }
        let (lp, id) = (self.transport.get_loop(), self.transport.id());
        let weak = Rc::downgrade(&self.core);
        when_cell_free(lp, id, weak, Need::Exclusive, settle, Hold::new());
    }

    /// Records outgoing bytes for the idle timeout (every write; one test while no idle timeout
    /// was ever set).
    #[inline]
    pub(super) fn touch_activity(&self) {
        if let Some(a) = self.extras.get().and_then(|x| x.activity.get()) {
            a.touch();
        }
    }

    /// Makes `wait_closed` also wait for a write helper thread (`pipe.rs`).
    pub(super) fn with_helper(
        mut self,
        helper: Option<std::sync::Arc<super::pipe::HelperDone>>,
    ) -> Self {
        if let Some(helper) = helper {
            self.extras_mut().helper = Some(helper);
        }
        self
    }

    /// The transport underneath.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// let transport = writer.transport();
    /// assert_eq!(transport.get_write_buffer_size(), 0);
    /// assert!(transport.is_reading());
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S41.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Hands `data` to the transport: sent at once if possible, else buffered. Never
    /// waits; follow with [`drain`](Self::drain) to respect backpressure. After the connection
    /// is lost the data is dropped without an error (warned about once a few have been, as
    /// [`Transport::write`] says).
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`write_eof`](Self::write_eof), and while a
    /// [`sendfile`](Self::sendfile) is sending (`unable to write; sendfile is in progress`).
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.write(b"ping")?; // sync: sent now or buffered
    /// assert_eq!(reader.readexactly(4).await?, b"ping");
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S42.
    #[inline]
    pub fn write(&self, data: &[u8]) -> Result<(), Error> {
        self.touch_activity();
        if !trace_enabled() {
            return self.transport.write(data);
        }
        self.write_traced(data)
    }

    /// `write` with the layer trace on: kept out of line so that the plain path stays a few
    /// instructions (no registers to save for the trace's formatting).
    #[cold]
    #[inline(never)]
    fn write_traced(&self, data: &[u8]) -> Result<(), Error> {
        let before = self.transport.get_write_buffer_size();
        let r = self.transport.write(data);
        let after = self.transport.get_write_buffer_size();
        let sent = (data.len() + before).saturating_sub(after);
        crate::event_loop::debug::trace!(
            "writer[{}]: write {} B -> sent {sent}, buffered {after}",
            self.transport.id(),
            data.len()
        );
        r
    }

    /// Hands several buffers to the transport, sent with one vectored call when nothing is
    /// queued.
    ///
    /// # Errors
    /// As for [`write`](Self::write).
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.writelines(&[b"GET / HTTP/1.1\r\n", b"\r\n"])?; // one vectored send
    /// assert_eq!(reader.readexactly(18).await?, b"GET / HTTP/1.1\r\n\r\n");
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S43.
    pub fn writelines(&self, chunks: &[&[u8]]) -> Result<(), Error> {
        const BATCH: usize = 64;
        self.touch_activity();
        // One call to the transport, whatever the count, as Python's one `writelines`: an
        // empty list after `write_eof` is refused too, and a long one after the loss counts
        // as one dropped write (L81), not one per batch.
        if chunks.len() <= BATCH {
            let mut slices = [IoSlice::new(&[]); BATCH];
            for (slot, c) in slices.iter_mut().zip(chunks) {
                *slot = IoSlice::new(c);
            }
            return self.transport.writelines(&slices[..chunks.len()]);
        }
        let slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        self.transport.writelines(&slices)
    }

    /// Closes the write side after the buffer is flushed; reading goes on.
    ///
    /// # Errors
    /// [`Error::Unsupported`] over TLS; `Error::Io` if `shutdown` fails;
    /// [`Error::InvalidState`] while a [`sendfile`](Self::sendfile) is sending.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// assert!(writer.can_write_eof());
    /// writer.write(b"last words")?;
    /// writer.write_eof()?; // half-close: the peer reads to EOF
    /// assert_eq!(reader.read(-1).await?, b"last words");
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S44.
    pub fn write_eof(&self) -> Result<(), Error> {
        self.transport.write_eof()
    }

    /// This connection's backpressure at this moment: the transport's write buffer and water
    /// marks, whether `drain` would wait, what the kernel holds unsent, and the reader's
    /// buffered bytes and whether reading is paused. See [`BufferInfo`].
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.write(b"hello")?;
    /// writer.drain().await?;
    /// reader.readexactly(1).await?; // the other 4 bytes came with it, and wait in the reader
    /// let info = peer.buffer_info();
    /// assert_eq!(info.read_buffered, Some(4));
    /// assert!(!info.writing_paused && !info.reading_paused);
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn buffer_info(&self) -> BufferInfo {
        let mut info = self.transport.buffer_info();
        // A write pipe's stream has a reader that nothing feeds: not applicable, not 0. A
        // user holding the stream's protocol mutably (`get_protocol()`) hides the reader:
        // not said; held shared, the bytes fed meanwhile count as if appended.
        if self.transport.inner.reads() {
            info.read_buffered = super::reader::buffered_len(&self.core);
        }
        info
    }

    /// Whether [`write_eof`](Self::write_eof) is supported: true over TCP and Unix sockets
    /// (a half-close) and write pipes, false over TLS (its close_notify ends both
    /// directions).
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_reader, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (peer_reader, peer) = asyncio::open_connection_sock(b).await?;
    /// if writer.can_write_eof() {
    ///     writer.write(b"the whole request")?;
    ///     writer.write_eof()?; // "no more from me"; the peer can still answer
    /// }
    /// assert_eq!(peer_reader.read(-1).await?, b"the whole request"); // up to the EOF
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S44.
    pub fn can_write_eof(&self) -> bool {
        self.transport.can_write_eof()
    }

    /// Closes the connection: stops reading, flushes, then the connection is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.write(b"bye")?;
    /// writer.close(); // flushes "bye" first
    /// assert!(writer.is_closing());
    /// writer.wait_closed().await?;
    /// assert_eq!(reader.read(-1).await?, b"bye");
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S45.
    pub fn close(&self) {
        self.transport.close();
    }

    /// True once closing has begun or the connection is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, _b) = asyncio::socketpair()?;
    /// # let (_reader, writer) = asyncio::open_connection_sock(a).await?;
    /// assert!(!writer.is_closing());
    /// writer.close();
    /// assert!(writer.is_closing()); // at once, before the connection is gone
    /// writer.wait_closed().await?;
    /// assert!(writer.is_closing());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S45.
    pub fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// Waits until the connection is lost. Starts nothing itself; may be awaited any
    /// number of times. For a regular file or terminal written through a helper thread
    /// ([`open_write_pipe`](crate::open_write_pipe), [`stdout`](crate::stdout)), also until
    /// that thread has written everything to the descriptor and closed it.
    ///
    /// # Errors
    /// The error the connection was lost with, if any (`Error::Io`); the helper thread's write
    /// error, if it had one.
    ///
    /// # Cancel safety
    /// Dropping it loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.close();
    /// writer.wait_closed().await?; // the connection is gone now
    /// writer.wait_closed().await?; // and stays so
    /// # writer.close();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S46.
    pub async fn wait_closed(&self) -> Result<(), Error> {
        // The wait lives in the closure (no second reference to it in this future's state,
        // which every connection handler that ends in `wait_closed` carries while idle), and
        // leaves the waiter list when the closure is dropped, at the end of this statement.
        let mut closed = ClosedWait {
            writer: self,
            key: 0,
        };
        let outcome = poll_fn(move |cx| closed.poll(cx)).await;
        if let Some(helper) = self.extras.get().and_then(|x| x.helper.as_ref()) {
            // Boxed: this rare wait (a writer through a helper thread) keeps its own state,
            // one pointer in this future's, which every handler carries while idle.
            Box::pin(helper_done(&**helper)).await?;
        }
        outcome
    }

    /// Waits until it is appropriate to write again: returns at once unless the
    /// transport's buffer is above its high-water mark, then waits for it to fall to the low
    /// mark.
    ///
    /// # Errors
    /// The reader's stored exception, if any; `ConnectionReset` (`Connection lost`) once
    /// the connection is lost. A drain that waited while writing was paused ends with the
    /// error the connection was then lost with (`Ok` if it was lost without one, as Python's
    /// waiter). [`Error::Timeout`] once a drain timeout
    /// ([`set_drain_timeout`](Self::set_drain_timeout)) has passed; the buffered bytes stay.
    ///
    /// # Cancel safety
    /// Dropping it loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (reader, peer) = asyncio::open_connection_sock(b).await?;
    /// let chunk = vec![0u8; 64 * 1024];
    /// let bulk = asyncio::spawn(async move {
    ///     for _ in 0..16 {
    ///         writer.write(&chunk)?;
    ///         writer.drain().await?; // waits while the peer is behind
    ///     }
    ///     writer.close();
    ///     Ok::<_, asyncio::Error>(())
    /// });
    /// assert_eq!(reader.read(-1).await?.len(), 16 * 64 * 1024);
    /// bulk.await??;
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S48, S52, S50.
    pub fn drain(&self) -> Drain<'_> {
        Drain::new(self)
    }

    /// Bounds how long one [`drain`](Self::drain) may wait: a drain still waiting for the
    /// transport's buffer to fall after `timeout` fails with [`Error::Timeout`]. The bytes stay
    /// buffered in the transport and go out if the peer catches up; drain again to wait more.
    /// `None` (the default) waits as long as it takes.
    ///
    /// The time counts from the drain's first wait, on the loop's clock read at that moment.
    /// With the `futures-io` feature the same timeout bounds the drains inside `poll_write`,
    /// `poll_write_vectored` and `poll_flush` (an `io::Error` of kind `TimedOut`).
    /// `Duration::ZERO` fails a drain that would wait, at once; a drain with nothing to wait
    /// for still succeeds (Python's `wait_for(writer.drain(), 0)` fails even then, since it
    /// cancels the drain before it runs). `Duration::MAX` never fires. A drain already
    /// waiting is held to the new value counted from this call, however long it has waited
    /// (under no timeout or an earlier one): it fails `timeout` after the call at the soonest.
    ///
    /// Called while the stream's protocol is borrowed elsewhere (a user holding the `RefCell`
    /// that `get_protocol()` returns), the timeout applies once the borrow ends, in order with
    /// the writer's other calls; [`drain_timeout`](Self::drain_timeout) answers it at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (_, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (_peer_reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.set_drain_timeout(Some(Duration::from_millis(50)));
    /// assert_eq!(writer.drain_timeout(), Some(Duration::from_millis(50)));
    /// // The peer never reads: the buffers fill, and a drain gives up after 50 ms.
    /// let chunk = vec![0u8; 64 * 1024];
    /// let outcome = loop {
    ///     writer.write(&chunk)?;
    ///     if let Err(e) = writer.drain().await {
    ///         break e;
    ///     }
    /// };
    /// assert!(matches!(outcome, asyncio::Error::Timeout));
    /// assert!(writer.transport().get_write_buffer_size() > 0); // nothing was dropped
    /// # writer.transport().abort();
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_drain_timeout(&self, timeout: Option<Duration>) {
        let lp = self.transport.get_loop();
        if super::held_sets::free_core(&self.core).is_none() {
            return self.defer_drain_timeout(lp, timeout);
        }
        set_drain_timeout_now(&self.core, &lp, timeout);
        self.mirror_drain_timeout(timeout);
    }

    /// Keeps the drain timeout where its getter reads it, without the core.
    fn mirror_drain_timeout(&self, timeout: Option<Duration>) {
        match (timeout, self.extras.get()) {
            (None, None) => {} // never set: nothing to clear
            (t, _) => self.extras.get_or_init(Box::default).drain_timeout.set(t),
        }
    }

    /// `set_drain_timeout` while the core is held (a user keeping the stream's protocol
    /// borrowed): the getter answers the new value at once; the deadlines take it once the
    /// borrow ends, in call order with later calls (`held_sets.rs`).
    #[cold]
    #[inline(never)]
    fn defer_drain_timeout(&self, lp: crate::event_loop::LoopHandle, timeout: Option<Duration>) {
        self.mirror_drain_timeout(timeout);
        let op = super::held_sets::Op::DrainTimeout(lp.clone(), timeout);
        super::held_sets::defer(&self.core, op, Some(lp), self.transport.id());
    }

    /// The drain timeout set by [`set_drain_timeout`](Self::set_drain_timeout); `None`, the
    /// default, lets a drain wait as long as the peer takes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// let (a, _b) = asyncio::socketpair()?;
    /// let (_reader, writer) = asyncio::open_connection_sock(a).await?;
    /// assert_eq!(writer.drain_timeout(), None);
    /// writer.set_drain_timeout(Some(Duration::from_secs(5)));
    /// assert_eq!(writer.drain_timeout(), Some(Duration::from_secs(5)));
    /// writer.set_drain_timeout(None);
    /// assert_eq!(writer.drain_timeout(), None);
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn drain_timeout(&self) -> Option<Duration> {
        // Kept on the writer: the core may be borrowed by a user holding the protocol.
        self.extras.get().and_then(|x| x.drain_timeout.get())
    }

    /// Closes the connection once no byte has moved in either direction for `timeout`:
    /// neither received from the peer nor handed to [`write`](Self::write) or
    /// [`writelines`](Self::writelines), nor sent by [`sendfile`](Self::sendfile), nor taken
    /// by the peer from what was written before (a large write that a slow peer reads over
    /// several periods keeps the connection open while it drains). `None` (the default)
    /// never closes it.
    ///
    /// When it fires, the transport is aborted (its unsent bytes are dropped: a connection
    /// silent that long has a peer that is gone or not reading, and a graceful close could
    /// wait on it forever), and every waiter on the stream fails with an [`Error::Io`] of kind
    /// [`TimedOut`](std::io::ErrorKind::TimedOut), `idle timeout: no bytes in either
    /// direction for …`: a waiting read, [`drain`](Self::drain),
    /// [`wait_closed`](Self::wait_closed), and every later call of these.
    ///
    /// It lives on the writer although it watches both directions: it closes the connection,
    /// which is the writer's business, and a writer always has a connection to close (a
    /// reader may be fed by hand). It counts from the call; each byte in or out starts the
    /// count again, at the cost of one store per message: the stream's timer looks every
    /// eighth of the timeout (at least every millisecond), so the connection is closed no
    /// sooner than `timeout` after the last byte and at most an eighth of it later.
    /// `Duration::ZERO` closes the connection in the next loop iteration; `Duration::MAX`
    /// never fires.
    ///
    /// Called while the stream's protocol is borrowed elsewhere (a user holding the `RefCell`
    /// that `get_protocol()` returns), the timeout applies once the borrow ends, counted from
    /// then, in order with the writer's other calls; [`idle_timeout`](Self::idle_timeout)
    /// answers it at once, and writes meanwhile count as activity.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (reader, writer) = asyncio::open_connection_sock(a).await?;
    /// # let (peer_reader, peer) = asyncio::open_connection_sock(b).await?;
    /// writer.set_idle_timeout(Some(Duration::from_millis(20)));
    /// assert_eq!(writer.idle_timeout(), Some(Duration::from_millis(20)));
    /// // The peer says nothing: 20 ms later the connection is closed under the read.
    /// let e = reader.read(100).await.unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// assert!(e.to_string().contains("idle timeout"));
    /// assert_eq!(writer.wait_closed().await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(peer_reader.read(100).await?, b""); // the peer sees the connection end
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) {
        let lp = self.transport.get_loop();
        if super::held_sets::free_core(&self.core).is_none() {
            return self.defer_idle_timeout(lp, timeout);
        }
        // The record writes touch, if the writer has one (made while the core was held):
        // the deadlines count in it, whatever record they began with.
        let mine = self.extras.get().and_then(|x| x.activity.get());
        if let Some(activity) = set_idle_timeout_now(&self.core, &lp, timeout, mine) {
            let _ = self.extras.get_or_init(Box::default).activity.set(activity);
        }
    }

    /// `set_idle_timeout` while the core is held (a user keeping the stream's protocol
    /// borrowed): the deadlines take it once the borrow ends, counted from then, in call
    /// order with later calls (`held_sets.rs`); the getter answers the new value meanwhile.
    /// Writes record their activity from now on, in a record the deadlines then adopt.
    #[cold]
    #[inline(never)]
    fn defer_idle_timeout(&self, lp: crate::event_loop::LoopHandle, timeout: Option<Duration>) {
        let extras = self.extras.get_or_init(Box::default);
        let activity = extras.activity.get_or_init(Rc::default).clone();
        let op = super::held_sets::Op::IdleTimeout(lp.clone(), timeout, activity);
        super::held_sets::defer(&self.core, op, Some(lp), self.transport.id());
    }

    /// The idle timeout set last while the core was held, not applied yet.
    #[cold]
    #[inline(never)]
    fn queued_idle_timeout(&self) -> Option<Option<Duration>> {
        super::held_sets::latest(&self.core, |op| match op {
            super::held_sets::Op::IdleTimeout(_, d, _) => Some(*d),
            _ => None,
        })
    }

    /// The idle timeout set by [`set_idle_timeout`](Self::set_idle_timeout); `None` again
    /// once it has fired.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// let (a, _b) = asyncio::socketpair()?;
    /// let (reader, writer) = asyncio::open_connection_sock(a).await?;
    /// assert_eq!(writer.idle_timeout(), None); // the default: never closed for silence
    /// writer.set_idle_timeout(Some(Duration::ZERO)); // fires in the next loop iteration
    /// assert_eq!(writer.idle_timeout(), Some(Duration::ZERO));
    /// let e = reader.read(100).await.unwrap_err(); // the connection closed under the read
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(writer.idle_timeout(), None); // fired
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn idle_timeout(&self) -> Option<Duration> {
        if let Some(queued) = self.queued_idle_timeout() {
            return queued; // set while the core was held, not applied yet
        }
        // Read from the activity record the deadlines share with this writer: the core may
        // be borrowed by a user holding the protocol. No record: never set.
        let activity = self.extras.get().and_then(|x| x.activity.get());
        activity.and_then(|a| a.idle())
    }

    /// Python's `get_extra_info(name)`, forwarded to the transport.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #     w.write(&r.read(100).await?)?;
    /// #     w.close();
    /// #     w.wait_closed().await
    /// # };
    /// # let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// match writer.get_extra_info("peername") {
    ///     Some(asyncio::ExtraInfo::Address(addr)) => {
    ///         assert_eq!(addr.port().unwrap(), port)
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(writer.get_extra_info("no such key").is_none());
    /// writer.close();
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S47.
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        self.transport.get_extra_info(name)
    }

    /// The peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #     w.write(&r.read(100).await?)?;
    /// #     w.close();
    /// #     w.wait_closed().await
    /// # };
    /// # let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// let peer = writer.peername().and_then(|a| a.as_inet()).unwrap();
    /// assert_eq!(peer.to_string(), format!("127.0.0.1:{port}"));
    /// writer.close();
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn peername(&self) -> Option<Address> {
        self.transport.peername()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #     w.write(&r.read(100).await?)?;
    /// #     w.close();
    /// #     w.wait_closed().await
    /// # };
    /// # let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// let local = writer.sockname().and_then(|a| a.as_inet()).unwrap();
    /// assert!(local.ip().is_loopback() && local.port() != port);
    /// writer.close();
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sockname(&self) -> Option<Address> {
        self.transport.sockname()
    }

    /// The PROXY protocol header the connection started with, on a server made with
    /// [`proxy_protocol`](crate::StartServer::proxy_protocol) (see
    /// [`Transport::proxy_header`](crate::Transport::proxy_header)).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ProxyProtocol, StreamReader, StreamWriter};
    ///
    /// asyncio::run(async {
    ///     let cb = |_r: StreamReader, w: StreamWriter| {
    ///         let v = w.proxy_header().map(|h| format!("{:?}", h.version));
    ///         let _ = w.write(v.unwrap_or_default().as_bytes());
    ///         w.close();
    ///     };
    ///     let server = asyncio::start_server(cb, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Required)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")?;
    ///     assert_eq!(reader.read(-1).await?, b"V1");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_header(&self) -> Option<std::rc::Rc<crate::proxy_protocol::ProxyHeader>> {
        self.transport.proxy_header()
    }
}

#[cfg(feature = "tls")]
impl StreamWriter {
    /// What the TLS handshake settled on this stream (Python's
    /// `writer.get_extra_info("ssl_object")`): [`Transport::tls_info`] of the current
    /// transport, so after [`start_tls`](Self::start_tls) the new session's. `None` on a plain
    /// stream. [`TlsInfo`](crate::TlsInfo) shows every field.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!(info.server_hostname(), Some("localhost"));
    ///     writer.close();
    ///
    ///     let (a, _b) = asyncio::socketpair()?;
    ///     let (_reader, plain) = asyncio::open_connection_sock(a).await?;
    ///     assert!(plain.tls_info().is_none());
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn tls_info(&self) -> Option<crate::tls::TlsInfo> {
        self.transport().tls_info()
    }

    /// Upgrades the connection to TLS (Python's `StreamWriter.start_tls`): drains,
    /// then runs [`LoopHandle::start_tls`] on this connection's protocol, the side following the
    /// configuration (a `ClientConfig` makes us the client). On success this writer writes
    /// through the TLS transport; the reader keeps its buffered plaintext and reads decrypted
    /// data after it. Set `server_hostname` and the timeouts on the returned builder,
    /// then `.await` it.
    ///
    /// Upgrade when the peer waits for it, after a go-ahead of the protocol (as the example's
    /// `ready` line): bytes the reader already holds stay plaintext and never reach TLS, so a
    /// peer whose handshake arrived before this call (read ahead with the line before it)
    /// leaves both sides waiting until the handshake timeout, as in CPython.
    ///
    /// # Errors
    /// As [`LoopHandle::start_tls`]; the drain's error first. After a failed upgrade the
    /// connection is closed, and every pending and later read, [`drain`](Self::drain) and
    /// [`wait_closed`](Self::wait_closed) on this stream fails with the same error, from the
    /// moment `start_tls` returns it (CPython leaves them pending).
    ///
    /// [`LoopHandle::start_tls`]: crate::event_loop::LoopHandle::start_tls
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// use asyncio::{StreamReader, StreamWriter};
    ///
    /// asyncio::run(async move {
    ///     // The server says "ready", then both sides upgrade the same connection.
    ///     let starttls = move |_r: StreamReader, mut w: StreamWriter| {
    ///         let config = server_config.clone();
    ///         async move {
    ///             w.write(b"ready\n")?;
    ///             w.start_tls(config).await?;
    ///             w.write(b"secret\n")?; // encrypted now
    ///             w.close();
    ///             w.wait_closed().await
    ///         }
    ///     };
    ///     let server = asyncio::start_server(starttls, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///
    ///     let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.readline().await?, b"ready\n");
    ///     writer.start_tls(client_config).server_hostname("localhost").await?;
    ///     assert_eq!(reader.readline().await?, b"secret\n");
    ///     assert_eq!(writer.transport().tls_version().as_deref(), Some("TLSv1.3"));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S53, S55, S54.
    pub fn start_tls(&mut self, ssl: impl Into<TlsContext>) -> StreamStartTls<'_> {
        let context = ssl.into();
        let server_side = matches!(context, TlsContext::Server(_));
        let protocol = self.core.clone() as ProtocolRef;
        // A reader that had paused the raw transport keeps it paused (S14): the upgrade
        // resumed it for the handshake, and re-pausing it only once this task runs would let
        // the rest of the read event that ended the handshake pour into the reader.
        let core = Rc::downgrade(&self.core);
        let lp = self.transport.get_loop();
        let id = self.transport.id();
        let upgrade = lp
            .start_tls(&self.transport, protocol, context, server_side)
            .on_handshake(move || keep_paused_when_free(lp, id, core));
        StreamStartTls {
            writer: self,
            upgrade,
        }
    }

    /// After start_tls: write through `transport`, and tell the protocol (S53), which closes
    /// through it too. The reader keeps the raw transport for its flow control (S54); a
    /// paused one paused it again as the handshake ended (`start_tls`). The protocol may be
    /// held by a user (see `keep_paused_when_free`): it is told once free; the writer
    /// writes through `transport` at once.
    fn replace_transport(&mut self, transport: Transport) {
        let (lp, id) = (self.transport.get_loop(), self.transport.id());
        let core = Rc::downgrade(&self.core);
        upgraded_when_free(lp, id, core, transport.clone());
        self.transport = transport;
    }
}

/// start_tls' end: the stream's protocol learns its TLS transport, now or, while a user
/// holds it borrowed, once it is free (retried as `keep_paused_when_free` retries). Not in
/// the future: a start_tls dropped while it waited would leave the protocol untold.
#[cfg(feature = "tls")]
fn upgraded_when_free(
    lp: crate::LoopHandle,
    id: u64,
    core: std::rc::Weak<RefCell<StreamCore>>,
    tls: Transport,
) {
    let upgraded = move |core: &RefCell<StreamCore>| core.borrow_mut().upgraded(tls);
    when_cell_free(
        lp,
        id,
        core,
        Need::Exclusive,
        Box::new(upgraded),
        Hold::new(),
    );
}

/// start_tls' handshake hook: a paused reader pauses the raw transport again, now or, while
/// the core is borrowed, once it is free. The loop holds no borrow of the core as the hook
/// runs (the raw transport's protocol is the TLS layer by then, and the layer calls the core
/// only after its waiter), so a borrow here is a user's: the stream's protocol, taken with
/// `get_protocol()` before the upgrade, held across an `.await`. Skipping the pause then
/// would leave the transport reading for a reader that believes it stopped it; the retry
/// waits as a busy transport waits for its protocol (`Hold`: next turns, then spaced out).
#[cfg(feature = "tls")]
fn keep_paused_when_free(lp: crate::LoopHandle, id: u64, core: std::rc::Weak<RefCell<StreamCore>>) {
    let pause = |core: &RefCell<StreamCore>| core.borrow().reader.keep_paused();
    when_cell_free(lp, id, core, Need::Shared, Box::new(pause), Hold::new());
}

/// `wait_closed`'s registration among the core's waiters: dropped with the wait (abandoned
/// under a timeout, in a select, with its task), it takes its waker back, which would
/// otherwise keep the task alive until the connection is lost (S46, D12).
struct ClosedWait<'a> {
    /// The writer whose core keeps the registration (its loop and transport id name the
    /// retry of a drop while the core is held).
    writer: &'a StreamWriter,
    /// The registration's key; 0 before the first wait.
    key: u64,
    // No slot for a held wait's waker: every handler that ends with `wait_closed` keeps this
    // future in its state for the connection's life, so a field here is 8 B more per idle
    // connection; a poll while held files a retry that holds the waker itself.
}

impl ClosedWait<'_> {
    fn poll(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        let Ok(mut core) = self.writer.core.try_borrow_mut() else {
            return self.poll_held(cx);
        };
        if let Some(outcome) = core.lost_outcome() {
            return Poll::Ready(outcome);
        }
        let replaced = core.add_keyed_waiter(&mut self.key, cx.waker());
        drop(core);
        drop(replaced); // after the borrow: dropping a waker may run its task's code
        Poll::Pending
    }
}

impl Drop for ClosedWait<'_> {
    fn drop(&mut self) {
        if self.key == 0 {
            return;
        }
        let waker = match self.writer.core.try_borrow_mut() {
            Ok(mut core) => core.remove_keyed_waiter(self.key),
            Err(_) => return self.dropped_while_held(),
        };
        drop(waker); // after the borrow: dropping a waker may run its task's code
    }
}

impl ClosedWait<'_> {
    /// Polled while a user holds the stream's protocol (`get_protocol()`, borrowed across an
    /// `.await`): polled again once the borrow ends, through a retry that holds this poll's
    /// waker (a held drain keeps a slot instead, in its boxed slow state); a loop closed
    /// meanwhile ends the wait with the loop-closed error, as it ends a drain
    /// (the transport could not tell the held protocol of the loss: D14, no wait hangs).
    #[cold]
    #[inline(never)]
    fn poll_held(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        let lp = self.writer.transport.get_loop();
        if lp.is_closed() {
            return Poll::Ready(Err(Error::Io(crate::error::loop_closed_io())));
        }
        let (id, core) = (self.writer.transport.id(), Rc::downgrade(&self.writer.core));
        wake_once_cell_free(lp, id, core, cx);
        Poll::Pending
    }

    /// Dropped while a user holds the stream's protocol (`get_protocol()`, borrowed across an
    /// `.await`): the entry is taken back once the borrow ends, as a held protocol's calls
    /// are, or else its waker would keep the task alive until the connection is lost. (A
    /// closing loop drops the retry: the core then goes as it is.)
    #[cold]
    #[inline(never)]
    fn dropped_while_held(&self) {
        let key = self.key;
        self.writer
            .settle_when_free(Box::new(move |cell: &RefCell<StreamCore>| {
                let waker = cell.borrow_mut().remove_keyed_waiter(key);
                drop(waker); // after the borrow: dropping a waker may run its task's code
            }));
    }
}

/// The pending result of [`StreamWriter::start_tls`]: set the keywords, then `.await` it for
/// the TLS transport, which the writer then writes through.
///
/// Python's `StreamWriter.start_tls` in three steps: [`drain`](StreamWriter::drain), the
/// loop-level upgrade ([`StartTls`], from [`LoopHandle::start_tls`]), and the swap of the
/// writer's transport.
///
/// # Cancel safety
/// Dropping it during the drain loses nothing; during the handshake it closes the raw
/// transport, as [`LoopHandle::start_tls`] does.
///
/// [`LoopHandle::start_tls`]: crate::event_loop::LoopHandle::start_tls
///
/// # Examples
///
/// ```
/// # use asyncio::tls::rustls;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert = made.cert.der().clone();
/// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
/// # let server_config = rustls::ServerConfig::builder()
/// #     .with_no_client_auth()
/// #     .with_single_cert(vec![cert.clone()], key.into())
/// #     .unwrap();
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = rustls::ClientConfig::builder()
/// #     .with_root_certificates(roots)
/// #     .with_no_client_auth();
/// use std::time::Duration;
///
/// asyncio::run(async move {
///     let up = move |_r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
///         let config = server_config.clone();
///         async move {
///             w.start_tls(config).await?;
///             w.wait_closed().await
///         }
///     };
///     let server = asyncio::start_server(up, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     let pending: asyncio::streams::StreamStartTls<'_> = writer
///         .start_tls(client_config)
///         .server_hostname("localhost")
///         .ssl_handshake_timeout(Duration::from_secs(10));
///     pending.await?;
///     writer.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S53, T12.
#[cfg(feature = "tls")]
#[must_use = "start_tls does nothing until awaited"]
pub struct StreamStartTls<'a> {
    /// The writer to drain first and whose transport is swapped after the handshake.
    writer: &'a mut StreamWriter,
    /// The loop-level upgrade of the writer's transport, started after the drain.
    upgrade: StartTls,
}

#[cfg(feature = "tls")]
impl StreamStartTls<'_> {
    /// The name to send as SNI and to check (client side only, never derived).
    ///
    /// # Examples
    ///
    /// The server's certificate is for `localhost`: asked for another name, the client
    /// refuses it, and says which names it is for.
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// # asyncio::run(async move {
    /// # let up = move |r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #     let config = server_config.clone();
    /// #     async move {
    /// #         let _ = w.start_tls(config).await;
    /// #         let _ = (r.read(-1).await, w.wait_closed().await);
    /// #         Ok::<_, asyncio::Error>(())
    /// #     }
    /// # };
    /// # let server = asyncio::start_server(up, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// let refused = writer.start_tls(client_config).server_hostname("example.com").await;
    /// let Err(asyncio::Error::Tls(e)) = refused else { panic!("the name must not match") };
    /// assert!(e.is_certificate_error());
    /// assert!(e.to_string().contains("is for localhost, not for \"example.com\""), "{e}");
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S55.
    pub fn server_hostname(mut self, name: &str) -> Self {
        self.upgrade = self.upgrade.server_hostname(name);
        self
    }

    /// How long the handshake may take (default 60 s).
    ///
    /// # Examples
    ///
    /// A server that reads the ClientHello and answers nothing is given up on after the
    /// timeout; the connection is closed.
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async move {
    /// # let silent = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #     let _ = r.read(-1).await; // reads the ClientHello, answers nothing
    /// #     w.close();
    /// #     Ok::<_, asyncio::Error>(())
    /// # };
    /// # let server = asyncio::start_server(silent, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// let result = writer
    ///     .start_tls(client_config)
    ///     .server_hostname("localhost")
    ///     .ssl_handshake_timeout(Duration::from_millis(100))
    ///     .await;
    /// let Err(asyncio::Error::Io(e)) = result else { panic!("a timeout") };
    /// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T1, T9.
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade = self.upgrade.ssl_handshake_timeout(timeout);
        self
    }

    /// How long the close_notify exchange may take (default 30 s).
    ///
    /// # Examples
    ///
    /// `close()` sends close_notify and waits for the peer's, at most this long;
    /// `wait_closed` returns when the exchange is over.
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async move {
    /// # let up = move |r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #     let config = server_config.clone();
    /// #     async move {
    /// #         let _ = w.start_tls(config).await;
    /// #         let _ = (r.read(-1).await, w.wait_closed().await);
    /// #         Ok::<_, asyncio::Error>(())
    /// #     }
    /// # };
    /// # let server = asyncio::start_server(up, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// writer
    ///     .start_tls(client_config)
    ///     .server_hostname("localhost")
    ///     .ssl_shutdown_timeout(Duration::from_secs(5))
    ///     .await?;
    /// writer.close();
    /// writer.wait_closed().await?; // the server answered in time
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T25.
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade = self.upgrade.ssl_shutdown_timeout(timeout);
        self
    }

    /// Report an EOF without close_notify as [`Error::Tls`] instead of a clean EOF.
    ///
    /// # Examples
    ///
    /// A server that drops the connection without close_notify (here one that aborts) could
    /// be an attacker cutting a response short; with this set, the read says so.
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// # asyncio::run(async move {
    /// # let up = move |r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #     let config = server_config.clone();
    /// #     async move {
    /// #         let _ = w.start_tls(config).await;
    /// #         let _ = r.read(1).await; // the client's cue
    /// #         w.transport().abort(); // no close_notify
    /// #         Ok::<_, asyncio::Error>(())
    /// #     }
    /// # };
    /// # let server = asyncio::start_server(up, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// writer
    ///     .start_tls(client_config)
    ///     .server_hostname("localhost")
    ///     .ssl_require_close_notify(true)
    ///     .await?;
    /// writer.write(b"!")?; // the server aborts now
    /// let Err(asyncio::Error::Tls(e)) = reader.read(100).await else { panic!("not a clean EOF") };
    /// assert!(e.to_string().starts_with("EOF occurred in violation of protocol"), "{e}");
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(mut self, on: bool) -> Self {
        self.upgrade = self.upgrade.ssl_require_close_notify(on);
        self
    }

    async fn run(self) -> Result<Transport, Error> {
        let StreamStartTls { writer, upgrade } = self;
        // S53. The upgrade swaps the raw transport's protocol, which needs the stream's
        // protocol free of every borrow: a user holding it shared (`get_protocol()`) passes
        // the drain, which only reads it, and would be refused as a callback is; wait for the
        // borrow's end as a drain waits for a mutable one, then drain again (the user may
        // have written meanwhile). No turn passes between the last check and the upgrade.
        writer.drain().await?;
        while writer.core.try_borrow_mut().is_err() {
            let (lp, id) = (writer.transport.get_loop(), writer.transport.id());
            crate::protocol::until_cell_free(&lp, id, Rc::downgrade(&writer.core)).await?;
            writer.drain().await?;
        }
        let mut upgrade = upgrade.into_future();
        // The layer takes the raw transport over in the upgrade's first poll (a refusal ends
        // that poll): from then on all the protocol hears comes through it. It is told it is
        // over TLS then, while the drain has just found it free, not only once the upgrade
        // returns: its user may hold it by then, and an EOF that reached it before the news
        // (both wait for the borrow's end, on retries of their own) found it asking to stay
        // half-open (S63), which a TLS connection cannot do, and the layer warned of it.
        let outcome = match poll_fn(|cx| Poll::Ready(upgrade.as_mut().poll(cx))).await {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                if let Ok(mut core) = writer.core.try_borrow_mut() {
                    core.over_ssl = true;
                }
                upgrade.await
            }
        };
        match outcome {
            Ok(tls) => {
                writer.replace_transport(tls.clone());
                Ok(tls)
            }
            Err(e) => {
                // D14: a handshake that failed has ended the connection, and the layer tells
                // the stream a turn or two later. Return once it has, so that a drain right
                // after this fails too rather than pass. Only when the layer took the
                // transport over: a refusal before that (a closing transport, a bad
                // argument) leaves the connection as it was.
                let core = Rc::as_ptr(&writer.core);
                let ours = writer.transport.get_protocol();
                if !ours.is_some_and(|p| std::ptr::addr_eq(Rc::as_ptr(&p), core)) {
                    let _ = writer.wait_closed().await;
                }
                Err(e)
            }
        }
    }
}

#[cfg(feature = "tls")]
impl<'a> IntoFuture for StreamStartTls<'a> {
    type Output = Result<Transport, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        #[cfg(feature = "futures-io")]
        if let Some(x) = self.extras.get() {
            x.io.withdraw(self);
        }
        if self.transport.is_closing() {
            return;
        }
        let lp = self.transport.get_loop();
        if lp.is_closed() {
            crate::event_loop::debug::warning!("loop is closed");
            return;
        }
        // Checklist: S56, S60. `asyncio.run` ending cancels every task left (L41): a writer
        // those tasks held is closed with its connection, as a cancelled handler's is (S60),
        // silently. Whether a server's connection was closed by its handler's cancellation
        // before the task holding its writer was cancelled was only the order of the tasks.
        if lp.inner.book.shutting_down() {
            return self.transport.close();
        }
        let id = self.transport.id();
        let created = self.extras.get().and_then(|x| x.created.as_ref());
        let cancelled = lp.inner.cancelling_current();
        let handled =
            (self.core.try_borrow()).is_ok_and(|c| matches!(c.handler, HandlerState::Given));
        let hint = match (cancelled, handled) {
            (true, _) => DROPPED_BY_CANCEL,
            (false, true) => DROPPED_BY_HANDLER,
            (false, false) => DROPPED_OPEN,
        };
        let text = unclosed_text(id, hint, created);
        self.transport.close();
        if handled {
            return warn_dropped_by_handler(&lp, self.core.clone(), id, text);
        }
        crate::event_loop::debug::warning!("{text}");
    }
}

/// The unclosed-writer warning's text: the transport, `hint` (what dropping did), and where
/// the writer was made when debug mode recorded it.
fn unclosed_text(id: u64, hint: &str, created: Option<&std::backtrace::Backtrace>) -> String {
    match created {
        Some(bt) => format!("unclosed <StreamWriter transport={id}>{hint}, created at:\n{bt}"),
        None => format!("unclosed <StreamWriter transport={id}>{hint}"),
    }
}

/// The unclosed-writer warning (`text`) for the writer of a server handler, dropped while
/// its transport `id` was open: if the handler failed, it is reported in this turn (S60,
/// S61), and that report is the one to read; a second, "unclosed", would point at the wrong
/// culprit. Otherwise the warning comes one turn late.
fn warn_dropped_by_handler(
    lp: &crate::event_loop::LoopHandle,
    core: Rc<RefCell<StreamCore>>,
    id: u64,
    text: String,
) {
    let warn = move || {
        let failed = core
            .try_borrow()
            .is_ok_and(|c| matches!(c.handler, HandlerState::Failed));
        if !failed {
            crate::event_loop::debug::warning!("{text}");
        }
    };
    if lp.call_soon(warn).is_err() {
        crate::event_loop::debug::warning!(
            "unclosed <StreamWriter transport={id}>{DROPPED_BY_HANDLER}"
        );
    }
}

/// After Python's `unclosed <StreamWriter …>`, what dropping did and what to do: in Rust a
/// writer bound to `_` is dropped at once, so a client that only reads (`let (reader, _) =
/// …`) had its connection closed before the first read, which then saw EOF.
const DROPPED_OPEN: &str = " (dropped while open, which closes the connection: keep the writer \
     as long as the connection is in use, `let (reader, _writer)` rather than `let (reader, _)`, \
     and close() it when done)";

/// [`DROPPED_OPEN`] for the writer a server gave its `client_connected_cb`, where the usual
/// cause differs: a closure `|reader, _writer| async move { .. }` whose block never names the
/// writer does not capture it, so it is dropped when the closure returns, before the block's
/// first read (which then sees EOF, the client a reset or EOF).
const DROPPED_BY_HANDLER: &str = " (dropped while open, which closes the connection: a server \
     callback keeps its writer only while its future holds it, and in `|reader, writer| async \
     move { .. }` a block that never uses `writer` drops it at once, before the first read; use \
     it, and close() it when done)";

/// [`DROPPED_OPEN`] for a writer dropped by the cancellation of the task holding it (not at
/// the loop's shutdown, which is silent): not a writer forgotten, a cancellation that did
/// not close it first.
const DROPPED_BY_CANCEL: &str = " (dropped while open by the cancellation of its task, which \
     closes the connection: close() it before cancelling that task)";

/// `set_drain_timeout` on a free core (now, or queued while it was held), its timer on `lp`.
pub(super) fn set_drain_timeout_now(
    core: &Rc<RefCell<StreamCore>>,
    lp: &crate::event_loop::LoopHandle,
    timeout: Option<Duration>,
) {
    let Ok(mut core) = core.try_borrow_mut() else {
        return;
    };
    if timeout.is_none() && core.deadlines.is_none() {
        return;
    }
    core.deadlines_on(lp).set_drain_timeout(timeout);
    // Drains already waiting look again: each dates its wait from now if it began
    // without a timeout, and arms the stream's timer for its deadline (without this a
    // drain that began waiting before the call waited on, unbounded). Cleared, there is
    // no deadline to arm; not paused, no drain waits (and `wait_closed` need not look).
    if timeout.is_none() || core.flow() != Flow::Paused {
        return;
    }
    let waiting: Vec<_> = core.take_waiters().collect();
    drop(core);
    for w in waiting {
        w.wake();
    }
}

/// `set_idle_timeout` on a free core (now, or queued while it was held), its timer on `lp`;
/// `adopt`: the activity record the writer counts in already (one made while the core was
/// held), for the deadlines to take. The record writes must touch, if the timeout was set.
pub(super) fn set_idle_timeout_now(
    core: &Rc<RefCell<StreamCore>>,
    lp: &crate::event_loop::LoopHandle,
    timeout: Option<Duration>,
    adopt: Option<&Rc<Activity>>,
) -> Option<Rc<Activity>> {
    let mut guard = core.try_borrow_mut().ok()?;
    let core = &mut *guard;
    if timeout.is_none() && core.deadlines.is_none() {
        return None;
    }
    if core.is_lost() {
        return None; // nothing left to close
    }
    let me = core.me.clone();
    // What waits to go out now: the baseline against which the timer sees bytes leave.
    // Taken only when the timeout starts: re-set (as some do per message) it keeps the
    // last look's, and costs no system call.
    let running = core
        .deadlines
        .as_ref()
        .is_some_and(|d| d.idle_timeout().is_some());
    let unsent = (!running).then(|| super::deadline::unsent_out(core.reader.transport()));
    let dl = core.deadlines_on(lp);
    if let Some(mine) = adopt {
        dl.adopt_activity(mine);
    }
    let activity = dl.idle_activity();
    dl.set_idle_timeout(timeout, unsent, &me);
    Some(activity)
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish()
    }
}
