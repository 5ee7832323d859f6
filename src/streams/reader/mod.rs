//! `StreamReader`: a connection's incoming bytes, and the cancel-safe futures that read them.
//!
//! Mirrors `StreamReader` in CPython `Lib/asyncio/streams.py`, method by method: `feed_data`,
//! `feed_eof`, `at_eof`, `set_exception`, `exception`, `_wakeup_waiter`, `_maybe_resume_transport`,
//! `_wait_for_data`, `read`, `readline`, `readuntil` (3.13's tuple form is `readuntil_any`),
//! `readexactly`, and `__anext__` as [`Lines::next_line`]. Two things are new:
//! - the buffer doubles as a `BufferedProtocol` target: the socket transport reads straight into
//!   its free tail (`get_buffer` / `buffer_updated`), so no byte is copied between the kernel and
//!   `readline`, and a steady-state echo allocates nothing;
//! - every read is cancel-safe, `read(-1)` included (a deliberate difference from CPython).
//!
//! Layout: `ReaderState` holds all the logic as plain `&mut self` methods and lives in the
//! connection's `StreamCore`; [`StreamReader`] is the public handle, and each of its read
//! methods returns a named future that borrows the core for one `poll` at a time.
//! Files: `state.rs` and `state/` (`ReaderState`: the read operations, the waiter slot and
//! read-through, separator search; and its tests), `futures.rs` (the read futures), this file
//! (the handle).
//!
//! Ground rules:
//! - Bytes leave the buffer only when a read future returns `Ready`. A future dropped while
//!   pending has taken nothing; its one trace, the waiter slot, is cleared by its
//!   `Drop`.
//! - `ReaderState` methods that wake a waiter hand its `Waker` back; [`StreamReader`] wakes it
//!   after the borrow of the core has ended (STYLE habit 5). (Waking inside the borrow would
//!   also be safe with our task wakers, which only push onto the ready queue.)
//! - Calls down only into `Transport::pause_reading` / `resume_reading`, which never call a
//!   protocol back, so they are safe while the core is borrowed.
// Checklist: D1, S22, S21.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::core::StreamCore;
use super::held_sets;
use crate::constants::DEFAULT_LIMIT;
use crate::error::Error;
use crate::error::SharedError;

mod futures;
mod state;
use futures::{Claim, Separators};
pub use futures::{Lines, Read, ReadExactly, ReadInto, ReadLine, ReadUntil};
pub(crate) use state::{feed_after_eof, ReaderState};

// ───────────────────────────── StreamReader: the handle ─────────────────────────────

/// The read half of a stream connection (Python's `asyncio.StreamReader`).
///
/// The transport fills the reader's buffer; the read methods return futures that take from it.
/// Bytes are `Vec<u8>` out, or copied into your slice by [`read_into`](Self::read_into).
///
/// Every read future is **cancel-safe**: dropping it before it completes (under
/// [`timeout`](crate::timeout), by cancelling its task, …) loses no byte, `read(-1)` included.
/// Only one read may wait for data at a time (a second one gets [`Error::InvalidState`]).
///
/// With the `futures-io` feature (off by default) the reader is also `futures_io::AsyncRead`
/// and `AsyncBufRead`, with these same semantics; see those impls (requires the `futures-io`
/// feature).
///
/// ```
/// use asyncio::streams::reader::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"HTTP/1.1 200 OK\r\nbody");
///     reader.feed_eof();
///     assert_eq!(reader.readuntil(b"\r\n").await?, b"HTTP/1.1 200 OK\r\n");
///     assert_eq!(reader.read(-1).await?, b"body");
///     assert!(reader.at_eof());
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub struct StreamReader {
    /// The connection's shared state; this handle reads `core.reader`.
    pub(in crate::streams) core: Rc<RefCell<StreamCore>>,
    /// The futures-io side's waiter id and staged bytes (`streams/futures_io.rs`).
    #[cfg(feature = "futures-io")]
    pub(in crate::streams) io: crate::streams::futures_io::ReadSide,
}

/// The one place a `StreamCore` is built around a fresh reader.
fn make_core(reader: ReaderState) -> Rc<RefCell<StreamCore>> {
    StreamCore::new(reader)
}

impl Default for StreamReader {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamReader {
    /// A reader with the default limit, 64 KiB ([`DEFAULT_LIMIT`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = asyncio::StreamReader::new();
    /// assert_eq!(reader.limit(), asyncio::constants::DEFAULT_LIMIT);
    /// assert!(!reader.at_eof());
    /// ```
    pub fn new() -> Self {
        match ReaderState::new(DEFAULT_LIMIT) {
            Ok(state) => Self::from_core(make_core(state)),
            Err(e) => unreachable!("the default limit is valid: {e}"),
        }
    }

    /// A reader whose lines and chunks may be up to `limit` bytes long (Python's
    /// `StreamReader(limit=…)`). The transport is paused above 2 × `limit` buffered bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`Limit cannot be <= 0`) when `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = asyncio::StreamReader::with_limit(1024)?;
    /// assert_eq!(reader.limit(), 1024);
    /// assert!(asyncio::StreamReader::with_limit(0).is_err());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S11.
    pub fn with_limit(limit: usize) -> Result<Self, Error> {
        Ok(Self::from_core(make_core(ReaderState::new(limit)?)))
    }

    /// The handle of an existing connection's core.
    pub(crate) fn from_core(core: Rc<RefCell<StreamCore>>) -> Self {
        StreamReader {
            core,
            #[cfg(feature = "futures-io")]
            io: Default::default(),
        }
    }

    fn claim(&self) -> Claim<'_> {
        // A futures-io read dropped while waiting left its id in the waiter slot; it cannot be
        // polled while `&self` is lent out here (it needs `&mut self`), so the slot is stale.
        #[cfg(feature = "futures-io")]
        self.io.release_stale(&self.core);
        Claim {
            reader: self,
            id: 0,
        }
    }

    /// The limit given at construction.
    ///
    /// # Examples
    ///
    /// A line (or `readuntil` chunk) longer than the limit is refused instead of buffered without
    /// bound.
    ///
    /// ```
    /// asyncio::run(async {
    ///     let reader = asyncio::StreamReader::with_limit(8)?;
    ///     assert_eq!(reader.limit(), 8);
    ///     reader.feed_data(b"longer than eight bytes\n");
    ///     let result = reader.readline().await;
    ///     assert!(matches!(result, Err(asyncio::Error::LimitOverrun { .. })));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    ///
    /// While the stream's protocol is borrowed mutably elsewhere (a user holding the
    /// `RefCell` that `get_protocol()` returns), the limit, which lives in it, cannot be read:
    /// the answer is then 0, which no reader's limit is.
    pub fn limit(&self) -> usize {
        self.core.try_borrow().map_or(0, |core| core.reader.limit())
    }

    /// Reads up to `n` bytes (Python's `read(n=-1)`).
    ///
    /// - `n > 0`: waits until at least one byte is buffered or EOF is reached, then returns up to
    ///   `n` bytes, never bounded by the limit; `b""` at EOF.
    /// - `n == 0`: returns `b""` at once.
    /// - `n < 0`: reads to EOF and returns everything.
    ///
    /// ```
    /// # use asyncio::streams::reader::StreamReader;
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"line1");
    ///     reader.feed_data(b"line2");
    ///     assert_eq!(reader.read(5).await.unwrap(), b"line1");
    ///     reader.feed_eof();
    ///     assert_eq!(reader.read(-1).await.unwrap(), b"line2");
    ///     assert_eq!(reader.read(100).await.unwrap(), b"");
    /// }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The stored exception, if any, even for `n == 0` and with bytes still buffered;
    /// [`Error::InvalidState`] if it must wait while another read is waiting.
    ///
    /// # Cancel safety
    /// Cancel-safe, `n < 0` included: bytes leave the buffer only when the future completes.
    /// (CPython's `read(-1)` loses what it collected when cancelled.)
    // Checklist: S24, S23, S25, S19, S20, S26, D1.
    pub fn read(&self, n: isize) -> Read<'_> {
        Read {
            claim: self.claim(),
            n,
        }
    }

    /// Reads everything until EOF: [`read(-1)`](Self::read), named as Rust's `read_to_end`.
    ///
    /// ```
    /// # use asyncio::streams::reader::StreamReader;
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"all of ");
    ///     reader.feed_data(b"it");
    ///     reader.feed_eof();
    ///     assert_eq!(reader.read_to_end().await.unwrap(), b"all of it");
    /// }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// # Cancel safety
    /// Cancel-safe: dropped part-way, it loses no byte.
    // Checklist: D1.
    pub fn read_to_end(&self) -> Read<'_> {
        self.read(-1)
    }

    /// Reads up to `buf.len()` bytes into `buf`, like [`read`](Self::read) with
    /// `n = buf.len()` but without allocating. Returns the count; 0 at EOF (or for an empty
    /// `buf`).
    ///
    /// # Errors
    /// As for [`read`](Self::read).
    ///
    /// # Cancel safety
    /// Cancel-safe: `buf` is written, and the bytes removed, only when the future completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"0123456789");
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(reader.read_into(&mut buf).await?, 4);
    ///     assert_eq!(&buf, b"0123");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn read_into<'a>(&'a self, buf: &'a mut [u8]) -> ReadInto<'a> {
        ReadInto {
            claim: self.claim(),
            buf,
        }
    }

    /// Reads one line, `\n` included (Python's `readline()`). At EOF it returns the bytes
    /// left, without a newline, and then `b""`.
    ///
    /// # Errors
    /// - [`Error::LimitOverrun`] when the line, newline excluded, is longer than the limit.
    ///   The offending bytes are discarded first, so the reader keeps working: the line
    ///   and its newline if the newline was buffered, else everything buffered (the rest of the
    ///   line then comes back as the next "line"). Python raises `ValueError` here. For
    ///   longer lines, raise the limit: [`open_connection(..).limit(n)`](crate::OpenConnection::limit),
    ///   [`start_server(..).limit(n)`](crate::StartServer::limit).
    /// - The stored exception; [`Error::InvalidState`] with the name `readuntil` if
    ///   another read is waiting.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is removed before the future completes, so a readline wrapped
    /// in [`timeout`](crate::timeout) that expires loses nothing
    /// ([`set_read_timeout`](Self::set_read_timeout) bounds every read of the stream instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n");
    ///     assert_eq!(reader.readline().await?, b"GET / HTTP/1.1\r\n");
    ///     reader.feed_eof();
    ///     assert_eq!(reader.readline().await?, b"Host: x\r\n");
    ///     assert_eq!(reader.readline().await?, b""); // EOF
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S27, S28, S19, S29, S20.
    pub fn readline(&self) -> ReadLine<'_> {
        ReadLine {
            claim: self.claim(),
            scan: 0,
        }
    }

    /// Reads up to and including the first `separator` (Python's
    /// `readuntil(separator)`).
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] (`Separator should be at least one-byte string`) for an
    ///   empty separator, checked before anything else.
    /// - The stored exception.
    /// - [`Error::LimitOverrun`] when no separator lies within the limit: `Separator is not
    ///   found, and chunk exceed the limit` or `Separator is found, but chunk is longer
    ///   than limit`. The buffer is left intact. The limit is [`limit`](Self::limit), set with
    ///   `.limit(n)` on [`open_connection`](crate::open_connection) and
    ///   [`start_server`](crate::start_server).
    /// - [`Error::IncompleteRead`] with `expected: None` at EOF without a separator; `partial`
    ///   holds every byte that was buffered, and the buffer is then empty.
    /// - [`Error::InvalidState`] if it must wait while another read is waiting.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is removed before the future completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"header\r\n\r\nbody");
    ///     assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"header\r\n\r\n");
    ///     reader.feed_eof();
    ///     // EOF before the separator: IncompleteRead with what there was.
    ///     let e = reader.readuntil(b"\n").await.unwrap_err();
    ///     assert!(matches!(e, asyncio::Error::IncompleteRead { ref partial, .. } if partial == b"body"));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S30, S34, S19, S32, S33, S20.
    pub fn readuntil<'a>(&'a self, separator: &'a [u8]) -> ReadUntil<'a> {
        ReadUntil {
            claim: self.claim(),
            seps: Separators::One(separator),
            scan: 0,
        }
    }

    /// Reads up to and including the first of several separators (Python 3.13's
    /// `readuntil((a, b, …))`): the match that ends first wins; on a tie, the shorter
    /// separator.
    ///
    /// ```
    /// # use asyncio::streams::reader::StreamReader;
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"ABCDEFG");
    ///     let line = reader.readuntil_any(&[b"DEF", b"BCDE"]).await.unwrap();
    ///     assert_eq!(line, b"ABCDE");
    /// }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As for [`readuntil`](Self::readuntil), plus [`Error::InvalidArgument`] (`Separator
    /// should contain at least one element`) for an empty list. Overrun errors report the scan
    /// offset or the match start as `consumed`.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is removed before the future completes.
    // Checklist: S35, S36.
    pub fn readuntil_any<'a>(&'a self, separators: &'a [&'a [u8]]) -> ReadUntil<'a> {
        ReadUntil {
            claim: self.claim(),
            seps: Separators::Many(separators),
            scan: 0,
        }
    }

    /// Reads exactly `n` bytes, waiting as long as it takes; never bounded by the limit
    /// (Python's `readexactly(n)`). `n == 0` returns `b""` at once.
    ///
    /// # Errors
    /// - [`Error::IncompleteRead`] with `expected: Some(n)` when EOF comes first; `partial`
    ///   holds every byte that was buffered, and the buffer is then empty.
    /// - The stored exception; [`Error::InvalidState`] if it must wait while another read
    ///   is waiting.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is removed before the future completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"abcdef");
    ///     assert_eq!(reader.readexactly(4).await?, b"abcd");
    ///     reader.feed_eof();
    ///     assert!(reader.readexactly(4).await.is_err()); // only 2 left
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S37, S38, S19, S20.
    pub fn readexactly(&self, n: usize) -> ReadExactly<'_> {
        ReadExactly {
            claim: self.claim(),
            n,
        }
    }

    /// Lines until EOF (Python's `async for line in reader`).
    ///
    /// ```
    /// # use asyncio::streams::reader::StreamReader;
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"a\nb\nc");
    ///     reader.feed_eof();
    ///     let mut lines = reader.lines();
    ///     let mut all = Vec::new();
    ///     while let Some(line) = lines.next_line().await.unwrap() {
    ///         all.push(line);
    ///     }
    ///     assert_eq!(all, [&b"a\n"[..], b"b\n", b"c"]);
    /// }).unwrap();
    /// ```
    // Checklist: S40.
    pub fn lines(&self) -> Lines<'_> {
        Lines { reader: self }
    }

    /// Bounds how long one read may wait: a read ([`read`](Self::read),
    /// [`read_into`](Self::read_into), [`readline`](Self::readline),
    /// [`readuntil`](Self::readuntil), [`readexactly`](Self::readexactly), …) still waiting
    /// after `timeout` fails with [`Error::Timeout`], as if wrapped in
    /// `asyncio.wait_for(…, timeout)`. Nothing is lost: the bytes that had arrived stay in the
    /// buffer (a partial line, part of a `readexactly`), and the next read gets them and the
    /// ones that come later. The connection stays open. `None` (the default) waits as long as
    /// it takes.
    ///
    /// The time counts from the read's first wait (a read served from the buffer never
    /// waits). The stream's timer looks every eighth of the timeout (at least every
    /// millisecond), so a read fails no sooner than `timeout` after it began to wait and at
    /// most an eighth of it later; this keeps the cost per message to a few instructions.
    /// `Duration::ZERO` fails a read that would wait, at once; a read the buffer can serve
    /// still succeeds (Python's `wait_for(reader.read(n), 0)` fails even then, since it
    /// cancels the read before it runs). `Duration::MAX` never fires. A read already waiting is bounded from the call.
    ///
    /// Called while the stream's protocol is borrowed elsewhere (a user holding the `RefCell`
    /// that `get_protocol()` returns), the timeout applies once the borrow ends, in order
    /// with the reader's other calls, on the running loop; [`read_timeout`](Self::read_timeout)
    /// answers it at once.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`no running event loop`) for a reader with no connection set
    /// outside a running loop: the timer needs a loop. So too for any reader whose protocol
    /// is borrowed mutably elsewhere, outside a running loop: its connection cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (reader, _writer) = asyncio::open_connection_sock(a).await?;
    /// # let (_, peer) = asyncio::open_connection_sock(b).await?;
    /// reader.set_read_timeout(Some(Duration::from_millis(20)))?;
    /// assert_eq!(reader.read_timeout(), Some(Duration::from_millis(20)));
    /// peer.write(b"half a li")?;
    /// // No newline within 20 ms: the read fails, and keeps what came.
    /// assert!(matches!(reader.readline().await, Err(asyncio::Error::Timeout)));
    /// peer.write(b"ne\n")?;
    /// assert_eq!(reader.readline().await?, b"half a line\n");
    /// # peer.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let Some(core) = held_sets::free_core(&self.core) else {
            return self.set_read_timeout_held(timeout);
        };
        let lp = match core.reader.transport() {
            Some(t) => t.get_loop(),
            None if timeout.is_none() && core.deadlines.is_none() => return Ok(()),
            None => crate::event_loop::get_running_loop()?,
        };
        drop(core);
        set_read_timeout_now(&self.core, &lp, timeout);
        Ok(())
    }

    /// `set_read_timeout` while the core is held: queued, on the running loop (the
    /// transport's, which cannot be read now); refused outside one, as a reader with no
    /// connection is (whether it has one cannot be read either).
    #[cold]
    #[inline(never)]
    fn set_read_timeout_held(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let lp = crate::event_loop::get_running_loop()?;
        let op = held_sets::Op::ReadTimeout(lp.clone(), timeout);
        held_sets::defer(&self.core, op, Some(lp), 0);
        Ok(())
    }

    /// The read timeout set by [`set_read_timeout`](Self::set_read_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// # let (a, _b) = asyncio::socketpair()?;
    /// # let (reader, _writer) = asyncio::open_connection_sock(a).await?;
    /// assert_eq!(reader.read_timeout(), None); // the default: reads wait as long as it takes
    /// reader.set_read_timeout(Some(Duration::from_secs(30)))?;
    /// assert_eq!(reader.read_timeout(), Some(Duration::from_secs(30)));
    /// reader.set_read_timeout(None)?; // and back
    /// assert_eq!(reader.read_timeout(), None);
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    ///
    /// A timeout set while the stream's protocol is borrowed elsewhere reads back at once,
    /// though it applies once the borrow ends. With the protocol borrowed mutably and no such
    /// call, the timeout in force cannot be read (it lives in the protocol): `None` then.
    pub fn read_timeout(&self) -> Option<Duration> {
        drop(held_sets::free_core(&self.core)); // calls queued while held apply first
        if let Some(queued) = held_sets::latest(&self.core, |op| match op {
            held_sets::Op::ReadTimeout(_, d) => Some(*d),
            _ => None,
        }) {
            return queued;
        }
        let core = self.core.try_borrow().ok()?;
        core.deadlines.as_ref().and_then(|d| d.read_timeout())
    }

    /// EOF was fed and the buffer is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"x");
    ///     reader.feed_eof();
    ///     assert!(!reader.at_eof()); // a byte is still buffered
    ///     reader.read(1).await?;
    ///     assert!(reader.at_eof());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S17.
    ///
    /// While the stream's protocol is borrowed elsewhere (a user holding the `RefCell` that
    /// `get_protocol()` returns), the answer counts the feeds and EOF made meanwhile, which
    /// apply once the borrow ends, as if they had. Borrowed mutably, the buffer, which lives
    /// in the protocol, cannot be read: the answer is then `false` (not known to be at EOF;
    /// a read waits for the borrow to end before it answers).
    pub fn at_eof(&self) -> bool {
        match held_sets::free_core(&self.core) {
            Some(core) => core.reader.at_eof(), // calls queued while held applied first
            None => self.at_eof_held(),
        }
    }

    /// `at_eof` while the core is held: shared, the buffer and the queued feeds tell.
    #[cold]
    #[inline(never)]
    fn at_eof_held(&self) -> bool {
        let Ok(core) = self.core.try_borrow() else {
            return false;
        };
        let (fed, eof) = held_sets::queued_feeds(&self.core, core.reader.eof());
        eof && fed == 0 && core.reader.buffered_len() == 0
    }

    /// Appends `data` to the buffer and wakes a waiting read. The transport's protocol
    /// calls this; call it yourself to drive a reader without a connection. Empty data does
    /// nothing.
    ///
    /// Bytes fed after [`feed_eof`](Self::feed_eof) are a programming error (Python's
    /// `AssertionError('feed_data after feed_eof')`), refused the same way in debug and
    /// release builds, without a panic: nothing is appended, and the reader's
    /// [`exception`](Self::exception) becomes [`Error::InvalidState`] (`feed_data after
    /// feed_eof`), with which every later read fails, bytes still buffered or not. On a
    /// connection's reader the connection fails with it too, as `feed_eof` describes.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"fed ");
    ///     reader.feed_data(b"by hand");
    ///     assert_eq!(reader.read(100).await?, b"fed by hand");
    ///     reader.feed_eof();
    ///     reader.feed_data(b"too late"); // refused: reads fail from now on
    ///     let e = reader.read(100).await.unwrap_err();
    ///     assert!(matches!(e, asyncio::Error::InvalidState(m) if m == "feed_data after feed_eof"));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S13.
    ///
    /// Fed while the stream's protocol is borrowed elsewhere (a user holding the `RefCell`
    /// that `get_protocol()` returns), the bytes are copied aside and appended once the
    /// borrow ends (in the loop's next iteration, or at this reader's or its writer's next
    /// call), after what was fed before and before what is fed later.
    pub fn feed_data(&self, data: &[u8]) {
        match held_sets::free_core(&self.core) {
            Some(core) => feed_into(core, data),
            None => self.defer(held_sets::Op::Feed(data.to_vec())),
        }
    }

    /// Queues `op` until the core is free; the retry runs on the running loop, if any.
    #[cold]
    #[inline(never)]
    fn defer(&self, op: held_sets::Op) {
        let lp = crate::event_loop::current_loop();
        held_sets::defer(&self.core, op, lp, 0);
    }

    /// Records EOF and wakes a waiting read. Calling it again is harmless. On a connection's
    /// reader, bytes the peer sends afterwards fail the connection, as a failed protocol call
    /// does: reported to the loop's exception handler, the transport aborted, and later reads
    /// and `wait_closed` fail with [`Error::InvalidState`] (`feed_data after feed_eof`). The
    /// peer's own EOF is no error.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_eof();
    ///     assert_eq!(reader.read(100).await?, b""); // EOF: empty, at once
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S17.
    ///
    /// Called while the stream's protocol is borrowed elsewhere, the EOF is recorded once the
    /// borrow ends, in order with the reader's other calls (as [`feed_data`](Self::feed_data)).
    pub fn feed_eof(&self) {
        match held_sets::free_core(&self.core) {
            Some(mut core) => {
                let waker = core.reader.feed_eof();
                drop(core);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            None => self.defer(held_sets::Op::Eof),
        }
    }

    /// The stored exception, as a new `Error::Io` of the same kind and text each call.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     assert!(reader.exception().is_none());
    ///     reader.set_exception(std::io::ErrorKind::ConnectionReset.into());
    ///     assert_eq!(reader.exception().unwrap().kind(), std::io::ErrorKind::ConnectionReset);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S18.
    ///
    /// An exception set while the stream's protocol is borrowed elsewhere reads back at once,
    /// though it is stored once the borrow ends. With the protocol borrowed mutably and no
    /// such call, the stored exception cannot be read (it lives in the protocol): `None` then.
    pub fn exception(&self) -> Option<Error> {
        drop(held_sets::free_core(&self.core)); // calls queued while held apply first
        if let Some(queued) = held_sets::latest(&self.core, |op| match op {
            held_sets::Op::Exception(e) => Some(SharedError::from_io(e).get()),
            _ => None,
        }) {
            return Some(queued);
        }
        self.core.try_borrow().ok()?.reader.exception()
    }

    /// Stores `exc` (replacing any earlier one; it cannot be cleared) and fails a waiting read
    /// with it. Every later read fails with it too, even with bytes buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::StreamReader;
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::new();
    ///     reader.feed_data(b"unread");
    ///     reader.set_exception(std::io::Error::other("gone"));
    ///     assert!(reader.read(10).await.is_err()); // the exception wins over buffered bytes
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S18, S19.
    ///
    /// Called while the stream's protocol is borrowed elsewhere, the exception is stored once
    /// the borrow ends, in order with the reader's other calls (as
    /// [`feed_data`](Self::feed_data)); [`exception`](Self::exception) reads it at once.
    pub fn set_exception(&self, exc: io::Error) {
        match held_sets::free_core(&self.core) {
            Some(core) => set_exception_in(core, &exc),
            None => self.defer(held_sets::Op::Exception(exc)),
        }
    }
}

/// The bytes buffered in `core`'s reader, those fed while it is held counted as if they had
/// been appended (as `at_eof` counts them); `None` while it is held mutably.
pub(in crate::streams) fn buffered_len(core: &Rc<RefCell<StreamCore>>) -> Option<usize> {
    if let Some(free) = held_sets::free_core(core) {
        return Some(free.reader.buffered_len()); // calls queued while held applied first
    }
    let held = core.try_borrow().ok()?;
    let (fed, _) = held_sets::queued_feeds(core, held.reader.eof());
    Some(held.reader.buffered_len() + fed)
}

/// `feed_data` on a free core: appends, then wakes the waiting read with the borrow ended.
fn feed_into(mut core: std::cell::RefMut<'_, StreamCore>, data: &[u8]) {
    let waker = core.reader.feed_data(data);
    drop(core);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// `set_exception` on a free core.
fn set_exception_in(mut core: std::cell::RefMut<'_, StreamCore>, exc: &io::Error) {
    let waker = core.reader.set_exception(exc);
    drop(core);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A `feed_data` queued while the core was held, now that it is free.
pub(super) fn feed_data_now(core: &Rc<RefCell<StreamCore>>, data: &[u8]) {
    if let Ok(core) = core.try_borrow_mut() {
        feed_into(core, data);
    }
}

/// A `feed_eof` queued while the core was held, now that it is free.
pub(super) fn feed_eof_now(core: &Rc<RefCell<StreamCore>>) {
    let Ok(mut core) = core.try_borrow_mut() else {
        return;
    };
    let waker = core.reader.feed_eof();
    drop(core);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A `set_exception` queued while the core was held, now that it is free.
pub(super) fn set_exception_now(core: &Rc<RefCell<StreamCore>>, exc: &io::Error) {
    if let Ok(core) = core.try_borrow_mut() {
        set_exception_in(core, exc);
    }
}

/// `set_read_timeout` on a free core, its timer on `lp`.
pub(super) fn set_read_timeout_now(
    core: &Rc<RefCell<StreamCore>>,
    lp: &crate::event_loop::LoopHandle,
    timeout: Option<Duration>,
) {
    let Ok(mut guard) = core.try_borrow_mut() else {
        return;
    };
    let core = &mut *guard;
    if timeout.is_none() && core.deadlines.is_none() {
        return;
    }
    let me = core.me.clone();
    let waiting = core.reader.waiter_id();
    core.deadlines_on(lp)
        .set_read_timeout(timeout, waiting, &me);
    // Zero fails what waits: the read waiting now looks again at once and fails.
    let wake = match timeout {
        Some(d) if d.is_zero() && waiting.is_some() => {
            core.reader.end_parked_through();
            core.reader.wakeup_waiter()
        }
        _ => None,
    };
    drop(guard);
    if let Some(w) = wake {
        w.wake();
    }
}

/// The reader of a read pipe's stream (`open_read_pipe`, `stdin`, a child's stdout or stderr)
/// is its only handle: dropped, it closes the stream, rather than leave it (paused once over
/// the limit) until the loop closes, with the pipe's writer (a helper thread over a file or a
/// terminal, or a child process) blocked on it. Differs from CPython, whose protocol holds its
/// reader (weakly for a pipe, strongly for a subprocess) and reads on to the end of input or
/// until paused (a transport left paused closes only when collected). Any other reader
/// leaves its transport to its writer (or whoever made the transport).
impl Drop for StreamReader {
    fn drop(&mut self) {
        let transport = match self.core.try_borrow() {
            Ok(core) if core.is_read_pipe() => core.transport().cloned(),
            _ => None,
        };
        if let Some(t) = transport {
            t.close(); // after the borrow: close may call back into the core
        }
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.core.try_borrow() {
            Ok(core) => core.reader.fmt(f),
            Err(_) => f.write_str("StreamReader { <in use> }"),
        }
    }
}
