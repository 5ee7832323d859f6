//! Servers across cores: [`serve_on_threads`] runs one stream server per thread, each on its own
//! event loop, and [`ServerGroup`] commands them as one.
//!
//! CPython has no counterpart: an asyncio program uses more cores with more processes (a
//! pre-forking supervisor, `multiprocessing`). This is the thread form of that pattern, and it
//! keeps the crate's design: one loop per thread, nothing shared between loops.
//!
//! Ground rules:
//! - a worker's connections, tasks and callback live and die on its thread; only the group's
//!   commands (through each loop's thread-safe queue), start-up results and figures cross
//!   threads. The callback factory is called once on each worker thread, inside its loop;
//! - the host's every address is served, as `start_server` serves them ("localhost": 127.0.0.1
//!   and ::1; an empty host: 0.0.0.0 and ::); one the host lacks is skipped, as there;
//! - on Linux each worker has its own `SO_REUSEPORT` listener on each address (the first is
//!   bound, its port read back when port 0 was asked, the others bound to that port), and
//!   the kernel spreads new connections by a hash of their addresses. An address something
//!   listens on already fails as a plain bind would (a probe bound first), unless
//!   `reuse_port(true)` was asked for: then the group joins what is there. Where
//!   `SO_REUSEPORT` is missing or refused (for any worker: all or none), every worker accepts
//!   from duplicates of one shared listener per address, without it (each is woken for each
//!   connection; one of them wins it), and [`ServerGroup::reuse_port`] says false;
//! - a worker that fails or panics is reported (the `log` crate, or stderr with no logger) and
//!   its error comes back from [`ServerGroup::wait_closed`]; none is lost silently;
//! - nothing here runs per message: the only added cost is one relaxed atomic add per accepted
//!   connection.
//!
//! Calls down into `streams::open` (the per-worker server), `net::socket_opts` (binding) and the
//! event loop's thread-safe handles. Files: this one (starting the workers, the group's
//! commands), `bind.rs` (binding the listeners), `shared.rs` (what the workers share with the
//! group across threads: the running count, errors, waiters, and the desk where asked-for
//! figures wait).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::task::Poll;
use std::thread::{JoinHandle, ThreadId};

mod bind;
mod shared;

use self::bind::bind_listeners;
use self::shared::{answer, gather, wait_answer, Figures, Shared};
use super::core::ConnectedCb;
use super::open::{ClientConnected, StartServer};
use crate::error::Error;
use crate::event_loop::exception::PanicError;
use crate::event_loop::threadsafe::ThreadsafeHandle;
use crate::event_loop::LoopStats;
use crate::net::resolve::resolve_blocking;
use crate::server::Server;
use crate::transport::Address;
use crate::wakers::Withdraw;

/// The most workers one group may have: far above any core count, low enough that a wrong
/// value fails at once instead of after thousands of threads.
///
/// # Examples
///
/// ```
/// use asyncio::streams::MAX_WORKERS;
///
/// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
/// let too_many = asyncio::serve_on_threads(MAX_WORKERS + 1, noop, "127.0.0.1", 0);
/// let err = too_many.start().unwrap_err(); // refused before any thread starts
/// assert!(err.to_string().contains(&MAX_WORKERS.to_string()), "{err}");
/// ```
pub const MAX_WORKERS: usize = 1024;

type MakeCb = Arc<dyn Fn() -> ConnectedCb + Send + Sync>;
type Configure = Arc<dyn Fn(StartServer) -> StartServer + Send + Sync>;

thread_local! {
    /// The server of the worker running on this thread, if any: the target of the group's
    /// commands, which arrive as closures through the loop's thread-safe queue.
    static WORKER_SERVER: RefCell<Option<Server>> = const { RefCell::new(None) };
    /// Which worker runs on this thread (its group's id, its index), if any: a worker that
    /// waits for figures answers the requests addressed to it meanwhile, whichever group
    /// it asked.
    static WORKER_AT: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

/// Runs `f` on this thread's worker server, if it has one. The borrow ends before `f` runs
/// (`f` may close connections, whose callbacks may run user code).
fn with_worker_server<R>(f: impl FnOnce(&Server) -> R) -> Option<R> {
    let server = WORKER_SERVER.with(|s| s.borrow().clone());
    server.as_ref().map(f)
}

/// Starts `workers` threads, each running its own event loop and a stream server on
/// `host:port` whose connections go to the callback `make_cb()` returns on that thread
/// (the threaded form of [`start_server`](crate::start_server)).
///
/// The callback of `start_server` is not `Send` (it and everything it touches live on one
/// loop), so the group takes a factory instead: `make_cb` must be `Send + Sync` and is called
/// once on each worker thread. Set the other keywords (`limit`, `backlog`, `ssl`,
/// `proxy_protocol`, …) with [`ServeOnThreads::configure`]; start with
/// [`ServeOnThreads::start`].
///
/// `host` is resolved on the calling thread and every address it resolves to is served, as
/// [`start_server`](crate::start_server) serves them ("localhost": 127.0.0.1 and ::1, an
/// address this host lacks skipped); an empty host means every interface, `0.0.0.0` and
/// `::` (one of a family this host lacks skipped). Port 0 lets the OS choose a port for each
/// address, shared by every worker.
///
/// # Examples
///
/// ```
/// use asyncio::{StreamReader, StreamWriter};
///
/// // What each connection runs, on whichever worker accepted it.
/// let echo = |r: StreamReader, w: StreamWriter| async move {
///     w.write(&r.read(100).await?)?;
///     w.close();
///     w.wait_closed().await
/// };
/// let group = asyncio::serve_on_threads(2, move || echo, "127.0.0.1", 0).start()?;
/// let port = group.sockets()[0].port().unwrap();
///
/// asyncio::run(async move {
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     writer.write(b"hi")?;
///     assert_eq!(reader.read(100).await?, b"hi");
///     group.close();
///     group.wait_closed().await // every worker thread has ended
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn serve_on_threads<F, M, C>(
    workers: usize,
    make_cb: F,
    host: &str,
    port: u16,
) -> ServeOnThreads
where
    F: Fn() -> C + Send + Sync + 'static,
    C: ClientConnected<M>,
{
    ServeOnThreads {
        workers,
        make_cb: Arc::new(move || make_cb().into_callback().0),
        host: host.to_string(),
        port,
        reuse_port: true,
        join_port: false,
        configure: None,
    }
}

/// The pending result of [`serve_on_threads`]: set options, then [`start`](Self::start) it.
///
/// # Examples
///
/// ```
/// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
/// let group = asyncio::serve_on_threads(1, noop, "127.0.0.1", 0)
///     .configure(|server| server.limit(4096).backlog(16)) // run on each worker
///     .start()?;
/// assert_eq!(group.workers(), 1);
/// drop(group); // closes every worker and joins its thread
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "a server group does nothing until started"]
pub struct ServeOnThreads {
    /// How many worker threads; checked by `start` (1 to [`MAX_WORKERS`]).
    workers: usize,
    /// Called once on each worker thread for its callback.
    make_cb: MakeCb,
    host: String,
    port: u16,
    /// Try one `SO_REUSEPORT` listener per worker and address (default); off: one listener
    /// per address, shared.
    reuse_port: bool,
    /// `reuse_port(true)` was asked for: the group may join listeners already on its
    /// addresses.
    join_port: bool,
    /// Applied on each worker thread to its `StartServer`.
    configure: Option<Configure>,
}

impl std::fmt::Debug for ServeOnThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOnThreads")
            .field("workers", &self.workers)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("reuse_port", &self.reuse_port)
            .finish_non_exhaustive()
    }
}

impl ServeOnThreads {
    /// Sets the other [`StartServer`] keywords: `configure` is called on each worker thread
    /// with that worker's builder, which already serves the group's listeners (so leave
    /// `sock`, `hosts`, `family` and `reuse_*` alone: binding is the group's).
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0)
    ///     .configure(|server| server.limit(1 << 20)) // each reader's limit: 1 MiB
    ///     .start()?;
    /// drop(group);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn configure<F>(mut self, configure: F) -> Self
    where
        F: Fn(StartServer) -> StartServer + Send + Sync + 'static,
    {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// One `SO_REUSEPORT` listener per worker and address (`true`, the default, where the OS
    /// has it), or one listener per address shared by every worker (`false`).
    ///
    /// By default each address must be free, as for a plain server: if anything listens on
    /// one (another group included), `start` fails with `AddrInUse`. Asked for explicitly,
    /// `reuse_port(true)` lets the group join `SO_REUSEPORT` listeners of the same user already
    /// on its addresses, as Python's `reuse_port=True` does; the kernel then spreads each
    /// address's connections over all of its listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).reuse_port(false).start()?;
    /// assert!(!group.reuse_port());
    /// assert_eq!(group.sockets().len(), 1); // one address: one listener, both workers on it
    /// drop(group);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self.join_port = on;
        self
    }

    /// Binds, starts the worker threads and returns once each is serving.
    ///
    /// Blocks the calling thread while the workers start (each creates its loop and its
    /// server); it may be called from inside a loop as well.
    ///
    /// # Errors
    /// `InvalidArgument` for 0 or more than [`MAX_WORKERS`] workers; `Io` if `host` does not
    /// resolve or binding fails; what a worker's start reported (a failed `StartServer`, or
    /// `Panic` if the callback factory or `configure` panicked there). On error every worker
    /// already started is stopped and joined.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let err = asyncio::serve_on_threads(0, noop, "127.0.0.1", 0).start().unwrap_err();
    /// assert!(matches!(err, asyncio::Error::InvalidArgument(_)));
    /// ```
    pub fn start(self) -> Result<ServerGroup, Error> {
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(Error::invalid_argument(format!(
                "workers must be between 1 and {MAX_WORKERS}, not {}",
                self.workers
            )));
        }
        // The crate's resolver, for the same addresses and errors as `start_server`'s (an
        // empty host is every interface of both families; CPython's gaierror text).
        let mut addrs = resolve_blocking(&self.host, self.port)?;
        let mut seen = std::collections::HashSet::new();
        addrs.retain(|a| seen.insert(*a));
        if addrs.is_empty() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{} resolved to no address", self.host),
            )));
        }
        self.start_on(&addrs)
    }

    /// [`start`](Self::start) once the host has resolved to `addrs` (none repeated).
    fn start_on(self, addrs: &[SocketAddr]) -> Result<ServerGroup, Error> {
        let bound = bind_listeners(addrs, self.workers, self.reuse_port, self.join_port)?;
        let reuse_port = bound.separate;
        // Separate listeners: every one, each under its worker; shared: worker 0's (the
        // originals), listed while any worker runs.
        let mut sockets = Vec::new();
        for (worker, listeners) in bound.per_worker.iter().enumerate() {
            for l in listeners {
                sockets.push((worker, Address::Inet(l.local_addr()?)));
            }
            if !reuse_port {
                break;
            }
        }
        let shared = Arc::new(Shared::new());
        let mut group = ServerGroup {
            slots: Vec::with_capacity(self.workers),
            threads: Mutex::new(Vec::with_capacity(self.workers)),
            shared,
            sockets,
            reuse_port,
            closed: AtomicBool::new(false),
        };
        // Spawn every worker, then wait for each: they start in parallel.
        let mut failures = Vec::new();
        let mut pending = Vec::with_capacity(self.workers);
        for (index, listeners) in bound.per_worker.into_iter().enumerate() {
            match spawn_worker(index, listeners, &self, &group.shared) {
                Ok((join, started, accepted)) => {
                    group.threads_mut().push(Some(join));
                    pending.push((started, accepted));
                }
                Err(e) => {
                    failures.push(e);
                    break; // the ones spawned are still waited for, then stopped
                }
            }
        }
        for (started, accepted) in pending {
            // No word: the thread ended before serving, and its error is in `shared`.
            if let Ok((handle, thread)) = started.recv() {
                group.slots.push(WorkerSlot {
                    handle,
                    thread,
                    accepted,
                });
            }
        }
        if failures.is_empty() && group.slots.len() == self.workers {
            return Ok(group);
        }
        group.stop(); // joins every thread: each has recorded its error by then
        failures.extend(group.shared.lock().errors.drain(..).map(|(_, e)| e));
        Err(match failures.len() {
            1 => failures.pop().expect("one failure"),
            0 => Error::invalid_state("a worker thread ended before serving"),
            _ => Error::Group(failures),
        })
    }
}

/// A worker's word that it serves: its loop's thread-safe handle and its thread. A worker
/// that fails to start sends nothing; its error goes where every worker's error goes
/// (`Shared::finish`).
type Started = mpsc::Receiver<(ThreadsafeHandle, ThreadId)>;

/// Spawns worker `index` on `listeners` (one per address); returns its thread, the channel it
/// reports its start on, and its accepted-connections counter.
fn spawn_worker(
    index: usize,
    listeners: Vec<TcpListener>,
    spec: &ServeOnThreads,
    shared: &Arc<Shared>,
) -> Result<(JoinHandle<()>, Started, Arc<AtomicU64>), Error> {
    let (tx, rx) = mpsc::channel();
    let accepted = Arc::new(AtomicU64::new(0));
    let (make_cb, configure) = (spec.make_cb.clone(), spec.configure.clone());
    let (shared, counter) = (shared.clone(), accepted.clone());
    shared.lock().running += 1;
    let spawned = std::thread::Builder::new()
        .name(format!("asyncio-worker-{index}"))
        .spawn({
            let shared = shared.clone();
            move || {
                WORKER_AT.with(|w| w.set(Some((shared.id, index))));
                let serving = Cell::new(false);
                let run = || run_worker(listeners, make_cb, configure, counter, tx, &serving);
                let error = match catch_unwind(AssertUnwindSafe(run)) {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(payload) => Some(Error::Panic(PanicError::from_payload(&*payload))),
                };
                if let Some(e) = &error {
                    if serving.get() || matches!(e, Error::Panic(_)) {
                        crate::event_loop::debug::error!("asyncio worker {index} failed: {e}");
                    }
                }
                shared.finish(index, error);
            }
        });
    match spawned {
        Ok(join) => Ok((join, rx, accepted)),
        Err(e) => {
            shared.finish(index, None);
            Err(Error::Io(e))
        }
    }
}

/// A worker thread's life, as a program's `main` would have it: `asyncio::run` (off the main
/// thread it installs no SIGINT handler) over the callback and the server; serve until closed.
fn run_worker(
    listeners: Vec<TcpListener>,
    make_cb: MakeCb,
    configure: Option<Configure>,
    accepted: Arc<AtomicU64>,
    started: mpsc::Sender<(ThreadsafeHandle, ThreadId)>,
    serving: &Cell<bool>,
) -> Result<(), Error> {
    crate::run(async move {
        let handle = crate::get_running_loop()?.threadsafe();
        // A plain callback counts as it is called; an async one as its task is spawned, in
        // `connection_made` (its first step, which calls it, comes one turn later).
        let counted = match make_cb() {
            ConnectedCb::Plain(cb) => ConnectedCb::Plain(Rc::new(move |reader, writer| {
                accepted.fetch_add(1, Ordering::Relaxed);
                cb(reader, writer)
            })),
            ConnectedCb::Async(spawn) => ConnectedCb::Async(Rc::new(move |core, transport| {
                spawn(core, transport)?;
                accepted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })),
        };
        let mut start = StartServer::on_listeners(counted, listeners);
        if let Some(configure) = &configure {
            start = configure(start);
        }
        let server = start.await?;
        WORKER_SERVER.with(|s| *s.borrow_mut() = Some(server.clone()));
        serving.set(true);
        let _ = started.send((handle, std::thread::current().id()));
        // Same poll as the send: no group command can close the server before this starts.
        let served = server.serve_forever().await;
        WORKER_SERVER.with(|s| s.borrow_mut().take());
        served
    })?
}

/// One started worker, as the group sees it.
struct WorkerSlot {
    /// Its loop's thread-safe door: the group's commands go through it.
    handle: ThreadsafeHandle,
    /// Its thread, so a command from that very thread runs in place instead of deadlocking.
    thread: ThreadId,
    /// Connections its callback was called for.
    accepted: Arc<AtomicU64>,
}

/// Figures of one worker, from [`ServerGroup::stats`].
///
/// # Examples
///
/// ```
/// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
/// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
/// let stats = group.stats();
/// assert_eq!(stats.len(), 2);
/// assert_eq!(stats[1].worker, 1);
/// assert_eq!(stats[0].accepted, 0);
/// drop(group);
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's index, from 0 (every started worker, an ended one too).
    pub worker: usize,
    /// Connections its callback was called for since it started.
    pub accepted: u64,
    /// Its connections still alive ([`Server::connection_count`]); 0 once it has ended.
    pub connections: usize,
    /// Its loop's [`LoopStats`]; all zero once it has ended.
    pub loop_stats: LoopStats,
}

/// Worker threads each serving the same addresses on their own loop, from
/// [`serve_on_threads`]: close and wait for them as one server. `Send + Sync`: any thread may
/// hold it.
///
/// Dropping it closes every worker, aborts its connections and joins its thread; call
/// [`close`](Self::close) and [`wait_closed`](Self::wait_closed) to let connections end and to
/// see the workers' errors.
///
/// # Examples
///
/// ```
/// let greet = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| {
///     let _ = w.write(b"hello\n");
///     w.close();
/// };
/// let group = asyncio::serve_on_threads(2, greet, "127.0.0.1", 0).start()?;
/// let addr = group.sockets()[0].as_inet().unwrap();
/// let mut client = std::net::TcpStream::connect(addr)?; // a blocking client is fine
/// let mut answer = String::new();
/// std::io::Read::read_to_string(&mut client, &mut answer)?;
/// assert_eq!(answer, "hello\n");
/// group.close();
/// asyncio::run(group.wait_closed())??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct ServerGroup {
    /// The started workers, by index.
    slots: Vec<WorkerSlot>,
    /// Their threads, by index; `None` once joined. Locked across the joins (`join_threads`),
    /// so a worker thread must never wait for this lock (its own `wait_closed` is refused).
    threads: Mutex<Vec<Option<JoinHandle<()>>>>,
    shared: Arc<Shared>,
    /// The listeners' addresses, each with its worker: one per worker and address, or one
    /// per address (under worker 0) when they share listeners.
    sockets: Vec<(usize, Address)>,
    /// Whether each worker has its own `SO_REUSEPORT` listener on each address.
    reuse_port: bool,
    /// Set by `close`: `sockets()` is empty from then on.
    closed: AtomicBool,
}

impl std::fmt::Debug for ServerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerGroup")
            .field("workers", &self.workers())
            .field("sockets", &self.sockets())
            .field("reuse_port", &self.reuse_port)
            .finish()
    }
}

impl ServerGroup {
    fn threads_mut(&mut self) -> &mut Vec<Option<JoinHandle<()>>> {
        self.threads
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many workers are running: those started, less those whose thread has ended (one
    /// that failed, or that finished after [`close`](Self::close) once its connections
    /// ended). [`stats`](Self::stats) still lists every started one.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(3, noop, "127.0.0.1", 0).start()?;
    /// assert_eq!(group.workers(), 3);
    /// group.close();
    /// asyncio::run(group.wait_closed())??;
    /// assert_eq!(group.workers(), 0);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.lock().running
    }

    /// Whether each worker has its own `SO_REUSEPORT` listener on each address: false where
    /// the workers share one listener per address, and with one worker unless
    /// `reuse_port(true)` was asked for (plain listeners).
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// if cfg!(target_os = "linux") {
    ///     assert!(group.reuse_port());
    /// }
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_port(&self) -> bool {
        self.reuse_port
    }

    /// The listening addresses: for each address the host resolved to and that could be
    /// bound, one per running worker with `SO_REUSEPORT` (all the same; a worker that has
    /// ended took its listeners with it), by worker; one per address while any worker runs
    /// when they share listeners; empty after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// let addrs: Vec<_> = group.sockets().iter().map(|a| a.as_inet().unwrap()).collect();
    /// assert!(addrs.iter().all(|a| a == &addrs[0])); // one address: one port, every worker
    /// group.close();
    /// assert!(group.sockets().is_empty());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sockets(&self) -> Vec<Address> {
        if self.closed.load(Ordering::Acquire) {
            return Vec::new();
        }
        let state = self.shared.lock();
        let live = |worker: &usize| match self.reuse_port {
            true => !state.ended.contains(worker),
            false => state.running > 0,
        };
        self.sockets
            .iter()
            .filter(|(worker, _)| live(worker))
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Runs `f` on each worker's loop (in place when called from that worker's own thread).
    fn each<F>(&self, f: F)
    where
        F: Fn() + Clone + Send + 'static,
    {
        let here = std::thread::current().id();
        for slot in &self.slots {
            if slot.thread == here {
                f();
            } else {
                // An ended worker refuses the call: nothing left to command there.
                let _ = slot.handle.call_soon_threadsafe(f.clone());
            }
        }
    }

    /// Stops every worker listening ([`Server::close`] on each, through its loop); their
    /// connections stay open. Idempotent; returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// group.close();
    /// group.close(); // idempotent
    /// asyncio::run(group.wait_closed())??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.each(|| {
            with_worker_server(Server::close);
        });
    }

    /// Closes every worker's connections gracefully ([`Server::close_clients`] on each).
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| ();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// group.close();
    /// group.close_clients(); // each client sees EOF
    /// asyncio::run(group.wait_closed())??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn close_clients(&self) {
        self.each(|| {
            with_worker_server(Server::close_clients);
        });
    }

    /// Aborts every worker's connections ([`Server::abort_clients`] on each).
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| ();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// group.close();
    /// group.abort_clients();
    /// asyncio::run(group.wait_closed())??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn abort_clients(&self) {
        self.each(|| {
            with_worker_server(Server::abort_clients);
        });
    }

    /// Each worker's figures, gathered from its thread now (this call waits for every
    /// worker's loop to answer; an ended worker answers with its count of accepted
    /// connections and zeros).
    ///
    /// It blocks its caller while the workers answer (a few microseconds each when they are
    /// not busy). Called inside a worker's callback it blocks that worker's loop meanwhile,
    /// but that worker still answers the requests addressed to it as it waits, so workers
    /// asking at the same moment (of this group or of another) do not wait for each other.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// let accepted: u64 = group.stats().iter().map(|s| s.accepted).sum();
    /// assert_eq!(accepted, 0);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stats(&self) -> Vec<WorkerStats> {
        let here = std::thread::current().id();
        let me = self.slots.iter().position(|slot| slot.thread == here);
        /// One worker's answer: computed here, on its way, or none (the worker has ended).
        enum Answer {
            Here(Figures),
            Asked(mpsc::Receiver<Figures>),
            Gone,
        }
        // Ask every worker first, then collect: they answer in parallel.
        let answers: Vec<Answer> = (0..self.slots.len())
            .map(|worker| {
                if Some(worker) == me {
                    return Answer::Here(gather());
                }
                let Some(rx) = self.shared.ask(worker) else {
                    return Answer::Gone;
                };
                let id = self.shared.id;
                // Refused by an ended loop: its thread's `finish` drops the request.
                let _ = self.slots[worker]
                    .handle
                    .call_soon_threadsafe(move || answer(id, worker));
                Answer::Asked(rx)
            })
            .collect();
        answers
            .into_iter()
            .zip(&self.slots)
            .enumerate()
            .map(|(worker, (answer, slot))| {
                let (connections, loop_stats) = match answer {
                    Answer::Here(figures) => figures,
                    Answer::Asked(rx) => wait_answer(&rx),
                    Answer::Gone => Figures::default(),
                };
                WorkerStats {
                    worker,
                    accepted: slot.accepted.load(Ordering::Relaxed),
                    connections,
                    loop_stats,
                }
            })
            .collect()
    }

    /// Waits until every worker thread has ended (each worker ends once it is closed and its
    /// connections have ended, as [`Server::wait_closed`]), and joins them. Several calls at
    /// once (from tasks or threads) each return only once every thread has been joined.
    ///
    /// # Errors
    /// What the workers failed with: the one error, or `Error::Group` of several (a panic is
    /// `Error::Panic`), by worker. Every call returns them (each caller gets its own copy).
    /// `Error::InvalidState` at once when called on one of this group's own workers, which
    /// would wait for its own end (as joining the current thread is refused).
    ///
    /// # Cancel safety
    /// Dropping the future loses nothing: the workers go on ending, and a later call sees them.
    ///
    /// # Examples
    ///
    /// ```
    /// let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    /// let group = asyncio::serve_on_threads(2, noop, "127.0.0.1", 0).start()?;
    /// asyncio::run(async move {
    ///     group.close();
    ///     group.wait_closed().await // both threads have ended and are joined
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn wait_closed(&self) -> Result<(), Error> {
        if WORKER_AT
            .with(Cell::get)
            .is_some_and(|(group, _)| group == self.shared.id)
        {
            return Err(Error::invalid_state(
                "ServerGroup.wait_closed() called on one of its own workers: it would wait for \
                 itself",
            ));
        }
        // Filed under one key for the whole wait, taken back if the wait is dropped first.
        let mut wait = Withdraw::new(|key| {
            let waker = self.shared.lock().waiters.remove(key);
            drop(waker); // after the lock: dropping a waker may run its task's code
        });
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            if state.running == 0 {
                return Poll::Ready(());
            }
            let replaced = state.waiters.file(&mut wait.key, cx.waker());
            drop(state);
            drop(replaced); // after the lock
            Poll::Pending
        })
        .await;
        self.join_threads();
        let mut errors: Vec<Error> = {
            let mut state = self.shared.lock();
            state.errors.sort_by_key(|(index, _)| *index);
            state.errors.iter().map(|(_, e)| e.duplicate()).collect()
        };
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().expect("one error")),
            _ => Err(Error::Group(errors)),
        }
    }

    /// Joins the worker threads that have ended or are about to (never this very thread).
    ///
    /// The lock is held across the joins: a second caller (another `wait_closed`, the drop)
    /// waits for the first one's joins to end instead of finding the handles taken and
    /// returning while a worker thread still runs. No worker takes this lock (a worker's
    /// `wait_closed` on its own group is refused, and the one thread skipped here is the
    /// caller's own), so it cannot wait for a thread that waits for it.
    fn join_threads(&self) {
        let here = std::thread::current().id();
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        let ending = threads
            .iter_mut()
            .filter(|t| t.as_ref().is_some_and(|t| t.thread().id() != here));
        for t in ending.filter_map(Option::take) {
            // The body catches panics: a join error cannot carry anything not already reported.
            let _ = t.join();
        }
        drop(threads);
    }

    /// Closes every worker's server and connections, then joins every thread (a failed start,
    /// and the group's drop).
    fn stop(&self) {
        self.close();
        self.abort_clients();
        self.join_threads();
    }
}

impl Drop for ServerGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    use crate::{StreamReader, StreamWriter};

    /// One byte each way through the group at `addr`.
    fn reaches(addr: SocketAddr) {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"x").unwrap();
        let mut back = [0u8; 1];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"x", "{addr}");
    }

    // Checklist: L97 (every address a host resolves to is served, as start_server does), L98.
    // A host that resolves to 127.0.0.1 and ::1 (`localhost` where the hosts file says so:
    // tests/workers_start.rs tries the name itself) is served on both, with separate and with
    // shared listeners; only the first address used to be.
    #[test]
    fn l97_every_resolved_address_is_served_by_every_worker() {
        if let Err(e) = TcpListener::bind("[::1]:0") {
            println!("skipped: ::1 cannot be bound here ({e})");
            return;
        }
        let addrs: [SocketAddr; 2] = ["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
        let echo = || {
            |r: StreamReader, w: StreamWriter| async move {
                w.write(&r.read(1).await?)?;
                w.drain().await
            }
        };
        for reuse_port in [true, false] {
            let group = super::serve_on_threads(2, echo, "unused", 0)
                .reuse_port(reuse_port)
                .start_on(&addrs)
                .unwrap();
            assert_eq!(group.reuse_port(), reuse_port);
            let bound: Vec<SocketAddr> = group
                .sockets()
                .iter()
                .map(|a| a.as_inet().unwrap())
                .collect();
            // Separate: a listener per worker and address; shared: one per address.
            assert_eq!(bound.len(), if reuse_port { 4 } else { 2 }, "{bound:?}");
            for want in &addrs {
                let at: Vec<_> = bound.iter().filter(|a| a.ip() == want.ip()).collect();
                assert!(!at.is_empty(), "{} not served: {bound:?}", want.ip());
                assert!(at.iter().all(|a| a.port() == at[0].port()), "{bound:?}");
                reaches(*at[0]);
            }
            group.close();
            crate::run(group.wait_closed()).unwrap().unwrap();
        }
    }
}
