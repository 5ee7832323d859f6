//! Binding a server group's listeners: one `SO_REUSEPORT` listener per worker where the OS
//! allows it, else one listener whose duplicates every worker accepts from (see the ground
//! rules in `workers/mod.rs`). Calls down into `net::socket_opts` only.

use std::net::{SocketAddr, TcpListener};

use crate::error::Error;
use crate::net::socket_opts::{bind_tcp_listener, ListenOptions};

/// Binds `n` listeners on `addr`: one per worker with `SO_REUSEPORT` when `reuse_port` and the
/// OS allows it, else one (duplicated for each worker). Returns them and whether they are
/// separate. Unless `join`, an address something listens on already fails as a plain bind.
pub(super) fn bind_listeners(
    addr: SocketAddr,
    n: usize,
    reuse_port: bool,
    join: bool,
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
            drop(bind_tcp_listener(&addr, opts(false))?);
        }
        match bind_tcp_listener(&addr, opts(true)) {
            Ok(first) => {
                // Port 0: the others take the port the OS gave the first.
                let bound = first
                    .local_addr()?
                    .as_socket()
                    .ok_or_else(|| Error::invalid_state("a TCP listener without an address"))?;
                let mut listeners = vec![TcpListener::from(first)];
                for _ in 1..n {
                    match bind_tcp_listener(&bound, opts(true)) {
                        Ok(s) => listeners.push(TcpListener::from(s)),
                        Err(e) => {
                            log::debug!(target: "asyncio", "SO_REUSEPORT refused ({e}): one listener shared by the workers");
                            listeners.truncate(1);
                            return share(listeners.pop().expect("the first listener"), n);
                        }
                    }
                }
                return Ok((listeners, true));
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
    let first = TcpListener::from(bind_tcp_listener(&addr, opts(false))?);
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
