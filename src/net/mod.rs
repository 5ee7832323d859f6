//! Networking below the transports: name resolution off the loop, happy eyeballs, socket
//! construction, and `create_connection` (CPython `base_events.py`, `staggered.py`,
//! `unix_events.py`).
//!
//! Ground rule: no mio here. Sockets are made and configured with `socket2`; connecting,
//! listening on and registering them is the transport layer's (`transport/connecting.rs`,
//! `transport/listener.rs`), as in DESIGN.md: only the event loop and transports touch mio.

pub(crate) mod accepted;
pub(crate) mod connect;
pub(crate) mod datagram;
pub(crate) mod happy_eyeballs;
pub(crate) mod pipe;
pub(crate) mod resolve;
pub(crate) mod socket_opts;
