//! `pass_fds` at its edges, as CPython 3.11's `_posixsubprocess` takes them: a number of a
//! standard stream (0, 1, 2) and a number given twice. Popen keeps them all: the standard
//! streams stay the ones it set up (a pipe here), and a number given twice is kept once.

use super::*;

use std::os::fd::AsRawFd;

// The child marks every descriptor above 2 close-on-exec and then clears the mark on the
// passed ones: 0-2 are outside the marked range, and clearing a mark twice is harmless. The
// child writes to its stdout pipe and to the passed (close-on-exec here) pipe.
both!(
    pass_fds_with_standard_numbers_and_a_duplicate_keeps_them_all,
    |w| async move {
        let (r, wr) = os_pipe();
        let fd = wr.as_raw_fd();
        let code = format!("import os; os.write({fd}, b'passed'); os.write(1, b'out')");
        let proc = create_subprocess_exec("python3", ["-c", code.as_str()])
            .stdout(Stdio::Pipe)
            .pass_fds([0, 1, 2, fd, fd])
            .child_watcher(w)
            .await?;
        let (out, _) = proc.communicate(None).await?;
        assert_eq!(out, b"out", "the child's stdout");
        drop(wr);
        let passed = asyncio::open_read_pipe(r).await?;
        assert_eq!(passed.read(-1).await?, b"passed", "the passed pipe");
        Ok(())
    }
);
