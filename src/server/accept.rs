//! The accept loop: what a server does when its listening sockets are readable (CPython
//! `BaseSelectorEventLoop._accept_connection`, `_accept_connection2`; L101–L103, D6).
//!
//! Ground rules: this file is policy (rounds of at most `backlog` accepts that re-arm
//! themselves, the EMFILE back-off, `reserve_fd`); the socket work (`listen`, registration,
//! `accept`) is `transport/listener.rs`'s, so nothing here touches mio. No borrow of the
//! listener is held while a connection is handed to the server (user code runs there).

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::{Rc, Weak};
use std::time::Instant;

use crate::constants::ACCEPT_RETRY_DELAY;
use crate::error::Error;
use crate::event_loop::exception::ExceptionContext;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::slots::SlotKey;
use crate::transport::listener::Listener;

use super::ServerInner;

/// One listening socket and its accept loop.
pub(super) struct Accepter {
    pub(super) server: Weak<ServerInner>,
    pub(super) me: Weak<Accepter>,
    pub(super) listener: RefCell<Option<Listener>>,
    /// The socket as a `socket2::Socket` until `listen()` has been called on it.
    pub(super) unlistened: RefCell<Option<socket2::Socket>>,
    /// The listener's loop registration ([`Listener::register`]): `Some` while serving.
    pub(super) key: Cell<Option<SlotKey>>,
    /// With `reserve_fd`: the spare descriptor (`/dev/null`), opened when serving starts.
    /// `None` while serving only when an episode lost it (freed to accept with, its slot
    /// taken before it could be reopened): [`restore_spare`](Self::restore_spare) reopens it.
    pub(super) spare: RefCell<Option<std::fs::File>>,
    /// Accepting normally, or in an out-of-descriptors episode. Changed only by `set_state`.
    pub(super) state: Cell<Accepting>,
}

/// An out-of-descriptors episode (D6, L102): from the first EMFILE/ENFILE/ENOBUFS/ENOMEM to the
/// next successful accept. Reported once when it starts and logged once when it ends; silent
/// in between, however many retries it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Episode {
    since: Instant,
    /// Retry rounds that found the descriptors still exhausted.
    retries: u32,
    /// Connections accepted with the spare descriptor and closed at once (`reserve_fd`).
    shed: u64,
}

/// Where an accepter is:
///
/// ```text
///   Open ──out of fds, no spare──► BackingOff ──retry timer──► Exhausted ──accept works──► Open
///     │                               ▲                          │  │
///     └──out of fds, spare sheds──────┼──────────────────────────┘  └─still out, spare sheds─┐
///                                     └──still out, no spare (a retry: no new report)◄───────┘
/// ```
/// (`stop()` goes back to `Open` from anywhere.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Accepting {
    /// Accepting as connections arrive.
    Open,
    /// Out of descriptors: no accept until the retry timer fires (ACCEPT_RETRY_DELAY).
    BackingOff(Episode),
    /// Out of descriptors lately: accepting again (after a retry, or shedding with the spare);
    /// the episode ends at the first accept that works.
    Exhausted(Episode),
}

impl Accepter {
    pub(super) fn start(self: &Rc<Self>, lp: &LoopHandle, backlog: u32) -> Result<(), Error> {
        if let Some(s) = self.unlistened.borrow_mut().take() {
            *self.listener.borrow_mut() = Some(Listener::listen(s, backlog)?);
        }
        if self.key.get().is_some() {
            return Ok(());
        }
        if self.server.upgrade().is_some_and(|s| s.reserve_fd) && self.spare.borrow().is_none() {
            *self.spare.borrow_mut() = Some(std::fs::File::open("/dev/null")?);
        }
        let mut guard = self.listener.borrow_mut();
        let (Some(listener), Some(server)) = (guard.as_mut(), self.server.upgrade()) else {
            return Ok(());
        };
        let armed = Armed {
            accepter: self.clone(),
            server,
        };
        let key = listener.register(lp, Rc::new(armed) as Rc<dyn IoHandler>)?;
        self.key.set(Some(key));
        drop(guard);
        // Connections may already be waiting in the backlog: look once.
        let me = self.clone();
        lp.call_soon(move || me.accept_round())?;
        Ok(())
    }

    /// The one place `state` changes: the edges of [`Accepting`]'s diagram (debug-checked).
    fn set_state(&self, to: Accepting) {
        use Accepting::*;
        debug_assert!(
            matches!(
                (self.state.get(), to),
                (_, Open)
                    | (Open | Exhausted(_), BackingOff(_))
                    | (Open | BackingOff(_) | Exhausted(_), Exhausted(_))
            ),
            "accepter {:?} -> {to:?} is not an edge",
            self.state.get()
        );
        self.state.set(to);
    }

    /// The episode under way, or a new one: reported now, once, unless another listener of
    /// the same server is in one already (a dual-stack server runs out of descriptors once,
    /// not once per socket).
    fn episode(&self, server: &Rc<ServerInner>, e: &io::Error) -> Episode {
        match self.state.get() {
            Accepting::BackingOff(ep) | Accepting::Exhausted(ep) => ep,
            Accepting::Open => {
                if !self.sibling_in_episode(server) {
                    self.report_exhaustion(server, crate::error::copy_io(e));
                }
                Episode {
                    since: Instant::now(),
                    retries: 0,
                    shed: 0,
                }
            }
        }
    }

    /// The listening address, for reports.
    fn socket_name(&self) -> String {
        self.listener
            .borrow()
            .as_ref()
            .and_then(Listener::address)
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// Whether another listener of `server` is out of descriptors right now.
    fn sibling_in_episode(&self, server: &ServerInner) -> bool {
        // The list is only borrowed to add or remove listeners, never across an accept.
        server.accepters.try_borrow().is_ok_and(|all| {
            all.iter()
                .any(|a| !std::ptr::eq(&**a, self) && a.state.get() != Accepting::Open)
        })
    }

    /// An accept worked: an episode under way ends, with one line saying how it went (said
    /// by the server's last listener to leave it).
    fn accepting_again(&self) {
        if let Accepting::Exhausted(ep) | Accepting::BackingOff(ep) = self.state.get() {
            self.set_state(Accepting::Open);
            self.restore_spare();
            if self
                .server
                .upgrade()
                .is_some_and(|s| self.sibling_in_episode(&s))
            {
                return;
            }
            let socket = self.socket_name();
            let took = ep.since.elapsed();
            crate::event_loop::debug::warning!(
                "socket.accept() works again on {socket} after {}.{:03} s out of system \
                 resources: {} retries, {} connections shed",
                took.as_secs(),
                took.subsec_millis(),
                ep.retries,
                ep.shed
            );
        }
    }

    pub(super) fn stop(&self, lp: &LoopHandle) {
        let key = self.key.take();
        let listener = self.listener.borrow_mut().take();
        if let (Some(key), Some(mut listener)) = (key, listener) {
            listener.deregister(lp, key);
        }
        drop(self.unlistened.borrow_mut().take());
        drop(self.spare.borrow_mut().take());
        self.set_state(Accepting::Open);
    }

    /// Accepts up to `backlog` connections (L101, L102, D6).
    pub(super) fn accept_round(&self) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        if matches!(self.state.get(), Accepting::BackingOff(_)) || self.key.get().is_none() {
            return;
        }
        if self.state.get() != Accepting::Open {
            // A round in an episode: the spare, if lost, comes back before any connection
            // takes the descriptor it needs.
            self.restore_spare();
        }
        for _ in 0..server.backlog.max(1) {
            let accepted = match self.listener.borrow().as_ref() {
                Some(l) => l
                    .accept()
                    .map(|(sock, peer)| (sock, peer, l.accepted_sockname().cloned())),
                None => return,
            };
            match accepted {
                Ok((sock, peer, sockname)) => {
                    self.accepting_again();
                    server.new_connection(sock, peer, sockname)
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    // Checklist: L101. CPython ends the round here, and its level-triggered
                    // selector starts another at the next select if connections wait.
                    // Edge-triggered, ours would leave them until a new one arrives: the
                    // round goes on instead (still at most `backlog` accepts), taking them
                    // one iteration earlier than CPython.
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_out_of_resources(&e) => {
                        if !(server.reserve_fd && self.shed(&server, &e)) {
                            self.back_off(&server, e);
                        }
                        return;
                    }
                    _ => {
                        let next = is_one_connections_failure(&e);
                        server.lp.call_exception_handler(
                            &ExceptionContext::new("Exception in callback accept")
                                .with_exception(Box::new(e)),
                        );
                        if next {
                            // That connection is gone; the ones behind it may be fine, and
                            // the edge-triggered listener would not say so again. (CPython
                            // reports and ends the round: its level-triggered selector asks
                            // again; accept(2) says to retry.)
                            // Checklist: L101.
                            continue;
                        }
                        return;
                    }
                },
            }
        }
        // Backlog-sized round done with connections possibly still queued: go on next turn.
        if let Some(me) = self.me.upgrade() {
            let _ = server.lp.call_soon(move || me.accept_round());
        }
    }

    /// libuv's reserve descriptor: frees the spare, accepts and closes each waiting connection
    /// with it, reopens the spare; at most `backlog` per round, as accepting (L101), with the
    /// next round queued when that many were shed. False if there is no spare, or freeing it
    /// did not make `accept` work (ENFILE, ENOBUFS, ENOMEM): the caller backs off instead.
    fn shed(&self, server: &Rc<ServerInner>, e: &io::Error) -> bool {
        if self.spare.borrow().is_none() {
            return false;
        }
        let mut episode = self.episode(server, e);
        let mut outcome = Shed::Drained;
        for _ in 0..server.backlog.max(1) {
            drop(self.spare.borrow_mut().take());
            let accepted = match self.listener.borrow().as_ref() {
                Some(l) => l.accept(),
                None => break,
            };
            outcome = match accepted {
                Ok((sock, _)) => {
                    drop(sock); // a prompt close instead of a wait in the backlog
                    episode.shed += 1;
                    Shed::More
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => Shed::Drained,
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => Shed::More,
                    _ => Shed::Stuck,
                },
            };
            // The descriptor just freed (spare or shed socket) takes the spare back.
            *self.spare.borrow_mut() = std::fs::File::open("/dev/null").ok();
            if outcome != Shed::More || self.spare.borrow().is_none() {
                break;
            }
        }
        if self.spare.borrow().is_none() {
            // The spare could not be reopened: fall back to the timed back-off.
            let again = std::fs::File::open("/dev/null").ok();
            *self.spare.borrow_mut() = again;
        }
        self.set_state(Accepting::Exhausted(episode));
        if self.spare.borrow().is_none() || outcome == Shed::Stuck {
            return false;
        }
        if outcome == Shed::More {
            // A full round shed: more may wait, and no new edge will announce them.
            if let Some(me) = self.me.upgrade() {
                let _ = server.lp.call_soon(move || me.accept_round());
            }
        }
        true
    }

    /// Reopens the spare if an episode lost it (with `reserve_fd`; a no-op otherwise). Called
    /// only in an episode and at its end, never per accept: at most one `open` per round.
    fn restore_spare(&self) {
        let lost = self.spare.borrow().is_none() && self.key.get().is_some();
        if lost && self.server.upgrade().is_some_and(|s| s.reserve_fd) {
            *self.spare.borrow_mut() = std::fs::File::open("/dev/null").ok();
        }
    }

    fn report_exhaustion(&self, server: &Rc<ServerInner>, e: io::Error) {
        let socket = self.socket_name();
        server.lp.call_exception_handler(
            &ExceptionContext::new("socket.accept() out of system resource")
                .with_exception(Box::new(e))
                .with_detail("socket", socket),
        );
    }

    /// Out of descriptors with no spare: stop accepting for ACCEPT_RETRY_DELAY (D6). Only the
    /// episode's first back-off is reported; a retry that finds the descriptors still
    /// exhausted only counts.
    pub(super) fn back_off(&self, server: &Rc<ServerInner>, e: io::Error) {
        let mut episode = self.episode(server, &e);
        if matches!(self.state.get(), Accepting::Exhausted(_)) {
            episode.retries += 1;
        }
        self.set_state(Accepting::BackingOff(episode));
        let me = self.me.clone();
        let _ = server.lp.call_later(ACCEPT_RETRY_DELAY, move || {
            if let Some(me) = me.upgrade() {
                if let Accepting::BackingOff(ep) = me.state.get() {
                    me.set_state(Accepting::Exhausted(ep));
                    me.accept_round();
                }
            }
        });
    }
}

/// How a shedding round ([`Accepter::shed`]) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shed {
    /// The backlog is empty.
    Drained,
    /// Connections may still wait: a full round was shed.
    More,
    /// Even with the spare freed, `accept` failed: shedding cannot help.
    Stuck,
}

pub(super) fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// An error `accept` passes on from one pending connection (a network error on it, accept(2)
/// on Linux: "treat them like EAGAIN by retrying"): the listener is fine, so the round goes on
/// to the next connection after reporting it. Other errors (EBADF, EINVAL, ...) say the
/// listener itself is broken: the round stops there.
fn is_one_connections_failure(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::ENOPROTOOPT
                | libc::EOPNOTSUPP
                | libc::ECONNRESET
        )
    )
}

/// What the loop holds while a listener is registered: its accepter, and the server, so that
/// a server whose handles are all dropped keeps serving until closed. Python behaves the same:
/// the loop's accept callback references the server (L107). Deregistering (close) or closing
/// the loop drops this, so no cycle outlives either.
pub(super) struct Armed {
    pub(super) accepter: Rc<Accepter>,
    pub(super) server: Rc<ServerInner>,
}

impl IoHandler for Armed {
    fn io_ready(&self, readiness: Readiness) {
        if readiness.is_readable() {
            self.accepter.accept_round();
        }
    }

    /// The loop closes the listening socket with its registration, so the server is closed:
    /// `close()`'s state (not serving, no sockets, the Unix file removed, waiters woken), not
    /// `is_serving()` with no socket. CPython keeps the socket open, unaccepted, until
    /// `server.close()`. Checklist: L104, L107, L119.
    fn loop_closed(&self) {
        drop(self.accepter.listener.borrow_mut().take());
        super::Server {
            inner: self.server.clone(),
        }
        .close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l101_one_connections_failures_are_told_from_a_broken_listener() {
        for errno in [
            libc::EPROTO,
            libc::EPERM,
            libc::ENETUNREACH,
            libc::ECONNRESET,
        ] {
            assert!(is_one_connections_failure(&io::Error::from_raw_os_error(
                errno
            )));
        }
        for errno in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK, libc::EMFILE] {
            assert!(!is_one_connections_failure(&io::Error::from_raw_os_error(
                errno
            )));
        }
        assert!(!is_one_connections_failure(&io::Error::other(
            "not an OS error"
        )));
    }
}
