//! Streams: `StreamReader`, `StreamWriter`, `StreamReaderProtocol` and the
//! `open_connection`/`start_server` builders.
//!
//! Mirrors CPython `Lib/asyncio/streams.py`. One connection's stream state lives in a single
//! `core::StreamCore` behind `Rc<RefCell<…>>`: the socket transport holds it as its
//! `BufferedProtocol` (and reads straight into the reader's buffer: no copy between the socket
//! and `readline`), while the `StreamReader` and `StreamWriter` handles hold it to read and to
//! drain. Files: `reader.rs` (the reader's buffer and read futures), `core.rs` (the protocol),
//! `writer.rs`, `open.rs` (builders), `pipe.rs` (streams over pipes, stdin and stdout),
//! `subprocess.rs` (`create_subprocess_exec`/`_shell` and `Process`: `subprocess.py`), and
//! `futures_io.rs`: the `futures-io` traits (`AsyncRead`, `AsyncBufRead`, `AsyncWrite`) over the
//! handles, which require the `futures-io` feature.

pub(crate) mod core;
mod deadline;
#[cfg(feature = "futures-io")]
mod futures_io;
mod open;
mod pipe;
pub mod reader;
mod sendfile;
mod subprocess;
mod workers;
mod writer;

pub use open::{
    open_connection, open_connection_sock, open_unix_connection, start_server, start_unix_server,
    AsyncCallback, ClientConnected, OpenConnection, PlainCallback, StartServer,
};
pub use pipe::{open_read_pipe, open_write_pipe, stdin, stdout};
pub use reader::StreamReader;
pub use subprocess::{
    create_subprocess_exec, create_subprocess_shell, CreateSubprocess, Process, Stdio,
};
pub use workers::{serve_on_threads, ServeOnThreads, ServerGroup, WorkerStats, MAX_WORKERS};
#[cfg(feature = "tls")]
pub use writer::StreamStartTls;
pub use writer::{Drain, StreamWriter};
