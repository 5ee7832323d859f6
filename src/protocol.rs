//! Protocols: the callbacks a transport makes into your code.
//!
//! Mirrors `BaseProtocol`, `Protocol` and `BufferedProtocol` in CPython
//! `Lib/asyncio/protocols.py`. The call grammar (L44) every transport keeps:
//!
//! ```text
//! Protocol:          connection_made  data_received*  eof_received?  connection_lost
//! BufferedProtocol:  connection_made  (get_buffer buffer_updated?)*  eof_received?  connection_lost
//! ```
//! `pause_writing`/`resume_writing` may come anywhere between `connection_made` and
//! `connection_lost`, strictly alternating, starting with pause (L49).
//!
//! Ground rules for implementors: methods take `&mut self`; the transport keeps your protocol
//! in an `Rc<RefCell<…>>` and borrows it only for the duration of one call. Inside any callback
//! you may call any method of the [`Transport`] — `write`, `close`, `abort`, `pause_reading` —
//! (L83). A `pause_writing`/`resume_writing` that a `write` made from inside one of your own
//! callbacks triggers is delivered as soon as that callback returns, since your protocol is
//! borrowed at that moment; made from anywhere else, it is delivered at once.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use crate::transport::Transport;

/// A stream protocol (Python's `asyncio.Protocol`, with `BaseProtocol`'s methods).
///
/// Every method has a default that does nothing, so a protocol implements only what it needs.
/// A protocol that wants the transport to read straight into its own memory also implements
/// [`BufferedProtocol`] and returns `Some(self)` from [`as_buffered`](Protocol::as_buffered)
/// (Python's `isinstance(protocol, BufferedProtocol)` check).
pub trait Protocol {
    /// The connection is up; keep `transport` to write. Called once, first.
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// Some bytes arrived: never empty, at most 256 KiB; boundaries carry no meaning (L46).
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer closed its writing side. Return `true` to keep the transport open for writing
    /// (half-close: you close it later); `false` closes it (L47). Called at most once.
    fn eof_received(&mut self) -> bool {
        false
    }

    /// The connection is gone: `None` after EOF, `close()` or `abort()`, the error after a
    /// failure (L48). Called once, last.
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = exc;
    }

    /// The transport's write buffer rose above its high-water mark (L70).
    fn pause_writing(&mut self) {}

    /// The transport's write buffer fell to its low-water mark or below (L70).
    fn resume_writing(&mut self) {}

    /// `Some(self)` for a [`BufferedProtocol`]: the transport then calls `get_buffer` /
    /// `buffer_updated` instead of `data_received` (L50, L52).
    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        None
    }
}

/// A protocol that lends the transport its own memory to read into (Python's
/// `asyncio.BufferedProtocol`, L50): no copy between the socket and your buffer. Implement
/// [`Protocol`] too (for the other callbacks) with `as_buffered` returning `Some(self)`.
pub trait BufferedProtocol: Protocol {
    /// A buffer to read into. `size_hint` is a suggested minimum (0: any size). An empty buffer
    /// is an error that ends the connection (L51).
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `n` (> 0) bytes were written at the start of the last buffer from `get_buffer`.
    fn buffer_updated(&mut self, n: usize);
}

/// A protocol as a transport holds it, shared with whoever made it.
pub type ProtocolRef = Rc<RefCell<dyn Protocol>>;

/// Whether the protocol is borrowed right now (one of its callbacks is running).
pub(crate) fn is_busy(p: &ProtocolRef) -> bool {
    p.try_borrow_mut().is_err()
}
