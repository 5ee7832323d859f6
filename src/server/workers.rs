//! One server across several cores: N event loops, one per thread, each with its own listener
//! on the same address (`SO_REUSEPORT`), each running the same setup.
//!
//! Python's asyncio has no counterpart: a Python server that wants more cores runs more
//! processes, each with its own loop, and lets the kernel spread connections over their
//! `reuse_port` listeners. This does the same with threads. Nothing is shared between the
//! loops: each worker builds its own server (its handler, its streams, its timers) from the
//! `Send + Sync` setup function, and a connection lives its whole life on the loop that
//! accepted it. Linux spreads new connections over the listeners by a hash of their addresses;
//! other systems with `SO_REUSEPORT` may hand them all to one listener.
//!
//! ```text
//!  serve_on_threads(n, host, port, setup)
//!     worker 0: LoopThread ── setup(&Worker{0, host, port}) .reuse_port(true) ── binds; its port p
//!     worker i: LoopThread ── setup(&Worker{i, host, p})    .reuse_port(true) ── binds p as well
//!  Workers::close(): each loop stopped (its server closed, its tasks cancelled), threads joined
//! ```

use std::sync::mpsc;
use std::sync::Arc;

use crate::embed::{ConcurrentFuture, LoopThread};
use crate::error::Error;
use crate::event_loop::LoopStats;
use crate::streams::StartServer;
use crate::transport::Address;

/// What a worker's setup function is told: which worker it builds, and where to listen.
///
/// `port` is the port asked for on worker 0, and the port worker 0 got on every other worker
/// (so asking for port 0 gives all of them the same OS-chosen port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worker {
    /// 0 for the first worker, up to n - 1.
    pub index: usize,
    /// The host passed to [`serve_on_threads`].
    pub host: String,
    /// The port to listen on (see above).
    pub port: u16,
}

/// A server running on several loops, one per thread, from [`serve_on_threads`].
///
/// Dropping it stops every worker as [`close`](Self::close) does, ignoring their errors.
#[derive(Debug)]
pub struct Workers {
    loops: Vec<LoopThread>,
    serving: Vec<ConcurrentFuture<Result<(), Error>>>,
    sockets: Vec<Address>,
}

type Setup = Arc<dyn Fn(&Worker) -> StartServer + Send + Sync>;

/// Runs the server `setup` builds on `n` event loops, each on its own thread, all listening
/// on `host`:`port` (each with its own `SO_REUSEPORT` listener; `reuse_port(true)` is set on
/// what `setup` returns). Returns once every worker listens.
///
/// `setup` runs once on each worker's thread, with that worker's [`Worker`]; it returns the
/// server to start there, usually `asyncio::start_server(handler, &w.host, w.port)` with any
/// other options. The handler and everything it touches stay on that thread.
///
/// # Errors
/// `InvalidInput` for `n == 0`; a worker's loop that cannot start, or its server's error
/// (address in use, ...), after the workers already started are stopped.
///
/// # Examples
///
/// ```
/// use asyncio::{StreamReader, StreamWriter};
///
/// async fn echo(reader: StreamReader, writer: StreamWriter) {
///     while let Ok(data) = reader.read(1024).await {
///         if data.is_empty() || writer.write(&data).is_err() {
///             break;
///         }
///     }
/// }
///
/// let workers = asyncio::serve_on_threads(2, "127.0.0.1", 0, |w| {
///     asyncio::start_server(echo, &w.host, w.port)
/// })?;
/// let port = workers.sockets()[0].as_inet().unwrap().port();
/// assert_eq!(workers.stats()?.len(), 2);
/// # let _ = port;
/// workers.close()?;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn serve_on_threads<S>(n: usize, host: &str, port: u16, setup: S) -> Result<Workers, Error>
where
    S: Fn(&Worker) -> StartServer + Send + Sync + 'static,
{
    if n == 0 {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "serve_on_threads needs at least one worker",
        )));
    }
    let setup: Setup = Arc::new(setup);
    let mut workers = Workers {
        loops: Vec::with_capacity(n),
        serving: Vec::with_capacity(n),
        sockets: Vec::new(),
    };
    let mut port = port;
    for index in 0..n {
        let w = Worker {
            index,
            host: host.to_string(),
            port,
        };
        let sockets = workers.start(w, setup.clone())?;
        if index == 0 {
            port = sockets
                .iter()
                .find_map(|a| a.as_inet())
                .map_or(port, |a| a.port());
            workers.sockets = sockets;
        }
    }
    Ok(workers)
}

impl Workers {
    /// Starts one worker; its listening addresses once it listens.
    fn start(&mut self, w: Worker, setup: Setup) -> Result<Vec<Address>, Error> {
        let lt = LoopThread::spawn()?;
        let (tx, rx) = mpsc::channel();
        let serving = lt.run_coroutine_threadsafe(move || async move {
            // A panicking setup is this worker's error (the caller gets it), not a lost task.
            let start = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup(&w)))
                .map_err(|p| Error::Panic(crate::PanicError::from_payload(&*p)));
            let start = match start {
                Ok(start) => start,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return Err(e);
                }
            };
            let server = match start.reuse_port(true).await {
                Ok(server) => server,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return Err(e);
                }
            };
            let _ = tx.send(Ok(server.sockets()));
            server.serve_forever().await
        });
        self.loops.push(lt);
        match rx.recv() {
            Ok(Ok(sockets)) => {
                self.serving.push(serving);
                Ok(sockets)
            }
            // The server failed to start (its error is the coroutine's result), or the setup
            // panicked (the channel closed): report that, then stop what started.
            _ => {
                let e = serving
                    .result(None)
                    .and_then(|r| r)
                    .err()
                    .unwrap_or_else(|| Error::invalid_state("a worker stopped before serving"));
                let _ = self.stop_all();
                Err(e)
            }
        }
    }

    /// The addresses the first worker listens on (every worker listens on the same ones).
    pub fn sockets(&self) -> &[Address] {
        &self.sockets
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.loops.len()
    }

    /// Always false: a group has at least one worker.
    pub fn is_empty(&self) -> bool {
        self.loops.is_empty()
    }

    /// Each worker loop's [`LoopStats`], in worker order (asked on each loop's thread).
    ///
    /// # Errors
    /// `InvalidState` if a worker's loop is no longer running.
    pub fn stats(&self) -> Result<Vec<LoopStats>, Error> {
        let asks: Vec<_> = (self.loops.iter())
            .map(|lt| {
                lt.run_coroutine_threadsafe(|| async {
                    crate::event_loop::get_running_loop().map(|lp| lp.stats())
                })
            })
            .collect();
        asks.into_iter().map(|a| a.result(None)?).collect()
    }

    /// Stops every worker: its server closes (no more accepting), its connections' tasks are
    /// cancelled and its transports closed, as when [`asyncio::run`](crate::run) ends; then
    /// waits for every thread. Returns the first worker's error (a server that failed while
    /// serving, a panic on a loop thread), after all are stopped.
    ///
    /// # Errors
    /// See above.
    pub fn close(mut self) -> Result<(), Error> {
        self.stop_all()
    }

    fn stop_all(&mut self) -> Result<(), Error> {
        let mut first = None;
        for lt in self.loops.drain(..) {
            if let Err(e) = lt.stop() {
                first.get_or_insert(e);
            }
        }
        for serving in self.serving.drain(..) {
            // Stopped loops cancel serve_forever: that is the normal end, not an error.
            match serving.result(None) {
                Ok(Err(e)) | Err(e) if !matches!(e, Error::Cancelled) => {
                    first.get_or_insert(e);
                }
                _ => {}
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop_all();
    }
}
