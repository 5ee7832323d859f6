//! Streams: [`StreamReader`], [`StreamWriter`], the protocol under them, and the
//! `open_connection`/`start_server` builders.
//!
//! Mirrors CPython `Lib/asyncio/streams.py`. One connection's stream state lives in a single
//! `core::StreamCore` behind `Rc<RefCell<…>>` (CPython's `StreamReaderProtocol`): the socket
//! transport holds it as its `BufferedProtocol` (and reads straight into the reader's buffer: no
//! copy between the socket and `readline`), while the `StreamReader` and `StreamWriter` handles
//! hold it to read and to drain. Files: `reader/` (the reader's buffer and read futures),
//! `core.rs` (the protocol), `writer.rs`, `open.rs` (builders), `deadline.rs` (read, drain and
//! idle timeouts), `held_sets.rs` (setters and feeds called while a user holds the stream's
//! protocol: queued, applied in order once free), `sendfile.rs`, `pipe.rs` (streams over
//! pipes, stdin and stdout), `subprocess.rs` (`create_subprocess_exec`/`_shell` and
//! `Process`: `subprocess.py`), `workers/` (`serve_on_threads`: one server per thread), and
//! `futures_io.rs`: the `futures-io` traits (`AsyncRead`, `AsyncBufRead`, `AsyncWrite`)
//! over the handles, which require the `futures-io` feature.
//!
//! # Examples
//!
//! One conversation that uses the main calls: a server answers each line; the client sends
//! two, says it is done with [`write_eof`](StreamWriter::write_eof), and reads the answers up
//! to the server's EOF.
//!
//! ```
//! use asyncio::{StreamReader, StreamWriter};
//!
//! async fn shout(reader: StreamReader, writer: StreamWriter) -> asyncio::Result<()> {
//!     let mut lines = reader.lines();
//!     while let Some(line) = lines.next_line().await? {
//!         writer.write(&line.to_ascii_uppercase())?;
//!         writer.drain().await?; // waits only while the write buffer is above its high mark
//!     }
//!     writer.close(); // EOF from the client: nothing more to answer
//!     writer.wait_closed().await
//! }
//!
//! asyncio::run(async {
//!     let server = asyncio::start_server(shout, "127.0.0.1", 0).await?;
//!     let port = server.sockets()[0].port().unwrap();
//!     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
//!     writer.write(b"hello\nworld\n")?;
//!     writer.write_eof()?;
//!     assert_eq!(reader.read(-1).await?, b"HELLO\nWORLD\n");
//!     writer.close();
//!     server.close();
//!     Ok::<_, asyncio::Error>(())
//! })??;
//! # Ok::<_, asyncio::Error>(())
//! ```

pub(crate) mod core;
mod deadline;
#[cfg(feature = "futures-io")]
mod futures_io;
pub(crate) mod held_sets;
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
