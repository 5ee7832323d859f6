//! Binding a server group's listeners: one `SO_REUSEPORT` listener per worker where the OS
//! allows it, else one listener whose duplicates every worker accepts from (see the ground
//! rules in `workers/mod.rs`). Calls down into `net::socket_opts` only.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::Socket;

use crate::error::Error;
use crate::net::socket_opts::{bind_tcp_listener, ListenOptions};

/// How one listener is bound: [`bind_tcp_listener`] in the program; the tests script
/// refusals with a double.
type Bind<'a> = &'a mut dyn FnMut(&SocketAddr, ListenOptions) -> io::Result<Socket>;

/// Binds `n` listeners on `addr`: one per worker with `SO_REUSEPORT` when `reuse_port` and the
/// OS allows it, else one without it (duplicated for each worker): all or none, so a refusal
/// after the first bind rebinds plainly. Returns them and whether they are separate. Unless
/// `join`, an address something listens on already fails as a plain bind.
pub(super) fn bind_listeners(
    addr: SocketAddr,
    n: usize,
    reuse_port: bool,
    join: bool,
) -> Result<(Vec<TcpListener>, bool), Error> {
    bind_with(addr, n, reuse_port, join, &mut bind_tcp_listener)
}

/// [`bind_listeners`], each listener bound by `bind`.
fn bind_with(
    addr: SocketAddr,
    n: usize,
    reuse_port: bool,
    join: bool,
    bind: Bind<'_>,
) -> Result<(Vec<TcpListener>, bool), Error> {
    let opts = |reuse_port| ListenOptions {
        reuse_address: true,
        reuse_port,
        keep_alive: false,
    };
    // One worker needs SO_REUSEPORT only when asked for: to join listeners there, and to be
    // joined later (Python's reuse_port=True sets it on every socket, however many).
    if reuse_port && (n > 1 || join) {
        if !join && addr.port() != 0 {
            // SO_REUSEPORT would join any listener of this user on the port (a second group,
            // another process) and take part of its connections. A probe bound as a plain
            // server binds (SO_REUSEADDR only) fails as that server would, with its errno;
            // it is closed before the group binds, so something that binds in between can
            // still be joined (a small window). Port 0 needs none: the OS picks a free port.
            drop(bind(&addr, opts(false))?);
        }
        match bind(&addr, opts(true)) {
            Ok(first) => {
                // Port 0: the others take the port the OS gave the first.
                let bound = first
                    .local_addr()?
                    .as_socket()
                    .ok_or_else(|| Error::invalid_state("a TCP listener without an address"))?;
                let mut listeners = vec![TcpListener::from(first)];
                for _ in 1..n {
                    match bind(&bound, opts(true)) {
                        Ok(s) => listeners.push(TcpListener::from(s)),
                        Err(e) => {
                            // All or none: the ones bound carry SO_REUSEPORT (anything of this
                            // user could join them and take connections), so they are closed
                            // and one plain listener takes their place. Nothing listens yet,
                            // so no connection is lost; with port 0 the OS picks anew.
                            log::debug!(target: "asyncio", "SO_REUSEPORT refused ({e}): one listener shared by the workers");
                            listeners.clear();
                            break;
                        }
                    }
                }
                if !listeners.is_empty() {
                    return Ok((listeners, true));
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::Unsupported
                    || crate::error::errno(&e) == Some(libc::ENOPROTOOPT) =>
            {
                log::debug!(target: "asyncio", "no SO_REUSEPORT here ({e}): one listener shared by the workers");
            }
            Err(e) => return Err(Error::Io(e)),
        }
    }
    let first = TcpListener::from(bind(&addr, opts(false))?);
    share(first, n)
}

/// `n` handles on one listener: the workers share its accept queue.
fn share(first: TcpListener, n: usize) -> Result<(Vec<TcpListener>, bool), Error> {
    let mut listeners = Vec::with_capacity(n);
    for _ in 1..n {
        listeners.push(first.try_clone()?);
    }
    listeners.insert(0, first);
    Ok((listeners, false))
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

    fn run(script: &mut Script, n: usize) -> Result<(Vec<TcpListener>, bool), Error> {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        bind_with(any, n, true, false, &mut |a, o| script.bind(a, o))
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
