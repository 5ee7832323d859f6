//! `start_new_session` with `process_group`, as CPython 3.11's `_posixsubprocess` runs them:
//! `setsid()` first, then `setpgid(0, pgid)`, which a session leader may never call (EPERM).

use super::*;

// Python: `Popen(["true"], start_new_session=True, process_group=os.getpgid(0))` raises
// `PermissionError` (EPERM): the child is a session leader by the time it asks for a group.
// So does a group of 0. (Before: std's `setpgid` ran before our `setsid`, and joining the
// parent's group left the child free to start a session: it started; checked by reverting
// src/streams/subprocess.rs and src/event_loop/child_watcher/mod.rs.)
both!(
    start_new_session_with_a_process_group_is_eperm,
    |w| async move {
        // SAFETY: getpgid(0) only reads this process's group id.
        let ours = unsafe { libc::getpgid(0) };
        for pgid in [ours, 0] {
            match sh("exit 0", w)
                .start_new_session(true)
                .process_group(pgid)
                .await
            {
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{pgid}: {e:?}"),
                Ok(p) => panic!(
                    "process_group({pgid}) with a new session started: {}",
                    p.pid()
                ),
            }
        }
        // A negative group is no group: the session alone starts.
        let proc = sh("exit 0", w)
            .start_new_session(true)
            .process_group(-1)
            .await?;
        assert_eq!(proc.wait().await, 0);
        Ok(())
    }
);
