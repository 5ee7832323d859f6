//! `StreamCore`: one connection's stream state, and its `BufferedProtocol` face
//! (Python's `StreamReaderProtocol` in `Lib/asyncio/streams.py`).
//!
//! Ground rules: the socket transport borrows the core for one protocol call at a time; the
//! reader and writer handles borrow it only inside their own methods and futures' polls, never
//! across an `.await` or a call into another layer.

use super::reader::ReaderState;

/// The state shared by a connection's transport (as protocol), reader and writer.
pub(crate) struct StreamCore {
    /// The reader's buffer, EOF flag, stored exception and waiter.
    pub(crate) reader: ReaderState,
}
