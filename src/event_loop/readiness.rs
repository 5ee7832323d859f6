//! What one readiness event says: mio's event flags packed in one byte, and the questions
//! the loop's handlers ask of them (worth a read, worth a write, which side closed). Used by
//! `io.rs`, which turns each mio event into one of these for its registration.

/// Readiness bits of one event.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Readiness(pub(super) u8);

impl Readiness {
    pub(crate) const READABLE: u8 = 1;
    pub(crate) const WRITABLE: u8 = 2;
    pub(crate) const READ_CLOSED: u8 = 4;
    pub(crate) const WRITE_CLOSED: u8 = 8;
    pub(crate) const ERROR: u8 = 16;

    pub(super) fn from_event(ev: &mio::event::Event) -> Self {
        let mut b = 0;
        if ev.is_readable() {
            b |= Self::READABLE;
        }
        if ev.is_writable() {
            b |= Self::WRITABLE;
        }
        if ev.is_read_closed() {
            b |= Self::READ_CLOSED;
        }
        if ev.is_write_closed() {
            b |= Self::WRITE_CLOSED;
        }
        if ev.is_error() {
            b |= Self::ERROR;
        }
        Readiness(b)
    }

    /// A plain readable event, for tests that drive a handler by hand.
    #[cfg(test)]
    pub(crate) fn readable() -> Self {
        Readiness(Self::READABLE)
    }

    /// Worth a read attempt: data, EOF or an error to collect.
    pub(crate) fn is_readable(self) -> bool {
        self.0 & (Self::READABLE | Self::READ_CLOSED | Self::ERROR) != 0
    }

    /// The peer closed its writing side (EPOLLRDHUP): EOF follows the buffered data.
    pub(crate) fn is_read_closed(self) -> bool {
        self.0 & (Self::READ_CLOSED | Self::ERROR) != 0
    }

    /// Worth a write attempt (or an error to collect).
    pub(crate) fn is_writable(self) -> bool {
        self.0 & (Self::WRITABLE | Self::WRITE_CLOSED | Self::ERROR) != 0
    }

    /// The other end is gone or the descriptor is in error (EPOLLHUP/EPOLLERR on a write end).
    pub(crate) fn is_write_closed(self) -> bool {
        self.0 & (Self::WRITE_CLOSED | Self::ERROR) != 0
    }

    pub(super) fn union(self, other: Readiness) -> Readiness {
        Readiness(self.0 | other.0)
    }
}
