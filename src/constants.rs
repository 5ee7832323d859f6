//! Every named default of the crate, in one place.
//!
//! Mirrors CPython `Lib/asyncio/constants.py` plus the defaults scattered through
//! `streams.py`, `transports.py`, `sslproto.py` and `base_events.py`. Nothing here is tunable at
//! run time; each value is overridable through the builder or method that uses it.

use std::time::Duration;

/// `StreamReader` limit: longest line `readline`/`readuntil` return, half the pause threshold
/// (`streams.py` `_DEFAULT_LIMIT`, 64 KiB).
///
/// # Examples
///
/// ```
/// use asyncio::constants::DEFAULT_LIMIT;
/// assert_eq!(asyncio::StreamReader::new().limit(), DEFAULT_LIMIT);
/// ```
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// Transport write buffer high-water mark (`_FlowControlMixin`, 64 KiB).
///
/// # Examples
///
/// ```
/// # asyncio::run(async {
/// # let (a, _b) = asyncio::socketpair()?;
/// # let (_, writer) = asyncio::open_connection_sock(a).await?;
/// use asyncio::constants::{DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER};
/// let limits = writer.transport().get_write_buffer_limits(); // (low, high)
/// assert_eq!(limits, (DEFAULT_LOW_WATER, DEFAULT_HIGH_WATER));
/// # writer.close();
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// Transport write buffer low-water mark (`high // 4`, 16 KiB).
///
/// # Examples
///
/// ```
/// use asyncio::constants::{DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER};
/// assert_eq!(DEFAULT_LOW_WATER, DEFAULT_HIGH_WATER / 4);
/// ```
pub const DEFAULT_LOW_WATER: usize = DEFAULT_HIGH_WATER / 4;

/// Largest chunk one `recv` asks for (`_SelectorTransport.max_size`, 256 KiB).
///
/// # Examples
///
/// ```
/// // No single data_received call gets more than this.
/// assert_eq!(asyncio::constants::MAX_READ_SIZE, 256 * 1024);
/// ```
pub const MAX_READ_SIZE: usize = 256 * 1024;

/// TLS handshake timeout (`constants.SSL_HANDSHAKE_TIMEOUT`, 60 s).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(asyncio::constants::SSL_HANDSHAKE_TIMEOUT, Duration::from_secs(60));
/// // Override per connection: open_connection(..).ssl(..).ssl_handshake_timeout(d)
/// ```
pub const SSL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// TLS shutdown timeout (`constants.SSL_SHUTDOWN_TIMEOUT`, 30 s).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(asyncio::constants::SSL_SHUTDOWN_TIMEOUT, Duration::from_secs(30));
/// // Override per connection: .ssl_shutdown_timeout(d)
/// ```
pub const SSL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server with `proxy_protocol` waits for a connection's whole PROXY header
/// (5 s, as HAProxy's default client timeouts go; no CPython counterpart).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(asyncio::constants::PROXY_PROTOCOL_TIMEOUT, Duration::from_secs(5));
/// // Override per server: .proxy_protocol_timeout(d)
/// ```
pub const PROXY_PROTOCOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause of the accept loop after EMFILE/ENFILE/ENOBUFS/ENOMEM
/// (`constants.ACCEPT_RETRY_DELAY`, 1 s).
///
/// # Examples
///
/// ```
/// assert_eq!(asyncio::constants::ACCEPT_RETRY_DELAY.as_secs(), 1);
/// ```
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// `listen()` backlog of servers (`create_server(backlog=100)`).
///
/// # Examples
///
/// ```
/// use asyncio::constants::DEFAULT_BACKLOG;
/// asyncio::run(async {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     // The same as leaving `.backlog(..)` out:
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).backlog(DEFAULT_BACKLOG).await?;
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub const DEFAULT_BACKLOG: u32 = 100;

/// Writes dropped after connection loss before each further one logs a warning
/// (`constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
///
/// # Examples
///
/// ```
/// // The first writes after a lost connection are dropped quietly; from this many on, each
/// // logs a warning.
/// assert_eq!(asyncio::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES, 5);
/// ```
pub const LOG_THRESHOLD_FOR_CONNLOST_WRITES: usize = 5;

/// Longest single poll (`base_events.MAXIMUM_SELECT_TIMEOUT`, one day).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// // Even with a timer a year away, the loop polls at least once a day.
/// assert_eq!(asyncio::constants::MAXIMUM_SELECT_TIMEOUT, Duration::from_secs(86_400));
/// ```
pub const MAXIMUM_SELECT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A callback or task poll running at least this long is logged in debug mode
/// (`loop.slow_callback_duration`, 100 ms).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let lp = asyncio::EventLoop::new()?;
/// lp.set_debug(true); // report callbacks slower than the threshold
/// lp.set_slow_callback_duration(Duration::from_millis(50)); // instead of SLOW_CALLBACK_DURATION
/// # Ok::<_, asyncio::Error>(())
/// ```
pub const SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

/// App write high-water mark over TLS (`constants.FLOW_CONTROL_HIGH_WATER_SSL_WRITE`, 512 KiB;
/// low is a quarter).
///
/// # Examples
///
/// ```
/// assert_eq!(asyncio::constants::FLOW_CONTROL_HIGH_WATER_SSL_WRITE, 512 * 1024);
/// ```
// Checklist: T14.
pub const FLOW_CONTROL_HIGH_WATER_SSL_WRITE: usize = 512 * 1024;

/// Ciphertext read high-water mark over TLS (`constants.FLOW_CONTROL_HIGH_WATER_SSL_READ`,
/// 256 KiB; low is a quarter).
///
/// # Examples
///
/// ```
/// assert_eq!(asyncio::constants::FLOW_CONTROL_HIGH_WATER_SSL_READ, 256 * 1024);
/// ```
// Checklist: T18.
pub const FLOW_CONTROL_HIGH_WATER_SSL_READ: usize = 256 * 1024;
