//! What the workers of one group share with it, across threads: how many still run, their
//! errors and who waits for them ([`Shared`]), and the desk where the figures asked of each
//! worker wait for its answer ([`ServerGroup::stats`](super::ServerGroup::stats)). A worker
//! blocked asking for figures answers the requests addressed to it meanwhile, whichever group
//! asked, so no two workers can wait for each other.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{with_worker_server, WORKER_AT};
use crate::error::Error;
use crate::event_loop::LoopStats;
use crate::server::Server;
use crate::wakers::KeyedWakers;

/// This thread's worker figures: its server's live connections and its loop's stats (zeros
/// off a worker).
pub(super) fn gather() -> Figures {
    let loop_stats = crate::event_loop::get_running_loop()
        .map(|lp| lp.stats())
        .unwrap_or_default();
    let connections = with_worker_server(Server::connection_count).unwrap_or(0);
    (connections, loop_stats)
}

/// Wakes the threads waiting on the desks when dropped, under their lock (so that a waiter
/// between its look and its wait cannot miss it).
struct TellWaiters;

impl Drop for TellWaiters {
    fn drop(&mut self) {
        let _desks = desks();
        DESK_CHANGED.notify_all();
    }
}

/// What the workers share with the group: how many still run, their errors, and who waits;
/// and the name of its desk, where the figures asked of them wait ([`ServerGroup::stats`]).
pub(super) struct Shared {
    pub(super) state: Mutex<GroupState>,
    /// The group's desk in [`DESKS`].
    pub(super) id: u64,
}

/// The desks of every group, by group id. One lock and one condition variable for all
/// groups, so that a worker waiting for another group's figures still sees, and answers,
/// the requests addressed to it: workers of two groups asking each other's group at the same
/// moment answer each other instead of each waiting for the other's loop.
static DESKS: Mutex<Vec<(u64, Desk)>> = Mutex::new(Vec::new());

/// Signalled whenever a request lands in a mailbox, an answer is sent or a worker ends.
static DESK_CHANGED: Condvar = Condvar::new();

fn desks() -> MutexGuard<'static, Vec<(u64, Desk)>> {
    DESKS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Worker `index` of group `id` has requests waiting (taken out), if any. Looks only: a desk
/// is made by its group's `ask`/`finish`, never by an answer (the group may be gone).
fn take_mail(id: u64, index: usize) -> Vec<mpsc::Sender<Figures>> {
    let mut all = desks();
    match all.iter_mut().find(|(g, _)| *g == id) {
        Some((_, desk)) if index < desk.mail.len() => std::mem::take(&mut desk.mail[index]),
        _ => Vec::new(),
    }
}

/// Whether worker `index` of group `id` has requests waiting (in `all`, locked).
fn has_mail(all: &[(u64, Desk)], id: u64, index: usize) -> bool {
    all.iter()
        .find(|(g, _)| *g == id)
        .and_then(|(_, desk)| desk.mail.get(index))
        .is_some_and(|mail| !mail.is_empty())
}

/// Group `id`'s desk, made on first use.
fn desk_of(desks: &mut Vec<(u64, Desk)>, id: u64) -> &mut Desk {
    let at = match desks.iter().position(|(g, _)| *g == id) {
        Some(at) => at,
        None => {
            desks.push((id, Desk::default()));
            desks.len() - 1
        }
    };
    &mut desks[at].1
}

/// One worker's figures: its live connections and its loop's stats.
pub(super) type Figures = (usize, LoopStats);

/// Requests for figures, by worker. A request waits here, not only as a closure in the
/// worker's loop queue, so that a worker blocked in `stats()` itself can answer the requests
/// addressed to it while it waits: two workers asking at the same moment answer each other
/// instead of each waiting for the other's loop.
#[derive(Default)]
struct Desk {
    /// Pending requests per worker index: each gets one answer (or is dropped unanswered
    /// when the worker has ended: its receiver then sees zeros).
    mail: Vec<Vec<mpsc::Sender<Figures>>>,
    /// Workers whose thread has ended: a request to them gets zeros at once.
    gone: Vec<bool>,
}

impl Desk {
    /// The mailbox and "gone" flag of worker `index`, grown on first use.
    fn at(&mut self, index: usize) -> (&mut Vec<mpsc::Sender<Figures>>, &mut bool) {
        if self.mail.len() <= index {
            self.mail.resize_with(index + 1, Vec::new);
            self.gone.resize(index + 1, false);
        }
        (&mut self.mail[index], &mut self.gone[index])
    }
}

#[derive(Default)]
pub(super) struct GroupState {
    /// Worker threads spawned and not yet finished.
    pub(super) running: usize,
    /// Workers whose thread has finished (failed, or done after `close`), by index.
    pub(super) ended: Vec<usize>,
    /// Errors of workers that failed, by worker index; kept, so that every `wait_closed`
    /// reports them (a copy each), and taken by a failed `start`.
    pub(super) errors: Vec<(usize, Error)>,
    /// `wait_closed` calls, woken when `running` reaches 0; each takes its entry back if
    /// dropped first.
    pub(super) waiters: KeyedWakers,
}

/// On worker `index` of group `id`'s thread: answers every request waiting for it, with one
/// gathering.
pub(super) fn answer(id: u64, index: usize) {
    answer_with(id, index, gather);
}

/// [`answer`] with the figures from `gather` (tests pass a failing one).
fn answer_with(id: u64, index: usize, gather: impl FnOnce() -> Figures) {
    let mail = take_mail(id, index);
    if mail.is_empty() {
        return;
    }
    // Declared before `mail` is moved in, so dropped after it: however this ends (a panic in
    // `gather` included), the askers are told once their senders are sent or gone.
    let _tell = TellWaiters;
    let mail = mail;
    let figures = gather();
    for tx in mail {
        let _ = tx.send(figures);
    }
}

/// Waits for the answer on `rx`. On a worker's thread, answers the requests addressed to
/// that worker meanwhile (from any group). Zeros when the worker asked ended without
/// answering.
pub(super) fn wait_answer(rx: &mpsc::Receiver<Figures>) -> Figures {
    let me = WORKER_AT.with(Cell::get);
    let mut all = desks();
    loop {
        match rx.try_recv() {
            Ok(figures) => return figures,
            Err(mpsc::TryRecvError::Disconnected) => return Figures::default(),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if let Some((id, index)) = me {
            if has_mail(&all, id, index) {
                drop(all);
                answer(id, index);
                all = desks();
                continue;
            }
        }
        all = DESK_CHANGED
            .wait(all)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

impl Shared {
    pub(super) fn new() -> Shared {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Shared {
            state: Mutex::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, GroupState> {
        // A worker's panic is caught before it could poison this lock; be safe anyway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves a request for worker `index`'s figures; `None` when that worker has ended.
    pub(super) fn ask(&self, index: usize) -> Option<mpsc::Receiver<Figures>> {
        let (tx, rx) = mpsc::channel();
        let mut all = desks();
        let (mail, gone) = desk_of(&mut all, self.id).at(index);
        if *gone {
            return None;
        }
        mail.push(tx);
        drop(all);
        // A worker blocked in `stats()` waits on this: it answers at once.
        DESK_CHANGED.notify_all();
        Some(rx)
    }

    /// A worker thread ends: record its error, wake the waiters when it was the last.
    pub(super) fn finish(&self, index: usize, error: Option<Error>) {
        {
            // Requests it will never answer are dropped: their askers see zeros.
            let mut all = desks();
            let (mail, gone) = desk_of(&mut all, self.id).at(index);
            *gone = true;
            mail.clear();
            DESK_CHANGED.notify_all();
        }
        let waiters = {
            let mut state = self.lock();
            state.running -= 1;
            state.ended.push(index);
            if let Some(e) = error {
                state.errors.push((index, e));
            }
            if state.running == 0 {
                state.waiters.take()
            } else {
                Vec::new()
            }
        }; // lock released before waking
        for w in waiters {
            w.wake();
        }
    }
}

impl Drop for Shared {
    /// The group is gone (its handle and every worker): its desk goes too.
    fn drop(&mut self) {
        desks().retain(|(g, _)| *g != self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{answer_with, Figures, Shared};

    #[test]
    fn an_answer_that_fails_still_wakes_its_asker() {
        // The asker waits on the desk's condition variable; a worker whose gathering panics
        // drops the request's sender, and must still wake the asker, who then sees zeros.
        let shared = Arc::new(Shared::new());
        let rx = shared.ask(0).expect("worker 0 has not ended");
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let asker = shared.clone();
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = started.clone();
        std::thread::spawn(move || {
            s.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = done_tx.send(super::wait_answer(&rx));
            drop(asker);
        });
        // Passes in every order; these only make the old code's hang likely to show: the
        // asker gets to its wait before the answer fails (bounded loops, no sleep).
        while !started.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::yield_now();
        }
        for _ in 0..1000 {
            std::thread::yield_now();
        }
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            answer_with(shared.id, 0, || panic!("gathering failed"))
        }));
        assert!(failed.is_err());
        // Bounded: without the wake-up the asker waited forever.
        let got = done_rx.recv_timeout(Duration::from_secs(60));
        assert_eq!(got.map(|f| f.0), Ok(Figures::default().0));
    }
}
