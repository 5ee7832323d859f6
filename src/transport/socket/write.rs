//! The write side of the socket transport (`write`'s fast path, `_write_ready`, the
//! water-mark edges of `_FlowControlMixin`; L49, L64–L73, L81): what the kernel does not take
//! at once waits in the `WriteBuffer` until the next writable edge. The logic is the shared
//! `WritePath` (`transport/write_path.rs`); this file gives it the socket and adds what only a
//! socket has: `shutdown(SHUT_WR)` once a `write_eof` has drained.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::rc::Weak;

use super::{Socket, SocketTransport, State, WriteSide};
use crate::protocol::ProtocolSlot;
use crate::transport::flow_control::FlowControl;
use crate::transport::life_path::LifePath;
use crate::transport::write_buffer::WriteBuffer;
use crate::transport::write_path::WritePath;

impl WritePath for SocketTransport {
    type Out = Socket;
    const DROPPED_WRITE_WARNING: &'static str = "socket.send() raised exception.";

    #[inline]
    fn buffer(&self) -> &RefCell<WriteBuffer> {
        &self.buffer
    }

    #[inline]
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

    #[inline]
    fn with_out<R>(&self, f: impl FnOnce(&Socket) -> R) -> Option<R> {
        self.sock.borrow().as_ref().map(f)
    }

    #[inline]
    fn send(out: &Socket, data: &[u8]) -> io::Result<usize> {
        out.write(data)
    }

    fn send_vectored(out: &Socket, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        out.write_vectored(chunks)
    }

    fn write_failed(&self, err: io::Error) {
        self.fatal_error(err, "Fatal write error on socket transport", false);
    }
}

impl SocketTransport {
    pub(super) fn write_ready(&self) {
        if !self.flush_buffer() {
            if self.write_side.get() == WriteSide::Sendfile {
                self.wake_sendfile(); // room in the socket for the next sendfile(2)
            }
            return;
        }
        match self.life.state() {
            State::Closing => {
                self.life.set_state(State::Lost);
                self.call_connection_lost(None);
            }
            State::Open => match self.write_side.get() {
                WriteSide::EofPending => self.do_shutdown(),
                WriteSide::Sendfile => self.wake_sendfile(), // the buffer it waits for is empty
                _ => {}
            },
            _ => {}
        }
    }

    pub(super) fn do_shutdown(&self) {
        if self.write_side.get() == WriteSide::ShutDown {
            return;
        }
        self.set_write_side(WriteSide::ShutDown);
        let r = self.sock.borrow().as_ref().map(Socket::shutdown_write);
        if let Some(Err(e)) = r {
            if e.kind() != io::ErrorKind::NotConnected {
                self.fatal_error(e, "Fatal error on shutdown(SHUT_WR)", false);
            }
        }
    }
}
