//! `Queue`, `LifoQueue`, `PriorityQueue`: ports of test_queues.py.

use super::*;

/// A queue of one slot holding `held`, and a task whose `put(next)` waits for room (settled
/// there).
async fn full_queue_and_a_waiting_put<T: 'static>(
    held: T,
    next: T,
) -> (Rc<Queue<T>>, asyncio::Task<()>) {
    let q = Rc::new(Queue::new(1));
    assert!(q.put_nowait(held).is_ok(), "an empty queue has room");
    let q2 = q.clone();
    let putter = spawn(async move { q2.put(next).await });
    settle().await;
    (q, putter)
}

/// A [`full_queue_and_a_waiting_put`] of 1 and `next` whose putter is woken by a
/// `get_nowait` (which takes the 1) and then cancelled before it runs.
async fn a_woken_put_cancelled(next: i32) -> (Rc<Queue<i32>>, asyncio::Task<()>) {
    let (q, putter) = full_queue_and_a_waiting_put(1, next).await;
    assert_eq!(q.get_nowait(), Ok(1));
    putter.cancel();
    (q, putter)
}

// ---- Queue -----------------------------------------------------------------------------------

#[test]
fn test_empty() {
    let q = Queue::new(0);
    assert!(q.empty());
    q.put_nowait(1).unwrap();
    assert!(!q.empty());
    assert_eq!(q.get_nowait(), Ok(1));
    assert!(q.empty());
}

#[test]
fn test_full() {
    let q: Queue<i32> = Queue::new(0);
    assert!(!q.full());
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    assert!(q.full());
}

#[test]
fn test_order() {
    let q = Queue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [1, 3, 2]);
}

#[test]
fn test_lifo_order() {
    let q = LifoQueue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [2, 3, 1]);
}

#[test]
fn test_priority_order() {
    let q = PriorityQueue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn test_maxsize() {
    run(async {
        let q = Rc::new(Queue::new(2));
        assert_eq!(q.maxsize(), 2);
        let have_been_put = Rc::new(RefCell::new(Vec::new()));
        let (q2, h) = (q.clone(), have_been_put.clone());
        let putter = spawn(async move {
            for i in 0..3 {
                q2.put(i).await;
                h.borrow_mut().push(i);
            }
        });
        settle().await;
        assert_eq!(*have_been_put.borrow(), [0, 1]);
        assert_eq!(q.get_nowait(), Ok(0));
        settle().await;
        assert_eq!(*have_been_put.borrow(), [0, 1, 2]);
        putter.await.unwrap();
        assert!(q.full());
    });
}

#[test]
fn test_blocking_get() {
    run(async {
        let q = Queue::new(0);
        q.put_nowait(1).unwrap();
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_get_with_putters() {
    run(async {
        let (q, put) = full_queue_and_a_waiting_put(1, 2).await;
        assert_eq!(q.get().await, 1);
        settle().await;
        assert!(put.is_done());
        assert_eq!(q.get_nowait(), Ok(2));
    });
}

#[test]
fn test_blocking_get_wait() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let started = Rc::new(Event::new());
        let (q2, s) = (q.clone(), started.clone());
        let getter = spawn(async move {
            s.set();
            q2.get().await
        });
        started.wait().await;
        settle().await;
        assert!(!getter.is_done());
        q.put_nowait(1).unwrap();
        assert_eq!(getter.await.unwrap(), 1);
    });
}

#[test]
fn test_nonblocking_get() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    assert_eq!(q.get_nowait(), Ok(1));
}

#[test]
fn test_nonblocking_put() {
    let q = Queue::new(0);
    assert_eq!(q.put_nowait(1), Ok(()));
    assert_eq!(q.get_nowait(), Ok(1));
}

#[test]
fn test_nonblocking_get_exception() {
    let q: Queue<u8> = Queue::new(0);
    assert_eq!(q.get_nowait(), Err(QueueEmpty));
    assert_eq!(QueueEmpty.to_string(), "queue is empty");
}

#[test]
fn test_nonblocking_put_exception() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    assert_eq!(q.put_nowait(2), Err(QueueFull(2)));
    assert_eq!(QueueFull(()).to_string(), "queue is full");
}

#[test]
fn test_get_cancelled_race() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let (q1, q2) = (q.clone(), q.clone());
        let t1 = spawn(async move { q1.get().await });
        let t2 = spawn(async move { q2.get().await });
        settle().await;
        t1.cancel();
        settle().await;
        assert!(t1.is_done());
        q.put("a").await;
        settle().await;
        assert_eq!(t2.await.unwrap(), "a");
    });
}

#[test]
fn test_get_with_waiting_putters() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let (q1, q2) = (q.clone(), q.clone());
        spawn(async move { q1.put('a').await }).detach();
        spawn(async move { q2.put('b').await }).detach();
        assert_eq!(q.get().await, 'a');
        assert_eq!(q.get().await, 'b');
    });
}

#[test]
fn test_why_are_getters_waiting() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let q1 = q.clone();
        let producer = spawn(async move {
            for i in 0..5 {
                q1.put(i).await;
            }
        });
        let q2 = q.clone();
        let consumer = spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                got.push(q2.get().await);
            }
            got
        });
        producer.await.unwrap();
        assert_eq!(consumer.await.unwrap(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn test_cancelled_getters_not_being_held_in_self_getters() {
    let q: Queue<u8> = Queue::new(5);
    let mut get = Box::pin(q.get());
    assert!(poll_once(&mut get).is_pending());
    drop(get);
    assert!(format!("{q:?}").contains("getters: 0"), "{q:?}");
}

#[test]
fn test_blocking_put() {
    run(async {
        let q = Queue::new(0);
        q.put(1).await;
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_blocking_put_wait() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let finished = Rc::new(Cell::new(false));
        let (q2, f) = (q.clone(), finished.clone());
        let t = spawn(async move {
            q2.put(1).await;
            q2.put(2).await;
            f.set(true);
        });
        settle().await;
        assert!(!finished.get());
        assert_eq!(q.get_nowait(), Ok(1));
        t.await.unwrap();
        assert!(finished.get());
    });
}

#[test]
fn test_get_cancel_drop_one_pending_reader() {
    // Woken with an item, then cancelled before it ran: the item stays in the queue.
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let reader = spawn(async move { q2.get().await });
        settle().await;
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        reader.cancel();
        settle().await;
        assert!(reader.is_cancelled());
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_get_cancel_drop_many_pending_readers() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                spawn(async move { q.get().await })
            })
            .collect();
        settle().await;
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        readers[0].cancel();
        let mut it = readers.into_iter();
        let r1 = it.next().unwrap();
        settle().await;
        assert!(r1.is_cancelled());
        let mut got: Vec<i32> = Vec::new();
        for r in it {
            got.push(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn test_put_cancel_drop() {
    run(async {
        let (q, writer) = a_woken_put_cancelled(2).await;
        settle().await;
        assert!(writer.is_cancelled());
        // The cancelled put did not put its item.
        assert!(q.empty());
        q.put(2).await;
        assert_eq!(q.get_nowait(), Ok(2));
        assert_eq!(q.qsize(), 0);
    });
}

#[test]
fn test_put_cancelled() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let t = spawn(async move { q2.put(1).await });
        assert_eq!(q.get().await, 1);
        t.await.unwrap();
    });
}

#[test]
fn test_put_cancelled_race() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let (qa, qb, qc) = (q.clone(), q.clone(), q.clone());
        let put_a = spawn(async move { qa.put('a').await });
        let put_b = spawn(async move { qb.put('b').await });
        let put_c = spawn(async move { qc.put('X').await });
        settle().await;
        assert!(put_a.is_done());
        assert!(!put_b.is_done());
        put_c.cancel();
        settle().await;
        assert!(put_c.is_done());
        assert_eq!(q.get_nowait(), Ok('a'));
        settle().await;
        assert_eq!(q.get_nowait(), Ok('b'));
        put_b.await.unwrap();
        assert!(q.empty());
    });
}

#[test]
fn test_put_woken_then_dropped_passes_the_wakeup() {
    // The putter woken by a get is dropped before it runs: the next putter gets the room.
    let q = Queue::new(1);
    q.put_nowait(0).unwrap();
    let mut b = Box::pin(q.put(1));
    let mut c = Box::pin(q.put(2));
    assert!(poll_once(&mut b).is_pending());
    assert!(poll_once(&mut c).is_pending());
    assert_eq!(q.get_nowait(), Ok(0));
    drop(b);
    assert!(poll_once(&mut c).is_ready());
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn test_get_woken_then_dropped_passes_the_wakeup() {
    let q = Queue::new(0);
    let mut b = Box::pin(q.get());
    let mut c = Box::pin(q.get());
    assert!(poll_once(&mut b).is_pending());
    assert!(poll_once(&mut c).is_pending());
    q.put_nowait(7).unwrap();
    drop(b);
    assert_eq!(poll_once(&mut c), Poll::Ready(7));
}

#[test]
fn test_put_with_waiting_getters() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let t = spawn(async move { q2.get().await });
        settle().await;
        q.put("a").await;
        assert_eq!(t.await.unwrap(), "a");
    });
}

#[test]
fn test_why_are_putters_waiting() {
    run(async {
        let q = Rc::new(Queue::new(2));
        let q1 = q.clone();
        let getter = spawn(async move {
            yield_now().await;
            let n = q1.qsize();
            for _ in 0..n {
                q1.get_nowait().unwrap();
            }
        });
        let putters: Vec<_> = (0..4)
            .map(|i| {
                let q = q.clone();
                spawn(async move { q.put(i).await })
            })
            .collect();
        getter.await.unwrap();
        for p in putters {
            p.await.unwrap();
        }
        assert_eq!(q.qsize(), 2);
    });
}

#[test]
fn test_cancelled_puts_not_being_held_in_self_putters() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let mut put = Box::pin(q.put(1));
    assert!(poll_once(&mut put).is_pending());
    assert!(format!("{q:?}").contains("putters: 1"), "{q:?}");
    drop(put);
    assert!(format!("{q:?}").contains("putters: 0"), "{q:?}");
}

#[test]
fn test_cancelled_put_silence_value_error_exception() {
    // A putter woken by `get_nowait` (which took it out of the putters in CPython) is then
    // cancelled: it ends cancelled, without error, its item not put, and leaves no putter
    // behind.
    run(async {
        let (q, put_task) = a_woken_put_cancelled(1).await;
        assert!(put_task.await.is_err(), "cancelled");
        assert!(q.empty());
        assert!(format!("{q:?}").contains("putters: 0"), "{q:?}");
    });
}

#[test]
fn test_task_done_underflow() {
    let q: Queue<u8> = Queue::new(0);
    match q.task_done() {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, "task_done() called too many times"),
        other => panic!("{other:?}"),
    }
}

/// `_QueueJoinTestMixin.test_task_done` on a `$queue`: 100 items, two workers that take
/// them until cancelled and mark each done; `join` returns once all are done, every item
/// counted once. (CPython ends its workers with a `running` flag and one more item each;
/// here they are cancelled, and no `task_done` is left over.)
macro_rules! task_done_by_two_workers {
    ($queue:ident) => {
        run(async {
            let q = Rc::new($queue::new(0));
            for i in 0..100 {
                q.put_nowait(i).unwrap();
            }
            let accumulator = Rc::new(Cell::new(0));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (q, acc) = (q.clone(), accumulator.clone());
                    spawn(async move {
                        loop {
                            let item = q.get().await;
                            acc.set(acc.get() + item);
                            q.task_done().unwrap();
                        }
                    })
                })
                .collect();
            q.join().await;
            assert_eq!(accumulator.get(), (0..100).sum::<i32>());
            for w in workers {
                w.cancel();
            }
            settle().await;
            assert!(q.task_done().is_err(), "every item was marked done once");
        })
    };
}

#[test]
fn test_task_done() {
    task_done_by_two_workers!(Queue);
}

#[test]
fn test_join_empty_queue() {
    run(async {
        let q: Queue<u8> = Queue::new(0);
        q.join().await;
        q.join().await;
    });
}

#[test]
fn test_priority_queue_tuples() {
    let q = PriorityQueue::new(0);
    q.put_nowait((3, "c")).unwrap();
    q.put_nowait((1, "a")).unwrap();
    q.put_nowait((2, "b")).unwrap();
    assert_eq!(q.get_nowait(), Ok((1, "a")));
    assert_eq!(q.get_nowait(), Ok((2, "b")));
}

/// An item whose ordering looks at its queue (a priority that depends on how busy the queue
/// is, a log line with its size): the ordering runs with no borrow of the queue held. It ran
/// inside the queue's `RefCell` borrow, so `qsize()` there panicked with a `BorrowError`.
/// Called from inside the ordering, `put_nowait` finds the queue full and `get_nowait` empty
/// (the queue is mid-change), as documented, instead of panicking.
#[test]
fn priority_queue_ordering_may_look_at_its_queue() {
    struct Item {
        prio: u32,
        queue: std::rc::Weak<PriorityQueue<Item>>,
        seen: Rc<RefCell<Vec<usize>>>,
    }
    impl Ord for Item {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            if let Some(q) = self.queue.upgrade() {
                assert_eq!(q.empty(), q.qsize() == 0);
                assert!(!q.full());
                assert!(format!("{q:?}").contains("qsize"));
                let intruder = Item {
                    prio: 0,
                    queue: std::rc::Weak::new(),
                    seen: self.seen.clone(),
                };
                assert!(q.put_nowait(intruder).is_err(), "put while ordering");
                assert!(q.get_nowait().is_err(), "get while ordering");
                self.seen.borrow_mut().push(q.qsize());
            }
            self.prio.cmp(&other.prio)
        }
    }
    impl PartialOrd for Item {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl PartialEq for Item {
        fn eq(&self, other: &Self) -> bool {
            self.prio == other.prio
        }
    }
    impl Eq for Item {}

    let q = Rc::new(PriorityQueue::new(10));
    let seen = Rc::new(RefCell::new(Vec::new()));
    for prio in [3, 1, 2] {
        let item = Item {
            prio,
            queue: Rc::downgrade(&q),
            seen: seen.clone(),
        };
        q.put_nowait(item).map_err(|_| "full").unwrap();
    }
    assert!(!seen.borrow().is_empty(), "the ordering ran");
    let got: Vec<u32> = (0..3).map(|_| q.get_nowait().unwrap().prio).collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(q.qsize(), 0);
}

/// `_QueueJoinTestMixin` runs for the three queue kinds; `QueueJoinTests` is above, these are
/// `LifoQueueJoinTests` and `PriorityQueueJoinTests` (`test_format` is not ported: it reads
/// the private `_format()`).
macro_rules! join_tests {
    ($module:ident, $queue:ident) => {
        mod $module {
            use super::*;

            #[test]
            fn test_task_done_underflow() {
                let q: $queue<u8> = $queue::new(0);
                assert!(matches!(q.task_done(), Err(Error::InvalidArgument(_))));
            }

            #[test]
            fn test_task_done() {
                task_done_by_two_workers!($queue);
            }

            #[test]
            fn test_join_empty_queue() {
                run(async {
                    let q: $queue<u8> = $queue::new(0);
                    q.join().await;
                    q.join().await;
                });
            }
        }
    };
}

join_tests!(lifo_queue_join_tests, LifoQueue);
join_tests!(priority_queue_join_tests, PriorityQueue);

#[test]
fn a_getter_cancelled_in_the_step_of_a_put_is_skipped_and_the_next_getter_keeps_its_turn() {
    // CPython: `t0.cancel()` cancels the future t0 waits on at once, so a `put_nowait` made
    // next in the same step skips it (`_wakeup_next` pops done futures) and wakes t1, which
    // runs before a getter created after it: t1 gets the item (python3.11: [(1, 7)]). Ours
    // handed the item's wake-up to t0, whose future is only dropped at the next turn; t0
    // passed it on then, and the newer getter t2, already queued to run, took the item first.
    run(async {
        let q = Rc::new(Queue::new(0));
        let log = Rc::new(RefCell::new(Vec::new()));
        let getter = |i: u32| {
            let (q, log) = (q.clone(), log.clone());
            spawn(async move {
                let v: u32 = q.get().await;
                log.borrow_mut().push((i, v));
            })
        };
        let t0 = getter(0);
        let t1 = getter(1);
        yield_now().await;
        t0.cancel();
        q.put_nowait(7).unwrap();
        let t2 = getter(2);
        yield_now().await;
        yield_now().await;
        assert_eq!(*log.borrow(), [(1, 7)]);
        assert!(q.empty());
        t1.cancel();
        t2.cancel();
    });
}
