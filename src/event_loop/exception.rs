//! The loop's exception handler: where errors nobody can return go.
//!
//! Mirrors `call_exception_handler`, `set_exception_handler` and `default_exception_handler` in
//! CPython `Lib/asyncio/base_events.py` (L18–L20). A panic or `Err` escaping a callback, a task
//! whose failure nobody observed, an accept loop out of file descriptors: each becomes an
//! [`ExceptionContext`] handed to the handler, and the loop keeps running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::handle::{Callback, Described};
use super::{ExceptionHandler, LoopHandle};
use std::any::Any;
use std::fmt;

/// What went wrong, as Python's exception-handler `context` dict.
///
/// # Examples
///
/// ```
/// let ctx = asyncio::ExceptionContext::new("Fatal read error")
///     .with_detail("transport", "<socket transport fd=7>")
///     .with_exception(Box::new(std::io::Error::other("reset")));
/// assert_eq!(ctx.message, "Fatal read error");
/// assert_eq!(
///     ctx.to_string(),
///     "Fatal read error\ntransport: <socket transport fd=7>\nexception: reset"
/// );
/// ```
#[derive(Debug)]
pub struct ExceptionContext {
    /// The `message` key, e.g. `"Exception in callback …"`.
    pub message: String,
    /// The `exception` key: the error or panic, if there was one.
    pub exception: Option<Box<dyn std::error::Error>>,
    /// Other keys (`handle`, `task`, `transport`, `protocol`, `socket` …) as text.
    pub details: Vec<(&'static str, String)>,
}

impl ExceptionContext {
    /// A context with just a message: what a program hands to
    /// [`call_exception_handler`](crate::LoopHandle::call_exception_handler) to report a
    /// failure nobody can return.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = asyncio::ExceptionContext::new("cache refresh failed");
    /// assert_eq!(ctx.message, "cache refresh failed");
    /// assert!(ctx.exception.is_none() && ctx.details.is_empty());
    /// assert_eq!(ctx.to_string(), "cache refresh failed"); // the default handler's text
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        ExceptionContext {
            message: message.into(),
            exception: None,
            details: Vec::new(),
        }
    }

    /// Adds the `exception` key: the error itself, which a handler may downcast.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    /// let ctx = asyncio::ExceptionContext::new("reload failed").with_exception(Box::new(err));
    /// let io = ctx.exception.as_ref().and_then(|e| e.downcast_ref::<std::io::Error>());
    /// assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
    /// assert_eq!(ctx.to_string(), "reload failed\nexception: no such file");
    /// ```
    pub fn with_exception(mut self, e: Box<dyn std::error::Error>) -> Self {
        self.exception = Some(e);
        self
    }

    /// Adds another key (`handle`, `task`, `transport`, … or one of the program's own); the
    /// default handler prints the keys in sorted order.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = asyncio::ExceptionContext::new("job failed")
    ///     .with_detail("task", "<Task job-7>")
    ///     .with_detail("attempt", "3");
    /// assert_eq!(ctx.details, [("task", "<Task job-7>".to_string()), ("attempt", "3".into())]);
    /// assert_eq!(ctx.to_string(), "job failed\nattempt: 3\ntask: <Task job-7>");
    /// ```
    pub fn with_detail(self, key: &'static str, value: impl Into<String>) -> Self {
        self.push_detail(key, value.into())
    }

    /// [`with_detail`](Self::with_detail) past the conversion, compiled once (the context is
    /// moved through here, not copied into each caller's instantiation).
    #[inline(never)]
    fn push_detail(mut self, key: &'static str, value: String) -> Self {
        self.details.push((key, value));
        self
    }
}

impl fmt::Display for ExceptionContext {
    // Checklist: L20.
    /// The default handler's layout: the message (or `Unhandled exception in event loop`),
    /// then one `key: value` line per other key in sorted order, the exception last.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = if self.message.is_empty() {
            "Unhandled exception in event loop"
        } else {
            &self.message
        };
        f.write_str(message)?;
        // By key, a repeated key in the order it was added. A context has a handful of
        // keys, so each round picks the least one not yet written: no sort code is linked
        // for this (the timer queue's sort is another type's) and nothing is allocated.
        let mut last: Option<(&str, usize)> = None;
        for _ in 0..self.details.len() {
            let next = (self.details.iter().enumerate())
                .map(|(i, (k, _))| (*k, i))
                .filter(|kv| last.is_none_or(|l| *kv > l))
                .min();
            let Some((k, i)) = next else { break };
            write!(f, "\n{k}: {}", self.details[i].1)?;
            last = Some((k, i));
        }
        if let Some(e) = &self.exception {
            f.write_str("\nexception: ")?;
            match e.downcast_ref::<std::io::Error>() {
                Some(io) => crate::error::fmt_io(io, f)?,
                None => write!(f, "{e}")?,
            }
        }
        Ok(())
    }
}

/// A panic caught at a callback or task boundary, as an error value.
///
/// # Examples
///
/// ```
/// use asyncio::{ExceptionContext, LoopHandle, PanicError};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let caught = Rc::new(RefCell::new(None));
///     let record = caught.clone();
///     lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
///         let panic = ctx.exception.as_ref().and_then(|e| e.downcast_ref::<PanicError>());
///         *record.borrow_mut() = panic.map(|p| p.message().to_string());
///     }));
///     lp.call_soon(|| -> () { panic!("boom") }).unwrap(); // caught: the loop carries on
///     asyncio::yield_now().await;
///     assert_eq!(caught.borrow().as_deref(), Some("boom"));
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct PanicError {
    message: String,
}

// Written out, with the derive's output (`PanicError { message: "boom" }`), for the reason
// `Error`'s is: a derived `fmt` is inlined into every codegen unit that prints one.
impl fmt::Debug for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicError")
            .field("message", &self.message)
            .finish()
    }
}

impl PanicError {
    pub(crate) fn from_payload(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_string()
        };
        PanicError { message }
    }

    /// The panic message (`Box<dyn Any>` for a payload that is not a string).
    ///
    /// # Examples
    ///
    /// A closure run on a worker thread panics; its message comes back in the error:
    ///
    /// ```
    /// asyncio::run(async {
    ///     let r = asyncio::to_thread(|| -> u32 { panic!("boom") }).await;
    ///     let Err(asyncio::Error::Panic(p)) = r else { panic!("no panic reported") };
    ///     assert_eq!(p.message(), "boom");
    /// })?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl std::error::Error for PanicError {}

/// Drops `value`, something the loop holds for user code (a panic payload, a task's output, a
/// closure, a protocol), with a panic of its `Drop` caught: reported once through `lp`'s
/// exception handler (`None`: the loop running on this thread, if any) as a failed callback
/// is (L18), `Exception in callback drop of {what}`, and the loop goes on. Uncaught, that
/// panic unwound out of the loop's run (or its close) from a place no user code had called.
/// Python has no counterpart: an exception in `__del__` is printed and ignored.
#[inline]
pub(crate) fn drop_contained<T>(lp: Option<&LoopHandle>, what: &'static str, value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        drop_failed(lp, what, payload);
    }
}

/// The report of [`drop_contained`]. The panic's own payload is dropped caught as well; if
/// that drop panics too, its payload is leaked: a chain of such payloads could go on forever.
#[cold]
#[inline(never)]
fn drop_failed(lp: Option<&LoopHandle>, what: &'static str, payload: Box<dyn Any + Send>) {
    let panic = PanicError::from_payload(&*payload);
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
    let ctx = ExceptionContext::new(format!("Exception in callback drop of {what}"))
        .with_exception(Box::new(panic));
    // Without a loop named, the one running on this thread (a drop inside its callback).
    let running = lp.is_none().then(super::current_loop).flatten();
    report(lp.or(running.as_ref()), &ctx);
}

/// A protocol call's panic payload, which the transports report and then drop from the loop's
/// own code. A payload may be any value (`panic_any`), its `Drop` user code: that drop is
/// caught and reported ([`drop_contained`]). A wrapper, not a conversion where the panic is
/// caught: the call stays as short on the data path as it was.
pub(crate) struct Payload(Option<Box<dyn std::any::Any + Send>>);

impl Payload {
    /// Wraps a payload caught around a protocol call outside `ProtocolSlot::call`.
    pub(crate) fn new(payload: Box<dyn std::any::Any + Send>) -> Self {
        Payload(Some(payload))
    }

    /// Drops it as its `Drop` does, a report of that drop going to `lp`: for where no loop
    /// runs to be found (a transport told of its loop's close).
    pub(crate) fn let_go(mut self, lp: &LoopHandle) {
        if let Some(payload) = self.0.take() {
            drop_contained(Some(lp), "a panic payload", payload);
        }
    }
}

impl std::ops::Deref for Payload {
    type Target = dyn std::any::Any + Send;

    fn deref(&self) -> &Self::Target {
        self.0
            .as_deref()
            .expect("a payload is there until its drop")
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if let Some(payload) = self.0.take() {
            drop_contained(None, "a panic payload", payload);
        }
    }
}

/// A caught panic as the error a report carries, its payload dropped (caught, by
/// [`drop_contained`]): for the callers that only report it.
pub(crate) fn panic_error(lp: Option<&LoopHandle>, payload: Box<dyn Any + Send>) -> PanicError {
    let panic = PanicError::from_payload(&*payload);
    drop_contained(lp, "a panic payload", payload);
    panic
}

/// The default handler: one error record on the `asyncio` target: through `log` when
/// a logger is installed, else on stderr (never silent).
///
/// # Examples
///
/// ```
/// use asyncio::{ExceptionContext, LoopHandle};
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     // A handler that counts, then defers to the default one (which logs).
///     let count = Rc::new(Cell::new(0));
///     let seen = count.clone();
///     lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
///         seen.set(seen.get() + 1);
///         asyncio::default_exception_handler(ctx);
///     }));
///     lp.call_exception_handler(&ExceptionContext::new("something went wrong"));
///     assert_eq!(count.get(), 1);
/// })
/// .unwrap();
/// ```
// Checklist: L20.
pub fn default_exception_handler(ctx: &ExceptionContext) {
    crate::event_loop::debug::error!("{ctx}");
}

/// Reports `ctx` through `lp`'s exception handler, else (no loop, as a drop outside one) the
/// default handler's record: for failures found where nothing can return them.
pub(crate) fn report(lp: Option<&LoopHandle>, ctx: &ExceptionContext) {
    match lp {
        Some(lp) => lp.call_exception_handler(ctx),
        None => default_exception_handler(ctx),
    }
}

impl LoopHandle {
    /// Installs `handler` as the exception handler; `None` restores the default, which
    /// logs one error record on target `asyncio`: through `log` when a logger is
    /// installed, else on stderr, so a failure is never silent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use asyncio::{ExceptionContext, LoopHandle};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
    ///     log.borrow_mut().push(ctx.message.clone());
    /// }));
    /// lp.call_soon(|| Err::<(), _>("failed"))?;
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(seen.borrow().len(), 1);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L19, L20.
    pub fn set_exception_handler<F>(&self, handler: Option<F>)
    where
        F: Fn(&LoopHandle, &ExceptionContext) + 'static,
    {
        // Stored with its caller (depth bound, panic caught): only a program that sets a
        // handler links `call_custom_handler` and its failure report.
        let new = handler.map(|h| {
            Rc::new(move |lp: &LoopHandle, ctx: &ExceptionContext| call_custom_handler(lp, &h, ctx))
                as ExceptionHandler
        });
        let old = std::mem::replace(&mut *self.inner.exception_handler.borrow_mut(), new);
        // Dropped after the borrow: the old handler's captures may use the loop on drop.
        drop(old);
    }

    /// Whether a custom exception handler is installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ExceptionContext, LoopHandle};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// assert!(!lp.has_exception_handler());
    /// lp.set_exception_handler(Some(|_: &LoopHandle, _: &ExceptionContext| {}));
    /// assert!(lp.has_exception_handler());
    /// // Back to the default: a bare `None` needs its closure type named.
    /// lp.set_exception_handler(None::<fn(&LoopHandle, &ExceptionContext)>);
    /// assert!(!lp.has_exception_handler());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn has_exception_handler(&self) -> bool {
        self.inner.exception_handler.borrow().is_some()
    }

    /// Reports `ctx` to the exception handler. If a custom handler panics, the default
    /// handler reports that with message `Unhandled error in exception handler`; so too a
    /// custom handler that calls this from inside itself 100 calls deep (where CPython meets
    /// its recursion limit), once, after which the outer calls return as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ExceptionContext, LoopHandle};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
    ///     tx.send(ctx.message.clone()).unwrap();
    /// }));
    /// lp.call_exception_handler(&ExceptionContext::new("disk full")); // called in place
    /// assert_eq!(rx.try_recv().as_deref(), Ok("disk full"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L19.
    pub fn call_exception_handler(&self, ctx: &ExceptionContext) {
        let handler = self.inner.exception_handler.borrow().clone();
        match handler {
            None => default_exception_handler(ctx),
            Some(handler) => handler(self, ctx),
        }
    }
}

/// A custom handler's call: its panic caught and reported, its nesting bounded. Out of line,
/// so that `call_exception_handler`, inlined where reports are made, stays small; named only
/// by `set_exception_handler`, which stores it with the handler.
#[inline(never)]
fn call_custom_handler(
    lp: &LoopHandle,
    handler: &dyn Fn(&LoopHandle, &ExceptionContext),
    ctx: &ExceptionContext,
) {
    let failure: Box<dyn std::error::Error> = match HandlerDepth::enter(&lp.inner.handler_depth) {
        // As CPython reports the `RecursionError` (a `RuntimeError`) its innermost call
        // caught, once; the outer handler calls then return as usual.
        None => Box::new(crate::Error::invalid_state(
            "maximum recursion depth exceeded while calling the exception handler",
        )),
        Some(_depth) => match catch_unwind(AssertUnwindSafe(|| handler(lp, ctx))) {
            Ok(()) => return,
            Err(payload) => Box::new(PanicError::from_payload(&*payload)),
        },
    };
    handler_failed(ctx, failure);
}

/// How deep custom exception handlers may call `call_exception_handler` from inside
/// themselves before the innermost call is refused. CPython's nesting ends at its recursion
/// limit with a `RecursionError`, which the innermost `call_exception_handler` catches and
/// reports; here the stack would overflow first and abort the process.
const MAX_HANDLER_DEPTH: u32 = 100;

/// One custom handler call in progress on a loop; the count goes back down on drop.
struct HandlerDepth<'a>(&'a std::cell::Cell<u32>);

impl<'a> HandlerDepth<'a> {
    fn enter(depth: &'a std::cell::Cell<u32>) -> Option<HandlerDepth<'a>> {
        let d = depth.get();
        (d < MAX_HANDLER_DEPTH).then(|| {
            depth.set(d + 1);
            HandlerDepth(depth)
        })
    }
}

impl Drop for HandlerDepth<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// The default handler's report of a custom handler that failed on `ctx` (panicked, or
/// nested too deep). A free function, cold and out of line: the `LoopHandle` methods are
/// compiled with the loop's own code, which then needed no copy of a context's drop glue for
/// this rare path.
#[cold]
#[inline(never)]
fn handler_failed(ctx: &ExceptionContext, failure: Box<dyn std::error::Error>) {
    default_exception_handler(
        &ExceptionContext::new("Unhandled error in exception handler")
            .with_exception(failure)
            .with_detail("context", crate::error::text_of(ctx)),
    );
}

/// Reports `message` with one `key: value` detail and no exception (a task destroyed while
/// pending when the loop closes). Cold and out of line, as [`handler_failed`].
#[cold]
#[inline(never)]
pub(crate) fn report_detail(lp: &LoopHandle, message: &str, key: &'static str, value: String) {
    lp.call_exception_handler(&ExceptionContext::new(message).with_detail(key, value));
}

/// Reports a transport's failure through the exception handler, with the keys CPython's
/// transports give (`_fatal_error`, a failed `pause_writing`/`resume_writing`): `message`, the
/// error, and the [`Origin`]'s `transport` and `protocol`. Out of line: the loop's and the
/// transports' error paths hand their parts over here instead of each building, and
/// dropping, a context of its own.
// Checklist: L80, L49.
#[cold]
#[inline(never)]
pub(crate) fn report_error(
    lp: &LoopHandle,
    message: String,
    exception: Box<dyn std::error::Error>,
    origin: &Origin,
) {
    let transport = origin.transport.map(|id| ("transport", id.to_string()));
    let protocol = Some(("protocol", format!("<{} object>", origin.protocol)));
    report_with(lp, message, exception, [transport, protocol]);
}

/// Whose failure [`report_error`] reports. Its own type, passed by reference, so that the
/// call takes no more arguments than fit in registers: a call that passes some on the stack
/// makes its caller's unwind tables record the stack depth at every call it makes.
pub(crate) struct Origin {
    /// The transport's id ([`Transport::id`](crate::Transport::id)), if there is one.
    pub(crate) transport: Option<u64>,
    /// The protocol's name, shown as `<name object>` after Python's repr (from
    /// [`Protocol::protocol_name`](crate::Protocol::protocol_name)).
    pub(crate) protocol: &'static str,
}

/// The one place the reports above build, hand over and drop a context.
#[inline(never)]
fn report_with(
    lp: &LoopHandle,
    message: String,
    exception: Box<dyn std::error::Error>,
    details: [Option<(&'static str, String)>; 2],
) {
    let [first, second] = details;
    let mut ctx = ExceptionContext::new(message).with_exception(exception);
    if let Some((key, value)) = first {
        ctx = ctx.push_detail(key, value);
    }
    if let Some((key, value)) = second {
        ctx = ctx.push_detail(key, value);
    }
    lp.call_exception_handler(&ctx);
    // The exception may be a callback's own error type, whose `Drop` is user code.
    drop_contained(Some(lp), "a callback's error", ctx);
}

/// A protocol method's call as a failure report names it.
#[derive(Clone, Copy)]
pub(crate) enum Call {
    /// `connection_made(Transport { id: 3 })`.
    Made(u64),
    /// `connection_lost(None)`, or `connection_lost(Some(..))` when given an error.
    Lost(bool),
    /// Another method, its arguments elided: `datagram_received(..)`.
    Other(&'static str),
    /// A method without arguments: `eof_received()`.
    Bare(&'static str),
}

/// Reports a protocol callback that CPython runs as a loop callback (`connection_made`,
/// `connection_lost`; a datagram protocol's callbacks, which escape the transport's
/// `_read_ready`) and that panicked: a failed callback's report, as `Handle._run` makes it:
/// `Exception in callback {protocol}::{call}` and the `handle` key
/// `<Handle {protocol}::{call}>`.
// Checklist: L18, L55.
#[cold]
#[inline(never)]
pub(crate) fn report_protocol_callback(
    lp: &LoopHandle,
    protocol: &'static str,
    call: Call,
    payload: &(dyn Any + Send),
) {
    let call = match call {
        Call::Made(id) => format!("{protocol}::connection_made(Transport {{ id: {id} }})"),
        Call::Lost(with) => {
            let exc = if with { "Some(..)" } else { "None" };
            format!("{protocol}::connection_lost({exc})")
        }
        Call::Other(method) => format!("{protocol}::{method}(..)"),
        Call::Bare(method) => format!("{protocol}::{method}()"),
    };
    let handle = Some(("handle", format!("<Handle {call}>")));
    let message = format!("Exception in callback {call}");
    let panic = Box::new(PanicError::from_payload(payload));
    report_with(lp, message, panic, [handle, None]);
}

/// Reports a callback of the ready queue that panicked or returned `Err`, as CPython's
/// `Handle._run` does: `Exception in callback <name>`, the error, and the `handle` key
/// describing the handle (`<Handle name()>`) for a handler to read and the default one to
/// print.
// Checklist: L18.
#[cold]
#[inline(never)]
pub(crate) fn report_callback_failed(
    lp: &LoopHandle,
    cb: &dyn Callback,
    exception: Box<dyn std::error::Error>,
) {
    let message = format!("Exception in callback {}", cb.name());
    let handle = Some(("handle", Described(cb).to_string()));
    report_with(lp, message, exception, [handle, None]);
}

/// Reports a caught panic through the exception handler, with at most one `key: value`
/// detail (an fd callback's `handle`). Cold and out of line, the context built and dropped in
/// [`report_with`] as for the other reports.
#[cold]
#[inline(never)]
pub(crate) fn report_panic(
    lp: &LoopHandle,
    message: &str,
    payload: Box<dyn std::any::Any + Send>,
    detail: Option<(&'static str, String)>,
) {
    let exception = Box::new(PanicError::from_payload(&*payload));
    report_with(lp, message.to_owned(), exception, [detail, None]);
    drop_contained(Some(lp), "a panic payload", payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l20_layout_sorted_keys() {
        let ctx = ExceptionContext::new("")
            .with_detail("task", "t1")
            .with_detail("handle", "h1")
            .with_exception("boom".into());
        assert_eq!(
            ctx.to_string(),
            "Unhandled exception in event loop\nhandle: h1\ntask: t1\nexception: boom"
        );
    }

    #[test]
    fn l20_repeated_key_keeps_insertion_order() {
        let ctx = ExceptionContext::new("m")
            .with_detail("task", "t2")
            .with_detail("handle", "h1")
            .with_detail("task", "t1")
            .with_detail("a", "x");
        assert_eq!(ctx.to_string(), "m\na: x\nhandle: h1\ntask: t2\ntask: t1");
    }

    /// An OS error as Python's default handler shows an OSError (its traceback's last line),
    /// as `Error`'s own text does; other errors as themselves.
    #[test]
    fn l20_an_os_error_shows_its_errno_as_python_does() {
        let os = ExceptionContext::new("socket.accept() out of system resource")
            .with_exception(Box::new(std::io::Error::from_raw_os_error(libc::EMFILE)));
        assert_eq!(
            os.to_string(),
            "socket.accept() out of system resource\nexception: [Errno 24] Too many open files"
        );
        let worded = ExceptionContext::new("m")
            .with_exception(Box::new(std::io::Error::other("reset by the test")));
        assert_eq!(worded.to_string(), "m\nexception: reset by the test");
    }

    /// A report copies the transport's error for the handler: errno and a wrapped crate
    /// error survive the copy (the EMFILE report lost its errno to a text copy).
    #[test]
    fn l102_l80_a_reported_copy_keeps_errno_and_inner_error() {
        let emfile = crate::error::copy_io(&std::io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(emfile.raw_os_error(), Some(libc::EMFILE));
        let inner = std::io::Error::other(crate::Error::invalid_state("empty buffer"));
        let copy = crate::error::copy_io(&inner);
        assert!(matches!(
            copy.get_ref()
                .and_then(|e| e.downcast_ref::<crate::Error>()),
            Some(crate::Error::InvalidState(_))
        ));
        assert_eq!(copy.to_string(), inner.to_string());
    }
}
