//! The crate's one error type, `Error`, and the `Cancelled` marker.
//!
//! Mirrors CPython `Lib/asyncio/exceptions.py` (`IncompleteReadError`, `LimitOverrunError`,
//! `TimeoutError`, `CancelledError`) together with the built-in exceptions asyncio raises
//! (`OSError`, `ValueError`, `RuntimeError`, `NotImplementedError`). The mapping is the one in
//! `asyncio-semantics.md`, "How Python maps to Rust here". Display texts keep CPython's wording.

#[cfg(feature = "tls")]
use std::borrow::Cow;
use std::fmt;
use std::io;

/// Every error the crate returns.
///
/// | variant | Python | when |
/// |---|---|---|
/// | [`Error::Io`] | `OSError` and subclasses | a system call failed: refused, reset, broken pipe, address in use … |
/// | [`Error::IncompleteRead`] | `IncompleteReadError` | EOF before `readexactly`/`readuntil` got what it needed |
/// | [`Error::LimitOverrun`] | `LimitOverrunError` | `readuntil` found no separator within the reader's limit |
/// | [`Error::Timeout`] | `TimeoutError` | a [`timeout`](crate::timeout), or a stream's read or drain timeout, expired |
/// | [`Error::Cancelled`] | `CancelledError` | the awaited task was cancelled |
/// | [`Error::InvalidArgument`] | `ValueError`, `TypeError` | an argument out of range (a bad limit, water marks, an empty separator) |
/// | [`Error::InvalidState`] | `RuntimeError` | a call in the wrong state: the loop is closed or already running, two readers wait at once |
/// | [`Error::KeyboardInterrupt`] | `KeyboardInterrupt` | a SIGINT (Ctrl-C) cancelled the main future of [`run`](crate::run) |
/// | [`Error::Unsupported`] | `NotImplementedError` | the transport cannot do it (`write_eof` over TLS) |
/// | [`Error::Panic`] | an exception raised by the function | a closure given to [`run_in_executor`](crate::run_in_executor) panicked, or a task of a [`TaskGroup`](crate::TaskGroup) did |
/// | [`Error::Group`] | `ExceptionGroup` (`BaseExceptionGroup`) | the tasks of a [`TaskGroup`](crate::TaskGroup) failed: every failure, in the order they happened |
/// | `Error::Tls` (feature `tls`) | `ssl.SSLError` | a TLS handshake, certificate, record or truncation failure |
///
/// `From<Error> for io::Error` keeps the [`io::ErrorKind`] of an `Io` error and picks a fitting
/// kind for the others, so `?` works in functions returning `io::Result`. The crate's message
/// (an address, a path) goes along; the OS error number does not always (see that impl): read
/// [`Error::raw_os_error`] before `?` when a program tests it.
///
/// # What you can get, and when
///
/// | you get | from | when |
/// |---|---|---|
/// | `Io`, kind `ConnectionRefused` (`[Errno 111] Connect call failed 127.0.0.1:1`, `raw_os_error()` 111) | `open_connection`, `create_connection` | nothing listens there (every address failed: `Multiple exceptions: …` when they differ) |
/// | `Io`, kind `NotFound` | `open_unix_connection`, name resolution | no such socket file (`[Errno 2] No such file or directory: '<path>'`); a host name that does not resolve (`[Errno -2] Name or service not known (resolving HOST:PORT)`, the resolver's `gaierror` text; `raw_os_error()` is the resolver's code, as Python's `gaierror.errno`) |
/// | `Io`, kind `TimedOut` (`[Errno -3] Temporary failure in name resolution (resolving HOST:PORT)`) | name resolution | no name server answered (in time): may succeed later |
/// | `Io`, kind `AddrInUse` (`[Errno 98] error while attempting to bind on address …`) | `start_server`, `create_server`, `local_addr` | the address is taken (Unix: `Address '<path>' is already in use`) |
/// | `Io`, kind `ConnectionReset` or `BrokenPipe` | reads, `drain`, `wait_closed` | the peer reset the connection; every later read repeats it |
/// | `Io`, kind `ConnectionReset` (`Connection lost`) | `drain` | after the connection is gone |
/// | `Io`, kind `ConnectionAborted` | `open_connection(..).ssl(..)`, `start_tls`; after a `start_tls` that timed out, every read, `drain` and `wait_closed` of that stream | the TLS handshake timed out (`ssl_handshake_timeout`) or this side's connection was closed during it (a peer that closes during it gives kind `ConnectionReset`, `the peer closed the connection during the TLS handshake`: often a server that does not speak TLS on that port) |
/// | `Io`, message `Event loop is closed (the loop this connection was made on: …)` | stream reads and `wait_closed` | the connection's loop was closed under it: the stream outlived the [`run`](crate::run) that opened it |
/// | `IncompleteRead` | `readexactly`, `readuntil` | EOF came first; `partial` holds what there was |
/// | `LimitOverrun` | `readuntil`, `readuntil_any`, `readline` | no separator within the limit; `readuntil` leaves the buffer intact, `readline` discards the offending bytes |
/// | `Timeout` | [`timeout`](crate::timeout), `ConcurrentFuture::result`; stream reads and `drain` with a read or drain timeout set (`StreamReader::set_read_timeout`, `StreamWriter::set_drain_timeout`) | the deadline passed first; a stream read or drain that timed out took nothing and the stream stays usable |
/// | `Io`, kind `TimedOut` (`idle timeout: no bytes in either direction for …`) | stream reads, `drain`, `wait_closed` | the stream's idle timeout (`StreamWriter::set_idle_timeout`) closed the connection; every later call repeats it |
/// | `Cancelled` | `ConcurrentFuture`, `From<Cancelled>` | the work was cancelled |
/// | `InvalidArgument` | builders, `set_write_buffer_limits`, `readuntil`, [`BoundedSemaphore::release`](crate::BoundedSemaphore::release), `task_done` on the queues | a bad limit (`Limit cannot be <= 0`), water marks (`high (H) must be >= low (L) must be >= 0`), an empty separator, `host/port and sock …`, `server_hostname is only meaningful with ssl`, a bad fd |
/// | `InvalidState` | loop, tasks, reader, writer | `Event loop is closed`, `This event loop is already running`, `Cannot run the event loop while another loop is running`, `no running event loop`, `Event loop stopped before Future completed.`, `… called while another coroutine is already waiting for incoming data`, `Cannot call write() after write_eof()`, `unable to write; sendfile is in progress`, `start_tls` on a closing transport, `set_protocol()` while the current protocol is borrowed (the text says by whom and what to do); [`Lock::release`](crate::Lock::release) of an unlocked lock (`Lock is not acquired.`), [`Condition::notify`](crate::Condition::notify) without the lock (`cannot notify on un-acquired lock`), a [`Barrier`](crate::Barrier) wait that failed (`BrokenBarrierError`, converted) |
/// | `Unsupported` | `write_eof` over TLS | TLS cannot half-close |
/// | `Tls` | TLS handshakes and `start_tls`; stream reads, `drain` and `wait_closed` over TLS, and on a stream whose `start_tls` failed (every waiter gets the failure, none waits forever) | certificate refused (unknown CA, wrong name, expired, a CA used as a leaf, a trusted certificate of the issuer's name with another key or a peer whose key is not its certificate's: the text says what is wrong and what to do, rustls' error is the `source()`), protocol error, an alert (e.g. the server's `certificate_required` to a client without a certificate, which may arrive after the client's handshake is done), a peer's close_notify during the handshake (`TLS/SSL connection has been closed (EOF): …`), a corrupted record after the handshake, truncation when `ssl_require_close_notify(true)` |
///
/// Every `Io` error that came from a system call keeps its OS error number: ask
/// [`Error::raw_os_error`] (Python's `OSError.errno`). It also sees through the messages the
/// crate writes with the call's context (`[Errno 111] Connect call failed 127.0.0.1:1`,
/// `[Errno 98] error while attempting to bind on address 127.0.0.1:8888: address already in use`,
/// `[Errno 2] No such file or directory: '/tmp/app.sock'`), which `io::Error::raw_os_error`
/// alone does not, and it holds when one failure reaches several waiters: each read after a
/// reset, `drain` and `wait_closed` get `ECONNRESET` (104 on Linux) with its kind.
///
/// # Examples
///
/// ```
/// use asyncio::{Error, StreamReader};
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"abc");
///     reader.feed_eof();
///     match reader.readexactly(5).await {
///         Err(Error::IncompleteRead { partial, expected }) => {
///             assert_eq!((partial.as_slice(), expected), (&b"abc"[..], Some(5)));
///         }
///         other => panic!("expected IncompleteRead, got {other:?}"),
///     }
///     // Every error converts to std::io::Error, keeping its kind.
///     let io: std::io::Error = Error::Timeout.into();
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// })
/// .unwrap();
/// ```
// Checklist: S19, S50, S51, S28.
#[non_exhaustive]
pub enum Error {
    /// An operating-system error, kind preserved (`OSError`).
    Io(io::Error),
    /// EOF arrived before the expected number of bytes (`IncompleteReadError`).
    IncompleteRead {
        /// The bytes read before EOF; they are no longer in the reader's buffer.
        partial: Vec<u8>,
        /// How many bytes were expected; `None` for `readuntil` (undefined).
        expected: Option<usize>,
    },
    /// A separator was not found within the limit (`LimitOverrunError`). After `readuntil` the
    /// buffer is intact; `readline` discards the offending bytes first.
    // Checklist: S28.
    LimitOverrun {
        /// CPython's message text.
        message: &'static str,
        /// How many bytes are known not to start a separator (or where the separator starts).
        consumed: usize,
    },
    /// A deadline passed (`TimeoutError`).
    Timeout,
    /// The awaited work was cancelled (`CancelledError`).
    Cancelled,
    /// An argument was out of range (`ValueError` / `TypeError`).
    InvalidArgument(String),
    /// A call made in the wrong state (`RuntimeError`).
    InvalidState(String),
    /// The operation is not supported here (`NotImplementedError`).
    Unsupported(String),
    /// A SIGINT (Ctrl-C) cancelled the main future of [`run`](crate::run) (`KeyboardInterrupt`).
    /// A program usually exits with status 130 on it.
    KeyboardInterrupt,
    /// Code run for us panicked (an exception escaping a function): a closure given to
    /// [`run_in_executor`](crate::run_in_executor), or a task of a
    /// [`TaskGroup`](crate::TaskGroup).
    Panic(crate::event_loop::exception::PanicError),
    /// Several failures reported together (`ExceptionGroup`): those of a
    /// [`TaskGroup`](crate::TaskGroup)'s tasks and body, in the order they happened. Never empty.
    Group(Vec<Error>),
    /// A TLS failure (`ssl.SSLError`): handshake, certificate verification, a bad record, an
    /// alert from the peer, or a truncation the connection asked to see.
    // Checklist: D9.
    #[cfg(feature = "tls")]
    Tls(TlsError),
}

// The constructors below are cold and out of line: they sit on error paths only, and inlined
// they would copy a `String` allocation into every caller.
impl Error {
    #[cold]
    #[inline(never)]
    pub(crate) fn invalid_argument(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn invalid_state(msg: impl Into<String>) -> Self {
        Error::InvalidState(msg.into())
    }

    /// The loop-closed error every scheduling call gives after `close()` (L16).
    #[cold]
    #[inline(never)]
    pub(crate) fn loop_closed() -> Self {
        Error::InvalidState("Event loop is closed".into())
    }

    /// The [`io::ErrorKind`] this error converts to.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// assert_eq!(asyncio::Error::Timeout.kind(), ErrorKind::TimedOut);
    /// let e = asyncio::Error::InvalidArgument("Limit cannot be <= 0".into());
    /// assert_eq!(e.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Io(e) => e.kind(),
            Error::IncompleteRead { .. } => io::ErrorKind::UnexpectedEof,
            Error::LimitOverrun { .. } => io::ErrorKind::InvalidData,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::Cancelled => io::ErrorKind::Interrupted,
            Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            Error::InvalidState(_) => io::ErrorKind::Other,
            Error::Unsupported(_) => io::ErrorKind::Unsupported,
            Error::KeyboardInterrupt => io::ErrorKind::Interrupted,
            Error::Panic(_) | Error::Group(_) => io::ErrorKind::Other,
            #[cfg(feature = "tls")]
            Error::Tls(_) => io::ErrorKind::InvalidData,
        }
    }
}

/// The `io::Error` a transport's `connection_lost` gets when the loop closes under it:
/// [`Error::loop_closed`]'s text, then why a stream meets it. Cold and out of line, as the
/// constructors above: inlined, the boxed message was built at each of seven sites (1.8 KiB
/// of the echo client).
#[cold]
#[inline(never)]
pub(crate) fn loop_closed_io() -> io::Error {
    io::Error::other(LOOP_CLOSED_IO)
}

/// [`Error::loop_closed`]'s text alone, as the `io::Error` of a registry call on a closed
/// loop: a server, connection or pipe being set up through a handle kept past the loop's
/// close, where no connection was made yet for [`loop_closed_io`]'s text to speak of; and
/// what a datagram endpoint's `connection_lost` gets when the loop closes under it (no stream).
#[cold]
#[inline(never)]
pub(crate) fn loop_closed_registry() -> io::Error {
    io::Error::other("Event loop is closed")
}

/// Python's `Event loop is closed`, then why a connection meets it: CPython cannot even await
/// a stream of a closed loop (its future belongs to another loop), so its text never says; a
/// newcomer here has usually kept a stream past the `asyncio::run` that opened it, or left a
/// protocol's connection open when the run ended (its `connection_lost` gets this text).
const LOOP_CLOSED_IO: &str = "Event loop is closed (the loop this connection was made on: \
     asyncio::run closes its loop as it returns, and with it every connection still open; keep \
     the work inside the run, or use a Runner for several runs on one loop)";

// Written out, with the derive's exact output: a derived `fmt` is `#[inline]`, so every codegen
// unit that prints an `Error` (a `Box<dyn Error>` returned from `main`, an `unwrap`) carried its
// own copy of it and of the variant names. This one is compiled once.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => f.debug_tuple("Io").field(e).finish(),
            Error::IncompleteRead { partial, expected } => f
                .debug_struct("IncompleteRead")
                .field("partial", partial)
                .field("expected", expected)
                .finish(),
            Error::LimitOverrun { message, consumed } => f
                .debug_struct("LimitOverrun")
                .field("message", message)
                .field("consumed", consumed)
                .finish(),
            Error::Timeout => f.write_str("Timeout"),
            Error::Cancelled => f.write_str("Cancelled"),
            Error::InvalidArgument(m) => f.debug_tuple("InvalidArgument").field(m).finish(),
            Error::InvalidState(m) => f.debug_tuple("InvalidState").field(m).finish(),
            Error::Unsupported(m) => f.debug_tuple("Unsupported").field(m).finish(),
            Error::KeyboardInterrupt => f.write_str("KeyboardInterrupt"),
            Error::Panic(p) => f.debug_tuple("Panic").field(p).finish(),
            Error::Group(errors) => f.debug_tuple("Group").field(errors).finish(),
            #[cfg(feature = "tls")]
            Error::Tls(e) => f.debug_tuple("Tls").field(e).finish(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A bare OS error as Python shows an OSError: `[Errno 24] Too many open files`
            // (std's own text would be `Too many open files (os error 24)`).
            Error::Io(e) => fmt_io(e, f),
            Error::IncompleteRead { partial, expected } => match expected {
                Some(n) => write!(
                    f,
                    "{} bytes read on a total of {n} expected bytes",
                    partial.len()
                ),
                None => write!(
                    f,
                    "{} bytes read on a total of undefined expected bytes",
                    partial.len()
                ),
            },
            Error::LimitOverrun { message, .. } => f.write_str(message),
            Error::Timeout => f.write_str("timed out"),
            Error::Cancelled => f.write_str("cancelled"),
            Error::KeyboardInterrupt => f.write_str("interrupted by SIGINT"),
            Error::Panic(p) => p.fmt(f),
            Error::Group(errors) => {
                // Python's `unhandled errors in a TaskGroup (N sub-exceptions)`, then each one.
                let n = errors.len();
                let plural = if n == 1 { "" } else { "s" };
                write!(
                    f,
                    "unhandled errors in a TaskGroup ({n} sub-exception{plural})"
                )?;
                for e in errors {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            Error::InvalidArgument(m) | Error::InvalidState(m) | Error::Unsupported(m) => {
                f.write_str(m)
            }
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.fmt(f),
        }
    }
}

/// The chain never repeats a text: `Io` and `Tls` display their payload, so their source is
/// what lies *under* it (for `Io`, the cause inside a custom `io::Error`), not the payload
/// again; `anyhow`'s `{:#}` then prints each text once.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => e.source(),
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.source(),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Whether an error value of any type is a cancellation passed on with `?`: [`Cancelled`] or
/// [`Error::Cancelled`], also boxed as `Box<dyn Error>` (`+ Send + Sync`) or wrapped in an
/// `io::Error`, the error types `?` turns them into in application code. (Python's task ends
/// cancelled when `CancelledError` escapes it, L32; here the error type is known only at run
/// time.)
pub(crate) fn is_cancellation<E: 'static>(e: &E) -> bool {
    let e = e as &dyn std::any::Any;
    if let Some(b) = e.downcast_ref::<Box<dyn std::error::Error>>() {
        return is_cancellation_dyn(&**b);
    }
    if let Some(b) = e.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
        return is_cancellation_dyn(&**b);
    }
    if let Some(io) = e.downcast_ref::<io::Error>() {
        return io_is_cancellation(io);
    }
    e.is::<Cancelled>()
        || e.downcast_ref::<Error>()
            .is_some_and(Error::is_cancellation)
}

fn is_cancellation_dyn(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<Cancelled>()
        || e.downcast_ref::<Error>()
            .is_some_and(Error::is_cancellation)
}

/// An `io::Error` made from [`Error::Cancelled`] (`?` in a function returning `io::Result`).
fn io_is_cancellation(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| is_cancellation_dyn(inner as &(dyn std::error::Error + 'static)))
}

impl Error {
    /// [`Error::Cancelled`], or an `Io` error made from one: a cancellation passed on (L32).
    pub(crate) fn is_cancellation(&self) -> bool {
        match self {
            Error::Cancelled => true,
            Error::Io(e) => io_is_cancellation(e),
            _ => false,
        }
    }
}

impl From<Cancelled> for Error {
    fn from(_: Cancelled) -> Self {
        Error::Cancelled
    }
}

impl From<crate::event_loop::exception::PanicError> for Error {
    fn from(p: crate::event_loop::exception::PanicError) -> Self {
        Error::Panic(p)
    }
}

/// An `Io` error passes as it is. One the crate gave a message of its own (the address of a
/// refused connect, the path of a Unix socket) keeps that message and its kind, but std's
/// `raw_os_error()` is `None` on it: an `io::Error` carries an OS error number or a message,
/// never both, and the message is what tells a reader which connection failed. Take the
/// number from [`Error::raw_os_error`] before `?` when a program needs it. Any other variant
/// travels inside an `io::Error` of its [`Error::kind`].
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            other => io::Error::new(other.kind(), other),
        }
    }
}

impl Error {
    /// A fresh copy of this error for another recipient, keeping what a caller may match on:
    /// the variant, the `io::ErrorKind`, the OS error number (`raw_os_error`) and the text.
    /// A TLS error carried inside an `io::Error` (as protocols receive it) comes back as
    /// `Error::Tls`.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(e) => duplicate_io(e),
            Error::IncompleteRead { partial, expected } => Error::IncompleteRead {
                partial: partial.clone(),
                expected: *expected,
            },
            Error::LimitOverrun { message, consumed } => Error::LimitOverrun {
                message,
                consumed: *consumed,
            },
            Error::Timeout => Error::Timeout,
            Error::Cancelled => Error::Cancelled,
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::InvalidState(m) => Error::InvalidState(m.clone()),
            Error::Unsupported(m) => Error::Unsupported(m.clone()),
            Error::KeyboardInterrupt => Error::KeyboardInterrupt,
            Error::Panic(p) => Error::Panic(p.clone()),
            Error::Group(errors) => Error::Group(errors.iter().map(Error::duplicate).collect()),
            #[cfg(feature = "tls")]
            Error::Tls(t) => Error::Tls(t.clone()),
        }
    }
}

impl Error {
    /// The OS error number behind this error, if a system call failed (Python's
    /// `OSError.errno`): for an `Io` error straight from the OS, and for one the crate gave a
    /// message of its own with the call's context (`[Errno 111] Connect call failed
    /// 127.0.0.1:1`, a bind error naming its address, a Unix path in use). A failed name
    /// lookup gives the resolver's `EAI_*` code instead (Python's `gaierror.errno`; negative
    /// with glibc), which is no errno.
    ///
    /// # Examples
    ///
    /// ```
    /// // A port nobody listens on: bind one, then let it go.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let e = asyncio::open_connection("127.0.0.1", port).await.unwrap_err();
    ///     assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    ///     assert_eq!(e.raw_os_error(), Some(111)); // ECONNREFUSED on Linux
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io(e) => errno(e),
            _ => None,
        }
    }
}

/// A failed system call with the crate's own message (CPython's texts, naming the address or
/// path), keeping the errno: the payload of an `Io` error made by [`OsError::io`]. Shown as
/// Python shows an `OSError(errno, message)`, the errno first.
/// [`Error::raw_os_error`] sees through it.
#[derive(Clone)]
pub(crate) struct OsError {
    code: i32,
    message: String,
    /// Shown as `[Errno N] message` (Python's `OSError(errno, message)`); false for a message
    /// that names its errors' numbers itself (`Multiple exceptions: [Errno 111] …, …`).
    shown: bool,
}

impl OsError {
    /// An `io::Error` of `e`'s kind with `message`, keeping `e`'s errno if it has one, also
    /// when `e` is itself one of ours (else a plain `io::Error` with the message).
    pub(crate) fn io(e: &io::Error, message: String) -> io::Error {
        match errno(e) {
            Some(code) => io::Error::new(
                e.kind(),
                OsError {
                    code,
                    message,
                    shown: true,
                },
            ),
            None => io::Error::new(e.kind(), message),
        }
    }
}

impl OsError {
    /// An `io::Error` of `kind` with the number `code` and `message`, for a code that is not
    /// an errno: a resolver's `EAI_*` (Python's `gaierror.errno`).
    pub(crate) fn with_code(kind: io::ErrorKind, code: i32, message: String) -> io::Error {
        io::Error::new(
            kind,
            OsError {
                code,
                message,
                shown: true,
            },
        )
    }

    /// An `io::Error` of `kind` that keeps the errno `code` every one of several failures
    /// shared, shown as `message` alone: CPython's `Multiple exceptions: …` text, which names
    /// each failure's number already (CPython's own carries no errno).
    pub(crate) fn shared(kind: io::ErrorKind, code: i32, message: String) -> io::Error {
        io::Error::new(
            kind,
            OsError {
                code,
                message,
                shown: false,
            },
        )
    }
}

/// `e`'s error number, also when it was rewrapped with a message of ours ([`OsError`]): an
/// errno, or a resolver's `EAI_*` code ([`OsError::with_code`]).
pub(crate) fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|i| i.downcast_ref::<OsError>())
            .map(|o| o.code)
    })
}

/// `x.to_string()`, compiled once for the cold paths that describe an error or a context: a
/// `to_string` in a codegen unit brings that unit its own copy of `String`'s formatting glue
/// (about 450 B each).
#[cold]
#[inline(never)]
pub(crate) fn text_of(x: &dyn fmt::Display) -> String {
    x.to_string()
}

/// The OS's text for `e` without std's ` (os error N)` suffix (Python's `strerror`); `e`'s own
/// text when it carries no errno.
pub(crate) fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let mut text = io::Error::from_raw_os_error(code).to_string();
            // A search for one byte, not for the substring: the substring searcher's code
            // would be linked here for this one cold call (1.2 KiB).
            if let Some(i) = text.rfind('(') {
                if text[i..].starts_with("(os error") && text[..i].ends_with(' ') {
                    text.truncate(i - 1);
                }
            }
            text
        }
        None => e.to_string(),
    }
}

/// As Python's `str(OSError(errno, message))`: `[Errno 98] error while attempting to bind …`.
impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.shown {
            return f.write_str(&self.message);
        }
        write!(f, "[Errno {}] {}", self.code, self.message)
    }
}

impl std::error::Error for OsError {}

/// The errno and the message, as std's `Os { code, .. }`: what `fn main() -> Result<(),
/// asyncio::Error>` prints for a failed connect. The derive also printed `shown`, a
/// formatting switch that means nothing to the reader.
impl fmt::Debug for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Os")
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}

/// An `io::Error` as Python shows an `OSError`: a bare OS error as `[Errno 24] Too many open
/// files` (std's own text would be `Too many open files (os error 24)`), any other as itself.
pub(crate) fn fmt_io(e: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e.raw_os_error() {
        Some(code) => write!(f, "[Errno {code}] {}", strerror(e)),
        None => fmt::Display::fmt(e, f),
    }
}

/// [`fmt_io`] as a value for `format!`: `"{}", OsText(&e)`.
pub(crate) struct OsText<'a>(pub(crate) &'a io::Error);

impl fmt::Display for OsText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_io(self.0, f)
    }
}

/// `e` again, for a second owner (an `io::Error` cannot be cloned: a report to the exception
/// handler while the transport keeps the original, say): errno kept, a wrapped crate `Error`
/// or `OsError` copied, anything else as its kind and text.
pub(crate) fn copy_io(e: &io::Error) -> io::Error {
    match duplicate_io(e) {
        Error::Io(copy) => copy,
        other => io::Error::new(e.kind(), other),
    }
}

/// [`Error::duplicate`] for an `io::Error`: errno kept, a wrapped crate `Error` unwrapped.
fn duplicate_io(e: &io::Error) -> Error {
    if let Some(code) = e.raw_os_error() {
        return Error::Io(io::Error::from_raw_os_error(code));
    }
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        match inner {
            Error::Io(_) => {}
            other => return other.duplicate(),
        }
    }
    if let Some(os) = e.get_ref().and_then(|i| i.downcast_ref::<OsError>()) {
        return Error::Io(io::Error::new(e.kind(), os.clone()));
    }
    Error::Io(io::Error::new(e.kind(), e.to_string()))
}

/// One failure handed to several waiters: every read after a reset (S19), `drain` and
/// `wait_closed` after the loss (S46, S66). Cloning is a reference-count bump; [`get`]
/// (SharedError::get) makes each waiter its own [`Error`] with the same variant, kind, errno
/// and text.
#[derive(Clone, Debug)]
pub(crate) struct SharedError(std::rc::Rc<Error>);

impl SharedError {
    pub(crate) fn new(e: Error) -> Self {
        SharedError(std::rc::Rc::new(e))
    }

    /// Keeps an `io::Error` as a protocol's `connection_lost` got it.
    pub(crate) fn from_io(e: &io::Error) -> Self {
        Self::new(duplicate_io(e))
    }

    /// A fresh `Error` for one waiter.
    #[cold]
    #[inline(never)]
    pub(crate) fn get(&self) -> Error {
        self.0.duplicate()
    }
}

/// A TLS failure, the payload of `Error::Tls` (Python's `ssl.SSLError`; `is_certificate_error`
/// marks `ssl.SSLCertVerificationError`, `is_truncation` marks `ssl.SSLEOFError`).
///
/// Display says what is wrong and what to do for the failures a connection can meet (a
/// refused certificate or handshake, a record that does not decrypt), opening with OpenSSL's
/// words as Python's `ssl.SSLError` prints them (`certificate verify failed`, `no shared
/// cipher`); `source()` is then rustls' own error. Other errors are rustls' own message.
/// Clone is cheap enough to hand the same failure to the handshake waiter and to the
/// protocol's `connection_lost`.
///
/// # Examples
///
/// ```
/// use asyncio::tls::rustls;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert = made.cert.der().clone();
/// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
/// # let server_config = rustls::ServerConfig::builder()
/// #     .with_no_client_auth()
/// #     .with_single_cert(vec![cert], key.into())
/// #     .unwrap();
/// // A client that trusts nothing meets a server with a self-signed certificate.
/// let trusts_nothing = rustls::ClientConfig::builder()
///     .with_root_certificates(rustls::RootCertStore::empty())
///     .with_no_client_auth();
///
/// asyncio::run(async move {
///     let noop = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| {};
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let r = asyncio::open_connection("127.0.0.1", port)
///         .ssl(trusts_nothing)
///         .server_hostname("localhost")
///         .await;
///     match r {
///         Err(asyncio::Error::Tls(e)) => {
///             assert!(e.is_certificate_error(), "{e}");
///             // rustls' own error, for the details.
///             assert!(matches!(e.rustls_error(), Some(rustls::Error::InvalidCertificate(_))));
///         }
///         other => panic!("expected a certificate error, got {:?}", other.err()),
///     }
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct TlsError {
    message: String,
    /// Behind a pointer: a rustls error is 40+ bytes, and every `Result<_, Error>` of the crate
    /// would carry them (an `Error` is 48 bytes with it boxed, 88 without). An `Arc` rather than
    /// a `Box`: dropping one is a decrement and an out-of-line call, where a `Box` inlines the
    /// whole drop of `rustls::Error` into every copy of `Error`'s drop glue (one per codegen
    /// unit; 12 KiB in a TLS client). Never mutated, so sharing it between clones is invisible.
    cause: std::sync::Arc<TlsCause>,
}

#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
enum TlsCause {
    Rustls(rustls::Error),
    /// The peer ended the TCP stream without close_notify and the connection asked to see it.
    Truncated,
    /// A certificate refused for a stand-in name (`config::client_setup`), told for the name
    /// the user gave.
    NameRefused(NameRefused),
}

/// rustls' refusal of a certificate for a stand-in name (the placeholder `NO_NAME`, checked
/// for a `server_hostname` rustls cannot match as written), with the user's name in its
/// place: the placeholder is ours, and no error text shows it.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
struct NameRefused {
    /// `InvalidCertificate(NotValidForName)`: rustls' variant for a name mismatch without the
    /// placeholder in its context.
    error: rustls::Error,
    /// The refusal in words naming the user's name: rustls' text for `error`, then the names
    /// the certificate is for, as WebPKI lists them.
    words: String,
}

#[cfg(feature = "tls")]
impl fmt::Display for NameRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words)
    }
}

#[cfg(feature = "tls")]
impl std::error::Error for NameRefused {}

#[cfg(feature = "tls")]
use crate::tls::words::{plain_words, wrong_name_words};

#[cfg(feature = "tls")]
impl TlsError {
    pub(crate) fn from_rustls(e: rustls::Error) -> Self {
        TlsError {
            message: plain_words(&e).map_or_else(|| e.to_string(), Cow::into_owned),
            cause: std::sync::Arc::new(TlsCause::Rustls(e)),
        }
    }

    /// This error as seen by a client that checked a stand-in name in place of `host`, a
    /// name rustls cannot match as given (`config::client_setup`): a refusal for the name
    /// names `host`, the one the user gave.
    pub(crate) fn for_name(mut self, host: &str) -> Self {
        if let TlsCause::Rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext { presented, .. },
        )) = &*self.cause
        {
            self.message = format!(
                "{}; a name is matched as written: without brackets or a final dot, an IPv4 \
                 address as four decimal numbers",
                wrong_name_words(host, presented)
            );
            let error =
                rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
            // Built from the error's fields, not by editing rustls' sentence (which names the
            // stand-in): an edit would silently stop matching if rustls reworded it.
            let names = if presented.is_empty() {
                "none (it has no subjectAltName)".to_string()
            } else {
                presented.join(", ")
            };
            let words = format!("{error}: {host:?} is not among the certificate's names: {names}");
            self.cause = std::sync::Arc::new(TlsCause::NameRefused(NameRefused { error, words }));
        }
        self
    }

    pub(crate) fn truncated() -> Self {
        TlsError {
            message: "EOF occurred in violation of protocol: the peer closed the connection \
                      without sending close_notify"
                .into(),
            cause: std::sync::Arc::new(TlsCause::Truncated),
        }
    }

    /// The rustls error behind this failure, if rustls raised it. A certificate refused for
    /// a `server_hostname` rustls cannot match as written (`127.1`, `localhost.`), which it
    /// checked as a stand-in, is `InvalidCertificate(NotValidForName)`: the names the
    /// certificate is for are in the message.
    ///
    /// # Examples
    ///
    /// A client that trusts the server's certificate (made for `localhost`) but names the
    /// host with a final dot, which rustls does not match:
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
    /// use rustls::{CertificateError::NotValidForName, Error::InvalidCertificate};
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| {};
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let r = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost.")
    ///         .await;
    ///     let Err(asyncio::Error::Tls(e)) = r else { panic!("connected to localhost.") };
    ///     assert_eq!(e.rustls_error(), Some(&InvalidCertificate(NotValidForName)));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match &*self.cause {
            TlsCause::Rustls(e) => Some(e),
            TlsCause::NameRefused(n) => Some(&n.error),
            TlsCause::Truncated => None,
        }
    }

    /// Our verification of the peer's certificate failed (`ssl.SSLCertVerificationError`):
    /// unknown issuer, expired, wrong name, …: a failure to report to whoever configures the
    /// peer's certificate or the trusted roots, not one to retry.
    ///
    /// # Examples
    ///
    /// A client that trusts the server's certificate, made for `localhost`, asks for another
    /// name:
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
    ///     let noop = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| {};
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let r = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("example.com")
    ///         .await;
    ///     let Err(asyncio::Error::Tls(e)) = r else { panic!("connected to example.com") };
    ///     assert!(e.is_certificate_error(), "{e}");
    ///     assert!(!e.is_truncation());
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn is_certificate_error(&self) -> bool {
        matches!(
            &*self.cause,
            TlsCause::Rustls(rustls::Error::InvalidCertificate(_)) | TlsCause::NameRefused(_)
        )
    }

    /// The peer closed the stream without close_notify, on a connection that asked to be told
    /// (`ssl.SSLEOFError`).
    ///
    /// # Examples
    ///
    /// A client that asks to be told meets a server that ends the connection without
    /// close_notify:
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
    ///     // After the handshake, abort: the TCP stream ends with no close_notify.
    ///     let rude = |_r: StreamReader, w: StreamWriter| async move { w.transport().abort() };
    ///     let server = asyncio::start_server(rude, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .ssl_require_close_notify(true) // else this EOF reads as a clean one, b""
    ///         .await?;
    ///     match reader.read(100).await {
    ///         Err(asyncio::Error::Tls(e)) => assert!(e.is_truncation(), "{e}"),
    ///         other => panic!("expected a truncation, got {other:?}"),
    ///     }
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn is_truncation(&self) -> bool {
        matches!(*self.cause, TlsCause::Truncated)
    }
}

#[cfg(feature = "tls")]
impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The source is the rustls error when the message says it in other words (a certificate
/// or handshake refused; for a stand-in name, rustls' words with the user's name); none when
/// the message already is rustls' text, or that text less its prefix (`General`, `Other`),
/// so a chain never repeats itself.
#[cfg(feature = "tls")]
impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.cause {
            // Our own sentence, or a custom verifier's, is the message: no repeat.
            TlsCause::Rustls(rustls::Error::General(g)) if *g == self.message => None,
            TlsCause::Rustls(rustls::Error::Other(_)) => None,
            TlsCause::Rustls(e) if e.to_string() != self.message => Some(e),
            TlsCause::NameRefused(n) => Some(n),
            _ => None,
        }
    }
}

/// The outcome of a cancelled [`Task`](crate::Task): Python's `CancelledError`.
///
/// A task is cancelled by [`Task::cancel`](crate::Task::cancel), by the cancellation of a task
/// awaiting it, or by the loop shutting down in [`run`](crate::run).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let task = asyncio::spawn(asyncio::sleep(std::time::Duration::from_secs(3600)));
///     task.cancel();
///     assert_eq!(task.await, Err(asyncio::Cancelled));
///     // `?` turns it into Error::Cancelled.
///     let e: asyncio::Error = asyncio::Cancelled.into();
///     assert!(matches!(e, asyncio::Error::Cancelled));
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task was cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Shorthand for `Result<T, asyncio::Error>`.
///
/// # Examples
///
/// ```
/// fn parse_limit(n: usize) -> asyncio::Result<asyncio::StreamReader> {
///     asyncio::StreamReader::with_limit(n)
/// }
/// assert!(parse_limit(0).is_err());
/// assert_eq!(parse_limit(16)?.limit(), 16);
/// # Ok::<_, asyncio::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// `Error`'s Debug (and `PanicError`'s, inside `Panic`) is written out to be compiled once;
    /// it prints what `#[derive(Debug)]` printed, variant by variant, in both the plain and the
    /// alternate (`{:#?}`) form.
    #[test]
    fn debug_prints_what_the_derive_printed() {
        let panic = crate::PanicError::from_payload(&"boom");
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::Io(io::ErrorKind::TimedOut.into()),
                "Io(Kind(TimedOut))",
            ),
            (
                Error::IncompleteRead {
                    partial: b"ab".to_vec(),
                    expected: Some(5),
                },
                "IncompleteRead { partial: [97, 98], expected: Some(5) }",
            ),
            (
                Error::LimitOverrun {
                    message: "m",
                    consumed: 3,
                },
                "LimitOverrun { message: \"m\", consumed: 3 }",
            ),
            (Error::Timeout, "Timeout"),
            (Error::Cancelled, "Cancelled"),
            (Error::InvalidArgument("a".into()), "InvalidArgument(\"a\")"),
            (Error::InvalidState("s".into()), "InvalidState(\"s\")"),
            (Error::Unsupported("u".into()), "Unsupported(\"u\")"),
            (Error::KeyboardInterrupt, "KeyboardInterrupt"),
            (
                Error::Panic(panic),
                "Panic(PanicError { message: \"boom\" })",
            ),
            (
                Error::Group(vec![Error::Timeout, Error::Cancelled]),
                "Group([Timeout, Cancelled])",
            ),
        ];
        for (e, want) in &cases {
            assert_eq!(format!("{e:?}"), *want);
        }
        let e = Error::IncompleteRead {
            partial: b"a".to_vec(),
            expected: None,
        };
        assert_eq!(
            format!("{e:#?}"),
            "IncompleteRead {\n    partial: [\n        97,\n    ],\n    expected: None,\n}"
        );
        let e = Error::Group(vec![Error::InvalidState("s".into())]);
        assert_eq!(
            format!("{e:#?}"),
            "Group(\n    [\n        InvalidState(\n            \"s\",\n        ),\n    ],\n)"
        );
        #[cfg(feature = "tls")]
        {
            let tls = TlsError::truncated();
            assert_eq!(
                format!("{:?}", Error::Tls(tls.clone())),
                format!("Tls({tls:?})")
            );
        }
    }

    /// L32: the shapes `?` gives a cancellation in application code are cancellations; other
    /// errors, and an `io::Error` about something else, are not.
    #[test]
    fn l32_a_cancellation_passed_on_in_any_common_error_type() {
        assert!(is_cancellation(&Cancelled));
        assert!(is_cancellation(&Error::Cancelled));
        let boxed: Box<dyn std::error::Error> = Cancelled.into();
        assert!(is_cancellation(&boxed));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Cancelled);
        assert!(is_cancellation(&boxed));
        let io: io::Error = Error::Cancelled.into();
        assert!(is_cancellation(&io));
        assert!(is_cancellation(&Error::Io(io)));
        assert!(!is_cancellation(&Error::Timeout));
        assert!(!is_cancellation(&io::Error::other("cancelled")));
        let boxed: Box<dyn std::error::Error> = "cancelled".into();
        assert!(!is_cancellation(&boxed));
        assert!(!is_cancellation(&String::from("cancelled")));
    }

    /// Python's `strerror`: the OS text without std's ` (os error N)`; a message without an
    /// errno is kept whole, parentheses and all.
    #[test]
    fn strerror_drops_only_the_os_error_suffix() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(strerror(&refused), "Connection refused");
        let plain = io::Error::other("odd (os error 5) text (x)");
        assert_eq!(strerror(&plain), "odd (os error 5) text (x)");
    }

    /// An errno rewrapped with our message stays readable: serve_on_threads' fallback to one
    /// shared listener tests `bind_tcp_listener`'s SO_REUSEPORT failure for ENOPROTOOPT.
    #[test]
    fn errno_survives_an_os_error_rewrap() {
        let os = io::Error::from_raw_os_error(libc::ENOPROTOOPT);
        let wrapped = OsError::io(&os, "reuse_port not supported by socket module".into());
        assert_eq!(
            wrapped.raw_os_error(),
            None,
            "std's own accessor does not see it"
        );
        assert_eq!(errno(&wrapped), Some(libc::ENOPROTOOPT));
        assert_eq!(
            wrapped.to_string(),
            format!(
                "[Errno {}] reuse_port not supported by socket module",
                libc::ENOPROTOOPT
            )
        );
        assert_eq!(errno(&io::Error::other("no errno")), None);
        // Rewrapped again (a bind error turned into "could not bind on any address"): kept.
        let twice = OsError::io(&wrapped, "could not bind on any address out of []".into());
        assert_eq!(errno(&twice), Some(libc::ENOPROTOOPT));
    }

    #[test]
    fn s39_incomplete_read_message() {
        let e = Error::IncompleteRead {
            partial: b"ab".to_vec(),
            expected: Some(5),
        };
        assert_eq!(e.to_string(), "2 bytes read on a total of 5 expected bytes");
        let e = Error::IncompleteRead {
            partial: b"abc".to_vec(),
            expected: None,
        };
        assert_eq!(
            e.to_string(),
            "3 bytes read on a total of undefined expected bytes"
        );
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn shared_errors_keep_errno_kind_text_and_variant() {
        let reset = SharedError::from_io(&io::Error::from_raw_os_error(libc::ECONNRESET));
        for _ in 0..2 {
            match reset.get() {
                Error::Io(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
                    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
                }
                other => panic!("{other:?}"),
            }
        }
        let custom = SharedError::from_io(&io::Error::other("Event loop is closed"));
        assert_eq!(custom.get().to_string(), "Event loop is closed");
        let wrapped: io::Error = Error::Timeout.into();
        assert!(matches!(
            SharedError::from_io(&wrapped).get(),
            Error::Timeout
        ));
    }

    #[test]
    fn os_errors_with_context_keep_their_errno() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let e = Error::Io(OsError::io(
            &refused,
            "Connect call failed 127.0.0.1:1".into(),
        ));
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(e.to_string(), "[Errno 111] Connect call failed 127.0.0.1:1");
        // What `fn main() -> Result<(), asyncio::Error>` prints: errno and message, no field
        // of our formatting (the derive printed `shown: true`).
        assert_eq!(
            format!("{e:?}"),
            "Io(Custom { kind: ConnectionRefused, error: Os { code: 111, \
             message: \"Connect call failed 127.0.0.1:1\" } })"
        );
        let again = e.duplicate();
        assert_eq!(again.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_eq!(again.to_string(), e.to_string());
        assert_eq!(Error::Io(refused).raw_os_error(), Some(libc::ECONNREFUSED));
        // A bare OS error reads as Python's OSError too, errno first.
        let emfile = Error::Io(io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(emfile.to_string(), "[Errno 24] Too many open files");
        let plain = Error::Io(io::Error::other("no errno here"));
        assert_eq!(plain.to_string(), "no errno here");
        assert_eq!(Error::Timeout.raw_os_error(), None);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_refusals_in_plain_words_with_rustls_as_the_source() {
        use crate::tls::words::utc;
        use std::error::Error as _;
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        let e = TlsError::from_rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(e.to_string().contains("unknown issuer"), "{e}");
        assert!(e.source().unwrap().to_string().contains("UnknownIssuer"));
        assert!(e.is_certificate_error());
        // Also as the crate's `Error` (what `?` gives a caller, and `anyhow`'s `{:#}` walks).
        let whole = Error::Tls(e.clone());
        assert_eq!(whole.to_string(), e.to_string());
        let source = whole.source().map(|s| s.to_string());
        assert!(
            source
                .as_deref()
                .is_some_and(|s| s.contains("UnknownIssuer")),
            "{source:?}"
        );
        let e = TlsError::from_rustls(rustls::Error::HandshakeNotComplete);
        assert!(e.source().is_none(), "rustls' text already: no repeat");
        // Checklist: T8, T30. Our own sentences in rustls' catch-all, and a custom verifier's
        // error, read without rustls' prefixes ("unexpected error: ", "other error: "), and
        // are not repeated with them as the source.
        let e = TlsError::from_rustls(rustls::Error::General("the peer did a thing".into()));
        assert_eq!(e.to_string(), "the peer did a thing");
        assert!(e.source().is_none(), "{:?}", e.source());
        let other = rustls::OtherError(std::sync::Arc::new(io::Error::other("revoked")));
        let e = TlsError::from_rustls(rustls::Error::Other(other));
        assert_eq!(e.to_string(), "revoked");
        assert!(e.source().is_none(), "{:?}", e.source());
        assert!(matches!(e.rustls_error(), Some(rustls::Error::Other(_))));
        // The names a certificate is for, without WebPKI's Debug forms; no host name at all.
        let wrong_name = |presented: &[&str]| {
            TlsError::from_rustls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext {
                    expected: rustls::pki_types::ServerName::try_from("example.com").unwrap(),
                    presented: presented.iter().map(|p| p.to_string()).collect(),
                },
            ))
            .to_string()
        };
        let e = wrong_name(&[
            "DnsName(\"*.example.org\")",
            "IpAddress(::1)",
            "DirectoryName",
        ]);
        assert!(
            e.contains("is for *.example.org, ::1, not for \"example.com\""),
            "{e}"
        );
        // A signature algorithm rustls refuses (SHA-1): in words, not the two lists of OIDs.
        let e = TlsError::from_rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: vec![6, 9, 42, 134, 72, 134, 247, 13, 1, 1, 5],
                supported_algorithms: Vec::new(),
            },
        ));
        assert_eq!(
            e.to_string(),
            "certificate verify failed: the certificate is signed with an algorithm rustls does \
             not accept (an old one such as SHA-1 or MD5, or one its ring provider lacks such as \
             ECDSA P-521); make it again with RSA or ECDSA P-256 and SHA-256"
        );
        assert!(e.is_certificate_error());
        // No name to connect with: the advice is to remake the certificate (before: "connect
        // with one of those names", of which there were none).
        let e = wrong_name(&["UniformResourceIdentifier(\"spiffe://a/b\")"]);
        assert_eq!(
            e,
            "certificate verify failed: the certificate is for no host name at all (it has no \
             DNS or IP subjectAltName; CN is not used), not for \"example.com\"; make it again \
             with one: openssl req ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
        );
    }

    /// A certificate refused for the stand-in name is told, source included, for the name the
    /// user gave, from the error's fields: no rustls sentence is edited, so a rewording in
    /// rustls cannot leave the stand-in showing (the names stay as WebPKI lists them).
    #[cfg(feature = "tls")]
    #[test]
    fn a_refusal_for_the_stand_in_name_names_the_users_name_from_typed_fields() {
        use std::error::Error as _;
        let refused = |presented: &[&str]| {
            TlsError::from_rustls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext {
                    expected: rustls::pki_types::ServerName::try_from(crate::tls::config::NO_NAME)
                        .unwrap(),
                    presented: presented.iter().map(|p| p.to_string()).collect(),
                },
            ))
            .for_name("127.1")
        };
        let e = refused(&["DnsName(\"localhost\")", "IpAddress(127.0.0.1)"]);
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some(
                "invalid peer certificate: NotValidForName: \"127.1\" is not among the \
                 certificate's names: DnsName(\"localhost\"), IpAddress(127.0.0.1)"
            )
        );
        assert!(e
            .to_string()
            .contains("is for localhost, 127.0.0.1, not for \"127.1\""));
        let e = refused(&[]);
        assert!(
            e.source()
                .unwrap()
                .to_string()
                .ends_with("names: none (it has no subjectAltName)"),
            "{:?}",
            e.source()
        );
    }

    /// Issue #13: `Display` and `source()` never print one text twice in a chain.
    #[test]
    fn an_error_chain_repeats_no_text() {
        use std::error::Error as _;
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut cases = vec![
            Error::Io(io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            Error::Io(io::Error::new(io::ErrorKind::TimedOut, "slow")),
            Error::Io(io::Error::new(io::ErrorKind::InvalidData, Error::Timeout)),
            Error::Timeout,
        ];
        #[cfg(feature = "tls")]
        cases.push(Error::Tls(TlsError::truncated()));
        #[cfg(feature = "tls")]
        cases.push(Error::Tls(TlsError::from_rustls(
            rustls::Error::DecryptError,
        )));
        for e in &cases {
            let mut texts = vec![e.to_string()];
            let mut cur = e.source();
            while let Some(s) = cur {
                texts.push(s.to_string());
                cur = s.source();
            }
            for pair in texts.windows(2) {
                assert_ne!(pair[0], pair[1], "{e:?} repeats itself: {texts:?}");
            }
        }
    }

    #[test]
    fn io_kind_survives_both_ways() {
        let e: Error = io::Error::from(io::ErrorKind::ConnectionReset).into();
        let back: io::Error = e.into();
        assert_eq!(back.kind(), io::ErrorKind::ConnectionReset);
        let t: io::Error = Error::Timeout.into();
        assert_eq!(t.kind(), io::ErrorKind::TimedOut);
    }
}
