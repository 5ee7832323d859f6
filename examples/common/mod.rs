//! Small helpers shared by the examples: Python-style `repr` of text and addresses (so the
//! ported examples print what the Python ones print) and a tiny argument parser.
#![allow(dead_code)]

use std::net::SocketAddr;

/// Python's `repr()` of a `str`: single quotes unless the text contains one; control
/// characters (C0, DEL, C1), the no-break space and the soft hyphen as `\xNN`. Other
/// characters Python deems unprintable (format and separator characters beyond Latin-1,
/// shown `\uXXXX` there) print as they are: that needs Unicode's tables.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            // E.g. a TLS alert read by a plain client: `'\x15\x03\x03\x00\x02\x022'`.
            c if c < ' ' || ('\x7f'..='\u{a0}').contains(&c) || c == '\u{ad}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's repr of a socket address tuple: `('127.0.0.1', 8888)`.
pub fn py_addr(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("('{}', {})", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!(
            "('{}', {}, {}, {})",
            v6.ip(),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id()
        ),
    }
}

// ---- printing --------------------------------------------------------------------------------

/// `println!` for the examples: the line goes to stdout, flushed, or nowhere when stdout is
/// gone (a pipe whose reader has left, as in `server | head -1`; a full disk). `println!`
/// panics there (`failed printing to stdout: Broken pipe`, exit 101), which would end a server
/// over a line nobody reads. Every example prints through this, so a lost stdout changes
/// nothing but the output: the program goes on and exits with the status it would have had,
/// as `--help` (0) and the signal lines (130, 143) already did. (A stdout closed with `>&-`
/// is /dev/null to a Rust program: std reopens it at start-up.)
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::common::say_line(format_args!($($arg)*))
    };
}
#[allow(unused_imports)] // an example built without printing (tls_echo_client without TLS)
pub(crate) use say;

/// What [`say!`] runs: one line and its newline under one lock, then a flush; errors dropped.
pub fn say_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// [`say!`] for stderr, in place of `eprintln!`, which panics as `println!` does when stderr
/// is gone (`example 2>&1 | head -1`, or whoever read our stderr has left): a usage error
/// then ended with exit 101 instead of 2, a runtime error with 101 instead of 1, and a
/// server over a warning nobody could read. The line is dropped instead; the exit status is
/// the one it would have had.
macro_rules! say_err {
    ($($arg:tt)*) => {
        $crate::common::say_err_line(format_args!($($arg)*))
    };
}
#[allow(unused_imports)] // an example that never writes to stderr itself
pub(crate) use say_err;

/// What [`say_err!`] runs: one line and its newline under one lock (stderr is unbuffered);
/// errors dropped.
pub fn say_err_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(line);
    let _ = err.write_all(b"\n");
}

// ---- the command line ------------------------------------------------------------------------
//
// Each example declares its command line once, as a `static CLI: Cli`, and reads every value
// through `Args`. The rules follow the usual Unix conventions (and Python's argparse):
// `-h`/`--help` prints the usage block to stdout and exits 0; an unknown flag, a missing value,
// a value that does not parse, a missing or extra argument prints one line to stderr that names
// the culprit, and exits 2; a failure at run time prints `NAME: error` (Display) and exits 1.

/// One `--name VALUE` option, or a `--name` switch when `value` is empty.
#[derive(Clone, Copy)]
pub struct Flag {
    /// The flag without its dashes: `port` for `--port`.
    pub name: &'static str,
    /// The value's placeholder in the usage text (`P`, `PATH`); empty for a switch.
    pub value: &'static str,
    /// One line for the usage text.
    pub help: &'static str,
    /// The value used when the flag is absent; `None`: the flag is optional (read it with
    /// [`Args::opt`]) or required (read it with [`Args::get`], which fails when it is absent).
    pub default: Option<&'static str>,
}

impl Flag {
    /// `--name VALUE`.
    pub const fn value(name: &'static str, value: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            value,
            help,
            default: None,
        }
    }

    /// `--name`, a switch: on when given.
    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag::value(name, "", help)
    }

    /// The value used when the flag is absent.
    pub const fn default(self, default: &'static str) -> Flag {
        Flag {
            default: Some(default),
            ..self
        }
    }

    fn is_switch(&self) -> bool {
        self.value.is_empty()
    }
}

/// One positional argument. Named in capitals (`MESSAGE`, `URL`), as the usage text shows it.
#[derive(Clone, Copy)]
pub struct Arg {
    /// The name in the usage text, and for [`Args::get`].
    pub name: &'static str,
    /// One line for the usage text.
    pub help: &'static str,
    /// The value used when the argument is absent; `None` and not `required`: optional.
    pub default: Option<&'static str>,
    /// Absent is a usage error.
    pub required: bool,
}

impl Arg {
    /// An optional argument.
    pub const fn new(name: &'static str, help: &'static str) -> Arg {
        Arg {
            name,
            help,
            default: None,
            required: false,
        }
    }

    /// The value used when the argument is absent.
    pub const fn default(self, default: &'static str) -> Arg {
        Arg {
            default: Some(default),
            ..self
        }
    }

    /// An argument that must be given.
    pub const fn required(self) -> Arg {
        Arg {
            required: true,
            ..self
        }
    }
}

/// An example's command line: its name, what it does, its arguments and flags.
pub struct Cli {
    /// The program's name, the prefix of every message.
    pub name: &'static str,
    /// What the program does, a few lines for the usage text.
    pub about: &'static str,
    /// Positional arguments, in order.
    pub args: &'static [Arg],
    /// Flags, in the order the usage text lists them.
    pub flags: &'static [Flag],
}

/// What went wrong with the command line, or `--help`.
enum Stop {
    Help,
    Usage(String),
}

impl Cli {
    /// Parses the process's arguments. `--help` prints the usage and exits 0; a usage error
    /// prints one line and exits 2.
    pub fn parse(&'static self) -> Args {
        // `args_os`: `std::env::args` panics on an argument that is not UTF-8.
        let mut argv = Vec::new();
        for a in std::env::args_os().skip(1) {
            match a.into_string() {
                Ok(a) => argv.push(a),
                Err(a) => self.fail(&format!("argument {a:?} is not valid UTF-8")),
            }
        }
        match self.try_parse(argv) {
            Ok(args) => args,
            Err(Stop::Help) => {
                use std::io::Write;
                // A closed stdout (`--help | head -1`) is no error worth a panic.
                let _ = std::io::stdout().write_all(self.usage().as_bytes());
                std::process::exit(0)
            }
            Err(Stop::Usage(msg)) => self.fail(&msg),
        }
    }

    fn try_parse(&'static self, argv: Vec<String>) -> Result<Args, Stop> {
        let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
        // `--help` anywhere (before a `--`) wins over any error.
        if argv[..end].iter().any(|a| a == "-h" || a == "--help") {
            return Err(Stop::Help);
        }
        let mut args = Args {
            cli: self,
            flags: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = argv.into_iter();
        let mut flags_done = false;
        while let Some(a) = it.next() {
            // `-5` and `-0.5` are values, as argparse reads them when no flag looks like
            // a number: `tcp_echo_client -5` sends '-5' (it was "unknown flag '-5'").
            if flags_done || a == "-" || !a.starts_with('-') || is_negative_number(&a) {
                args.positional.push(a);
                continue;
            }
            if a == "--" {
                flags_done = true;
                continue;
            }
            // `--name value` or `--name=value`; no short flags but `-h`.
            let (spelled, inline) = match a.split_once('=') {
                Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
                _ => (a.as_str(), None),
            };
            let name = spelled.strip_prefix("--").unwrap_or("");
            let Some(flag) = self.flags.iter().find(|f| f.name == name) else {
                return Err(Stop::Usage(format!("unknown flag '{spelled}'")));
            };
            let value = if flag.is_switch() {
                if inline.is_some() {
                    return Err(Stop::Usage(format!("--{name} takes no value")));
                }
                String::new()
            } else {
                match inline.or_else(|| it.next()) {
                    Some(v) => v,
                    None => {
                        return Err(Stop::Usage(format!(
                            "--{name} needs a value {}",
                            flag.value
                        )))
                    }
                }
            };
            args.flags.push((flag.name, value));
        }
        if let Some(extra) = args.positional.get(self.args.len()) {
            return Err(Stop::Usage(format!("unexpected argument '{extra}'")));
        }
        if let Some(missing) = self
            .args
            .iter()
            .skip(args.positional.len())
            .find(|a| a.required)
        {
            return Err(Stop::Usage(format!("missing argument {}", missing.name)));
        }
        Ok(args)
    }

    /// The usage block `--help` prints.
    pub fn usage(&self) -> String {
        use std::fmt::Write;
        // Written into one String (`write!` to a String cannot fail): the text is built once,
        // for `--help`, and needs no intermediate Strings.
        let mut out = format!("Usage: {}", self.name);
        if !self.flags.is_empty() {
            out.push_str(" [OPTIONS]");
        }
        for a in self.args {
            let _ = match a.required {
                true => write!(out, " {}", a.name),
                false => write!(out, " [{}]", a.name),
            };
        }
        let _ = writeln!(out, "\n\n{}", self.about.trim_end());
        if !self.args.is_empty() {
            out.push_str("\nArguments:\n");
            let width = self.args.iter().map(|a| a.name.len()).max().unwrap_or(0);
            for a in self.args {
                row(&mut out, width, a.name, a.help, a.default);
            }
        }
        out.push_str("\nOptions:\n");
        let left = |f: &Flag| 2 + f.name.len() + if f.is_switch() { 0 } else { 1 + f.value.len() };
        let help = "-h, --help";
        let width = self
            .flags
            .iter()
            .map(left)
            .max()
            .unwrap_or(0)
            .max(help.len());
        for f in self.flags {
            let space = if f.is_switch() { "" } else { " " };
            let name = format!("--{}{space}{}", f.name, f.value);
            row(&mut out, width, &name, f.help, f.default);
        }
        row(&mut out, width, help, "print this help and exit", None);
        out
    }

    /// A usage error: one line on stderr naming what is wrong, exit status 2.
    pub fn fail(&self, msg: &str) -> ! {
        say_err!("{}: {msg} (see {} --help)", self.name, self.name);
        std::process::exit(2)
    }

    /// The end of `main`: on a runtime error, print `NAME: error` (its Display, then the
    /// Display of each source it wraps) on stderr and exit 1.
    pub fn finish<E: Into<Box<dyn std::error::Error>>>(
        &self,
        result: Result<(), E>,
    ) -> std::process::ExitCode {
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                say_err!("{}: {}", self.name, chain(&*e.into()));
                std::process::ExitCode::FAILURE
            }
        }
    }

    /// `Cli::finish` for what `asyncio::run(main_task())` returns: the loop's own error, or the
    /// task's.
    /// A Ctrl-C (`asyncio::Error::KeyboardInterrupt`) prints `Interrupted by SIGINT` and exits
    /// 130, as a shell expects of a program Ctrl-C ended.
    pub fn finish_run<E: Into<Box<dyn std::error::Error>>>(
        &self,
        result: Result<Result<(), E>, asyncio::Error>,
    ) -> std::process::ExitCode {
        match result {
            Err(asyncio::Error::KeyboardInterrupt) => interrupted(libc::SIGINT, "stopped"),
            Ok(r) => self.finish(r.map_err(Into::into)),
            Err(e) => self.finish(Err::<(), _>(e)),
        }
    }

    /// `Cli::finish` for what [`run_until_signal`] returns around a server: a signal prints
    /// `Interrupted by SIGINT, server closed` (or SIGTERM) and exits 128 + the signal's number
    /// (130, 143).
    pub fn finish_served<E: Into<Box<dyn std::error::Error>>>(
        &self,
        result: Result<Result<Result<(), E>, asyncio::Error>, i32>,
    ) -> std::process::ExitCode {
        match result {
            Ok(r) => self.finish_run(r),
            Err(sig) => interrupted(sig, "server closed"),
        }
    }
}

// ---- signals ---------------------------------------------------------------------------------
//
// `asyncio::run` answers the first SIGINT by cancelling the main future and returning
// `Error::KeyboardInterrupt`; `run_until_signal` does the same for SIGTERM, so a server stopped
// by `kill` or by Ctrl-C closes its listeners (removing its Unix socket file) and its
// connections before the process exits with 128 + the signal's number.

/// The exit status for a program ended by `sig` (130 for SIGINT, 143 for SIGTERM), after one
/// line on stdout saying so.
pub fn interrupted(sig: i32, what: &str) -> std::process::ExitCode {
    say_interrupted(sig, what);
    std::process::ExitCode::from((128 + sig).clamp(0, 255) as u8)
}

/// Prints `Interrupted by SIGINT, WHAT` (or SIGTERM) on stdout.
fn say_interrupted(sig: i32, what: &str) {
    let name = match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    };
    // `say!`: with stdout gone the exit status must still say which signal ended the program.
    say!("Interrupted by {name}, {what}");
}

/// Set once by the SIGTERM handler; wakes the future waiting for it.
#[derive(Default)]
struct SignalFlag {
    fired: std::cell::Cell<bool>,
    waker: std::cell::RefCell<Option<std::task::Waker>>,
}

/// `asyncio::run(fut)`, with SIGTERM handled as `run` handles SIGINT: the first one cancels
/// (drops) `fut`, the loop shuts down and closes. Returns `Err(signal)` when SIGINT or SIGTERM
/// ended it, else what `asyncio::run` returned.
pub fn run_until_signal<F: std::future::IntoFuture>(
    fut: F,
) -> Result<Result<F::Output, asyncio::Error>, i32> {
    use std::rc::Rc;
    use std::task::Poll;
    let term = Rc::new(SignalFlag::default());
    let main = async move {
        let lp = asyncio::get_running_loop()?;
        let flag = term.clone();
        lp.add_signal_handler(libc::SIGTERM, move || {
            flag.fired.set(true);
            if let Some(w) = flag.waker.borrow_mut().take() {
                w.wake();
            }
        })?;
        let mut fut = std::pin::pin!(fut.into_future());
        let out = std::future::poll_fn(|cx| {
            if term.fired.get() {
                return Poll::Ready(None); // `fut` is dropped: cancelled
            }
            *term.waker.borrow_mut() = Some(cx.waker().clone());
            std::future::Future::poll(fut.as_mut(), cx).map(Some)
        })
        .await;
        Ok::<_, asyncio::Error>(out)
    };
    match asyncio::run(main) {
        Ok(Ok(Some(v))) => Ok(Ok(v)),
        Ok(Ok(None)) => Err(libc::SIGTERM),
        Err(asyncio::Error::KeyboardInterrupt) => Err(libc::SIGINT),
        Ok(Err(e)) | Err(e) => Ok(Err(e)),
    }
}

/// `error: source: source…`, each text once (an error that already shows its source's text
/// is not followed by it again).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !contains(&out, &text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// `-5`, `-0.5`, `-.5`: argparse's negative number (`^-\d+$|^-\d*\.\d+$`).
fn is_negative_number(a: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match a.strip_prefix('-').map(|n| n.split_once('.')) {
        Some(Some((int, frac))) => (int.is_empty() || digits(int)) && digits(frac),
        Some(None) => digits(&a[1..]),
        None => false,
    }
}

/// `text.contains(part)` by plain comparison: `str::contains` links its vectorised searcher
/// (2 KiB) into every example for one error message.
fn contains(text: &str, part: &str) -> bool {
    part.is_empty()
        || (text.as_bytes())
            .windows(part.len())
            .any(|w| w == part.as_bytes())
}

/// One row of a two-column table, the left column padded to `width`, then the help and its
/// default.
fn row(out: &mut String, width: usize, left: &str, help: &str, default: Option<&str>) {
    use std::fmt::Write;
    let _ = write!(out, "  {left:width$}  {help}");
    if let Some(d) = default {
        let _ = write!(out, " [default: {d}]");
    }
    out.push('\n');
}

/// The parsed command line: read each value, typed, with [`Args::get`] or [`Args::opt`].
pub struct Args {
    cli: &'static Cli,
    /// The flags given, in order (the last of a repeated flag wins); a switch's value is empty.
    flags: Vec<(&'static str, String)>,
    /// The positional arguments given, in order; never more than `cli.args`.
    positional: Vec<String>,
}

impl Args {
    /// The value of flag or argument `name` (`port`, `MESSAGE`), given or default, parsed as
    /// `T`. Absent with no default, or not a `T`: a usage error (exit 2).
    pub fn get<T: std::str::FromStr>(&self, name: &str) -> T
    where
        T::Err: std::fmt::Display,
    {
        match self.opt(name) {
            Some(v) => v,
            None => {
                let what = match self.flag(name) {
                    Some(f) => format!("--{} {}", f.name, f.value),
                    None => name.to_string(),
                };
                self.cli.fail(&format!("missing {what}"))
            }
        }
    }

    /// The value of flag or argument `name`, given or default, parsed as `T`; `None` when
    /// absent with no default. Not a `T`: a usage error (exit 2).
    pub fn opt<T: std::str::FromStr>(&self, name: &str) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let (shown, raw) = self.raw(name);
        let raw = raw?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(e) => self
                .cli
                .fail(&format!("invalid value '{raw}' for {shown}: {e}")),
        }
    }

    /// A whole number in `range`, given or default: anything else is a usage error (exit 2)
    /// that gives the range, in place of std's `invalid digit found in string` or `number too
    /// large to fit in target type`.
    pub fn get_in<T>(&self, name: &str, range: std::ops::RangeInclusive<T>) -> T
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let raw: String = self.get(name); // absent with no default: `missing --NAME N`
        let (lo, hi) = (range.start(), range.end());
        match raw.parse::<T>() {
            Ok(v) if range.contains(&v) => v,
            Ok(_) => self.invalid(name, &format!("not in {lo}..={hi}")),
            Err(_) => self.invalid(name, &format!("not a whole number in {lo}..={hi}")),
        }
    }

    /// A port number, 0 to 65535: anything else is a usage error (exit 2) that says so, in
    /// place of std's `number too large to fit in target type`.
    pub fn port(&self, name: &str) -> u16 {
        let raw: String = self.get(name); // absent with no default: `missing --port P`
        raw.parse()
            .unwrap_or_else(|_| self.invalid(name, "not a port number (0 to 65535)"))
    }

    /// A timeout in seconds (`30`, `0.5`) as a `Duration`, `None` when absent (no timeout).
    /// Not a number, negative, zero or too large: a usage error (exit 2) that says which.
    /// Zero is refused, not read as "off": in asyncio `timeout=0` expires at once and only
    /// `None` means no timeout, and a timeout that ends everything at once is no setting
    /// anyone wants (as `--workers 0` is refused); leaving the flag out is "off".
    pub fn seconds(&self, name: &str) -> Option<std::time::Duration> {
        let raw = self.raw(name).1?;
        let problem = match raw.parse::<f64>() {
            Ok(secs) if secs.is_nan() => "not a number of seconds (e.g. 30 or 0.5)",
            Ok(secs) if secs < 0.0 => "seconds cannot be negative",
            Ok(secs) => match std::time::Duration::try_from_secs_f64(secs) {
                // Below a nanosecond too (`1e-10`): that is zero once a Duration.
                Ok(d) if d.is_zero() => "must be more than 0 (leave the flag out for none)",
                Ok(d) => return Some(d),
                Err(_) => "too many seconds",
            },
            Err(_) => "not a number of seconds (e.g. 30 or 0.5)",
        };
        self.invalid(name, problem)
    }

    /// A usage error (exit 2) about the value of `name`, quoted as given.
    fn invalid(&self, name: &str, problem: &str) -> ! {
        let (shown, raw) = self.raw(name);
        let raw = raw.unwrap_or_default();
        self.cli
            .fail(&format!("invalid value '{raw}' for {shown}: {problem}"))
    }

    /// Whether switch `name` was given.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw(name).1.is_some()
    }

    /// A usage error about these arguments (exit 2), e.g. two flags that go together.
    pub fn fail(&self, msg: &str) -> ! {
        self.cli.fail(msg)
    }

    /// The name as messages show it (`--port`, `URL`) and the raw value, given or default.
    fn raw(&self, name: &str) -> (String, Option<&str>) {
        if let Some(f) = self.flag(name) {
            let given = self.flags.iter().rev().find(|(n, _)| *n == name);
            return (
                format!("--{name}"),
                given.map(|(_, v)| v.as_str()).or(f.default),
            );
        }
        let Some(i) = self.cli.args.iter().position(|a| a.name == name) else {
            // A name the example never declared: a bug in the example, not in its input.
            panic!(
                "{}: no flag or argument {name:?} is declared",
                self.cli.name
            );
        };
        let given = self.positional.get(i).map(String::as_str);
        (name.to_string(), given.or(self.cli.args[i].default))
    }

    fn flag(&self, name: &str) -> Option<&'static Flag> {
        self.cli.flags.iter().find(|f| f.name == name)
    }
}

/// A minimal stderr logger so `ASYNCIO_TRACE=1` (the layer trace) and `ASYNCIO_DEBUG=1`
/// (slow-callback warnings) show up; the crate's and the example's own warnings and errors
/// are always shown. Other crates' records (rustls' `Received a ClientHello handshake message
/// while expecting [ServerHello, HelloRetryRequest]`, which our error then says in words) only
/// with one of those two set.
pub fn init_logging() {
    struct Stderr {
        verbose: std::sync::OnceLock<bool>,
    }
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata) -> bool {
            // The crate's targets (`asyncio`, `asyncio::trace`, ...) and this example's own.
            let root = m.target().split("::").next().unwrap_or_default();
            let ours = root == "asyncio" || root == env!("CARGO_CRATE_NAME");
            ours || self.verbose.get().copied().unwrap_or(false)
        }
        fn log(&self, r: &log::Record) {
            // `say_err!`: a logger that panics on a gone stderr unwinds out of whatever
            // logged (the loop catches it for its own records; an example's are its own).
            if self.enabled(r.metadata()) {
                say_err!("{:5} {}: {}", r.level(), r.target(), r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr {
        verbose: std::sync::OnceLock::new(),
    };
    let verbose = ["ASYNCIO_TRACE", "ASYNCIO_DEBUG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty() && v != "0"));
    let _ = LOGGER.verbose.set(verbose);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if verbose {
            log::LevelFilter::Info
        } else {
            log::LevelFilter::Warn
        });
    }
}

/// For a program whose main thread does not run a loop (soak): a helper thread with its own
/// event loop waits for SIGINT or SIGTERM; on the first, it runs `cleanup` (say, terminate the
/// child servers), prints `Interrupted by SIGINT, WHAT` and exits with 128 + the signal's
/// number. Returns once the handlers are installed.
pub fn exit_on_signal(what: &'static str, cleanup: impl Fn() + Send + 'static) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lp = match asyncio::EventLoop::new() {
            Ok(lp) => lp,
            Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
        };
        let cleanup = std::rc::Rc::new(cleanup);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let cleanup = cleanup.clone();
            // Runs on this thread's loop, not in the signal handler: it may print and exit.
            let installed = lp.add_signal_handler(sig, move || {
                cleanup();
                say_interrupted(sig, what);
                std::process::exit(128 + sig) // this program's choice, not the library's
            });
            if let Err(e) = installed {
                return drop(ready_tx.send(Err(e.to_string())));
            }
        }
        let _ = ready_tx.send(Ok(()));
        let _ = lp.run_forever(); // until the process exits
    });
    if let Ok(Err(e)) = ready_rx.recv() {
        say_err!("signal handlers not installed: {e}");
    }
}
