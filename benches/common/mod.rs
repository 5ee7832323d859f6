//! Support for `benches/latency.rs` and `benches/instr.rs`: the servers under test (`servers`),
//! the shared load generator (`loadgen`), the report (`report`) and the callgrind counts
//! (`instr`), plus the pieces they share here: CPU pinning, the counting allocator,
//! RLIMIT_NOFILE, panics as errors, and statistics helpers.

pub mod instr;
pub mod loadgen;
pub mod report;
pub mod servers;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The bench binary's allocator: the system one, counting every allocation (reallocations
/// included) so that a server child can report allocations per echoed message.
pub struct Counting;

/// Allocations (alloc, alloc_zeroed, realloc) since the process started, all threads.
pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed (requested sizes), all threads.
pub static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call unchanged to `System`, which upholds the `GlobalAlloc` contract;
// the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours, passed through.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours, passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// `pin_current(ANY_CPU)`: every CPU, for servers and clients meant to spread across cores.
pub const ANY_CPU: usize = usize::MAX;

/// Pins the calling thread (and every thread it spawns later) to `cpu` (or [`ANY_CPU`]).
pub fn pin_current(cpu: usize) -> std::io::Result<()> {
    // SAFETY: `set` is a plain bitmask on our stack; pid 0 means the calling thread. Only
    // async-signal-safe calls, so this may also run in a `pre_exec` hook.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu == ANY_CPU {
            for c in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(c, &mut set); // the kernel keeps the CPUs that exist
            }
        } else {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs `f` on a new thread pinned to `cpu` and returns its result.
pub fn on_cpu<R: Send>(cpu: usize, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(move || {
            pin_current(cpu).expect("sched_setaffinity");
            f()
        })
        .join()
        .expect("load generator thread panicked")
    })
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (children inherit it); returns the new soft
/// limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur as u64
    }
}

/// Runs `f`; a panic (a failed `expect` in the load generator, say) becomes `Err(its message)`,
/// so that one server's failure is reported and the others are still measured.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// The median of `v` (the lower middle for an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(v.len() - 1) / 2]
}
