//! Name resolution for `create_connection` and `create_server`: IP literals parsed inline, names
//! resolved on a helper thread, and the happy-eyeballs address interleave.
//!
//! Mirrors `_ipaddr_info`, `BaseEventLoop._ensure_resolved`, `BaseEventLoop.getaddrinfo` and
//! `_interleave_addrinfos` in CPython `Lib/asyncio/base_events.py` (L86, L90).
//!
//! Ground rules:
//! - An IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `[::1]`; no `%zone`) never leaves the calling
//!   poll: no thread, no system call. A zoned literal (`fe80::1%eth0`) goes to the resolver, as
//!   CPython hands it to `getaddrinfo` (Linux's `inet_pton` rejects zones).
//! - No host (`None`) is `getaddrinfo(NULL, port)`: with `passive` (servers) the wildcards
//!   `0.0.0.0` then `::`, otherwise the loopbacks `::1` then `127.0.0.1`, in the order glibc's
//!   `getaddrinfo` gives them, filtered by family. An empty name (`Some("")`) is what
//!   `getaddrinfo("", port)` answers, at once: `EAI_NONAME`. A caller for which `""` means
//!   every interface (a server's host, a datagram endpoint's local address) passes `None`.
//! - Anything else is a name: a helper thread of the default executor
//!   (`event_loop/thread_pool.rs`, shared with `run_in_executor`) runs the system `getaddrinfo`
//!   (through libc, to keep its error code and text), as CPython runs `socket.getaddrinfo` in
//!   the default executor. Without `run_in_executor`, these are the only threads this crate
//!   starts, and only when a host name needs one. The thread stores its answer
//!   in a [`Lookup`]'s shared slot and wakes the awaiting task; a task waker woken off the loop
//!   thread travels through the loop's thread-safe door (`call_soon_threadsafe`'s queue).
//! - The resolver is asked for the [`Family`] wanted, as CPython asks it: a name without an
//!   address of that family is the resolver's error (glibc: `[Errno -9] Address family for
//!   hostname not supported`). Results are deduplicated keeping the resolver's order; an empty
//!   answer (no resolver gives one) is `OSError('getaddrinfo() returned empty list')`.
//!
//! Calls down only into `std` and libc's `getaddrinfo`; the executor is reached through the
//! `Waker` alone.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, OsError};
use crate::event_loop::thread_pool::Counted;

/// The address family to resolve for: Python's `family=0` (`AF_UNSPEC`), `AF_INET`, `AF_INET6`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Family {
    /// Either family (`family=0`).
    #[default]
    Any,
    /// IPv4 only (`AF_INET`).
    V4,
    /// IPv6 only (`AF_INET6`).
    V6,
}

impl Family {
    /// Whether `addr` belongs to this family.
    pub(crate) fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// Resolves `(host, port)` to socket addresses (Python's `loop._ensure_resolved`, L86).
///
/// `passive` asks for addresses to bind a server on (`AI_PASSIVE`); it only matters for no
/// host (`None`). The answer keeps the resolver's order, filtered by `family`, without
/// duplicates.
///
/// # Errors
/// - `Error::Io`, kind `NotFound`, when a name cannot be resolved (Python's
///   `socket.gaierror`): `[Errno -2] Name or service not known (resolving HOST:PORT)`, the
///   `EAI_*` code as its `raw_os_error` (`TimedOut` for `EAI_AGAIN`: see [`gai_error`]); or the
///   OS error when the helper thread cannot be started. The empty name `""` is such a name, as
///   for CPython's `getaddrinfo('', port)`, whatever `passive` says;
/// - `Error::Io` (`getaddrinfo() returned empty list`, kind `NotFound`) should the resolver
///   answer with nothing of `family` (it fails instead: `EAI_ADDRFAMILY`, kind `InvalidInput`);
/// - `Error::Io` (`[Errno -9] Address family for hostname not supported (resolving
///   HOST:PORT)`, kind `InvalidInput`) for an IP literal of the other family: the same error
///   as for a name with no address of that family (glibc's `EAI_ADDRFAMILY`);
/// - `Error::InvalidArgument` (`embedded null character`, Python's `ValueError`) for a host
///   with a NUL byte inside.
///
/// # Cancel safety
/// Dropping the future abandons the lookup, whether or not the loop is still alive: one still
/// queued for an executor thread never runs `getaddrinfo`; one in progress runs to the end and
/// its answer is discarded.
pub(crate) async fn resolve(
    host: Option<&str>,
    port: u16,
    family: Family,
    passive: bool,
) -> Result<Vec<SocketAddr>, Error> {
    let found = match host {
        None => empty_host(port, passive),
        // getaddrinfo's answer for "", known without asking it: no thread for it.
        Some("") => return Err(Error::Io(gai_error(libc::EAI_NONAME, "", port))),
        // Python's `ValueError('embedded null character')`, raised before any lookup: no C
        // string can hold the name.
        Some(host) if host.contains('\0') => return Err(nul_in_host()),
        Some(host) => match ipaddr_info(host) {
            Some(ip) => {
                let addr = SocketAddr::new(ip, port);
                if !family.admits(&addr) {
                    return Err(Error::Io(literal_of_other_family(host, port)));
                }
                return Ok(vec![addr]);
            }
            None => Lookup::start(unbracketed(host).to_owned(), port, family)?.await?,
        },
    };
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(found.len());
    for addr in found {
        if family.admits(&addr) && !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            "getaddrinfo() returned empty list",
        )));
    }
    Ok(addrs)
}

/// A host name with a NUL byte inside, as CPython refuses it (a `ValueError`).
#[cold]
fn nul_in_host() -> Error {
    Error::invalid_argument("embedded null character")
}

/// What `getaddrinfo(NULL, port)` gives, in glibc's order: with `passive` (a server's) the
/// wildcards `0.0.0.0` then `::`, every interface of both families; else the loopbacks `::1`
/// then `127.0.0.1`.
fn empty_host(port: u16, passive: bool) -> Vec<SocketAddr> {
    if passive {
        let (v4, v6) = (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED);
        vec![
            SocketAddr::new(v4.into(), port),
            SocketAddr::new(v6.into(), port),
        ]
    } else {
        let (v4, v6) = (Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST);
        vec![
            SocketAddr::new(v6.into(), port),
            SocketAddr::new(v4.into(), port),
        ]
    }
}

/// The IP address `host` spells, if it is a literal (Python's `_ipaddr_info`): dotted-quad IPv4
/// or IPv6, the latter optionally in brackets. A `%zone` suffix makes it a name (`None`).
fn ipaddr_info(host: &str) -> Option<IpAddr> {
    if host.contains('%') {
        return None;
    }
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<IpAddr>().ok(),
    }
}

/// The name to hand to getaddrinfo: a bracketed IPv6 form (`[fe80::1%eth0]`, a zoned literal,
/// as `[::1]` is accepted by [`ipaddr_info`]) without its brackets, which getaddrinfo does not
/// take; anything else as it is.
fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .filter(|h| h.contains(':'))
        .unwrap_or(host)
}

/// The addresses to bind a TCP server on for `(host, port)`, blocking, on the calling thread
/// (for servers not started on a loop: `serve_on_threads`): an empty host is every interface
/// (`0.0.0.0` and `::`, as [`resolve`] with `passive`), a literal needs no system call, a name
/// goes through `getaddrinfo`. Errors as [`resolve`]'s, a NUL byte in the host included.
pub(crate) fn resolve_blocking(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    if host.is_empty() {
        return Ok(empty_host(port, true));
    }
    match ipaddr_info(host) {
        Some(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        // Refused before the C string is built, as `resolve` does (a ValueError in CPython).
        None if host.contains('\0') => Err(nul_in_host()),
        None => Ok(getaddrinfo(unbracketed(host), port, Family::Any)?),
    }
}

/// What a resolver thread and the awaiting future share.
#[derive(Default)]
struct Slot {
    /// The thread's answer. Invariant: set at most once, by the thread.
    result: Option<io::Result<Vec<SocketAddr>>>,
    /// The waker of the last poll that found no answer; cleared when the future is dropped so
    /// an abandoned lookup wakes nobody.
    waker: Option<Waker>,
    /// Set when the future is dropped: a job still queued then skips `getaddrinfo`.
    abandoned: bool,
}

/// A name lookup running on its own thread; the future resolves to the thread's answer.
#[must_use = "futures do nothing unless awaited"]
struct Lookup {
    slot: Arc<Mutex<Slot>>,
}

impl Lookup {
    /// Hands the lookup of `(host, port)` to a helper thread.
    fn start(host: String, port: u16, family: Family) -> Result<Lookup, Error> {
        let slot = Arc::new(Mutex::new(Slot::default()));
        spawn_lookup(host, port, family, slot.clone())?;
        Ok(Lookup { slot })
    }
}

/// Runs `getaddrinfo` for `(host, port)` on a helper thread of the default executor, which
/// fills `slot` and wakes its waker. The lookup is one of the running loop's executor jobs
/// (Python's `getaddrinfo` is a `run_in_executor` call), so it fails once that loop's
/// `shutdown_default_executor` has started, and the shutdown waits for it.
fn spawn_lookup(
    host: String,
    port: u16,
    family: Family,
    slot: Arc<Mutex<Slot>>,
) -> Result<(), Error> {
    let counted = Counted::on_current_loop()?;
    crate::event_loop::thread_pool::submit(Box::new(move || {
        lookup(&host, port, family, &slot, counted.as_ref());
        drop(counted); // ended only now, its answer delivered
    }))?;
    Ok(())
}

/// One lookup, blocking: the answer goes into `slot`, then its waker is woken. A lookup whose
/// future was dropped before its job started does nothing, as CPython cancels the executor
/// future of a cancelled `getaddrinfo` that is still queued (Checklist: L86, L94).
fn lookup(host: &str, port: u16, family: Family, slot: &Mutex<Slot>, counted: Option<&Counted>) {
    if slot.lock().unwrap_or_else(|p| p.into_inner()).abandoned {
        return;
    }
    let result = getaddrinfo(host, port, family);
    let waker = {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.result = Some(result);
        slot.waker.take()
    };
    // Woken with the lock released. A waker of a closed or dropped loop is a no-op; another
    // executor's that panics is reported to the lookup's loop.
    if let Some(w) = waker {
        crate::event_loop::thread_pool::wake_awaiter(counted, w, "getaddrinfo wake-up");
    }
}

/// The system resolver for a TCP connection to `(host, port)` of `family`, blocking (Python's
/// `socket.getaddrinfo(host, port, family, type=SOCK_STREAM)`).
///
/// # Errors
/// A failed lookup is [`gai_error`]'s (a system error behind `EAI_SYSTEM`: that errno), with
/// CPython's `socket.gaierror` text plus what was being resolved: `[Errno -2] Name or service
/// not known (resolving nonexistent.invalid:80)`. A host with a NUL byte is `InvalidInput`.
#[allow(unsafe_code)]
fn getaddrinfo(host: &str, port: u16, family: Family) -> io::Result<Vec<SocketAddr>> {
    use std::ffi::CString;
    let bad = |_| io::Error::new(io::ErrorKind::InvalidInput, "host name contains a NUL byte");
    let c_host = CString::new(host).map_err(bad)?;
    let c_port = CString::new(port.to_string()).map_err(bad)?;
    // SAFETY: an all-zero `addrinfo` is the documented "no hints" value; the fields set below
    // are plain integers.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    // The family goes to the resolver, as CPython passes it: a name with no address of that
    // family is the resolver's own error (glibc: EAI_ADDRFAMILY), not an empty answer.
    hints.ai_family = match family {
        Family::Any => libc::AF_UNSPEC,
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: both strings are NUL-terminated and outlive the call; `hints` is initialised;
    // `list` receives a list that we free below with `freeaddrinfo`, exactly once.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), c_port.as_ptr(), &hints, &mut list) };
    if rc != 0 {
        if rc == libc::EAI_SYSTEM {
            return Err(io::Error::last_os_error());
        }
        return Err(gai_error(rc, host, port));
    }
    let mut out = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, not yet freed; its
        // `ai_addr` points to `ai_addrlen` bytes of the family `ai_family` says, which we read
        // unaligned into the matching sockaddr type only when the length fits.
        unsafe {
            let ai = &*cur;
            let len = ai.ai_addrlen as usize;
            if ai.ai_family == libc::AF_INET && len >= std::mem::size_of::<libc::sockaddr_in>() {
                let a = std::ptr::read_unaligned(ai.ai_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                out.push(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)));
            } else if ai.ai_family == libc::AF_INET6
                && len >= std::mem::size_of::<libc::sockaddr_in6>()
            {
                let a = std::ptr::read_unaligned(ai.ai_addr as *const libc::sockaddr_in6);
                out.push(SocketAddr::V6(std::net::SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )));
            }
            cur = ai.ai_next;
        }
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once, after its last use.
    unsafe { libc::freeaddrinfo(list) };
    Ok(out)
}

/// glibc's "Address family for hostname not supported" (the libc crate has no constant for it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const EAI_ADDRFAMILY: i32 = -9;

/// An IP literal of another family than asked: CPython's `_ipaddr_info` leaves it to
/// getaddrinfo, so it is the resolver's error, as for a name with no address of that family.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn literal_of_other_family(host: &str, port: u16) -> io::Error {
    gai_error(EAI_ADDRFAMILY, host, port)
}

/// An IP literal of another family than asked (glibc's text; other resolvers' codes differ).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn literal_of_other_family(host: &str, port: u16) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("Address family for hostname not supported (resolving {host}:{port})"),
    )
}

/// A failed `getaddrinfo` other than `EAI_SYSTEM`, as Python's `socket.gaierror`: the code is
/// the error's number (`raw_os_error`, Python's `gaierror.errno`), the text `gai_strerror`'s
/// plus what was being resolved, and the kind says what the caller can do about it.
#[allow(unsafe_code)]
fn gai_error(rc: i32, host: &str, port: u16) -> io::Error {
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) }.to_string_lossy();
    let kind = match rc {
        // Temporary ("Temporary failure in name resolution": no name server answered in time,
        // or it failed): may succeed later. Not WouldBlock or Interrupted, which std's I/O
        // loops retry at once.
        libc::EAI_AGAIN => io::ErrorKind::TimedOut,
        // Arguments the resolver refused.
        libc::EAI_SERVICE | libc::EAI_FAMILY | libc::EAI_SOCKTYPE | libc::EAI_BADFLAGS => {
            io::ErrorKind::InvalidInput
        }
        // No address of the family asked for, as an IP literal of the other family is.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        EAI_ADDRFAMILY => io::ErrorKind::InvalidInput,
        libc::EAI_MEMORY => io::ErrorKind::OutOfMemory,
        // EAI_NONAME, EAI_NODATA, EAI_FAIL and the rest: the name has no address.
        _ => io::ErrorKind::NotFound,
    };
    OsError::with_code(kind, rc, format!("{text} (resolving {host}:{port})"))
}

impl Future for Lookup {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(result) = slot.result.take() {
            return Poll::Ready(result);
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            other => *other = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.abandoned = true;
        let waker = slot.waker.take();
        drop(slot);
        drop(waker);
    }
}

/// Reorders `addrs` by family for happy eyeballs (Python's `_interleave_addrinfos`, L90): group
/// by family in order of first appearance, emit the first `first_address_family_count - 1`
/// addresses of the first family, then one address per family round-robin, skipping exhausted
/// families. A count of 0 behaves as 1, as in CPython.
pub(crate) fn interleave(
    addrs: Vec<SocketAddr>,
    first_address_family_count: usize,
) -> Vec<SocketAddr> {
    // Two families at most: `first` is the family of addrs[0].
    let Some(first_is_v4) = addrs.first().map(SocketAddr::is_ipv4) else {
        return addrs;
    };
    let (first, second): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv4() == first_is_v4);
    let lead = first_address_family_count
        .saturating_sub(1)
        .min(first.len());
    let mut out = Vec::with_capacity(first.len() + second.len());
    out.extend_from_slice(&first[..lead]);
    let (mut a, mut b) = (first[lead..].iter(), second.iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::errno;
    use crate::event_loop::{run, EventLoop};
    use crate::time::timeout;
    use std::time::Duration;

    fn v4(n: u8) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::new(10, 0, 0, n).into(), 80)
    }
    fn v6(n: u16) -> SocketAddr {
        SocketAddr::new(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n).into(), 80)
    }

    /// The model: CPython's `_interleave_addrinfos`, transcribed literally.
    fn model(addrs: &[SocketAddr], n: usize) -> Vec<SocketAddr> {
        let mut lists: Vec<(bool, Vec<SocketAddr>)> = Vec::new();
        for a in addrs {
            match lists.iter_mut().find(|(f, _)| *f == a.is_ipv4()) {
                Some((_, l)) => l.push(*a),
                None => lists.push((a.is_ipv4(), vec![*a])),
            }
        }
        let mut out = Vec::new();
        // CPython indexes `addrinfos_lists[0]` here; create_connection never passes an empty
        // list, so an empty input is simply left empty.
        if n > 1 && !lists.is_empty() {
            let k = (n - 1).min(lists[0].1.len());
            out.extend(lists[0].1.drain(..k));
        }
        let longest = lists.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        for i in 0..longest {
            for (_, l) in &lists {
                out.extend(l.get(i));
            }
        }
        out
    }

    #[test]
    fn l90_interleave_worked_cases() {
        // n = 1, IPv6 first: v6, v4, v6, v4 …
        let got = interleave(vec![v6(1), v6(2), v6(3), v4(1), v4(2)], 1);
        assert_eq!(got, [v6(1), v4(1), v6(2), v4(2), v6(3)]);
        // n = 2: one extra address of the first family leads.
        let got = interleave(vec![v6(1), v6(2), v6(3), v4(1), v4(2)], 2);
        assert_eq!(got, [v6(1), v6(2), v4(1), v6(3), v4(2)]);
        // IPv4 first; families interleaved in the input are grouped first.
        let got = interleave(vec![v4(1), v6(1), v4(2), v6(2), v4(3)], 1);
        assert_eq!(got, [v4(1), v6(1), v4(2), v6(2), v4(3)]);
        let got = interleave(vec![v4(1), v4(2), v4(3), v6(1)], 2);
        assert_eq!(got, [v4(1), v4(2), v6(1), v4(3)]);
        // One family only, and empty input: unchanged.
        assert_eq!(interleave(vec![v4(1), v4(2)], 1), [v4(1), v4(2)]);
        assert_eq!(interleave(vec![v6(1), v6(2)], 2), [v6(1), v6(2)]);
        assert_eq!(interleave(vec![], 1), Vec::<SocketAddr>::new());
        // A count larger than the first family: all of it, then the rest.
        assert_eq!(
            interleave(vec![v6(1), v4(1), v4(2)], 5),
            [v6(1), v4(1), v4(2)]
        );
        // Count 0 behaves as 1 (CPython's `if first_address_family_count > 1`).
        assert_eq!(
            interleave(vec![v6(1), v6(2), v4(1)], 0),
            [v6(1), v4(1), v6(2)]
        );
    }

    #[test]
    fn l90_interleave_matches_cpython_model_exhaustively() {
        // Every family pattern of length 0..=8 (bit i set: address i is IPv4), counts 0..=4.
        for len in 0..=8u32 {
            for mask in 0..(1u32 << len) {
                let addrs: Vec<SocketAddr> = (0..len)
                    .map(|i| {
                        if mask & (1 << i) != 0 {
                            v4(i as u8)
                        } else {
                            v6(i as u16)
                        }
                    })
                    .collect();
                for n in 0..=4 {
                    let got = interleave(addrs.clone(), n);
                    assert_eq!(got, model(&addrs, n), "addrs {addrs:?}, count {n}");
                }
            }
        }
    }

    #[test]
    fn l86_literals_parse_inline() {
        let v6l: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_eq!(ipaddr_info("127.0.0.1"), Some(Ipv4Addr::LOCALHOST.into()));
        assert_eq!(ipaddr_info("::1"), Some(v6l));
        assert_eq!(ipaddr_info("[::1]"), Some(v6l));
        assert_eq!(
            ipaddr_info("::ffff:1.2.3.4"),
            Some("::ffff:1.2.3.4".parse().unwrap())
        );
        // A zone index is left to getaddrinfo, as CPython does.
        assert_eq!(ipaddr_info("fe80::1%lo"), None);
        assert_eq!(ipaddr_info("[fe80::1%lo]"), None);
        // Brackets hold IPv6 only, and must be balanced.
        assert_eq!(ipaddr_info("[127.0.0.1]"), None);
        assert_eq!(ipaddr_info("[::1"), None);
        assert_eq!(ipaddr_info("::1]"), None);
        // inet_pton's strict dotted quad: no shorthand; names are not literals.
        assert_eq!(ipaddr_info("127.1"), None);
        assert_eq!(ipaddr_info("localhost"), None);
        assert_eq!(ipaddr_info(""), None);
    }

    /// Polls `fut` once with a no-op waker, outside any loop.
    fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
        let mut fut = std::pin::pin!(fut);
        fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn l86_a_literal_resolves_in_the_first_poll_without_a_thread() {
        // Ready at the first poll, outside any loop: no thread could have answered yet.
        let Poll::Ready(got) = poll_once(resolve(Some("127.0.0.1"), 80, Family::Any, false)) else {
            panic!("an IPv4 literal must not wait for a resolver thread");
        };
        assert_eq!(
            got.unwrap(),
            ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        let Poll::Ready(got) = poll_once(resolve(Some("[::1]"), 8080, Family::V6, false)) else {
            panic!("a bracketed IPv6 literal must not wait for a resolver thread");
        };
        assert_eq!(got.unwrap(), ["[::1]:8080".parse::<SocketAddr>().unwrap()]);
        let Poll::Ready(got) = poll_once(resolve(Some("::1"), 1, Family::V4, false)) else {
            panic!("a literal of the wrong family fails at once");
        };
        let err = got.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let text = err.to_string();
        assert!(
            text.ends_with("Address family for hostname not supported (resolving ::1:1)"),
            "{text}"
        );
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert_eq!(err.raw_os_error(), Some(EAI_ADDRFAMILY), "{text}");
    }

    #[test]
    fn l86_no_host_is_wildcard_for_servers_and_loopback_for_clients() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        let cases: [(Option<&str>, Family, bool, Vec<SocketAddr>); 6] = [
            (None, Family::Any, true, vec![sa("0.0.0.0:9"), sa("[::]:9")]),
            (None, Family::V4, true, vec![sa("0.0.0.0:9")]),
            (None, Family::V6, true, vec![sa("[::]:9")]),
            (
                None,
                Family::Any,
                false,
                vec![sa("[::1]:9"), sa("127.0.0.1:9")],
            ),
            (None, Family::V4, false, vec![sa("127.0.0.1:9")]),
            (None, Family::V6, false, vec![sa("[::1]:9")]),
        ];
        for (host, family, passive, want) in cases {
            let Poll::Ready(got) = poll_once(resolve(host, 9, family, passive)) else {
                panic!("no host needs no thread");
            };
            assert_eq!(got.unwrap(), want, "{host:?} {family:?} passive={passive}");
        }
    }

    // Checklist: L86, L87. The empty name is not "no host": CPython hands '' to getaddrinfo,
    // which fails (`[Errno -2] Name or service not known`), passive or not. It used to be
    // taken as no host: the wildcards or the loopbacks.
    #[test]
    fn l86_the_empty_name_is_getaddrinfos_no_name_error_at_once() {
        for passive in [false, true] {
            for family in [Family::Any, Family::V4, Family::V6] {
                let Poll::Ready(got) = poll_once(resolve(Some(""), 9, family, passive)) else {
                    panic!("the empty name needs no thread");
                };
                let err = got.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
                assert_eq!(err.raw_os_error(), Some(libc::EAI_NONAME), "{err}");
                let text = err.to_string();
                assert!(text.ends_with("(resolving :9)"), "{text}");
            }
        }
    }

    // Checklist: L86. Brackets are accepted around an IPv6 literal, so around a zoned one too:
    // it reaches getaddrinfo without them (a numeric zone: parsed by the stub, no query), and
    // resolves as the bare form does, scope id kept. It used to fail with EAI_NONAME.
    #[test]
    fn l86_a_bracketed_ipv6_literal_with_a_zone_resolves_as_the_bare_one() {
        let get = |host: &'static str| {
            run(timeout(
                Duration::from_secs(10),
                resolve(Some(host), 80, Family::Any, false),
            ))
            .unwrap()
            .expect("a numeric literal resolves without a query, well within 10 s")
        };
        let bare = get("fe80::1%1").expect("fe80::1%1 resolves");
        let want: SocketAddr =
            std::net::SocketAddrV6::new("fe80::1".parse().unwrap(), 80, 0, 1).into();
        assert_eq!(bare, [want]);
        let bracketed = get("[fe80::1%1]").expect("[fe80::1%1] resolves");
        assert_eq!(bracketed, bare);
        // The blocking form (`serve_on_threads`) reads hosts the same way.
        let blocking = resolve_blocking("[fe80::1%1]", 80).expect("[fe80::1%1] resolves");
        assert_eq!(blocking, bare);
        assert_eq!(
            unbracketed("[localhost]"),
            "[localhost]",
            "only an IPv6 form"
        );
    }

    #[test]
    fn l86_localhost_resolves_through_the_helper_thread() {
        let got = run(timeout(
            Duration::from_secs(10),
            resolve(Some("localhost"), 4242, Family::Any, false),
        ))
        .unwrap()
        .expect("resolving localhost took over 10 s")
        .expect("localhost resolves");
        assert!(!got.is_empty());
        assert!(
            got.iter().all(|a| a.ip().is_loopback() && a.port() == 4242),
            "{got:?}"
        );
        let mut dedup = got.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), got.len(), "duplicates left in {got:?}");
        // Filtered by family: `localhost` has an IPv4 entry everywhere we run.
        let v4 = run(timeout(
            Duration::from_secs(10),
            resolve(Some("localhost"), 1, Family::V4, false),
        ))
        .unwrap()
        .expect("resolving localhost took over 10 s")
        .expect("localhost has an IPv4 address");
        assert!(v4.iter().all(SocketAddr::is_ipv4), "{v4:?}");
    }

    #[test]
    fn l86_a_name_that_does_not_resolve_is_an_io_error() {
        let got = run(timeout(
            Duration::from_secs(10),
            resolve(Some("nonexistent.invalid"), 80, Family::Any, false),
        ))
        .unwrap();
        match got {
            // The resolver hung: the timeout kept the test bounded; nothing else to check.
            Err(Error::Timeout) => {}
            // No name server answered (no network here): a temporary failure, nothing to check.
            Ok(Err(Error::Io(e))) if errno(&e) == Some(libc::EAI_AGAIN) => {
                eprintln!("skipped: nonexistent.invalid needs a name server, none answered: {e}");
            }
            Ok(Err(Error::Io(e))) => {
                // Issue #13: matchable, and it says what failed and why.
                assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
                assert_eq!(errno(&e), Some(libc::EAI_NONAME), "{e}");
                let text = e.to_string();
                assert!(text.starts_with("[Errno -"), "{text}");
                assert!(
                    text.ends_with("(resolving nonexistent.invalid:80)"),
                    "{text}"
                );
            }
            Ok(other) => panic!("nonexistent.invalid resolved: {other:?}"),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    // Checklist: L86. A name with an empty label is refused by the stub resolver itself,
    // before any query goes out: EAI_NONAME with no name server asked, so no network needed.
    #[test]
    fn l86_a_failed_lookup_keeps_its_gai_code_as_gaierror_errno() {
        let got = run(timeout(
            Duration::from_secs(10),
            resolve(Some("no..such.host"), 80, Family::Any, false),
        ))
        .unwrap()
        .expect("refused without a query, well within 10 s");
        match got {
            Err(e @ Error::Io(_)) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
                assert_eq!(e.raw_os_error(), Some(libc::EAI_NONAME), "{e}");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "[Errno {}] Name or service not known (resolving no..such.host:80)",
                        libc::EAI_NONAME
                    )
                );
                // A second owner (a report, a shared failure) keeps the code and the kind.
                let again = e.duplicate();
                assert_eq!(again.raw_os_error(), Some(libc::EAI_NONAME));
                assert_eq!(again.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("no..such.host: {other:?}"),
        }
    }

    // Checklist: L86. The codes our lookups cannot reach (a numeric port, fixed hints), or not
    // without a name server (EAI_AGAIN), each with its kind; the code always kept.
    #[test]
    fn l86_each_gai_code_has_its_kind() {
        let cases = [
            (libc::EAI_NONAME, io::ErrorKind::NotFound),
            (libc::EAI_FAIL, io::ErrorKind::NotFound),
            (libc::EAI_AGAIN, io::ErrorKind::TimedOut),
            (libc::EAI_SERVICE, io::ErrorKind::InvalidInput),
            (libc::EAI_FAMILY, io::ErrorKind::InvalidInput),
            (libc::EAI_SOCKTYPE, io::ErrorKind::InvalidInput),
            (libc::EAI_BADFLAGS, io::ErrorKind::InvalidInput),
            (libc::EAI_MEMORY, io::ErrorKind::OutOfMemory),
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            (EAI_ADDRFAMILY, io::ErrorKind::InvalidInput),
        ];
        for (rc, kind) in cases {
            let e = gai_error(rc, "h", 1);
            assert_eq!((e.kind(), errno(&e)), (kind, Some(rc)), "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&format!("[Errno {rc}] ")), "{text}");
            assert!(text.ends_with(" (resolving h:1)"), "{text}");
        }
    }

    // Checklist: L86, L94. An open cancelled while its lookup waits in the executor's queue
    // (every thread busy) must not resolve later: CPython cancels the queued executor future,
    // so `getaddrinfo` never runs and `shutdown_default_executor` does not wait for it. The job
    // is run here by hand, after the drop, as the queue would run it.
    #[test]
    fn l86_l94_a_lookup_dropped_before_its_job_starts_does_not_resolve() {
        let slot = Arc::new(Mutex::new(Slot::default()));
        drop(Lookup { slot: slot.clone() });
        lookup("localhost", 1, Family::Any, &slot, None);
        let slot = slot.lock().unwrap();
        assert!(slot.result.is_none(), "an abandoned lookup ran getaddrinfo");
        assert!(slot.waker.is_none());
    }

    #[test]
    fn l86_dropping_a_lookup_abandons_it_even_after_the_loop_is_gone() {
        let slot = Arc::new(Mutex::new(Slot::default()));
        // A literal host: `to_socket_addrs` parses it without a system call, so the thread ends
        // promptly and `join` below is bounded.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let theirs = slot.clone();
        crate::event_loop::thread_pool::submit(Box::new(move || {
            lookup("127.0.0.1", 1, Family::Any, &theirs, None);
            let _ = done_tx.send(());
        }))
        .unwrap();
        {
            let lp = EventLoop::new().unwrap();
            let lookup = Lookup { slot: slot.clone() };
            lp.run_until_complete(async {
                // Polled once (the waker registered unless the answer is in), then dropped.
                let _ = timeout(Duration::ZERO, lookup).await;
            })
            .unwrap();
            lp.close().unwrap();
        }
        // The loop is gone; the thread finished or finishes on its own, without panicking.
        done_rx.recv().expect("the resolver job panicked");
        let slot = slot.lock().unwrap();
        assert!(slot.waker.is_none(), "a dropped lookup left its waker");
    }
}
