//! Networking below the transports: name resolution off the loop, happy eyeballs, socket
//! construction, and `create_connection` (CPython `base_events.py`, `staggered.py`,
//! `unix_events.py`).

pub(crate) mod connect;
pub(crate) mod happy_eyeballs;
pub(crate) mod resolve;
pub(crate) mod socket_opts;
