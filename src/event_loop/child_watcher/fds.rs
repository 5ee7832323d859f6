//! The descriptors a starting child keeps: Popen's `close_fds` and `pass_fds`.
//!
//! CPython's `_posixsubprocess` closes the child's descriptors in the child, after the fork:
//! whatever the parent opened until then is covered. We start children with std's `Command`,
//! which uses `posix_spawn` when no code has to run in the child, and forks otherwise; a fork
//! of a large process costs more. So the parent first asks whether an exec would leave any
//! descriptor open; with none (a Rust program's usual case: std and the crate open everything
//! close-on-exec) and nothing passed, the child is spawned as std would. Otherwise the
//! child, after its standard streams are in place, marks every descriptor above 2
//! close-on-exec with one `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11), also covering any
//! opened by another thread since the parent looked, then clears the mark on the passed
//! ones. Where `close_range` cannot do it, the child marks every number below the table's
//! size the parent read, one `fcntl` each (below `RLIMIT_NOFILE` without `/proc`). This
//! process keeps its own descriptors as they are.
//!
//! The one gap left, as in any program spawning through std: a descriptor another thread
//! opens without close-on-exec between the parent's look and a `posix_spawn` reaches the
//! child. Closing it would take a fork for every start. (Without `close_range`, so does one
//! numbered past a table that was full when the parent looked.)
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

/// Sets up `cmd` so that the child inherits only its standard streams and `pass` (when
/// `close_fds`, which `pass` implies), or everything it would anyway (neither). The passed
/// descriptors are made inheritable in the child only, whatever their flag here; each must be
/// open ([`all_open`], asked before anything is opened for the child), and one closed since
/// makes the start fail with `EBADF`.
pub(crate) fn set_child_fds(cmd: &mut std::process::Command, close_fds: bool, pass: Vec<RawFd>) {
    if close_fds || !pass.is_empty() {
        close_in_child(cmd, pass, fd_table_size());
    }
}

/// [`set_child_fds`] for a descriptor table of `table` slots, `None` when its size is not
/// known (no `/proc`): then nothing is asked in the parent, where up to `RLIMIT_NOFILE`
/// numbers (a million on some systems) would each cost an `fcntl` at every start, and the
/// child always does the marking.
fn close_in_child(cmd: &mut std::process::Command, pass: Vec<RawFd>, table: Option<RawFd>) {
    close_in_child_with(cmd, pass, table, mark_all_close_on_exec);
}

/// [`close_in_child`] with the child's one-call marking done by `mark_all` (a kernel without
/// `close_range` answers `false`, as a test's stand-in does).
fn close_in_child_with(
    cmd: &mut std::process::Command,
    pass: Vec<RawFd>,
    table: Option<RawFd>,
    mark_all: fn() -> bool,
) {
    use std::os::unix::process::CommandExt;
    // Where `close_range` cannot mark, the child asks every number below `end` itself, not
    // only the ones the parent found: a descriptor opened since by another thread takes the
    // lowest free number, below the table's size unless the table was full.
    let end = match table {
        Some(size) => {
            if pass.is_empty() && !any_inheritable(size) {
                return; // nothing to do in the child: std may `posix_spawn`
            }
            size
        }
        None => open_max(),
    };
    // SAFETY: the closure runs in the forked child before exec; it only reads what the
    // parent built (borrowed: nothing allocated or freed; std never drops the closure in the
    // child, which execs or `_exit`s) and calls `close_range` (a raw system call) and
    // `fcntl`, both async-signal-safe; its error is errno read into an `io::Error`, which
    // allocates nothing. A number with no descriptor fails `EBADF`, harmlessly; marking any
    // descriptor above 2 close-on-exec cannot harm the exec (std's own error pipe is
    // close-on-exec already).
    unsafe {
        cmd.pre_exec(move || {
            if !mark_all() {
                for fd in 3..end {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            for &fd in &pass {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Marks every descriptor above 2 close-on-exec with one system call; `false` where the
/// kernel cannot (`close_range` is Linux 5.9, its `CLOSE_RANGE_CLOEXEC` 5.11). Called as the
/// raw system call: glibc's wrapper is 2.34, and naming it would make every program need that
/// glibc. Async-signal-safe.
fn mark_all_close_on_exec() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let (first, last) = (3 as libc::c_long, libc::c_long::from(libc::c_uint::MAX));
        let flags = libc::CLOSE_RANGE_CLOEXEC as libc::c_long;
        // SAFETY: `close_range` takes three integers and touches no memory of ours; with
        // `CLOSE_RANGE_CLOEXEC` it closes nothing, only sets the flag.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) == 0 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    false
}

/// Whether every number of `fds` is an open descriptor: `pass_fds` is checked in the parent
/// before the child's stdio pipes, and std's own (its exec-error pipe), are opened. Checked
/// only in the child, a free number could be one of those by then, made inheritable there:
/// the parent's end of a stdin pipe, so that the child's stdin never ends, or std's
/// exec-error pipe, so that `spawn` waits for the child to exit.
pub(crate) fn all_open(fds: &[RawFd]) -> bool {
    fds.iter().all(|&fd| fd_flags(fd).is_some())
}

/// Whether a descriptor from 3 to `size` would be left open by an exec (no close-on-exec
/// flag): each number asked with one `fcntl` until one is found (0.65 us on a small VM: 0.1 ms for a
/// table of 128). Listing `/proc/self/fd` instead makes the kernel build an entry per open
/// descriptor: 60 ms a start at 18 000 descriptors, where asking the 32 768 slots takes 20 ms.
fn any_inheritable(size: RawFd) -> bool {
    (3..size).any(|fd| fd_flags(fd).is_some_and(|f| f & libc::FD_CLOEXEC == 0))
}

/// The descriptor flags of `fd` (`FD_CLOEXEC`), `None` when no descriptor has that number.
fn fd_flags(fd: RawFd) -> Option<libc::c_int> {
    // SAFETY: `F_GETFD` only reads the flags of a descriptor number (`-1`, `EBADF`, for one
    // not open).
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags)
}

/// One past the highest descriptor number that may be open: Linux's `FDSize` (the table's
/// size, a power of two past the highest open number); `None` without `/proc`. One `read` into
/// a stack buffer: the line is the eleventh, within the first few hundred bytes, and procfs
/// hands the whole prefix asked for at once (`read_to_string` made a `statx` and eight reads,
/// growing a `Vec` from 32 bytes). A line the buffer cuts is not taken.
fn fd_table_size() -> Option<RawFd> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/status").ok()?;
    let mut buf = [0u8; 1024];
    let n = loop {
        match file.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            read => break read.ok()?,
        }
    };
    fd_size_in(&buf[..n])
}

/// The `FDSize:` of a `/proc/<pid>/status` prefix, from whole lines only, at most 2^20.
fn fd_size_in(status: &[u8]) -> Option<RawFd> {
    let whole = &status[..status.iter().rposition(|&b| b == b'\n')?];
    let line = whole
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"FDSize:"))?;
    let size: i64 = std::str::from_utf8(line).ok()?.trim().parse().ok()?;
    RawFd::try_from(size.clamp(0, 1 << 20)).ok()
}

/// The limit on open descriptors (`RLIMIT_NOFILE`, which a descriptor opened before it was
/// lowered may exceed), at most 2^20; 256 where `sysconf` cannot tell, as CPython takes it.
fn open_max() -> RawFd {
    // SAFETY: sysconf takes a plain integer name and reports failure as -1.
    open_max_bound(unsafe { libc::sysconf(libc::_SC_OPEN_MAX) })
}

/// [`open_max`] from `sysconf`'s answer `n` (-1: unknown).
fn open_max_bound(n: libc::c_long) -> RawFd {
    let n = if n < 0 { 256 } else { n.min(1 << 20) };
    RawFd::try_from(n).unwrap_or(256)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::process::Command;

    /// A pipe whose two ends are inheritable, as C code or a parent process may leave them.
    fn inheritable_pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors, owned by nothing else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// Runs `cmd` (a `sh -c` script that exits with the number of the listed descriptors it
    /// finds open) to its end.
    fn open_in_child(mut cmd: Command, fds: &[RawFd]) -> i32 {
        let tests: Vec<String> = fds
            .iter()
            .map(|fd| format!("[ -e /proc/self/fd/{fd} ] && n=$((n+1));"))
            .collect();
        let script = format!("n=0; {} exit $n", tests.concat());
        cmd.arg(script);
        cmd.status().unwrap().code().unwrap()
    }

    // CPython closes in the child, after the fork: a descriptor opened without close-on-exec
    // after the parent looked at its table (by another thread, in life) does not reach the
    // child either. Here one is opened between the look and the spawn, with an inheritable
    // one held before (so that the child has marking to do). (Before: the child marked only
    // the parent's list, and the late pipe reached it; checked by reverting.)
    #[cfg(target_os = "linux")]
    #[test]
    fn a_descriptor_opened_after_the_parent_looked_does_not_reach_the_child() {
        late_pipe_stays_out(|cmd| set_child_fds(cmd, true, Vec::new()));
    }

    /// Pipes opened without close-on-exec before and after `prepare` sets up `cmd`'s child
    /// (after: as another thread would, once the parent looked): none reaches the child.
    #[cfg(target_os = "linux")]
    fn late_pipe_stays_out(prepare: impl FnOnce(&mut Command)) {
        let early = inheritable_pipe();
        let mut cmd = Command::new("sh");
        cmd.arg("-c");
        prepare(&mut cmd);
        let late = inheritable_pipe();
        let fds = [
            early.0.as_raw_fd(),
            early.1.as_raw_fd(),
            late.0.as_raw_fd(),
            late.1.as_raw_fd(),
        ];
        assert_eq!(
            open_in_child(cmd, &fds),
            0,
            "descriptors {fds:?} reached the child"
        );
    }

    // Without `/proc` the parent cannot tell its table's size and asks nothing (up to a
    // million `fcntl`s a start, where `RLIMIT_NOFILE` is that high); the child marks
    // everything itself, and a passed descriptor still reaches it.
    #[cfg(target_os = "linux")]
    #[test]
    fn with_the_table_size_unknown_the_child_closes_all_but_the_passed() {
        let held = inheritable_pipe();
        let passed = inheritable_pipe();
        let mut cmd = Command::new("sh");
        cmd.arg("-c");
        close_in_child(&mut cmd, vec![passed.1.as_raw_fd()], None);
        let fds = [held.0.as_raw_fd(), held.1.as_raw_fd(), passed.0.as_raw_fd()];
        assert_eq!(
            open_in_child(cmd, &fds),
            0,
            "descriptors {fds:?} reached the child"
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c");
        close_in_child(&mut cmd, vec![passed.1.as_raw_fd()], None);
        assert_eq!(
            open_in_child(cmd, &[passed.1.as_raw_fd()]),
            1,
            "the passed one"
        );
    }

    // The fallback, on a kernel where `close_range` cannot mark (before 5.11, or a seccomp
    // filter refusing it): a descriptor opened without close-on-exec after the parent looked
    // (by another thread, in life) does not reach the child either, as CPython, closing in
    // the child, covers it. (Before: the child marked only the parent's list, and the late
    // pipe reached it; checked by reverting.)
    #[cfg(target_os = "linux")]
    #[test]
    fn without_close_range_a_descriptor_opened_after_the_look_does_not_reach_the_child() {
        late_pipe_stays_out(|cmd| close_in_child_with(cmd, Vec::new(), fd_table_size(), || false));
    }

    // `sysconf(_SC_OPEN_MAX)` answers -1 where it cannot tell (an unlimited `RLIMIT_NOFILE`
    // on some systems); CPython's `_posixsubprocess` then brute-forces up to 256. (Before: a
    // bound of 0, and a child without `/proc` or `close_range` kept every inheritable
    // descriptor; checked by reverting.)
    #[test]
    fn an_unknown_descriptor_limit_is_taken_as_256() {
        assert_eq!(open_max_bound(-1), 256);
        assert_eq!(open_max_bound(20_000), 20_000);
        assert_eq!(open_max_bound(libc::c_long::MAX), 1 << 20);
    }

    // `FDSize` from whole lines only: a line the one read cut short is no size.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_table_size_is_read_from_whole_lines_only() {
        let status = b"Name:\tx\nFDSize:\t64\nGroups:\n";
        assert_eq!(fd_size_in(status), Some(64));
        assert_eq!(fd_size_in(&status[..b"Name:\tx\nFDSize:\t6".len()]), None);
        assert_eq!(fd_size_in(b"FDSize:\t99999999\n"), Some(1 << 20));
        assert_eq!(fd_size_in(b"FDSize:\t-3\n"), Some(0));
        assert_eq!(fd_size_in(b"FDSize:\tx\n"), None);
        // The one read finds what the whole file says (or more: the table only grows, and
        // other tests open descriptors meanwhile).
        let full = std::fs::read_to_string("/proc/self/status").unwrap();
        let (whole, one_read) = (fd_size_in(full.as_bytes()).unwrap(), fd_table_size());
        assert!(
            one_read.is_some_and(|n| n >= whole),
            "{one_read:?} < {whole}"
        );
    }

    // The fallback where `close_range` cannot mark (a kernel before 5.11): every number below
    // the table's size, or below `RLIMIT_NOFILE` without `/proc`.
    #[test]
    fn the_fallback_bound_is_the_open_descriptor_limit_at_most_2_to_the_20() {
        let max = open_max();
        assert!((3..=1 << 20).contains(&max), "{max}");
        let (r, _w) = inheritable_pipe();
        let size = fd_table_size().unwrap_or(max);
        assert!(r.as_raw_fd() < size && any_inheritable(size), "{size}");
    }
}
