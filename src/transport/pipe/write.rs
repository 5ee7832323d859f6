//! A pipe transport's write side: straight to the pipe while it takes it, else buffered, with
//! pause/resume at the water marks. The logic is the shared `WritePath`
//! (`transport/write_path.rs`); this file gives it the pipe and keeps what only a pipe does: a
//! read pipe refuses writes, and a closing one drops them (CPython's `_closing` check).

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, Write};
use std::rc::Weak;

use mio::unix::pipe::Sender;

use super::{Direction, End, PipeTransport, State};
use crate::error::Error;
use crate::event_loop::signals::without_sigpipe;
use crate::protocol::ProtocolSlot;
use crate::transport::flow_control::FlowControl;
use crate::transport::life_path::LifePath;
use crate::transport::write_buffer::WriteBuffer;
use crate::transport::write_path::WritePath;

impl WritePath for PipeTransport {
    type Out = Sender;
    const DROPPED_WRITE_WARNING: &'static str =
        "pipe closed by peer or os.write(pipe, data) raised exception.";
    // CPython's `_UnixWritePipeTransport._write_ready` resumes only after a full flush.
    const RESUME_ONLY_WHEN_EMPTY: bool = true;

    fn buffer(&self) -> &RefCell<WriteBuffer> {
        &self.buffer
    }

    fn flow(&self) -> &RefCell<FlowControl> {
        &self.flow
    }

    fn conn_lost_writes(&self) -> &Cell<u32> {
        &self.conn_lost_writes
    }

    fn me(&self) -> &Weak<Self> {
        &self.me
    }

    fn protocol(&self) -> &ProtocolSlot {
        &self.protocol
    }

    fn with_out<R>(&self, f: impl FnOnce(&Sender) -> R) -> Option<R> {
        match self.end.borrow().as_ref() {
            Some(End::Write(w)) => Some(f(w)),
            _ => None,
        }
    }

    /// `write(2)`, with `EPIPE` when the reader has gone, and a `SIGPIPE` only for a handler
    /// the host installed (never one at its default action).
    fn send(mut out: &Sender, data: &[u8]) -> io::Result<usize> {
        without_sigpipe(|| out.write(data))
    }

    /// `writev(2)`, likewise.
    fn send_vectored(mut out: &Sender, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        without_sigpipe(|| out.write_vectored(chunks))
    }

    fn write_failed(&self, err: io::Error) {
        // CPython's `write` counts the failed write itself (`_conn_lost += 1`) before its
        // `_fatal_error` (L81), and so does its `_write_ready`, a failed flush. Only `write`'s
        // fast path fails with nothing buffered. Over a pipe or a socket a failed flush is left
        // uncounted: it fails once the reader has gone, and CPython's reader callback
        // (`_read_ready`) closes the pipe before its `_write_ready` could count one. Over a
        // terminal no reader callback runs, so its flush fails and counts.
        if self.buffer.borrow().is_empty() || !self.watches_reader {
            let lost = &self.conn_lost_writes;
            lost.set(lost.get().saturating_add(1));
        }
        const DOING: &str = "Fatal write error on pipe transport";
        if err.raw_os_error() == Some(libc::EIO) {
            self.terminal_hung_up(err, DOING);
        } else {
            self.fatal_error(err, DOING, false);
        }
    }
}

impl PipeTransport {
    /// Whether a write of `empty` (or not) data goes ahead: an error on a read pipe; nothing
    /// to do for empty data, before anything else (CPython's `write` returns first, so an
    /// empty write after close is not counted as dropped); dropped and counted after close.
    pub(super) fn check_writable(&self, what: &str, empty: bool) -> Result<bool, Error> {
        if self.direction == Direction::Read {
            return Err(Error::Unsupported(format!(
                "{what}() on a read pipe transport"
            )));
        }
        if empty {
            return Ok(false);
        }
        if self.life.state() != State::Open {
            // CPython: a write after close or loss is dropped (and counted).
            self.dropped_write();
            return Ok(false);
        }
        Ok(true)
    }

    pub(super) fn write_ready(&self) {
        if self.flush_buffer() && self.life.state() == State::Closing {
            self.life.set_state(State::Lost);
            self.call_connection_lost(None);
        }
    }

    /// `write`: straight to the pipe while it takes it, the rest buffered.
    pub(super) fn write_data(&self, data: &[u8]) -> Result<(), Error> {
        if !self.check_writable("write", data.is_empty())? {
            return Ok(());
        }
        self.handed
            .set(self.handed.get().wrapping_add(data.len() as u64));
        self.send_or_buffer(data);
        Ok(())
    }

    /// `writelines`: one vectored write, the rest buffered.
    pub(super) fn write_chunks(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if !self.check_writable("writelines", total == 0)? {
            return Ok(());
        }
        self.handed
            .set(self.handed.get().wrapping_add(total as u64));
        self.send_or_buffer_vectored(chunks, total);
        Ok(())
    }

    /// At most how many of the pipe's `unread` bytes are ours, `buffered` being what our
    /// buffer holds now; remembered for the next call. The kernel counts every writer's bytes
    /// (stdout and stderr into one pipe, a descriptor shared with a child): ours are at most
    /// what we had there at the last call plus what went in since, and at most all of it.
    /// The bound only falls as the reader takes bytes, so a shared pipe drained of another
    /// writer's bytes stops counting as our progress once it may hold none of ours (at the
    /// latest once as many bytes as we wrote have been read), where the raw count fell for ever.
    pub(super) fn ours_in_pipe(&self, unread: usize, buffered: usize) -> usize {
        let went_in = self.handed.get().wrapping_sub(buffered as u64);
        let (seen, before) = self.ours.get();
        let since = usize::try_from(went_in.wrapping_sub(seen)).unwrap_or(usize::MAX);
        let ours = unread.min(before.saturating_add(since));
        self.ours.set((went_in, ours));
        ours
    }
}
