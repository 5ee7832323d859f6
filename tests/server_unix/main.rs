//! Unix-domain servers and connections over real sockets (L111–L122): paths, abstract names,
//! stale and foreign socket files, cleanup on close, a given `sock`, socketpairs. Shared
//! helpers: `server_common`; Unix sockets live in fresh temp dirs.
//!
//! Ported: `test_server.py` SelectorStartServerTests.test_start_unix_server_1 as far as it
//! starts (`l105_l114_*`; whole in `server_lifecycle.rs`), UnixServerCleanupTests.*
//! (`l119_*`, `l114_l120_*`); `test_unix_events.py` test_create_unix_server_existing_path_sock
//! (`l115_*`), _existing_path_nonsock (`l116_*`), _bind_error (`l116_a_bind_failure_*`),
//! _path_stream_bittype and _path_sock (`l114_l120_*`), test_create_unix_connection_pathlib
//! (`l112_*`), the _nopath_nosock pair (an empty path is no path: `l111_l114_*`). See the
//! appendix of `asyncio-semantics.md`. test_create_unix_server_bind_error asks for a read-only
//! directory, which root ignores, so a missing directory provokes the bind failure instead.

#[path = "../server_common/mod.rs"]
mod server_common;
#[path = "../util/mod.rs"]
mod util;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use asyncio::{Address, Error, EventLoop, Server, Transport};
use server_common::{
    check_unix_echo, is_refused, run_within, shut, timeouts, unix_name, Seen, BOUND,
};
use util::{temp_dir, Echo, Recorder};

fn unix_server(lp: &EventLoop, path: &Path) -> Server {
    lp.run_until_complete(lp.create_unix_server(Echo::default, path))
        .unwrap()
        .unwrap()
}

fn is_unnamed(a: &Option<Address>) -> bool {
    matches!(a, Some(Address::Unix(u)) if u.is_unnamed())
}

mod arguments;
mod names;
mod serving;
mod socket_file;
