//! Transports and protocols over real sockets (issue #3): L44–L83. Peers are our own client,
//! or blocking std sockets on helper threads with bounded timeouts.

#[path = "../util/mod.rs"]
mod util;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{EventLoop, Protocol, Transport};
use util::{run_turns_until, run_until, Echo, Recorder};

const BOUND: Duration = Duration::from_secs(10);

fn peer_listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn connect_recorder(lp: &EventLoop, port: u16, r: Recorder) -> (Transport, Rc<RefCell<Recorder>>) {
    lp.run_until_complete(lp.create_connection(move || r, "127.0.0.1", port))
        .unwrap()
        .unwrap()
}

/// A [`connect_recorder`] over a TCP socket whose send buffer is capped (64 KiB, no
/// autotuning) before it connects, to a peer whose receive buffer is capped the same way; and
/// that peer's end. A big write to a peer that reads nothing then leaves most of it buffered
/// in the transport, whatever the host's tcp_wmem/tcp_rmem maxima let autotuning take.
fn narrow_tcp_pair(
    lp: &EventLoop,
    r: Recorder,
) -> (Transport, Rc<RefCell<Recorder>>, std::net::TcpStream) {
    let (l, port) = peer_listener();
    socket2::SockRef::from(&l)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_send_buffer_size(64 * 1024).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    sock.connect(&addr.into()).unwrap();
    let connect = lp
        .create_connection(move || r, "", 0)
        .sock(std::net::TcpStream::from(sock));
    let (t, p) = lp
        .run_until_complete(connect.into_future())
        .unwrap()
        .unwrap();
    let (peer, _) = l.accept().unwrap();
    (t, p, peer)
}

mod connect;
mod eof_and_close;
mod protocol_calls;
mod reading;
mod writing;

/// The socket transport over a connected Unix pair: `(transport, protocol, peer end)`.
fn unix_pair(lp: &EventLoop, rec: Recorder) -> (Transport, Rc<RefCell<Recorder>>, UnixStream) {
    let (ours, peer) = UnixStream::pair().unwrap();
    let (t, p) = lp
        .run_until_complete(lp.connect_socket(move || rec, ours))
        .unwrap()
        .unwrap();
    (t, p, peer)
}
