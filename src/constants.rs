//! Every named default of the crate, in one place.
//!
//! Mirrors CPython `Lib/asyncio/constants.py` plus the defaults scattered through
//! `streams.py`, `transports.py`, `sslproto.py` and `base_events.py`. Nothing here is tunable at
//! run time; each value is overridable through the builder or method that uses it.

use std::time::Duration;

/// `StreamReader` limit: longest line `readline`/`readuntil` return, half the pause threshold
/// (`streams.py` `_DEFAULT_LIMIT`, 64 KiB).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// Transport write buffer high-water mark (`_FlowControlMixin`, 64 KiB).
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// Transport write buffer low-water mark (`high // 4`, 16 KiB).
pub const DEFAULT_LOW_WATER: usize = DEFAULT_HIGH_WATER / 4;

/// Largest chunk one `recv` asks for (`_SelectorTransport.max_size`, 256 KiB).
pub const MAX_READ_SIZE: usize = 256 * 1024;

/// TLS handshake timeout (`constants.SSL_HANDSHAKE_TIMEOUT`, 60 s).
pub const SSL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// TLS shutdown timeout (`constants.SSL_SHUTDOWN_TIMEOUT`, 30 s).
pub const SSL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause of the accept loop after EMFILE/ENFILE/ENOBUFS/ENOMEM (`constants.ACCEPT_RETRY_DELAY`, 1 s).
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// `listen()` backlog of servers (`create_server(backlog=100)`).
pub const DEFAULT_BACKLOG: u32 = 100;

/// Writes dropped after connection loss before each further one logs a warning
/// (`constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
pub const LOG_THRESHOLD_FOR_CONNLOST_WRITES: usize = 5;

/// Longest single poll (`base_events.MAXIMUM_SELECT_TIMEOUT`, one day).
pub const MAXIMUM_SELECT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A callback or task poll running at least this long is logged in debug mode
/// (`loop.slow_callback_duration`, 100 ms).
pub const SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

/// App write high-water mark over TLS (`constants.FLOW_CONTROL_HIGH_WATER_SSL_WRITE`, 512 KiB;
/// low is a quarter).
// Checklist: T14.
pub const FLOW_CONTROL_HIGH_WATER_SSL_WRITE: usize = 512 * 1024;

/// Ciphertext read high-water mark over TLS (`constants.FLOW_CONTROL_HIGH_WATER_SSL_READ`,
/// 256 KiB; low is a quarter).
// Checklist: T18.
pub const FLOW_CONTROL_HIGH_WATER_SSL_READ: usize = 256 * 1024;
