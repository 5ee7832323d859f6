//! Unit tests of the reader's state machine (`state.rs`), kept apart so that file stays
//! the code: the transport double and the feeding helpers here, the tests by concept in
//! `search.rs` (separators), `buffer.rs` (its memory), `flow.rs` (pausing the transport)
//! and `waiter.rs` (the waiter slot, the stored exception, argument checks).

mod buffer;
mod flow;
mod search;
mod waiter;

use std::cell::Cell;
use std::io::IoSlice;
use std::rc::Rc;

use std::task::Poll;

use super::search::{find, find_earliest, FOUND_TOO_LONG, NOT_FOUND_TOO_LONG};
use super::*;
use crate::constants::DEFAULT_LIMIT;
use crate::protocol::ProtocolRef;
use crate::transport::{ExtraInfo, Through, TransportImpl};

/// A transport double that only counts pause/resume calls (S14–S16).
#[derive(Default)]
struct FlowTransport {
    reading: Cell<bool>,
    pauses: Cell<u32>,
    resumes: Cell<u32>,
    /// What a read-through asked of it answers (`Through::No` until a test sets it).
    through: Cell<Option<Through>>,
}

impl TransportImpl for FlowTransport {
    fn write(&self, _: &[u8]) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn writelines_other(&self, _: &[IoSlice<'_>]) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn write_eof_other(&self) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn can_write_eof(&self) -> bool {
        true
    }
    fn close(&self) {}
    fn abort(&self) {}
    fn is_closing(&self) -> bool {
        false
    }
    fn pause_reading(&self) {
        self.reading.set(false);
        self.pauses.set(self.pauses.get() + 1);
    }
    fn resume_reading(&self) {
        self.reading.set(true);
        self.resumes.set(self.resumes.get() + 1);
    }
    fn is_reading(&self) -> bool {
        self.reading.get()
    }
    fn set_write_buffer_limits_other(
        &self,
        _: Option<usize>,
        _: Option<usize>,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn get_write_buffer_size(&self) -> usize {
        0
    }
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        (0, 0)
    }
    fn get_extra_info(&self, _: &str) -> Option<ExtraInfo> {
        None
    }
    fn set_protocol_other(&self, _: ProtocolRef) -> Result<(), Error> {
        unreachable!("the reader never swaps protocols")
    }
    fn get_protocol(&self) -> Option<ProtocolRef> {
        None
    }
    fn get_loop(&self) -> LoopHandle {
        // For its buffer pool only: a closed loop's pool works as well.
        let lp = crate::EventLoop::new().expect("a loop for the pool");
        (*lp).clone()
    }
    fn id(&self) -> u64 {
        0
    }
    fn read_through(&self, _owner: *const (), _out: &mut [u8], _waker: &Waker) -> Through {
        self.through.get().unwrap_or(Through::No)
    }
}

fn with_transport(limit: usize) -> (ReaderState, Rc<FlowTransport>) {
    let fake = Rc::new(FlowTransport::default());
    fake.reading.set(true);
    let mut st = ReaderState::new(limit).unwrap();
    st.set_transport(Transport {
        inner: fake.clone(),
    });
    (st, fake)
}

fn feed(st: &mut ReaderState, data: &[u8]) {
    let _ = st.feed_data(data);
}

fn noop() -> &'static Waker {
    Waker::noop()
}

/// Simulates the transport's read: `data` arrives through get_buffer/buffer_updated,
/// `min(remaining, offered)` bytes per read, as a kernel would deliver it.
fn receive(st: &mut ReaderState, mut data: &[u8]) {
    while !data.is_empty() {
        let tail = st.get_buffer(0);
        assert!(!tail.is_empty(), "get_buffer lent an empty buffer");
        let n = tail.len().min(data.len());
        tail[..n].copy_from_slice(&data[..n]);
        let _ = st.buffer_updated(n);
        data = &data[n..];
    }
}
