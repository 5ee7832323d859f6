//! A `TaskGroup` forgets the tasks that have ended (CPython's `_on_task_done` discards them
//! from `_tasks`; `test_taskgroups.test_taskgroup_23` checks it): a long-lived group, such as
//! one a server runs its connections in, holds memory for its running tasks only. Its own test
//! binary, because it installs a global allocator that counts live bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use asyncio::{Error, TaskGroup};

struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY (no unsafe block of ours runs here beyond forwarding): every method forwards to
// `System` with the caller's arguments, so `System`'s contract is the caller's contract.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

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
            let before = LIVE.load(Relaxed);
            for _ in 0..MEASURED {
                tg.create_task(one())?.await.unwrap()?;
            }
            Ok::<_, Error>(LIVE.load(Relaxed) - before)
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
