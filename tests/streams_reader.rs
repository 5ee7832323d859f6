//! `StreamReader` without a connection: the reader cases of CPython's
//! `Lib/test/test_asyncio/test_streams.py` (StreamTests), plus cancel safety (D1, S22), the
//! one-waiter rule (S20, S21), `lines()` (S40) and a property test against a model.
//!
//! Each test cites the `asyncio-semantics.md` ids it covers. Data is fed from callbacks
//! (`call_soon`) or spawned tasks; waiting is bounded by the loop's own ordering, never by
//! sleeps. Python's `stream._buffer` checks become `drain`, which takes what is buffered
//! without waiting. S14–S16 (pause/resume) need a transport and are tested beside the code, in
//! `src/streams/reader.rs`.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::streams::reader::StreamReader;
use asyncio::{Error, EventLoop};

/// `self.DATA` of test_streams.py.
const DATA: &[u8] = b"line1\nline2\nline3\n";

const WAITING: &str = "() called while another coroutine is already waiting for incoming data";

fn new_loop() -> EventLoop {
    EventLoop::new().expect("event loop")
}

/// Polls `fut` once with a waker that does nothing, then drops it.
fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    pin!(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// Takes everything buffered, without waiting (Python's `stream._buffer`).
fn drain(r: &StreamReader) -> Vec<u8> {
    match poll_once(r.read(isize::MAX)) {
        Poll::Ready(Ok(v)) => v,
        Poll::Pending => Vec::new(),
        Poll::Ready(Err(e)) => panic!("drain: {e}"),
    }
}

/// A bound on every test's wait: a read that would wait forever fails the test instead.
const BOUND: Duration = Duration::from_secs(10);

/// Runs `fut` on the loop and returns its output.
fn block<F: Future>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut))
        .expect("run_until_complete")
        .expect("waited too long: a read that should complete kept waiting")
}

/// Runs the loop until `task` finishes; returns its output.
fn run_task<T: 'static>(lp: &EventLoop, task: asyncio::Task<T>) -> T {
    block(lp, task).expect("task was cancelled")
}

fn spawn<T: 'static, F: Future<Output = T> + 'static>(lp: &EventLoop, fut: F) -> asyncio::Task<T> {
    lp.spawn(fut).expect("spawn")
}

/// Schedules `f(&reader)` as a loop callback.
fn call_soon(lp: &EventLoop, r: &Rc<StreamReader>, f: impl FnOnce(&StreamReader) + 'static) {
    let r = r.clone();
    lp.call_soon(move || f(&r)).expect("call_soon");
}

fn io_error(msg: &str) -> io::Error {
    io::Error::other(msg.to_string())
}

fn is_io(r: &Result<Vec<u8>, Error>, msg: &str) -> bool {
    matches!(r, Err(Error::Io(e)) if e.to_string() == msg)
}

fn overrun(r: Result<Vec<u8>, Error>) -> (&'static str, usize) {
    match r {
        Err(Error::LimitOverrun { message, consumed }) => (message, consumed),
        other => panic!("expected LimitOverrun, got {other:?}"),
    }
}

// ───────────────────────────── test_streams.py, StreamTests ─────────────────────────────

#[test]
fn test_feed_empty_data() {
    // S13
    let r = StreamReader::new();
    r.feed_data(b"");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_feed_nonempty_data() {
    // S13
    let r = StreamReader::new();
    r.feed_data(DATA);
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_read_zero() {
    // S23
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(DATA);
    assert_eq!(block(&lp, r.read(0)).unwrap(), b"");
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_read() {
    // S24
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.read(30).await }
    });
    call_soon(&lp, &r, |r| r.feed_data(DATA));
    assert_eq!(run_task(&lp, task).unwrap(), DATA);
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_read_line_breaks() {
    // S24
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line1");
    r.feed_data(b"line2");
    assert_eq!(block(&lp, r.read(5)).unwrap(), b"line1");
    assert_eq!(drain(&r), b"line2");
}

#[test]
fn test_read_eof() {
    // S17, S24
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.read(1024).await }
    });
    call_soon(&lp, &r, |r| r.feed_eof());
    assert_eq!(run_task(&lp, task).unwrap(), b"");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_read_until_eof() {
    // S25
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.read(-1).await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk1\n");
        r.feed_data(b"chunk2");
        r.feed_eof();
    });
    assert_eq!(run_task(&lp, task).unwrap(), b"chunk1\nchunk2");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_read_exception() {
    // S19
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line\n");
    assert_eq!(block(&lp, r.read(2)).unwrap(), b"li");
    r.set_exception(io_error("value error"));
    assert!(is_io(&block(&lp, r.read(2)), "value error"));
    // Even read(0), and even with bytes buffered (S19).
    assert!(is_io(&block(&lp, r.read(0)), "value error"));
}

#[test]
fn test_invalid_limit() {
    // S11 (a negative limit cannot be expressed: `usize`)
    let e = StreamReader::with_limit(0).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m.contains("imit")),
        "{e:?}"
    );
    assert_eq!(StreamReader::with_limit(1).unwrap().limit(), 1);
    assert_eq!(StreamReader::new().limit(), 64 * 1024);
}

#[test]
fn test_read_limit() {
    // S24: read is never bounded by the limit
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"chunk");
    assert_eq!(block(&lp, r.read(5)).unwrap(), b"chunk");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readline() {
    // S27, S31
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    r.feed_data(b"chunk1 ");
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk2 ");
        r.feed_data(b"chunk3 ");
        r.feed_data(b"\n chunk4");
    });
    assert_eq!(run_task(&lp, task).unwrap(), b"chunk1 chunk2 chunk3 \n");
    assert_eq!(drain(&r), b" chunk4");
}

#[test]
fn test_readline_limit_with_existing_data() {
    // S28
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"li");
    r.feed_data(b"ne1\nline2\n");
    overrun(block(&lp, r.readline()));
    // The buffer keeps what follows the discarded line.
    assert_eq!(drain(&r), b"line2\n");

    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"li");
    r.feed_data(b"ne1");
    r.feed_data(b"li");
    overrun(block(&lp, r.readline()));
    // No newline, 7 bytes > limit 3: everything buffered is discarded.
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_at_eof() {
    // S17, S27
    let lp = new_loop();
    let r = StreamReader::new();
    assert!(!r.at_eof());
    r.feed_data(b"some data\n");
    assert!(!r.at_eof());
    block(&lp, r.readline()).unwrap();
    assert!(!r.at_eof());
    r.feed_data(b"some data\n");
    r.feed_eof();
    block(&lp, r.readline()).unwrap();
    assert!(r.at_eof());
    r.feed_eof(); // S17: again is harmless
    assert!(r.at_eof());
}

#[test]
fn test_readline_limit() {
    // S28
    let lp = new_loop();
    let r = Rc::new(StreamReader::with_limit(7).unwrap());
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk1");
        r.feed_data(b"chunk2");
        r.feed_data(b"chunk3\n");
        r.feed_eof();
    });
    overrun(block(&lp, r.readline()));
    // The buffer had just one line of data; after the error it is empty.
    assert_eq!(drain(&r), b"");

    let r = Rc::new(StreamReader::with_limit(7).unwrap());
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk1");
        r.feed_data(b"chunk2\n");
        r.feed_data(b"chunk3\n");
        r.feed_eof();
    });
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"chunk3\n");

    // The limit is strict: limit bytes plus the newline pass.
    let r = StreamReader::with_limit(7).unwrap();
    r.feed_data(b"1234567\n");
    assert_eq!(block(&lp, r.readline()).unwrap(), b"1234567\n");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"12345678\n");
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"");

    r.feed_data(b"12345678");
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readline_nolimit_nowait() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(&DATA[..6]);
    r.feed_data(&DATA[6..]);
    assert_eq!(block(&lp, r.readline()).unwrap(), b"line1\n");
    assert_eq!(drain(&r), b"line2\nline3\n");
}

#[test]
fn test_readline_eof() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"some data");
    r.feed_eof();
    assert_eq!(block(&lp, r.readline()).unwrap(), b"some data");
}

#[test]
fn test_readline_empty_eof() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_eof();
    assert_eq!(block(&lp, r.readline()).unwrap(), b"");
}

#[test]
fn test_readline_read_byte_count() {
    // S24, S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(DATA);
    block(&lp, r.readline()).unwrap();
    assert_eq!(block(&lp, r.read(7)).unwrap(), b"line2\nl");
    assert_eq!(drain(&r), b"ine3\n");
}

#[test]
fn test_readline_exception() {
    // S19, S29
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line\n");
    assert_eq!(block(&lp, r.readline()).unwrap(), b"line\n");
    r.set_exception(io_error("value error"));
    assert!(is_io(&block(&lp, r.readline()), "value error"));
}

#[test]
fn test_readuntil_separator() {
    // S30, S35 (3.13's tuple cases are readuntil_any)
    let lp = new_loop();
    let r = StreamReader::new();
    let msg = |res: Result<Vec<u8>, Error>| match res {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    assert!(msg(block(&lp, r.readuntil(b""))).starts_with("Separator should be"));
    assert!(msg(block(&lp, r.readuntil_any(&[b""]))).starts_with("Separator should be"));
    assert!(msg(block(&lp, r.readuntil_any(&[]))).starts_with("Separator should contain"));
    // Checked before the stored exception (S30).
    r.set_exception(io_error("boom"));
    assert!(msg(block(&lp, r.readuntil(b""))).starts_with("Separator should be"));
    assert!(is_io(&block(&lp, r.readuntil(b"x")), "boom"));
}

#[test]
fn test_readuntil_multi_chunks() {
    // S31
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"lineAAA");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"lineAAA");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"lineAAAxxx");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"xxx");
}

#[test]
fn test_readuntil_multi_chunks_1() {
    // S31
    let lp = new_loop();
    let r = StreamReader::new();
    let cases: &[(&[&[u8]], &[u8])] = &[
        (&[b"QWEaa", b"XYaa", b"a"], b"QWEaaXYaaa"),
        (&[b"QWEaa", b"XYa", b"aa"], b"QWEaaXYaaa"),
        (&[b"aaa"], b"aaa"),
        (&[b"Xaaa"], b"Xaaa"),
        (&[b"XXX", b"a", b"a", b"a"], b"XXXaaa"),
    ];
    for (chunks, want) in cases {
        for c in *chunks {
            r.feed_data(c);
        }
        assert_eq!(block(&lp, r.readuntil(b"aaa")).unwrap(), *want);
        assert_eq!(drain(&r), b"");
    }
}

#[test]
fn test_readuntil_multi_chunks_waiting() {
    // S31: the same split separators, fed while readuntil waits (no rescan from 0 needed).
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readuntil(b"aaa").await }
    });
    for chunk in [&b"QWEaa"[..], b"XYa", b"a", b"a", b"tail"] {
        call_soon(&lp, &r, move |r| r.feed_data(chunk));
    }
    assert_eq!(run_task(&lp, task).unwrap(), b"QWEaaXYaaa");
}

#[test]
fn test_readuntil_eof() {
    // S34, S39
    let lp = new_loop();
    let r = StreamReader::new();
    let data = b"some dataAA";
    r.feed_data(data);
    r.feed_eof();
    let e = block(&lp, r.readuntil(b"AAA")).unwrap_err();
    assert!(e.to_string().contains("undefined expected bytes"), "{e}");
    match e {
        Error::IncompleteRead { partial, expected } => {
            assert_eq!(partial, data);
            assert_eq!(expected, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readuntil_limit_found_sep() {
    // S32, S33
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"some dataAA");
    let (message, consumed) = overrun(block(&lp, r.readuntil(b"AAA")));
    assert!(message.contains("not found"), "{message}");
    assert_eq!(consumed, 9, "S32: buffer length + 1 - separator length");
    // The buffer is intact: the next attempt sees the same bytes plus the new one.
    r.feed_data(b"A");
    let (message, consumed) = overrun(block(&lp, r.readuntil(b"AAA")));
    assert!(message.contains("is found"), "{message}");
    assert_eq!(consumed, 9, "S33: where the separator starts");
    assert_eq!(drain(&r), b"some dataAAA");
}

#[test]
fn test_readuntil_multi_separator() {
    // S35
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line 1\nline 2\r");
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"\r", b"\n"])).unwrap(),
        b"line 1\n"
    );
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"\r", b"\n"])).unwrap(),
        b"line 2\r"
    );
    assert_eq!(drain(&r), b"");

    // The first end position wins, even if that is the longer separator.
    r.feed_data(b"ABCDEFG");
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"DEF", b"BCDE"])).unwrap(),
        b"ABCDE"
    );
    assert_eq!(drain(&r), b"FG");
}

#[test]
fn test_readuntil_multi_separator_limit() {
    // S33, S35: on a tie of ends the shorter separator counts, and its start is checked.
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"some dataA");
    let (message, consumed) = overrun(block(&lp, r.readuntil_any(&[b"A", b"ome dataA"])));
    assert!(message.contains("is found"), "{message}");
    assert_eq!(consumed, 9);
    assert_eq!(drain(&r), b"some dataA");
}

#[test]
fn test_readuntil_multi_separator_negative_offset() {
    // S36: the buffer fits the shortest separator but not the longest; the offset must not
    // go negative (search from the end).
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    r.feed_data(b"data");
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readuntil_any(&[b"A", b"long sep"]).await }
    });
    call_soon(&lp, &r, |r| r.feed_data(b"Z"));
    call_soon(&lp, &r, |r| r.feed_data(b"Aaaa"));
    assert_eq!(run_task(&lp, task).unwrap(), b"dataZA");
    assert_eq!(drain(&r), b"aaa");
}

#[test]
fn test_readexactly_zero_or_less() {
    // S37 (n < 0 cannot be expressed: `usize`)
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(DATA);
    assert_eq!(block(&lp, r.readexactly(0)).unwrap(), b"");
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_readexactly() {
    // S37
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let n = 2 * DATA.len();
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(n).await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(DATA);
        r.feed_data(DATA);
        r.feed_data(DATA);
    });
    assert_eq!(run_task(&lp, task).unwrap(), [DATA, DATA].concat());
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_readexactly_limit() {
    // S37: never bounded by the limit
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"chunk");
    assert_eq!(block(&lp, r.readexactly(5)).unwrap(), b"chunk");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readexactly_eof() {
    // S38, S39
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let n = 2 * DATA.len();
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(n).await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(DATA);
        r.feed_eof();
    });
    let e = run_task(&lp, task).unwrap_err();
    assert_eq!(
        e.to_string(),
        "18 bytes read on a total of 36 expected bytes"
    );
    match e {
        Error::IncompleteRead { partial, expected } => {
            assert_eq!(partial, DATA);
            assert_eq!(expected, Some(n));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readexactly_exception() {
    // S19
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line\n");
    assert_eq!(block(&lp, r.readexactly(2)).unwrap(), b"li");
    r.set_exception(io_error("value error"));
    assert!(is_io(&block(&lp, r.readexactly(2)), "value error"));
}

#[test]
fn test_exception() {
    // S18
    let r = StreamReader::new();
    assert!(r.exception().is_none());
    r.set_exception(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
    let e = r.exception().expect("stored");
    assert_eq!(
        (e.kind(), e.to_string()),
        (io::ErrorKind::ConnectionReset, "reset".into())
    );
    // Replaced, not cleared.
    r.set_exception(io_error("second"));
    assert_eq!(r.exception().unwrap().to_string(), "second");
}

#[test]
fn test_exception_waiter() {
    // S18: the waiting read fails with the exception.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t1 = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    let t2 = spawn(&lp, {
        let r = r.clone();
        async move { r.set_exception(io_error("value error")) }
    });
    let (res, ()) = block(&lp, async { (t1.await.unwrap(), t2.await.unwrap()) });
    assert!(is_io(&res, "value error"), "{res:?}");
}

#[test]
fn test_exception_cancel() {
    // S21, S22: a cancelled read leaves no waiter behind.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the readline waits
    assert!(format!("{r:?}").contains("waiting: true"), "{r:?}");
    t.cancel();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(t.is_cancelled());
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
    // A new read may wait (no S20 error) ...
    assert!(poll_once(r.readline()).is_pending());
    // ... and set_exception is careful with a waiter that is gone.
    r.set_exception(io_error("message"));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
}

// ───────────────────────────── S20: one waiter at a time ─────────────────────────────

#[test]
fn s20_a_second_waiting_read_is_refused_with_its_name() {
    let r = StreamReader::new();
    let mut first = pin!(r.read(10));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(cx).is_pending());
    assert!(
        first.as_mut().poll(cx).is_pending(),
        "re-polling the waiter tripped S20"
    );

    let refused = |res: Poll<Result<Vec<u8>, Error>>| match res {
        Poll::Ready(Err(Error::InvalidState(m))) => m,
        other => panic!("expected InvalidState, got {other:?}"),
    };
    assert_eq!(refused(poll_once(r.read(1))), format!("read{WAITING}"));
    assert_eq!(
        refused(poll_once(r.readline())),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readuntil(b"x"))),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readuntil_any(&[b"x"]))),
        format!("readuntil{WAITING}")
    );
    assert_eq!(
        refused(poll_once(r.readexactly(1))),
        format!("readexactly{WAITING}")
    );
    let mut buf = [0; 4];
    assert!(matches!(
        poll_once(r.read_into(&mut buf)),
        Poll::Ready(Err(Error::InvalidState(m))) if m == format!("read{WAITING}")
    ));

    // The waiter itself is unaffected and completes.
    r.feed_data(b"abc");
    assert!(matches!(first.as_mut().poll(cx), Poll::Ready(Ok(v)) if v == b"abc"));
}

#[test]
fn s20_a_read_served_from_the_buffer_proceeds() {
    let r = StreamReader::new();
    r.feed_data(b"abc");
    let mut waiting = pin!(r.readexactly(5));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(waiting.as_mut().poll(cx).is_pending());
    assert!(matches!(poll_once(r.read(2)), Poll::Ready(Ok(v)) if v == b"ab"));
    r.feed_data(b"defg");
    assert!(matches!(waiting.as_mut().poll(cx), Poll::Ready(Ok(v)) if v == b"cdefg"));
}

#[test]
fn s20_tasks_racing_for_data() {
    // Two tasks that both need to wait: the second is refused, the first gets the data.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t1 = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    let t2 = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(2).await }
    });
    call_soon(&lp, &r, |r| r.feed_data(b"hello\n"));
    let (a, b) = block(&lp, async { (t1.await.unwrap(), t2.await.unwrap()) });
    assert_eq!(a.unwrap(), b"hello\n");
    assert!(matches!(b, Err(Error::InvalidState(m)) if m == format!("readexactly{WAITING}")));
}

#[test]
fn s21_dropping_a_pending_read_frees_the_slot() {
    let r = StreamReader::new();
    assert!(poll_once(r.readexactly(3)).is_pending()); // polled, then dropped
    assert!(
        poll_once(r.readline()).is_pending(),
        "a dropped read still holds the slot"
    );
    r.feed_data(b"x\n"); // no waiter left to wake: fine
    assert!(format!("{r:?}").contains("waiting: false"), "{r:?}");
}

// ───────────────────────────── cancel safety (S22, D1) ─────────────────────────────

/// Runs `fut` with a zero timeout: polled once (D4), then dropped if still pending.
async fn cancelled<F: Future>(fut: F) -> Option<F::Output> {
    asyncio::timeout(Duration::ZERO, fut).await.ok()
}

#[test]
fn s22_cancelled_read_keeps_bytes() {
    let lp = new_loop();
    let r = StreamReader::new();
    block(&lp, async {
        assert!(cancelled(r.read(10)).await.is_none());
        r.feed_data(b"abc");
        assert_eq!(r.read(10).await.unwrap(), b"abc");
    });
}

#[test]
fn s22_cancelled_read_into_keeps_bytes() {
    let lp = new_loop();
    let r = StreamReader::new();
    block(&lp, async {
        let mut buf = [0u8; 8];
        assert!(cancelled(r.read_into(&mut buf)).await.is_none());
        assert_eq!(buf, [0; 8], "a cancelled read_into wrote");
        r.feed_data(b"abc");
        assert_eq!(r.read_into(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        r.feed_eof();
        assert_eq!(r.read_into(&mut buf).await.unwrap(), 0, "0 at EOF");
    });
}

#[test]
fn s22_cancelled_readline_keeps_bytes() {
    let lp = new_loop();
    let r = StreamReader::new();
    block(&lp, async {
        r.feed_data(b"par");
        assert!(cancelled(r.readline()).await.is_none());
        r.feed_data(b"tial");
        assert!(cancelled(r.readline()).await.is_none());
        r.feed_data(b" line\nnext");
        assert_eq!(r.readline().await.unwrap(), b"partial line\n");
        assert_eq!(drain(&r), b"next");
    });
}

#[test]
fn s22_cancelled_readuntil_keeps_bytes_and_split_separators() {
    let lp = new_loop();
    let r = StreamReader::new();
    block(&lp, async {
        r.feed_data(b"headerAB");
        assert!(cancelled(r.readuntil(b"ABC")).await.is_none());
        r.feed_data(b"C rest");
        assert_eq!(r.readuntil(b"ABC").await.unwrap(), b"headerABC");
        r.feed_data(b"\r");
        assert!(cancelled(r.readuntil_any(&[b"\r\n", b"\n\n"]))
            .await
            .is_none());
        r.feed_data(b"\n");
        assert_eq!(
            r.readuntil_any(&[b"\r\n", b"\n\n"]).await.unwrap(),
            b" rest\r\n"
        );
    });
}

#[test]
fn s22_cancelled_readexactly_keeps_bytes() {
    let lp = new_loop();
    let r = StreamReader::new();
    block(&lp, async {
        r.feed_data(b"abc");
        assert!(cancelled(r.readexactly(5)).await.is_none());
        r.feed_data(b"de");
        assert_eq!(r.readexactly(5).await.unwrap(), b"abcde");
    });
}

#[test]
fn d1_cancelled_read_to_eof_keeps_bytes() {
    // D1 overrides S26: CPython loses the chunks read(-1) had collected; we lose nothing.
    let lp = new_loop();
    let r = StreamReader::with_limit(4).unwrap();
    block(&lp, async {
        r.feed_data(b"0123456789"); // more than the limit: CPython would have taken chunks
        assert!(cancelled(r.read(-1)).await.is_none());
        r.feed_data(b"abc");
        assert!(cancelled(r.read(-1)).await.is_none());
        r.feed_eof();
        assert_eq!(r.read(-1).await.unwrap(), b"0123456789abc");
        assert_eq!(r.read(-1).await.unwrap(), b"", "b\"\" once at EOF (S25)");
    });
}

#[test]
fn s22_read_woken_then_cancelled_before_it_runs_keeps_bytes() {
    // The data arrives and wakes the read, but its task is cancelled before it runs again.
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let t = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(4).await }
    });
    lp.run_once(Some(Duration::ZERO)).unwrap();
    r.feed_data(b"abcd");
    t.cancel();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(t.is_cancelled());
    assert_eq!(block(&lp, r.readexactly(4)).unwrap(), b"abcd");
}

// ───────────────────────────── lines(), S40, issue #8 ─────────────────────────────

#[test]
fn s40_lines_end_at_eof() {
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move {
            let mut lines = r.lines();
            let mut all = Vec::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                all.push(line);
            }
            // Still over after the end.
            assert!(lines.next_line().await.unwrap().is_none());
            all
        }
    });
    call_soon(&lp, &r, |r| r.feed_data(b"one\ntw"));
    call_soon(&lp, &r, |r| r.feed_data(b"o\nthree"));
    call_soon(&lp, &r, |r| r.feed_eof());
    let all = run_task(&lp, task);
    assert_eq!(all, [&b"one\n"[..], b"two\n", b"three"]);
}

#[test]
fn s40_issue_8_lines_go_on_after_a_limit_overrun() {
    // readline reports the crate's LimitOverrun (Python: ValueError) after discarding the
    // long line, and the reader keeps working.
    let lp = new_loop();
    let r = StreamReader::with_limit(4).unwrap();
    r.feed_data(b"ok\nmuch too long\nfine\n");
    r.feed_eof();
    let got = block(&lp, async {
        let mut lines = r.lines();
        let mut got = Vec::new();
        loop {
            got.push(match lines.next_line().await {
                Ok(Some(l)) => String::from_utf8(l).unwrap(),
                Ok(None) => break,
                Err(Error::LimitOverrun { message, consumed }) => format!("{message} @{consumed}"),
                Err(e) => panic!("{e}"),
            });
        }
        got
    });
    assert_eq!(
        got,
        [
            "ok\n",
            "Separator is found, but chunk is longer than limit @13",
            "fine\n"
        ]
    );
}

#[test]
fn s40_lines_report_a_stored_exception_every_time() {
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"a\n");
    r.set_exception(io_error("gone"));
    block(&lp, async {
        let mut lines = r.lines();
        for _ in 0..2 {
            assert!(matches!(lines.next_line().await, Err(Error::Io(_))));
        }
    });
}

// ───────────────────────────── property test against a model ─────────────────────────────

mod model {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    const SEPS: &[&[&[u8]]] = &[
        &[b"ab"],
        &[b"\n"],
        &[b"X"],
        &[b"b\n", b"a"],
        &[b"aX", b"Xa", b"X"],
    ];

    #[derive(Debug, Clone)]
    enum Op {
        Read(isize),
        ReadToEof,
        ReadInto(usize),
        ReadLine,
        ReadUntil(usize),
        ReadExactly(usize),
    }

    /// An op, and whether it runs under a zero timeout (then it may be dropped pending).
    fn op() -> impl Strategy<Value = (Op, bool)> {
        let op = prop_oneof![
            4 => (1isize..9).prop_map(Op::Read),
            1 => Just(Op::ReadToEof),
            2 => (1usize..9).prop_map(Op::ReadInto),
            4 => Just(Op::ReadLine),
            4 => (0..SEPS.len()).prop_map(Op::ReadUntil),
            3 => (0usize..9).prop_map(Op::ReadExactly),
        ];
        (op, proptest::bool::weighted(0.3))
    }

    /// CPython 3.13's separator rule on the whole remaining stream.
    fn earliest(data: &[u8], seps: &[&[u8]]) -> Option<(usize, usize)> {
        (1..=data.len()).find_map(|end| {
            let mut hits: Vec<&[u8]> = seps
                .iter()
                .copied()
                .filter(|s| data[..end].ends_with(s))
                .collect();
            hits.sort_by_key(|s| s.len());
            hits.first().map(|s| (end - s.len(), end))
        })
    }

    /// Checks one completed op against `rest`, the bytes not yet read; returns how many it
    /// consumed.
    fn check(op: &Op, out: Result<Vec<u8>, Error>, rest: &[u8], limit: usize) -> usize {
        match (op, out) {
            (Op::Read(n), Ok(v)) => check(&Op::ReadInto(n.unsigned_abs()), Ok(v), rest, limit),
            (Op::ReadInto(n), Ok(v)) => {
                assert!(v.len() <= *n);
                assert_eq!(
                    v.is_empty(),
                    rest.is_empty(),
                    "read returned {v:?} with {rest:?} to come"
                );
                assert_eq!(v, rest[..v.len()]);
                v.len()
            }
            (Op::ReadToEof, Ok(v)) => {
                assert_eq!(v, rest);
                v.len()
            }
            (Op::ReadExactly(n), Ok(v)) => {
                assert_eq!(v, rest[..*n]);
                *n
            }
            (Op::ReadExactly(n), Err(Error::IncompleteRead { partial, expected })) => {
                assert!(rest.len() < *n);
                assert_eq!((partial.as_slice(), expected), (rest, Some(*n)));
                rest.len()
            }
            (Op::ReadLine, Ok(v)) => {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        assert!(i <= limit);
                        assert_eq!(v, rest[..=i]);
                    }
                    None => assert_eq!(v, rest, "readline at EOF returns the rest"),
                }
                v.len()
            }
            (Op::ReadLine, Err(Error::LimitOverrun { message, consumed })) => {
                assert!(consumed > limit);
                let nl = rest.iter().position(|&b| b == b'\n');
                if message.contains("is found") {
                    assert_eq!(nl, Some(consumed));
                    consumed + 1
                } else {
                    assert!(nl.is_none_or(|i| i >= consumed), "discarded a newline");
                    consumed
                }
            }
            (Op::ReadUntil(k), out) => {
                let seps = SEPS[*k];
                let max_len = seps.iter().map(|s| s.len()).max().unwrap();
                let m = earliest(rest, seps);
                match out {
                    Ok(v) => {
                        let (start, end) = m.expect("found a separator the model does not see");
                        assert!(start <= limit);
                        assert_eq!(v, rest[..end]);
                        end
                    }
                    Err(Error::IncompleteRead {
                        partial,
                        expected: None,
                    }) => {
                        assert!(m.is_none());
                        assert_eq!(partial, rest);
                        rest.len()
                    }
                    Err(Error::LimitOverrun { message, consumed }) => {
                        assert!(consumed > limit);
                        if message.contains("is found") {
                            assert_eq!(m.map(|(s, _)| s), Some(consumed));
                        } else {
                            // The buffer held consumed + max_len - 1 bytes, with no match.
                            assert!(m.is_none_or(|(_, end)| end > consumed + max_len - 1));
                        }
                        0
                    }
                    Err(e) => panic!("readuntil: {e}"),
                }
            }
            (op, out) => panic!("{op:?} gave {out:?}"),
        }
    }

    async fn run_op(r: &StreamReader, op: &Op) -> Result<Vec<u8>, Error> {
        match op {
            Op::Read(n) => r.read(*n).await,
            Op::ReadToEof => r.read(-1).await,
            Op::ReadInto(n) => {
                let mut buf = vec![0; *n];
                let k = r.read_into(&mut buf).await?;
                buf.truncate(k);
                Ok(buf)
            }
            Op::ReadLine => r.readline().await,
            Op::ReadUntil(k) => r.readuntil_any(SEPS[*k]).await,
            Op::ReadExactly(n) => r.readexactly(*n).await,
        }
    }

    proptest! {
        #![proptest_config(Config {
            cases: 256,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x5eed_5713),
            ..Config::default()
        })]

        /// S24–S38, D1: random data in random chunks, read by a random mix of methods, some
        /// of them cancelled, always agrees with a plain byte-slice model.
        #[test]
        fn reads_match_the_model(
            data in proptest::collection::vec(prop::sample::select(&b"ab\nX"[..]), 0..60),
            cuts in proptest::collection::vec((1usize..12, 0usize..3), 1..30),
            limit in prop::sample::select(&[1usize, 2, 3, 5, 8, 1000][..]),
            ops in proptest::collection::vec(op(), 0..25),
        ) {
            let lp = new_loop();
            let r = Rc::new(StreamReader::with_limit(limit).unwrap());
            // Feeder: chunk after chunk, yielding 0..3 turns between them, then EOF.
            let feeder = spawn(&lp, {
                let (r, data) = (r.clone(), data.clone());
                async move {
                    let mut rest = &data[..];
                    for &(len, yields) in cuts.iter().cycle() {
                        if rest.is_empty() {
                            break;
                        }
                        let (chunk, tail) = rest.split_at(len.min(rest.len()));
                        r.feed_data(chunk);
                        rest = tail;
                        for _ in 0..yields {
                            asyncio::yield_now().await;
                        }
                    }
                    r.feed_eof();
                }
            });
            let mut pos = 0;
            block(&lp, async {
                for (op, under_timeout) in &ops {
                    let out = if *under_timeout {
                        match cancelled(run_op(&r, op)).await {
                            Some(out) => out,
                            None => continue, // dropped pending: nothing consumed
                        }
                    } else {
                        run_op(&r, op).await
                    };
                    pos += check(op, out, &data[pos..], limit);
                }
                feeder.await.unwrap();
                assert_eq!(r.read(-1).await.unwrap(), &data[pos..], "bytes lost or invented");
            });
        }
    }
}
