//! A `TaskGroup` forgets the tasks that have ended (CPython's `_on_task_done` discards them
//! from `_tasks`; `test_taskgroups.test_taskgroup_23` checks it): a long-lived group, such as
//! one a server runs its connections in, holds memory for its running tasks only. Its own test
//! binary, because it installs a global allocator that counts live bytes.

use asyncio::{Error, TaskGroup};

mod live_bytes;

#[global_allocator]
static GLOBAL: live_bytes::LiveBytes = live_bytes::LiveBytes;

#[test]
fn test_taskgroup_23_ended_tasks_are_not_kept() {
    const WARMUP: usize = 100;
    const MEASURED: usize = 20_000;
    let grew = asyncio::run(async {
        TaskGroup::run(|tg| async move {
            // One task at a time, each awaited: the group never runs more than one.
            let one = || async { Ok::<_, Error>(()) };
            for _ in 0..WARMUP {
                tg.create_task(one())?.await.unwrap()?;
            }
            let before = live_bytes::live();
            for _ in 0..MEASURED {
                tg.create_task(one())?.await.unwrap()?;
            }
            Ok::<_, Error>(live_bytes::live() - before)
        })
        .await
    })
    .unwrap()
    .unwrap();
    // A slot per task ever started would be hundreds of KiB by now.
    assert!(
        grew < 4096,
        "{grew} bytes still held after {MEASURED} tasks ended"
    );
}
