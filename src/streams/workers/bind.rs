//! Binding a server group's listeners: on each address the host resolved to, one
//! `SO_REUSEPORT` listener per worker where the OS allows it, else one listener whose
//! duplicates every worker accepts from (see the ground rules in `workers/mod.rs`). Calls
//! down into `net::socket_opts` and `server` (the no-address error) only.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::Socket;

use crate::error::Error;
use crate::net::socket_opts::{bind_tcp_listener, ListenOptions};
use crate::server::{bound_none, not_this_hosts};

/// How one listener is bound: [`bind_tcp_listener`] in the program; the tests script
/// refusals with a double.
type Bind<'a> = &'a mut dyn FnMut(&SocketAddr, ListenOptions) -> io::Result<Socket>;

/// The group's listeners, by worker: each worker's holds one per address bound, in the
/// order the addresses resolved.
pub(super) struct Bound {
    pub(super) per_worker: Vec<Vec<TcpListener>>,
    /// Whether each worker has listeners of its own (`SO_REUSEPORT`), or duplicates of
    /// shared ones (none has `SO_REUSEPORT` then).
    pub(super) separate: bool,
}

/// Binds the listeners of `n` workers on each of `addrs`: one per worker and address with
/// `SO_REUSEPORT` when `reuse_port` and the OS allows it, else one per address without it
/// (duplicated for each worker). All or none: a refusal after a first bind rebinds every
/// address plainly. An address that is not this host's, or of a family it lacks, is skipped
/// as `start_server` skips it; none left is an error. Unless `join`, an address something
/// listens on already fails as a plain bind.
pub(super) fn bind_listeners(
    addrs: &[SocketAddr],
    n: usize,
    reuse_port: bool,
    join: bool,
) -> Result<Bound, Error> {
    bind_with(addrs, n, reuse_port, join, &mut bind_tcp_listener)
}

fn opts(reuse_port: bool) -> ListenOptions {
    ListenOptions {
        reuse_address: true,
        reuse_port,
        keep_alive: false,
    }
}

/// [`bind_listeners`], each listener bound by `bind`.
fn bind_with(
    addrs: &[SocketAddr],
    n: usize,
    reuse_port: bool,
    join: bool,
    bind: Bind<'_>,
) -> Result<Bound, Error> {
    // One worker needs SO_REUSEPORT only when asked for: to join listeners there, and to be
    // joined later (Python's reuse_port=True sets it on every socket, however many).
    if reuse_port && (n > 1 || join) {
        if let Some(per_worker) = bind_separate(addrs, n, join, bind)? {
            return Ok(Bound {
                per_worker,
                separate: true,
            });
        }
    }
    let shared = bind_each(addrs, bind)?;
    let mut per_worker = Vec::with_capacity(n);
    for _ in 1..n {
        let copies = shared.iter().map(TcpListener::try_clone);
        per_worker.push(copies.collect::<Result<Vec<_>, _>>()?);
    }
    per_worker.insert(0, shared);
    Ok(Bound {
        per_worker,
        separate: false,
    })
}

/// `n` `SO_REUSEPORT` listeners on each address, by worker; `None` where the OS lacks or
/// refuses it (everything bound so far is closed then: nothing listens yet, so no
/// connection is lost).
fn bind_separate(
    addrs: &[SocketAddr],
    n: usize,
    join: bool,
    bind: Bind<'_>,
) -> Result<Option<Vec<Vec<TcpListener>>>, Error> {
    let mut per_worker: Vec<Vec<TcpListener>> = (0..n).map(|_| Vec::new()).collect();
    let mut not_local = None;
    for addr in addrs {
        if !join && addr.port() != 0 {
            // SO_REUSEPORT would join any listener of this user on the port (a second group,
            // another process) and take part of its connections. A probe bound as a plain
            // server binds (SO_REUSEADDR only) fails as that server would, with its errno;
            // it is closed before the group binds, so something that binds in between can
            // still be joined (a small window). Port 0 needs none: the OS picks a free port.
            match bind(addr, opts(false)) {
                Ok(probe) => drop(probe),
                Err(e) if not_this_hosts(&e) => {
                    not_local = not_local.or(Some(e));
                    continue;
                }
                Err(e) => return Err(Error::Io(e)),
            }
        }
        let first = match bind(addr, opts(true)) {
            Ok(first) => first,
            Err(e) if not_this_hosts(&e) => {
                not_local = not_local.or(Some(e));
                continue;
            }
            Err(e)
                if e.kind() == io::ErrorKind::Unsupported
                    || crate::error::errno(&e) == Some(libc::ENOPROTOOPT) =>
            {
                crate::event_loop::debug::debug_log!(
                    "no SO_REUSEPORT here ({e}): one listener per address shared by the workers"
                );
                return Ok(None);
            }
            Err(e) => return Err(Error::Io(e)),
        };
        // Port 0: the others take the port the OS gave the first.
        let bound = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| Error::invalid_state("a TCP listener without an address"))?;
        per_worker[0].push(TcpListener::from(first));
        for listeners in &mut per_worker[1..] {
            match bind(&bound, opts(true)) {
                Ok(s) => listeners.push(TcpListener::from(s)),
                Err(e) => {
                    // All or none: the ones bound carry SO_REUSEPORT (anything of this user
                    // could join them and take connections), so they are all closed and
                    // plain listeners take their place; with port 0 the OS picks anew.
                    crate::event_loop::debug::debug_log!("SO_REUSEPORT refused ({e}): one listener per address shared by the workers");
                    return Ok(None);
                }
            }
        }
    }
    if per_worker[0].is_empty() {
        return Err(Error::Io(bound_none(addrs, not_local)));
    }
    Ok(Some(per_worker))
}

/// One plain listener on each of `addrs` (the shared ones), skipping as `start_server` does.
fn bind_each(addrs: &[SocketAddr], bind: Bind<'_>) -> Result<Vec<TcpListener>, Error> {
    let sockets = crate::server::bind_each(addrs, |addr| bind(addr, opts(false)))?;
    Ok(sockets.into_iter().map(TcpListener::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binder that binds for real, except that the `refuse`-th bind asking for
    /// `SO_REUSEPORT` (from 1) fails with `errno`; counts the binds with and without it.
    struct Script {
        refuse: usize,
        errno: i32,
        with: usize,
        without: usize,
    }

    impl Script {
        fn new(refuse: usize, errno: i32) -> Script {
            Script {
                refuse,
                errno,
                with: 0,
                without: 0,
            }
        }

        fn bind(&mut self, addr: &SocketAddr, opts: ListenOptions) -> io::Result<Socket> {
            if opts.reuse_port {
                self.with += 1;
                if self.with == self.refuse {
                    return Err(io::Error::from_raw_os_error(self.errno));
                }
            } else {
                self.without += 1;
            }
            bind_tcp_listener(addr, opts)
        }
    }

    /// Binds `n` workers' listeners on 127.0.0.1, port 0; one per worker, and whether they
    /// are separate.
    fn run(script: &mut Script, n: usize) -> Result<(Vec<TcpListener>, bool), Error> {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = bind_with(&[any], n, true, false, &mut |a, o| script.bind(a, o))?;
        let listeners = bound.per_worker.into_iter().flatten().collect();
        Ok((listeners, bound.separate))
    }

    fn has_reuse_port(l: &TcpListener) -> bool {
        socket2::SockRef::from(l).reuse_port().unwrap()
    }

    #[test]
    fn every_listener_has_so_reuseport_when_every_bind_takes_it() {
        let mut script = Script::new(0, 0);
        let (listeners, separate) = run(&mut script, 3).unwrap();
        assert!(separate);
        assert_eq!(listeners.len(), 3);
        assert!(listeners.iter().all(has_reuse_port));
        let port = listeners[0].local_addr().unwrap();
        assert!(listeners.iter().all(|l| l.local_addr().unwrap() == port));
    }

    // L98: all or none. A refusal after the first listener was bound with SO_REUSEPORT used
    // to leave that one with it, shared by the workers, while the group said it had none.
    #[test]
    fn l98_so_reuseport_refused_midway_leaves_no_listener_with_it() {
        for (refuse, errno) in [(2, libc::EADDRINUSE), (3, libc::EPERM), (2, libc::EMFILE)] {
            let mut script = Script::new(refuse, errno);
            let (listeners, separate) = run(&mut script, 3).unwrap();
            assert!(!separate, "refused at bind {refuse}: shared");
            assert_eq!(listeners.len(), 3, "a handle per worker");
            assert!(
                listeners.iter().all(|l| !has_reuse_port(l)),
                "refused at bind {refuse} (errno {errno}): a listener kept SO_REUSEPORT"
            );
            let port = listeners[0].local_addr().unwrap();
            assert!(listeners.iter().all(|l| l.local_addr().unwrap() == port));
        }
    }

    #[test]
    fn l98_so_reuseport_missing_from_the_start_binds_one_plain_listener() {
        let mut script = Script::new(1, libc::ENOPROTOOPT);
        let (listeners, separate) = run(&mut script, 2).unwrap();
        assert!(!separate);
        assert!(listeners.iter().all(|l| !has_reuse_port(l)));
        assert_eq!((script.with, script.without), (1, 1));
        // Any other refusal of the first bind is the error, as a plain bind's would be.
        let mut script = Script::new(1, libc::EACCES);
        match run(&mut script, 2) {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}"),
            other => panic!("{:?}", other.map(|(_, separate)| separate)),
        }
    }
}
