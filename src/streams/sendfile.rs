//! `StreamWriter::sendfile`: a file sent to the stream's peer, by the kernel where it can.
//!
//! Mirrors `loop.sendfile(transport, file, offset, count)` in CPython
//! `Lib/asyncio/base_events.py`, called on a stream's transport (`writer.transport`). Two
//! paths, as there:
//! - native: a plain socket transport hands its sending side to `sendfile(2)`
//!   (`transport/socket/sendfile.rs`): no byte is copied through user space;
//! - fallback: TLS and other transports, and files `sendfile(2)` cannot serve (pipes, some
//!   special files): blocks read on the default executor (a read may block, the loop must
//!   not), each written once the writer has room (a drain before each write, so a paused
//!   writer gets no block until it resumes), as CPython's `_sendfile_fallback` does with
//!   16 KiB blocks (here 64 KiB). The last block is handed over, not waited for.
//!
//! Both pause reading for the duration and resume it after only if it was on, as CPython's
//! `_sendfile_native` and `_SendfileFallbackProtocol` do. One sendfile at a time per stream:
//! a second is refused while either path runs (CPython refuses it during a native one only).
//!
//! Either way the file's position ends after the last byte sent (also after a failure or a
//! cancellation), and the count sent is the result. When no byte was sent, the block-by-block
//! path leaves it at `offset` (it seeks there first), the kernel's where it was, as in
//! CPython (its fallback seeks to a non-zero `offset` first; its native path moves the
//! position only once a byte was sent).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::poll_fn;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use super::StreamWriter;
use crate::error::Error;
use crate::transport::socket::{closed_during_sendfile, SendJob, SendfileError, SocketTransport};
use crate::transport::Transport;

/// The fallback's block: one read, one drain, one write.
const FALLBACK_BLOCK: usize = 64 * 1024;

thread_local! {
    /// The transports a fallback sendfile runs on, by address: a second sendfile on one is
    /// refused (the native path's own refusal is the socket's `WriteSide::Sendfile`). Per
    /// thread, not a field of the transport: sendfiles are rare and connections stay small.
    static IN_FALLBACK: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl StreamWriter {
    /// Sends `count` bytes of `file` starting at `offset` (`None`: up to its end) to the peer,
    /// and returns how many were sent (Python's `await loop.sendfile(writer.transport, file,
    /// offset, count)`). On a plain TCP or Unix stream the kernel copies the file straight to
    /// the socket (`sendfile(2)`, Linux); over TLS, or from a file that cannot be mapped (a
    /// pipe), it reads and writes blocks instead. Bytes written before go out first. The
    /// file's position is left after the last byte sent; when none was, at `offset` on the
    /// block-by-block path (it seeks there first) and where it was on the kernel's. The
    /// block-by-block path returns once its last block is handed to the transport (as a
    /// [`write`](Self::write) does); [`drain`](Self::drain) to wait for room after it.
    ///
    /// While it runs, reading is paused, as in CPython, and resumed when it returns if it was
    /// on before (a reader paused for its limit stays paused): the peer's data waits in the
    /// socket. While the kernel copies (the native path), writes on this stream also fail
    /// (`unable to write; sendfile is in progress`) until it returns; on the block-by-block
    /// path, as in CPython, a write made meanwhile goes out between two blocks.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a `count` of `Some(0)` (`count must be a positive
    /// integer (got 0)`; `None` sends to the end); [`Error::InvalidState`] if the transport
    /// is closing, after `write_eof`, or during another sendfile on this stream, on either
    /// path (`sendfile is already in progress`: the running one goes on); [`Error::Io`] if sending or
    /// reading the file fails, or the connection is closed or lost on the way (a
    /// close stops it before the next block or `sendfile(2)` call; what was sent stays
    /// counted in the file's position).
    ///
    /// # Cancel safety
    /// Dropping the future stops sending: what was sent stays sent, the file's position says
    /// how far, and the stream is writable again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// asyncio::run(async {
    ///     let mut file = tempfile_with(b"a file's worth of bytes")?;
    ///     let server = asyncio::start_server(
    ///         |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| async move {
    ///             let all = reader.read(-1).await?; // to EOF
    ///             writer.write(&all)?;
    ///             writer.close();
    ///             Ok::<_, asyncio::Error>(())
    ///         },
    ///         "127.0.0.1",
    ///         0,
    ///     )
    ///     .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     let sent = writer.sendfile(&file, 0, None).await?; // the kernel copies it
    ///     writer.write_eof()?;
    ///     assert_eq!(sent, 23);
    ///     assert_eq!(reader.read(-1).await?, b"a file's worth of bytes");
    ///     file.write_all(b"!")?; // the position is after what was sent
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    ///
    /// fn tempfile_with(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    ///     let path = std::env::temp_dir().join(format!("sendfile-doc-{}", std::process::id()));
    ///     let mut f = std::fs::OpenOptions::new()
    ///         .read(true)
    ///         .write(true)
    ///         .create(true)
    ///         .truncate(true)
    ///         .open(&path)?;
    ///     std::fs::remove_file(&path)?;
    ///     f.write_all(bytes)?;
    ///     Ok(f)
    /// }
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn sendfile(
        &self,
        file: &File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64, Error> {
        if self.transport().is_closing() {
            return Err(Error::invalid_state("Transport is closing"));
        }
        if FallbackMark::is_set(self.transport()) {
            // CPython refuses only a second sendfile during a native one (a KeyError from
            // `_sendfile_native`'s `del self._transports[fd]`, before its `_make_empty_waiter`
            // is reached); during a fallback it runs both, their blocks interleaved.
            return Err(crate::transport::socket::sendfile_in_progress());
        }
        // Differs from CPython: its text-mode file and negative offset errors cannot happen (a
        // `File` is bytes, the offset a `u64`); and a transport with no `_sendfile_compatible`
        // (a write pipe) raises RuntimeError there, where here it takes the fallback.
        // CPython's `_check_sendfile_params` refuses a count of 0 (its native path does; its
        // TLS fallback reads 0 as "to the end"): refused on every path here, `None` says that.
        if count == Some(0) {
            return Err(Error::invalid_argument(
                "count must be a positive integer (got 0)",
            ));
        }
        let progress = FilePosition {
            file,
            offset,
            sent: Cell::new(0),
        };
        let native = match self.transport().as_socket() {
            Some(sock) => native(sock, &progress, count, &|| self.touch_activity()).await,
            None => Err(SendfileError::Unavailable),
        };
        match native {
            Ok(()) => {}
            Err(SendfileError::Unavailable) => self.fallback(&progress, count).await?,
            Err(SendfileError::Failed(e)) => return Err(e),
        }
        Ok(progress.sent.get())
    }

    /// Reads and writes blocks (CPython's `_sendfile_fallback`), reading paused meanwhile
    /// (its `_SendfileFallbackProtocol`).
    async fn fallback(&self, progress: &FilePosition<'_>, count: Option<u64>) -> Result<(), Error> {
        // As CPython's fallback: reading is paused for the duration and resumed after only if
        // it was on, so a reader paused for its limit (S14) stays paused. A reader that
        // resumes meanwhile (it consumed its buffer) resumes the transport itself, as in
        // CPython, and stays resumed.
        let transport = self.transport();
        let _mark = FallbackMark::set(transport);
        let _resume = ResumeReading {
            transport,
            was_reading: transport.is_reading(),
        };
        transport.pause_reading();
        // A second descriptor of the same open file, to read on a thread. At `offset`, as the
        // native path sends, 0 included (CPython's fallback seeks only for a non-zero offset,
        // and so reads from wherever the file stands); a pipe cannot seek, and is read from
        // where it is when asked from 0.
        let mut reader = progress.file.try_clone()?;
        let seekable = match reader.seek(SeekFrom::Start(progress.offset)) {
            Err(e) if progress.offset == 0 && e.raw_os_error() == Some(libc::ESPIPE) => false,
            r => r.map(|_| true)?,
        };
        let mut buf = vec![0u8; FALLBACK_BLOCK];
        loop {
            let want = match count {
                Some(c) => {
                    let left = c.saturating_sub(progress.sent.get());
                    usize::try_from(left).map_or(FALLBACK_BLOCK, |l| l.min(FALLBACK_BLOCK))
                }
                None => FALLBACK_BLOCK,
            };
            if want == 0 {
                return Ok(());
            }
            // A file is read at its offset (`pread`), leaving the shared position alone: a
            // read already running when this future is dropped runs on (a queued one is
            // skipped), and must not move the position `FilePosition` sets.
            let at = progress.offset.saturating_add(progress.sent.get());
            let (read, back, block) = crate::to_thread(move || {
                let read = if seekable {
                    reader.read_at(&mut buf[..want], at)
                } else {
                    reader.read(&mut buf[..want])
                };
                (read, reader, buf)
            })
            .await?;
            (reader, buf) = (back, block);
            let n = read?;
            if n == 0 {
                return Ok(()); // the file's end
            }
            // Closed while the block was read: stop, as CPython's fallback does (its
            // `drain` before each write raises then). A write to a closing transport is
            // dropped without an error (L76), and counting it would put the file's
            // position after bytes nobody sent.
            if self.transport().is_closing() {
                return Err(closed_during_sendfile());
            }
            // Room first, then the block, in CPython's order: a writer already above its
            // high-water mark gets nothing more buffered until it resumes. (The last block
            // is not waited for: it goes out as any write's bytes do.)
            self.drain().await?;
            if self.transport().is_closing() {
                return Err(closed_during_sendfile()); // closed while room was awaited
            }
            self.write(&buf[..n])?;
            progress.sent.set(progress.sent.get() + n as u64);
        }
    }
}

/// The native path: waits for the write buffer to empty, then sends. `touch` records each
/// poll's progress as activity for the idle timeout, as `write` does for what it is handed.
async fn native(
    sock: &SocketTransport,
    progress: &FilePosition<'_>,
    count: Option<u64>,
    touch: &dyn Fn(),
) -> Result<(), SendfileError> {
    let was_reading = sock.begin_sendfile().map_err(SendfileError::Failed)?;
    let _end = EndSendfile { sock, was_reading };
    poll_fn(|cx| sock.poll_flushed(cx))
        .await
        .map_err(SendfileError::Failed)?;
    let mut job = SendJob {
        offset: progress.offset,
        left: count,
        sent: 0,
    };
    let r = poll_fn(|cx| {
        let r = sock.poll_sendfile(cx, progress.file, &mut job);
        if job.sent != progress.sent.get() {
            touch();
        }
        progress.sent.set(job.sent);
        r
    })
    .await;
    r
}

/// Gives the socket's sending side back, however the native path ends (a drop included).
struct EndSendfile<'a> {
    sock: &'a SocketTransport,
    was_reading: bool,
}

impl Drop for EndSendfile<'_> {
    fn drop(&mut self) {
        self.sock.end_sendfile(self.was_reading);
    }
}

/// A fallback sendfile's mark on its transport in [`IN_FALLBACK`], however it ends (a drop
/// included).
struct FallbackMark(usize);

impl FallbackMark {
    fn key(transport: &Transport) -> usize {
        std::rc::Rc::as_ptr(&transport.inner).cast::<()>().addr()
    }

    fn is_set(transport: &Transport) -> bool {
        let key = Self::key(transport);
        IN_FALLBACK.with(|m| m.borrow().contains(&key))
    }

    fn set(transport: &Transport) -> Self {
        let key = Self::key(transport);
        IN_FALLBACK.with(|m| m.borrow_mut().push(key));
        FallbackMark(key)
    }
}

impl Drop for FallbackMark {
    fn drop(&mut self) {
        // `try_with`: a sendfile kept in another thread-local (a loop embedded in one) may be
        // dropped by the thread's end after the list is gone, with nothing left to unmark; a
        // panic there would abort the process.
        let _ = IN_FALLBACK.try_with(|m| {
            let mut m = m.borrow_mut();
            if let Some(i) = m.iter().position(|&k| k == self.0) {
                m.swap_remove(i);
            }
        });
    }
}

/// Resumes reading after a fallback sendfile, however it ends (a drop included), if it was on
/// when the sendfile began and the transport is not closing.
struct ResumeReading<'a> {
    transport: &'a Transport,
    was_reading: bool,
}

impl Drop for ResumeReading<'_> {
    fn drop(&mut self) {
        if self.was_reading && !self.transport.is_closing() {
            self.transport.resume_reading();
        }
    }
}

/// The file, where the send started, and how far it got: on drop (the end, a failure or a
/// cancellation) the file's position moves after the last byte sent, as CPython leaves it.
struct FilePosition<'a> {
    file: &'a File,
    offset: u64,
    sent: Cell<u64>,
}

impl Drop for FilePosition<'_> {
    fn drop(&mut self) {
        let sent = self.sent.get();
        if sent > 0 {
            // A file without a position (a pipe) has nothing to move.
            let _ = (&*self.file).seek(SeekFrom::Start(self.offset.saturating_add(sent)));
        }
    }
}
