//! Shared test helpers: exception-handler capture, bounded waits, temp dirs, the built
//! examples.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asyncio::LoopHandle;

pub mod capture_log;

/// Installs an exception handler that records each report as `message | exception`.
pub fn capture_exceptions(lp: &LoopHandle) -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &LoopHandle, ctx: &asyncio::ExceptionContext| {
            let exc = ctx
                .exception
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            s.borrow_mut().push(format!("{} | {}", ctx.message, exc));
        },
    ));
    seen
}

/// Installs an exception handler that records each report as `message | exception | keys`,
/// the keys being the context's other keys in the order given (`[transport, protocol]`), to
/// compare with the key set CPython's context has in the same case.
pub fn capture_exceptions_and_keys(lp: &LoopHandle) -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &LoopHandle, ctx: &asyncio::ExceptionContext| {
            let exc = ctx.exception.as_ref().map(|e| e.to_string());
            let keys: Vec<&str> = ctx.details.iter().map(|(k, _)| *k).collect();
            let exc = exc.unwrap_or_default();
            s.borrow_mut()
                .push(format!("{} | {exc} | {keys:?}", ctx.message));
        },
    ));
    seen
}

/// A log of events, shareable into `'static` callbacks.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

/// A fresh empty directory under the system temp dir, unique per call, removed with what it
/// holds when dropped (a test leaves nothing behind in /tmp). Derefs to its `Path`.
pub fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("asyncio-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

/// See [`temp_dir`].
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use asyncio::{Protocol, Transport};
use std::io;

/// A hook run from inside a protocol callback.
pub type Hook = Option<Box<dyn FnMut(&Transport)>>;
/// A hook run from inside `data_received`.
pub type DataHook = Option<Box<dyn FnMut(&Transport, &[u8])>>;

/// A protocol that records its calls (`connection_made`, `data_received(N)`, `eof_received`,
/// `connection_lost(None|kind)`, `pause_writing`, `resume_writing`) and checks the call
/// grammar of L44 as it goes. Hooks let a test act from inside each callback.
#[derive(Default)]
pub struct Recorder {
    pub calls: Vec<String>,
    pub data: Vec<u8>,
    pub transport: Option<Transport>,
    pub keep_open_on_eof: bool,
    pub on_made: Hook,
    pub on_data: DataHook,
    pub on_eof: Hook,
    pub on_resume: Hook,
    pub lost: bool,
}

impl Recorder {
    fn check(&self, call: &str) {
        assert!(!self.lost, "L44: {call} after connection_lost");
        assert!(
            call == "connection_made"
                || self.calls.first().map(String::as_str) == Some("connection_made"),
            "L44: {call} before connection_made"
        );
    }

    /// Compact call list with consecutive data_received merged into one `data`.
    pub fn grammar(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.calls {
            let c = if c.starts_with("data_received") {
                "data".to_string()
            } else {
                c.clone()
            };
            if c == "data" && out.last().map(String::as_str) == Some("data") {
                continue;
            }
            out.push(c);
        }
        out
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, t: Transport) {
        assert!(self.calls.is_empty(), "L44: connection_made twice or late");
        self.check("connection_made");
        self.calls.push("connection_made".into());
        self.transport = Some(t.clone());
        if let Some(f) = self.on_made.as_mut() {
            f(&t);
        }
    }
    fn data_received(&mut self, data: &[u8]) {
        self.check("data_received");
        assert!(!data.is_empty(), "L46: empty data_received");
        assert!(
            !self.calls.iter().any(|c| c == "eof_received"),
            "L44: data after eof"
        );
        self.calls.push(format!("data_received({})", data.len()));
        self.data.extend_from_slice(data);
        if let (Some(f), Some(t)) = (self.on_data.as_mut(), self.transport.clone()) {
            f(&t, data);
        }
    }
    fn eof_received(&mut self) -> bool {
        self.check("eof_received");
        assert!(
            !self.calls.iter().any(|c| c == "eof_received"),
            "L63: eof_received twice"
        );
        self.calls.push("eof_received".into());
        if let (Some(f), Some(t)) = (self.on_eof.as_mut(), self.transport.clone()) {
            f(&t);
        }
        self.keep_open_on_eof
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.check("connection_lost");
        self.lost = true;
        self.calls.push(match exc {
            None => "connection_lost(None)".into(),
            Some(e) => format!("connection_lost({:?})", e.kind()),
        });
    }
    fn pause_writing(&mut self) {
        self.check("pause_writing");
        assert_ne!(
            self.calls
                .iter()
                .rev()
                .find(|c| c.ends_with("_writing"))
                .map(String::as_str),
            Some("pause_writing"),
            "L49: pause twice"
        );
        self.calls.push("pause_writing".into());
    }
    fn resume_writing(&mut self) {
        self.check("resume_writing");
        assert_eq!(
            self.calls
                .iter()
                .rev()
                .find(|c| c.ends_with("_writing"))
                .map(String::as_str),
            Some("pause_writing"),
            "L49: resume without pause"
        );
        self.calls.push("resume_writing".into());
        if let (Some(f), Some(t)) = (self.on_resume.as_mut(), self.transport.clone()) {
            f(&t);
        }
    }
}

/// The [`Recorder::grammar`] of a connection that got data and then ended cleanly: made, data,
/// eof_received, then connection_lost with no error.
pub const DATA_THEN_A_CLEAN_END: [&str; 4] = [
    "connection_made",
    "data",
    "eof_received",
    "connection_lost(None)",
];

/// A protocol that forwards its calls to a shared [`Recorder`], so a test keeps the recorder
/// a connection's protocol factory made and looks at it afterwards.
pub struct Forward(pub Rc<RefCell<Recorder>>);

impl Protocol for Forward {
    fn connection_made(&mut self, t: Transport) {
        self.0.borrow_mut().connection_made(t)
    }
    fn data_received(&mut self, d: &[u8]) {
        self.0.borrow_mut().data_received(d)
    }
    fn eof_received(&mut self) -> bool {
        self.0.borrow_mut().eof_received()
    }
    fn connection_lost(&mut self, e: Option<io::Error>) {
        self.0.borrow_mut().connection_lost(e)
    }
}

/// What a [`Recorder::writing_on_made`] saw: its transport, and the bytes that transport still
/// held once `connection_made` had written (`None` until then).
pub type MadeAndQueued = Rc<RefCell<Option<(Transport, usize)>>>;

impl Recorder {
    /// A recorder whose `connection_made` writes `n` bytes (7s) and notes what stayed queued.
    pub fn writing_on_made(n: usize) -> (Recorder, MadeAndQueued) {
        let made: MadeAndQueued = Rc::default();
        let m = made.clone();
        let rec = Recorder {
            on_made: Some(Box::new(move |t: &Transport| {
                t.write(&vec![7u8; n]).unwrap();
                *m.borrow_mut() = Some((t.clone(), t.get_write_buffer_size()));
            })),
            ..Default::default()
        };
        (rec, made)
    }
}

/// Runs `lp`, polling `conn`'s future once a turn under a probe's waker, until the recorder
/// behind `made` has had its `connection_made`; the future is then dropped without another
/// poll, so it never sees the turn it waited for. Returns what the recorder saw.
pub fn drop_once_made(
    lp: &asyncio::EventLoop,
    conn: impl std::future::IntoFuture,
    made: &MadeAndQueued,
) -> (Transport, usize) {
    let probe = Probe::new();
    lp.run_until_complete(async {
        let mut fut = std::pin::pin!(conn.into_future());
        probe
            .poll_each_turn(fut.as_mut(), || made.borrow().is_some())
            .await;
    })
    .unwrap();
    let seen = made.borrow_mut().take();
    seen.expect("connection_made ran")
}

/// Runs the loop until `cond` holds, at most `max_iterations` iterations of at most 10 s each.
pub fn run_until(lp: &asyncio::EventLoop, max_iterations: usize, mut cond: impl FnMut() -> bool) {
    for _ in 0..max_iterations {
        if cond() {
            return;
        }
        lp.run_once(Some(std::time::Duration::from_secs(10)))
            .unwrap();
    }
    assert!(
        cond(),
        "condition not reached within {max_iterations} iterations"
    );
}

/// Runs at most `turns` loop iterations that wait for nothing (a zero timeout) until `cond`
/// holds. For what is already within the loop's reach (bytes queued on a socket pair before
/// the call, a callback scheduled): a broken implementation fails at once, where
/// [`run_until`] would wait up to 10 s an iteration for an event that never comes.
pub fn run_turns_until(lp: &asyncio::EventLoop, turns: usize, mut cond: impl FnMut() -> bool) {
    for _ in 0..turns {
        if cond() {
            return;
        }
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
    }
    assert!(cond(), "condition not reached within {turns} turns");
}

/// Echo protocol: writes back what it gets; closes on EOF.
#[derive(Default)]
pub struct Echo {
    pub transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, t: Transport) {
        self.transport = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data).unwrap();
    }
}

// ---- issue #8 (faults, churn, flow model): process resources and reader introspection ----

/// Open descriptors of this process that are not regular files or directories: sockets,
/// pipes, epoll/event/timer descriptors, devices (`/proc/self/fd`). Tests that compare counts
/// must not run beside tests that open such descriptors: hold [`serial`] for the whole test.
/// Files and directories are left out because a test waiting for [`serial`] may read one at
/// any moment (the TLS tests' configs load their PEM certificates from disk before taking the
/// lock), and so does this count (the directory handle it reads).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::metadata(e.ok()?.path()).ok())
        .filter(|m| !m.is_file() && !m.is_dir())
        .count()
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`).
pub fn vm_rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// Serialises the tests of one binary (a poisoned lock, left by a failed test, still locks).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A field of a `StreamReader`'s `Debug` output (`buffered`, `waiting`, `paused`, …): the reader
/// has no public size accessor, and its `Debug` is the documented view of its state.
pub fn reader_field(reader: &asyncio::StreamReader, field: &str) -> String {
    let dbg = format!("{reader:?}");
    let at = dbg
        .find(&format!("{field}: "))
        .unwrap_or_else(|| panic!("no `{field}` in {dbg}"));
    let rest = &dbg[at + field.len() + 2..];
    let end = rest.find([',', ' ', '}']).unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Bytes buffered in a `StreamReader`, from its `Debug` output.
pub fn reader_buffered(reader: &asyncio::StreamReader) -> usize {
    reader_field(reader, "buffered").parse().expect("a count")
}

/// L44 on a finished call list: connection_made first, connection_lost exactly once and last.
pub fn assert_made_first_lost_once_last(calls: &[String], what: &str) {
    assert_eq!(calls[0], "connection_made", "{what}: {calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("connection_lost"))
            .count(),
        1,
        "{what}: {calls:?}"
    );
    assert!(
        calls.last().unwrap().starts_with("connection_lost"),
        "{what}: {calls:?}"
    );
}

/// The built example `name`: `cargo test` builds every example next to the test binaries
/// (target/debug/deps/TEST-… → target/debug/examples/NAME).
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo test` (it builds the examples) or `cargo build --examples`",
        path.display()
    );
    path
}

/// A stream server on 127.0.0.1 whose connections `handler` serves, started on `lp` from
/// outside it (for a test that drives the loop by hand), and its port.
pub fn serve_on<H, F>(lp: &asyncio::EventLoop, handler: H) -> (asyncio::Server, u16)
where
    H: Fn(asyncio::StreamReader, asyncio::StreamWriter) -> F + 'static,
    F: std::future::Future<Output = asyncio::Result<()>> + 'static,
{
    let server = lp
        .run_until_complete(asyncio::start_server(handler, "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let port = port_of(&server);
    (server, port)
}

/// The port a TCP server listens on (its first socket).
pub fn port_of(server: &asyncio::Server) -> u16 {
    server.sockets()[0].as_inet().expect("a TCP server").port()
}

/// Runs `fut` on a fresh loop, bounded by `bound`, and returns its output.
pub fn run_fresh<F: std::future::Future + 'static>(
    bound: std::time::Duration,
    fut: F,
) -> F::Output {
    let lp = asyncio::EventLoop::new().unwrap();
    lp.run_until_complete(asyncio::timeout(bound, fut))
        .unwrap()
        .expect("test timed out")
}

/// A task that makes what `hold` gives when it first runs, keeps it, and waits until it is
/// cancelled, which drops it (a drop guard standing for Python's `finally`): a `TaskGroup`
/// child that never ends by itself.
pub async fn held_until_cancelled<T>(hold: impl FnOnce() -> T) -> asyncio::Result<()> {
    let _held = hold();
    std::future::pending::<()>().await;
    Ok(())
}

/// Both futures at once, on the calling task (the crate has no `join`; tasks would need
/// `'static`).
pub async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

/// The handler of `examples/echo_server.rs`, as it is there: read through the reader's own
/// buffer, write, drain, until EOF; then close.
pub async fn echo_example(
    reader: asyncio::StreamReader,
    writer: asyncio::StreamWriter,
) -> asyncio::Result<()> {
    loop {
        let data = reader.read(64 * 1024).await?;
        if data.is_empty() {
            break;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// A new OS pipe, `(read end, write end)`, both close-on-exec. (`std::io::pipe` is newer than
/// the crate's minimum Rust version.)
pub fn os_pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes; on success each is a new
    // open descriptor that nothing else owns, so each may be given to one `OwnedFd`.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: as above: fresh descriptors, owned by nobody else.
    unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(fds[0])),
            std::fs::File::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

/// Runs `body` in a child process (this test binary re-executed with `--exact test` and the
/// `marker` variable set), alone in its process: what it changes process-wide (a lowered
/// `RLIMIT_NOFILE`, an environment variable) cannot reach the other tests. The parent checks
/// that the child succeeded and printed `ok_line`.
pub fn in_child(marker: &str, test: &str, ok_line: &str, body: fn()) {
    let _ = in_child_stderr(marker, test, ok_line, body);
}

/// [`in_child`], returning what the child wrote to stderr (empty in the child itself).
pub fn in_child_stderr(marker: &str, test: &str, ok_line: &str, body: fn()) -> String {
    in_child_env(marker, test, ok_line, &[], body)
}

/// [`in_child_stderr`] with the variables `env` set in the child too: for those the runtime
/// reads as the process starts (`RUST_MIN_STACK`), before any test code runs.
pub fn in_child_env(
    marker: &str,
    test: &str,
    ok_line: &str,
    env: &[(&str, &str)],
    body: fn(),
) -> String {
    if std::env::var_os(marker).is_some() {
        body();
        return String::new();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child failed: {}", out.status);
    assert!(
        stdout.contains(ok_line),
        "the child did not run the test body"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Keeps `proto` borrowed from a task for `hold` (a user holding a protocol across an
/// `.await`), runs `meanwhile` once the borrow is taken (the peer sends, say), and returns how
/// many loop turns the hold took. Fails past 1 000 turns: the loop spins.
#[allow(dead_code)] // not every test binary that has `util` holds a protocol
pub fn turns_while_held<P: ?Sized + 'static>(
    lp: &asyncio::EventLoop,
    proto: &Rc<RefCell<P>>,
    hold: std::time::Duration,
    meanwhile: impl FnOnce(),
) -> usize {
    let (p, released) = (proto.clone(), Rc::new(std::cell::Cell::new(false)));
    let r = released.clone();
    // Holding the borrow across an await is the point: the misuse being tested.
    #[allow(clippy::await_holding_refcell_ref)]
    lp.spawn(async move {
        let guard = p.borrow_mut();
        asyncio::sleep(hold).await;
        drop(guard);
        r.set(true);
    })
    .unwrap()
    .detach();
    lp.run_once(Some(std::time::Duration::ZERO)).unwrap(); // the task takes the borrow
    meanwhile();
    let mut turns = 0;
    while !released.get() {
        lp.run_once(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        turns += 1;
        assert!(turns < 1_000, "the loop spins while the protocol is held");
    }
    turns
}

/// Another executor's waker that panics when woken: a test parks it on a wait to pin that
/// the panic of a foreign wake-up is reported as a callback's is and the loop goes on.
pub struct Panicky;

impl std::task::Wake for Panicky {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("foreign waker failed");
    }
}

/// Polls `fut` once with `waker` (a foreign executor's poll).
pub fn poll_with<F: std::future::Future + ?Sized>(
    fut: std::pin::Pin<&mut F>,
    waker: &std::task::Waker,
) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(waker))
}

/// A waker for a wait under test, to see whether the wait still holds it once dropped
/// (`Arc::strong_count(&probe) == 1`). Wake-ups are passed on to the task last given to
/// [`Probe::drive`], so a wait can be driven by real events.
#[derive(Default)]
pub struct Probe {
    task: std::sync::Mutex<Option<std::task::Waker>>,
    woken: AtomicUsize,
}

impl std::task::Wake for Probe {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.fetch_add(1, Ordering::Relaxed);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Probe {
    pub fn new() -> std::sync::Arc<Probe> {
        std::sync::Arc::default()
    }

    /// How many times it was woken.
    pub fn woken(&self) -> usize {
        self.woken.load(Ordering::Relaxed)
    }

    /// Polls `fut` once under this probe's waker.
    pub fn poll<F: std::future::Future>(
        self: &std::sync::Arc<Self>,
        fut: std::pin::Pin<&mut F>,
    ) -> std::task::Poll<F::Output> {
        let waker = std::task::Waker::from(self.clone());
        fut.poll(&mut std::task::Context::from_waker(&waker))
    }

    /// Polls `fut` under this probe's waker on every wake-up of it until `until()` holds after
    /// a poll; `fut` must stay pending meanwhile.
    pub async fn drive<F: std::future::Future>(
        self: &std::sync::Arc<Self>,
        mut fut: std::pin::Pin<&mut F>,
        until: impl Fn() -> bool,
    ) {
        std::future::poll_fn(|cx| {
            *self.task.lock().unwrap() = Some(cx.waker().clone());
            assert!(self.poll(fut.as_mut()).is_pending(), "finished early");
            if until() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        *self.task.lock().unwrap() = None;
    }

    /// Polls `fut` under this probe's waker once a loop turn until `until()` holds, which is
    /// asked before each poll: `fut` is not polled again once it does, so it never sees that
    /// turn (a test then drops it there). `fut` must stay pending meanwhile. Bounded.
    pub async fn poll_each_turn<F: std::future::Future>(
        self: &std::sync::Arc<Self>,
        mut fut: std::pin::Pin<&mut F>,
        until: impl Fn() -> bool,
    ) {
        let mut turns = 0;
        std::future::poll_fn(|cx| {
            if until() {
                return std::task::Poll::Ready(());
            }
            assert!(self.poll(fut.as_mut()).is_pending(), "finished early");
            turns += 1;
            assert!(turns < 100_000, "not there after {turns} turns");
            cx.waker().wake_by_ref(); // look again next turn
            std::task::Poll::Pending
        })
        .await;
    }
}

/// A stream over one end of a socket pair on `lp`, and the other end (kept open by the caller).
pub fn stream_on(
    lp: &asyncio::EventLoop,
) -> (
    asyncio::StreamReader,
    asyncio::StreamWriter,
    std::os::unix::net::UnixStream,
) {
    let (a, peer) = asyncio::socketpair().unwrap();
    let (reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    (reader, writer, peer)
}
