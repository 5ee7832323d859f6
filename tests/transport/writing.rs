//! The write path and flow control (L49, L64–L72): the fast path, partial writes, water
//! marks, pause/resume_writing; CPython's test_write_* family.

use super::*;

#[test]
fn l65_l72_fast_path_leaves_nothing_buffered() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let (t, _p) = connect_recorder(&lp, port, Recorder::default());
    let (mut s, _) = l.accept().unwrap();
    t.write(b"abc").unwrap();
    assert_eq!(
        t.get_write_buffer_size(),
        0,
        "L72: all sent by the fast path"
    );
    t.writelines(&[std::io::IoSlice::new(b"de"), std::io::IoSlice::new(b"f")])
        .unwrap();
    let mut buf = [0u8; 6];
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abcdef");
}

#[test]
fn l69_l70_l71_water_marks_against_a_peer_that_does_not_read() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let (t, proto) = connect_recorder(&lp, port, Recorder::default());
    let (mut s, _) = l.accept().unwrap();
    assert_eq!(
        t.get_write_buffer_limits(),
        (16 * 1024, 64 * 1024),
        "L69 defaults"
    );
    assert!(t.set_write_buffer_limits(Some(10), Some(20)).is_err());
    t.set_write_buffer_limits(Some(64 * 1024), None).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut written = 0usize;
    while !proto.borrow().calls.iter().any(|c| c == "pause_writing") {
        t.write(&chunk).unwrap();
        written += chunk.len();
        assert!(written < 512 * 1024 * 1024, "never paused");
    }
    assert!(
        t.get_write_buffer_size() > 64 * 1024,
        "L70: paused above high"
    );
    // Further writes while paused do not pause again (the Recorder asserts alternation).
    t.write(&chunk).unwrap();
    written += chunk.len();
    // L71: lowering high below the size cannot pause twice; raising it does not resume.
    t.set_write_buffer_limits(Some(usize::MAX / 2), None)
        .unwrap();
    assert!(!proto.borrow().calls.iter().any(|c| c == "resume_writing"));
    let reader = std::thread::spawn(move || {
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut total = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        while total < written {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "early EOF at {total}");
            assert!(buf[..n].iter().all(|&b| b == 7));
            total += n;
        }
        total
    });
    run_until(&lp, 100_000, || t.get_write_buffer_size() == 0);
    assert!(
        proto.borrow().calls.iter().any(|c| c == "resume_writing"),
        "L70: resumed at low"
    );
    assert_eq!(reader.join().unwrap(), written);
}

/// Writes 64 KiB chunks until the transport pauses; returns how much was written.
fn fill_until_paused(t: &Transport) -> usize {
    let chunk = vec![9u8; 64 * 1024];
    let mut n = 0;
    while t.get_write_buffer_size() <= 64 * 1024 {
        t.write(&chunk).unwrap();
        n += chunk.len();
        assert!(n < 1 << 30, "never paused");
    }
    n
}

#[test]
fn l49_l83_resume_writing_may_write_again() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let rounds = Rc::new(std::cell::Cell::new(0));
    let total = Rc::new(std::cell::Cell::new(0usize));
    let (r, tot) = (rounds.clone(), total.clone());
    let rec = Recorder {
        on_resume: Some(Box::new(move |t: &Transport| {
            r.set(r.get() + 1);
            if r.get() < 3 {
                // Writing from inside resume_writing may pause again (delivered after we return).
                tot.set(tot.get() + fill_until_paused(t));
            } else {
                t.close();
            }
        })),
        ..Default::default()
    };
    let (t, proto) = connect_recorder(&lp, port, rec);
    let (mut s, _) = l.accept().unwrap();
    total.set(fill_until_paused(&t));
    let reader = std::thread::spawn(move || {
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got.len()
    });
    run_until(&lp, 100_000, || proto.borrow().lost);
    assert_eq!(rounds.get(), 3);
    let calls = proto
        .borrow()
        .calls
        .iter()
        .filter(|c| c.ends_with("_writing"))
        .count();
    assert_eq!(calls, 6, "three pause/resume pairs");
    assert_eq!(reader.join().unwrap(), total.get());
}

#[test]
fn l67_write_ready_resumes_first_then_finishes_a_pending_close_or_write_eof() {
    // The flush order of _write_ready (test_write_ready_closing, test_write_eof_buffer): after
    // progress the resume check runs (resume_writing, which may write more); only a buffer
    // that is empty after it completes a pending close (connection_lost(None), last) or a
    // pending write_eof. Here, with a close pending, resume_writing writes a tail too big for
    // the kernel to take at once: the peer still gets every byte, the tail last, then EOF.
    const TAIL: usize = 16 * 1024 * 1024; // more than one send can take
    for pending in ["close", "write_eof"] {
        let lp = EventLoop::new().unwrap();
        let mut tail_once = pending == "close";
        let rec = Recorder {
            on_resume: Some(Box::new(move |t: &Transport| {
                if std::mem::take(&mut tail_once) {
                    t.write(&vec![7u8; TAIL]).unwrap(); // accepted while flushing (L76)
                }
            })),
            ..Default::default()
        };
        // Capped buffers: autotuned, the kernel takes all 8 MiB where tcp_wmem allows.
        let (t, proto, mut s) = narrow_tcp_pair(&lp, rec);
        let big = vec![3u8; 8 * 1024 * 1024];
        t.write(&big).unwrap();
        assert!(t.get_write_buffer_size() > 0);
        if pending == "close" {
            t.close();
        } else {
            t.write_eof().unwrap();
        }
        let reader = std::thread::spawn(move || {
            s.set_read_timeout(Some(BOUND)).unwrap();
            let mut got = Vec::new();
            // The socket comes back: the peer stays open, so only our own EOF ends the read.
            s.read_to_end(&mut got).map(|_| (got, s))
        });
        if pending == "close" {
            run_until(&lp, 100_000, || proto.borrow().lost);
        } else {
            run_until(&lp, 100_000, || t.get_write_buffer_size() == 0);
        }
        let (got, _peer) = reader.join().unwrap().expect("the peer's read failed");
        let mut want = big.clone();
        if pending == "close" {
            want.resize(big.len() + TAIL, 7);
        }
        assert!(
            got == want,
            "{pending}: peer got {} B, not {} B",
            got.len(),
            want.len()
        );
        let p = proto.borrow();
        let flow: Vec<&str> = p
            .calls
            .iter()
            .map(String::as_str)
            .filter(|c| c.ends_with("_writing") || c.starts_with("connection_lost"))
            .collect();
        if pending == "close" {
            let (pause, resume) = ("pause_writing", "resume_writing");
            assert_eq!(
                flow,
                [pause, resume, pause, resume, "connection_lost(None)"]
            );
        } else {
            assert_eq!(
                flow,
                ["pause_writing", "resume_writing"],
                "write_eof keeps it open"
            );
            drop(p);
            t.close();
            run_until(&lp, 100, || proto.borrow().lost);
        }
    }
}

/// A paused protocol is never left paused below the low mark for good. The buffer's size
/// moves only by `write` (which checks the pause), by a flush that makes progress (which
/// checks the resume) and by the close that empties it; a flush the kernel takes nothing of
/// (`WouldBlock`, or a `send` of 0) leaves it as the last check saw it. Only raised marks
/// leave a paused protocol at or below low, and, as in CPython, they do not resume it by
/// themselves (L71): the next flush with progress does. (CPython also checks after a `send`
/// of 0, which a stream socket never answers for a non-empty buffer.)
#[test]
fn l67_l71_raised_marks_leave_the_protocol_paused_until_a_flush_makes_progress() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let (t, proto) = connect_recorder(&lp, port, Recorder::default());
    let (mut s, _) = l.accept().unwrap();
    fill_until_paused(&t);
    let paused = || {
        proto
            .borrow()
            .calls
            .iter()
            .filter(|c| *c == "pause_writing")
            .count()
    };
    let resumed = || proto.borrow().calls.iter().any(|c| c == "resume_writing");
    run_until(&lp, 100, || paused() == 1);
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // writable edges, if any, find no room
    }
    let size = t.get_write_buffer_size();
    t.set_write_buffer_limits(Some(4 * size), Some(2 * size))
        .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        !resumed(),
        "L71: raised marks resumed the protocol by themselves"
    );
    s.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..10_000 {
        if resumed() {
            break;
        }
        match s.read(&mut buf) {
            Ok(n) => assert!(n > 0, "EOF before the resume"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("peer read: {e}"),
        }
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    assert!(resumed(), "the protocol stayed paused below the low mark");
    assert_eq!(paused(), 1);
}

/// Writes to `s` (non-blocking) until the kernel takes no more; returns how many bytes it took.
fn fill_kernel(s: &UnixStream) -> usize {
    s.set_nonblocking(true).unwrap();
    let chunk = [7u8; 16 * 1024];
    let mut total = 0;
    for _ in 0..100_000 {
        match (&*s).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    panic!("the socket never filled");
}

/// Reads `want` bytes from `peer` on a helper thread (bounded by a timeout).
fn read_on_thread(peer: UnixStream, want: usize) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut peer = peer;
        peer.set_read_timeout(Some(BOUND)).unwrap();
        let mut got = vec![0; want];
        peer.read_exact(&mut got).unwrap();
        got
    })
}

/// L65, L67, L72. CPython: SelectorSocketTransportTests.test_write_tryagain,
/// test_write_partial, test_write_ready_partial, test_write_ready_tryagain, and (3.12+)
/// test_write_sendmsg_full, test_write_sendmsg_partial, test_write_sendmsg_half_buffer (a
/// flush of several queued chunks goes on across their boundaries, in order). A write the kernel
/// refuses (EAGAIN) is buffered whole; a later write is appended behind it (never sent ahead);
/// a flush while the kernel is still full keeps everything; the flush after the peer reads
/// sends the rest, in order, partially at first, and leaves nothing buffered.
#[test]
fn l65_l67_test_write_tryagain_partial_and_write_ready_partial() {
    let lp = EventLoop::new().unwrap();
    let (ours, peer) = UnixStream::pair().unwrap();
    let prefilled = fill_kernel(&ours);
    let (t, proto) = lp
        .run_until_complete(lp.connect_socket(Recorder::default, ours))
        .unwrap()
        .unwrap();
    t.write(b"data").unwrap();
    assert_eq!(t.get_write_buffer_size(), 4, "EAGAIN: all of it buffered");
    let big = vec![9u8; 1024 * 1024];
    t.write(&big).unwrap();
    assert_eq!(
        t.get_write_buffer_size(),
        4 + big.len(),
        "appended, not sent ahead"
    );
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        t.get_write_buffer_size(),
        4 + big.len(),
        "the kernel is still full: nothing left the buffer"
    );
    let reader = read_on_thread(peer, prefilled + 4 + big.len());
    run_until(&lp, 100_000, || t.get_write_buffer_size() == 0);
    let got = reader.join().unwrap();
    assert!(got[..prefilled].iter().all(|&b| b == 7));
    assert_eq!(&got[prefilled..prefilled + 4], b"data");
    assert!(got[prefilled + 4..].iter().all(|&b| b == 9));
    assert!(!proto.borrow().lost);
    t.close();
}

/// L65, L72. CPython: SelectorSocketTransportTests.test_write_partial. A write larger than the
/// kernel takes leaves exactly the unsent rest buffered; the peer gets all of it.
#[test]
fn l65_l72_test_write_partial() {
    let lp = EventLoop::new().unwrap();
    let (t, _proto, peer) = unix_pair(&lp, Recorder::default());
    let probe = peer.try_clone().unwrap();
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| i as u8).collect();
    t.write(&big).unwrap();
    let left = t.get_write_buffer_size();
    assert!(left > 0 && left < big.len(), "partial: {left}");
    // What the kernel took is what the peer can read now.
    probe.set_nonblocking(true).unwrap();
    let mut taken = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    for _ in 0..100_000 {
        match (&probe).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => taken.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        taken.len() + left,
        big.len(),
        "the buffer holds exactly the unsent rest"
    );
    probe.set_nonblocking(false).unwrap();
    let reader = read_on_thread(peer, left);
    run_until(&lp, 100_000, || t.get_write_buffer_size() == 0);
    taken.extend(reader.join().unwrap());
    assert_eq!(taken, big);
    t.close();
}

/// L67, L80. CPython: SelectorSocketTransportTests.test_write_ready_exception. A flush that
/// fails (the peer went away with data buffered) drops the buffer and ends the connection with
/// the error, unreported (an OS error).
#[test]
fn l67_l80_test_write_ready_exception() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, peer) = UnixStream::pair().unwrap();
    fill_kernel(&ours);
    let (t, proto) = lp
        .run_until_complete(lp.connect_socket(Recorder::default, ours))
        .unwrap()
        .unwrap();
    t.write(b"stuck").unwrap();
    assert_eq!(t.get_write_buffer_size(), 5);
    drop(peer);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(t.get_write_buffer_size(), 0, "the buffer is dropped");
    let last = proto.borrow().calls.last().unwrap().clone();
    assert!(
        last == "connection_lost(BrokenPipe)" || last == "connection_lost(ConnectionReset)",
        "{last}"
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

/// L68. CPython (3.12+): SelectorSocketTransportTests.test_writelines_send_full,
/// test_writelines_sendmsg_full, test_writelines_send_partial, test_writelines_sendmsg_partial.
/// writelines on an idle transport sends at once, in one vectored call where it can: all of it
/// when the kernel takes it (nothing left buffered), else the unsent rest is buffered and
/// flushed later, in order across the chunk boundaries.
#[test]
fn l68_test_writelines_send_full_and_partial() {
    use std::io::IoSlice;
    let lp = EventLoop::new().unwrap();
    let (t, _proto, peer) = unix_pair(&lp, Recorder::default());
    t.writelines(&[IoSlice::new(b"data1"), IoSlice::new(b"data2")])
        .unwrap();
    assert_eq!(t.get_write_buffer_size(), 0, "full: nothing buffered");
    let mut got = [0u8; 10];
    (&peer).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"data1data2");

    let a = vec![1u8; 3 * 1024 * 1024];
    let b: Vec<u8> = (0..1024 * 1024u32).map(|i| i as u8).collect();
    t.writelines(&[IoSlice::new(&a), IoSlice::new(b"|"), IoSlice::new(&b)])
        .unwrap();
    let left = t.get_write_buffer_size();
    assert!(left > 0 && left < a.len() + 1 + b.len(), "partial: {left}");
    let reader = read_on_thread(peer, a.len() + 1 + b.len());
    run_until(&lp, 100_000, || t.get_write_buffer_size() == 0);
    let got = reader.join().unwrap();
    assert_eq!(&got[..a.len()], &a[..]);
    assert_eq!(got[a.len()], b'|');
    assert_eq!(&got[a.len() + 1..], &b[..]);
    t.close();
}

/// L75. CPython: SelectorSocketTransportTests.test_transport_close_remove_writer. close() with
/// nothing buffered stops watching the socket, and connection_lost(None) follows from the loop,
/// not from inside close().
#[test]
fn l75_test_transport_close_remove_writer() {
    let lp = EventLoop::new().unwrap();
    let before = lp.stats().io_registrations;
    let (t, proto, _peer) = unix_pair(&lp, Recorder::default());
    assert_eq!(lp.stats().io_registrations, before + 1);
    t.close();
    assert!(
        !proto.borrow().lost,
        "connection_lost is scheduled, not called"
    );
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().unwrap(),
        "connection_lost(None)"
    );
    assert_eq!(
        lp.stats().io_registrations,
        before,
        "the socket is no longer watched"
    );
}

/// L49, L69, L70, L71. CPython: TransportTests.test_flowcontrol_mixin_set_write_limits. With
/// 512 bytes buffered: high 0 with low 1 is refused with CPython's text; (1024, 128) leaves the
/// protocol running; lowering high to 256 pauses it at once, inside set_write_buffer_limits.
/// get_write_buffer_limits answers (low, high).
#[test]
fn l69_l70_l71_test_flowcontrol_mixin_set_write_limits() {
    let lp = EventLoop::new().unwrap();
    let (ours, _peer) = UnixStream::pair().unwrap();
    fill_kernel(&ours);
    let (t, proto) = lp
        .run_until_complete(lp.connect_socket(Recorder::default, ours))
        .unwrap()
        .unwrap();
    t.write(&[5u8; 512]).unwrap();
    assert_eq!(t.get_write_buffer_size(), 512);
    let paused = || proto.borrow().calls.iter().any(|c| c == "pause_writing");
    assert!(!paused());
    match t.set_write_buffer_limits(Some(0), Some(1)) {
        Err(asyncio::Error::InvalidArgument(m)) => {
            assert_eq!(m, "high (0) must be >= low (1) must be >= 0")
        }
        other => panic!("{other:?}"),
    }
    t.set_write_buffer_limits(Some(1024), Some(128)).unwrap();
    assert!(!paused());
    assert_eq!(t.get_write_buffer_limits(), (128, 1024));
    t.set_write_buffer_limits(Some(256), Some(128)).unwrap();
    assert!(paused(), "lowering high below the size pauses at once");
    assert_eq!(t.get_write_buffer_limits(), (128, 256));
    t.abort();
}
