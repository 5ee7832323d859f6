//! `create_server` and its keywords over real sockets: start, addresses and binding (L96–L100,
//! L104, L105), a given `sock`, `hosts`, `reuse_port`, the errors of a bind or a listen.
//! Ports CPython's `test_server.py` BaseStartServer.test_start_server_1 as far as it starts
//! (`l100_l104_*`) and `test_unix_events.py` test_create_unix_server_path_dgram (a std listener
//! can hold any socket: `l96_a_sock_that_is_not_a_stream_socket_*`); see the appendix of
//! `asyncio-semantics.md`. Shared helpers: `server_common` (peers on helper threads, bounded
//! waits, TCP and Unix clients). The accept loop is in `server_accept.rs`, the server's life
//! after it starts in `server_lifecycle.rs`, running out of descriptors in
//! `server_out_of_fds.rs`, Unix-domain servers in `server_unix/`.

#[path = "../server_common/mod.rs"]
mod server_common;
#[path = "../util/mod.rs"]
mod util;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use asyncio::{Error, EventLoop, Server};
use server_common::{
    check_tcp_echo, first_inet, have_ipv6, inet, is_refused, shut, spin_a_little, tcp_server,
    tcp_server_not_serving, BOUND,
};
use util::{capture_exceptions, temp_dir, Echo};

/// L96: refused as CPython refuses a server given both a host/port and a socket.
fn is_host_port_and_sock(r: &Result<Server, Error>) -> bool {
    matches!(r, Err(Error::InvalidArgument(m))
        if m == "host/port and sock can not be specified at the same time")
}

mod bind_errors;
mod hosts;
mod reuse_port;
mod sock;
mod start;
