//! A peer that never reads: our drain blocks, its reader pauses, and memory stays bounded
//! on both sides (L70, S14, S50).

use super::*;

/// The writer side of [`never_reading_peer_blocks_drain_and_bounds_memory_l70_s50_s14`].
struct Writer {
    writes: Cell<usize>,
    max_buffered: Cell<usize>,
    stop: Cell<bool>,
}

#[test]
fn never_reading_peer_blocks_drain_and_bounds_memory_l70_s50_s14() {
    // 256 MiB in 64 KiB writes with a drain after each, to an in-loop server whose handler never
    // reads: its reader pauses its transport past 2 x limit (S14), the kernel buffers fill, our
    // buffer passes high water, drain blocks. Then close() (after the peer starts reading) and
    // abort() each release everything.
    const CHUNK: usize = 64 * KIB;
    const WRITES: usize = (256 << 20) / CHUNK;
    let pattern = |i: usize| (i % 251) as u8;
    for release in ["close", "abort"] {
        let _serial = util::serial();
        let lp = EventLoop::new().unwrap();
        let fds = open_fds();
        let slot: Rc<RefCell<Option<(StreamReader, StreamWriter)>>> = Rc::default();
        let s = slot.clone();
        let server = run(
            &lp,
            asyncio::start_server(
                move |r: StreamReader, w: StreamWriter| {
                    *s.borrow_mut() = Some((r, w)); // hold the connection, read nothing
                },
                "127.0.0.1",
                0,
            ),
        )
        .unwrap();
        let port = port_of(&server);
        let (creader, cwriter) = run(&lp, asyncio::open_connection("127.0.0.1", port)).unwrap();
        let cwriter = Rc::new(cwriter);
        let (_, high) = cwriter.transport().get_write_buffer_limits();
        let st = Rc::new(Writer {
            writes: Cell::new(0),
            max_buffered: Cell::new(0),
            stop: Cell::new(false),
        });
        let (w, stc) = (cwriter.clone(), st.clone());
        let task = lp
            .spawn(async move {
                let mut chunk = vec![0u8; CHUNK];
                for i in 0..WRITES {
                    if stc.stop.get() {
                        break;
                    }
                    for (j, b) in chunk.iter_mut().enumerate() {
                        *b = pattern(i * CHUNK + j);
                    }
                    w.write(&chunk)?;
                    stc.writes.set(i + 1);
                    let size = w.transport().get_write_buffer_size();
                    stc.max_buffered.set(stc.max_buffered.get().max(size));
                    w.drain().await?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        // Drive the loop until nothing moves any more: same write count and buffer size over a
        // round of iterations (loopback moves bytes only inside our own syscalls).
        let mut last = (usize::MAX, usize::MAX);
        for round in 0.. {
            assert!(round < 10_000, "{release}: the writer never settled");
            for _ in 0..20 {
                lp.run_once(Some(Duration::ZERO)).unwrap();
            }
            let now = (st.writes.get(), cwriter.transport().get_write_buffer_size());
            if now == last {
                break;
            }
            last = now;
        }
        let writes = st.writes.get();
        assert!(
            !task.is_done(),
            "{release}: the writer finished: drain never blocked"
        );
        assert!(
            writes < WRITES,
            "{release}: all 256 MiB written to a peer that never reads"
        );
        let size = cwriter.transport().get_write_buffer_size();
        assert!(size > high, "{release}: blocked below high water ({size})");
        assert!(
            st.max_buffered.get() <= high + CHUNK,
            "{release}: write buffer reached {} > high {high} + one write",
            st.max_buffered.get()
        );
        // The peer's side: its reader paused its transport and holds at most 2 x limit plus
        // what one read brought.
        {
            let slot = slot.borrow();
            let (sreader, swriter) = slot.as_ref().expect("server got the connection");
            let buffered = reader_buffered(sreader);
            let limit = sreader.limit();
            assert!(
                !swriter.transport().is_reading(),
                "{release}: S14 never paused"
            );
            assert!(
                buffered > 2 * limit && buffered <= 2 * limit + MAX_READ_SIZE,
                "{release}: the peer's reader holds {buffered} B (limit {limit})"
            );
            println!(
                "{release}: blocked after {writes} writes ({} MiB): our buffer {size} B \
                 (max {} B, high {high} B), peer reader {buffered} B",
                (writes * CHUNK) >> 20,
                st.max_buffered.get()
            );
        }
        let peer_task = match release {
            "close" => {
                st.stop.set(true);
                cwriter.close();
                for _ in 0..20 {
                    lp.run_once(Some(Duration::ZERO)).unwrap();
                }
                assert!(!task.is_done(), "L75: close() flushes first; still blocked");
                // Now the peer reads everything: the flush completes, connection_lost(None).
                let (sreader, swriter) = slot.borrow_mut().take().unwrap();
                Some(
                    lp.spawn(async move {
                        let mut total = 0usize;
                        let mut buf = vec![0u8; 256 * KIB];
                        loop {
                            let n = sreader.read_into(&mut buf).await?;
                            if n == 0 {
                                break;
                            }
                            for (j, &b) in buf[..n].iter().enumerate() {
                                assert_eq!(b, pattern(total + j), "corrupted at {}", total + j);
                            }
                            total += n;
                        }
                        swriter.close();
                        swriter.wait_closed().await?;
                        Ok::<_, Error>(total)
                    })
                    .unwrap(),
                )
            }
            _ => {
                st.stop.set(true);
                cwriter.transport().abort();
                assert_eq!(cwriter.transport().get_write_buffer_size(), 0, "L77");
                None
            }
        };
        let task_result = run(&lp, task).unwrap();
        assert!(
            task_result.is_ok(),
            "{release}: drain after {release}: {task_result:?}"
        );
        run(&lp, {
            let w = cwriter.clone();
            async move { w.wait_closed().await }
        })
        .unwrap(); // connection_lost(None)
        if let Some(peer_task) = peer_task {
            let total = run(&lp, peer_task).unwrap().unwrap();
            assert_eq!(total, writes * CHUNK, "close: bytes lost or invented");
        } else {
            server.abort_clients();
            drop(slot.borrow_mut().take());
        }
        drop((creader, cwriter));
        server.close();
        let s2 = server.clone();
        run(&lp, async move { s2.wait_closed().await });
        assert_loop_empty(&lp, 0);
        drop(server);
        assert_eq!(open_fds(), fds, "{release}: descriptors not released");
    }
}
