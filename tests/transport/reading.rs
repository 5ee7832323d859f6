//! The read path (L46, L50, L51, L59, L60, L79): buffered protocols, bounded read rounds,
//! pause/resume_reading; CPython's test_read_* and buffered-protocol tests.

use super::*;

#[test]
fn l79_pause_reading_blocks_the_peer_and_resume_delivers_everything() {
    // CPython: SelectorSocketTransportTests.test_pause_reading_connection_made.
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let rec = Recorder {
        on_made: Some(Box::new(|t: &Transport| {
            t.pause_reading(); // L79: paused inside connection_made, never starts reading
            t.pause_reading();
        })),
        ..Default::default()
    };
    let (t, proto) = connect_recorder(&lp, port, rec);
    assert!(!t.is_reading());
    let (mut s, _) = l.accept().unwrap();
    s.set_nonblocking(true).unwrap();
    let mut sent = 0usize;
    let buf = vec![1u8; 64 * 1024];
    // Fill every kernel buffer in between: the peer's writes must end in WouldBlock.
    let mut blocked = false;
    for _ in 0..100_000 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
        match s.write(&buf) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                blocked = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(blocked, "the peer never blocked: reading was not paused");
    assert!(
        proto.borrow().data.is_empty(),
        "data delivered while paused"
    );
    t.resume_reading();
    t.resume_reading();
    assert!(t.is_reading());
    run_until(&lp, 100_000, || proto.borrow().data.len() == sent);
}

/// A buffered protocol that reads into a fixed array (L50), optionally offering nothing (L51).
struct Buffered {
    buf: Vec<u8>,
    got: Vec<u8>,
    calls: Vec<String>,
    empty: bool,
}

impl Protocol for Buffered {
    fn connection_lost(&mut self, exc: Option<std::io::Error>) {
        self.calls.push(format!("lost({})", exc.is_some()));
    }
    fn eof_received(&mut self) -> bool {
        self.calls.push("eof".into());
        false
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for Buffered {
    fn get_buffer(&mut self, _hint: usize) -> &mut [u8] {
        self.calls.push("get_buffer".into());
        if self.empty {
            &mut []
        } else {
            &mut self.buf
        }
    }
    fn buffer_updated(&mut self, n: usize) {
        self.calls.push(format!("buffer_updated({n})"));
        let chunk = self.buf[..n].to_vec();
        self.got.extend(chunk);
    }
}

#[test]
fn l50_l51_buffered_protocol_reads_into_its_own_memory() {
    // CPython: SelectorSocketTransportBufferedProtocolTests.test_get_buffer_zerosized.
    for empty in [false, true] {
        let lp = EventLoop::new().unwrap();
        let seen = util::capture_exceptions(&lp);
        let (l, port) = peer_listener();
        let proto = Buffered {
            buf: vec![0; 5],
            got: Vec::new(),
            calls: Vec::new(),
            empty,
        };
        let (_t, p) = lp
            .run_until_complete(lp.create_connection(move || proto, "127.0.0.1", port))
            .unwrap()
            .unwrap();
        let (mut s, _) = l.accept().unwrap();
        // With the empty buffer our side may already have closed: the peer's calls may fail.
        let _ = s.write_all(b"hello world");
        let _ = s.shutdown(Shutdown::Write);
        run_until(&lp, 100, || {
            p.borrow().calls.iter().any(|c| c.starts_with("lost"))
        });
        let p = p.borrow();
        if empty {
            assert_eq!(
                p.calls,
                ["get_buffer", "lost(true)"],
                "L51: no buffer_updated after an empty buffer"
            );
            assert!(
                seen.borrow()[0].contains("get_buffer() returned an empty buffer"),
                "{:?}",
                seen.borrow()
            );
        } else {
            assert_eq!(p.got, b"hello world");
            assert_eq!(p.calls.last().unwrap(), "lost(false)");
            assert!(p.calls.contains(&"eof".to_string()));
        }
    }
}

/// A buffered protocol reading through a 1 KiB buffer, so that every read of a backlog is a
/// full one (no short read ends a read round early); `on_first` acts on the first
/// buffer_updated.
struct SmallReads {
    buf: [u8; 1024],
    t: Option<Transport>,
    updates: Rc<std::cell::Cell<usize>>,
    bytes: Rc<std::cell::Cell<usize>>,
    lost: Rc<std::cell::Cell<bool>>,
    on_first: Option<fn(&Transport)>,
}

type Counters = (
    Rc<std::cell::Cell<usize>>,
    Rc<std::cell::Cell<usize>>,
    Rc<std::cell::Cell<bool>>,
);

/// A `SmallReads` on one end of a Unix socket pair: its transport, the other end, and its
/// counters (buffer updates, bytes, lost).
fn small_reads_over_a_pair(
    lp: &EventLoop,
    on_first: Option<fn(&Transport)>,
) -> (Transport, std::os::unix::net::UnixStream, Counters) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let counters: Counters = (Rc::default(), Rc::default(), Rc::default());
    let proto = SmallReads {
        buf: [0; 1024],
        t: None,
        updates: Rc::clone(&counters.0),
        bytes: Rc::clone(&counters.1),
        lost: Rc::clone(&counters.2),
        on_first,
    };
    let (t, _) = lp
        .run_until_complete(lp.connect_socket(move || proto, a))
        .unwrap()
        .unwrap();
    (t, b, counters)
}

impl Protocol for SmallReads {
    fn connection_made(&mut self, t: Transport) {
        self.t = Some(t);
    }
    fn data_received(&mut self, _: &[u8]) {
        unreachable!("a buffered protocol gets buffer_updated")
    }
    fn connection_lost(&mut self, _: Option<std::io::Error>) {
        self.lost.set(true);
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for SmallReads {
    fn get_buffer(&mut self, _: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.updates.set(self.updates.get() + 1);
        self.bytes.set(self.bytes.get() + n);
        if let (Some(act), Some(t)) = (self.on_first.take(), &self.t) {
            act(t);
        }
    }
}

#[test]
fn l59_test_pause_resume_reading_a_stop_inside_the_protocol_ends_the_read_round() {
    // SelectorSocketTransportTests.test_pause_resume_reading, on a real socket with 64 KiB
    // waiting in the kernel and a protocol reading 1 KiB at a time: an edge-triggered
    // transport reads on after each call unless it re-checks; once the protocol pauses (or
    // closes) the transport, no further read comes in that round or later, until
    // resume_reading, which delivers the rest.
    type Act = fn(&Transport);
    let actions: [(&str, Act); 2] = [("pause", |t| t.pause_reading()), ("close", |t| t.close())];
    for (name, act) in actions {
        let lp = EventLoop::new().unwrap();
        let (t, mut b, (updates, bytes, lost)) = small_reads_over_a_pair(&lp, Some(act));
        b.write_all(&[9u8; 64 * 1024]).unwrap();
        run_until(&lp, 100, || updates.get() > 0);
        for _ in 0..5 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert_eq!(
            updates.get(),
            1,
            "{name}: read on after the protocol stopped it"
        );
        if name == "pause" {
            t.resume_reading();
            run_until(&lp, 1_000, || bytes.get() == 64 * 1024);
            t.close();
        }
        run_until(&lp, 100, || lost.get());
    }
}

#[test]
fn l59_one_readiness_event_reads_a_bounded_amount_and_continues_later() {
    // CPython reads once per event and iteration (level-triggered selector); the port reads
    // until WouldBlock but bounds the reads of one event, so a backlog read 1 KiB at a time
    // is not all taken in one iteration, and the rest still comes in later ones without any
    // new readiness (the peer writes nothing more).
    let lp = EventLoop::new().unwrap();
    let (t, mut b, (updates, bytes, lost)) = small_reads_over_a_pair(&lp, None);
    b.write_all(&[9u8; 64 * 1024]).unwrap();
    run_until(&lp, 100, || updates.get() > 0);
    let first_round = updates.get();
    assert!(first_round < 64, "one iteration read all {first_round} KiB");
    run_until(&lp, 1_000, || bytes.get() == 64 * 1024);
    t.close();
    run_until(&lp, 100, || lost.get());
}

#[test]
fn l60_test_read_ready_tryagain_a_wouldblock_read_is_ignored() {
    // SelectorSocketTransportTests.test_read_ready_tryagain, on a real socket: exactly one full
    // 1 KiB buffer waits, so the read after it (the buffer was filled: more may wait) gets
    // WouldBlock. That read reports nothing and closes nothing; the next bytes are delivered
    // at the next readiness. (The EINTR half, test_read_ready_tryagain_interrupted, needs a
    // socket that fails on demand: not ported; `sock_read` retries an interrupted read.)
    let lp = EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp);
    let (t, mut b, (updates, bytes, lost)) = small_reads_over_a_pair(&lp, None);
    b.write_all(&[1u8; 1024]).unwrap();
    run_until(&lp, 100, || bytes.get() == 1024);
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(!lost.get() && !t.is_closing() && t.is_reading());
    b.write_all(&[2u8; 10]).unwrap();
    run_until(&lp, 100, || bytes.get() == 1034);
    assert_eq!(updates.get(), 2);
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    t.close();
    run_until(&lp, 100, || lost.get());
}

/// Records where each `data_received` slice starts, and the bytes.
#[derive(Default)]
struct Landing {
    misaligned: usize,
    calls: usize,
    got: Vec<u8>,
}

struct Lander(Rc<RefCell<Landing>>);

impl Protocol for Lander {
    fn data_received(&mut self, data: &[u8]) {
        let mut me = self.0.borrow_mut();
        me.calls += 1;
        if data.as_ptr().align_offset(64) != 0 {
            me.misaligned += 1;
        }
        me.got.extend_from_slice(data);
    }
}

/// L46: a plain protocol's reads land on a 64-byte boundary of the loop's buffer. At the
/// 16-byte offset a `malloc` of 256 KiB returns, the kernel's copies into it (recv) and out of
/// it (an echo's send) cost far more CPU per byte: the Protocol echo's bulk throughput fell
/// below the streams layer's.
#[test]
fn l46_plain_reads_land_on_a_cache_line_boundary() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let seen = Rc::new(RefCell::new(Landing::default()));
    let p = Lander(seen.clone());
    let (t, _) = lp
        .run_until_complete(lp.create_connection(move || p, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    let data: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
    let expect = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in data.chunks(40 * 1024 + 7) {
            s.write_all(chunk).unwrap();
        }
        s
    });
    run_until(&lp, 100_000, || seen.borrow().got.len() >= expect.len());
    let _s = writer.join().unwrap();
    let me = seen.borrow();
    assert!(me.got == expect, "bytes arrive once and in order");
    assert_eq!(
        me.misaligned, 0,
        "{} of {} data_received slices off a 64-byte boundary",
        me.misaligned, me.calls
    );
    t.abort();
}

/// A buffered protocol that lends one byte at a time and can fail in `get_buffer` or
/// `buffer_updated` once it holds `fail_at` bytes.
struct OneByte {
    got: Vec<u8>,
    buf: [u8; 1],
    calls: Vec<String>,
    fail_in: &'static str,
    fail_at: usize,
}

impl Protocol for OneByte {
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
    fn eof_received(&mut self) -> bool {
        self.calls.push("eof_received".into());
        false
    }
    fn connection_lost(&mut self, e: Option<std::io::Error>) {
        self.calls
            .push(format!("connection_lost({:?})", e.map(|e| e.kind())));
    }
}

impl asyncio::BufferedProtocol for OneByte {
    fn get_buffer(&mut self, _: usize) -> &mut [u8] {
        assert!(
            self.got.len() <= self.fail_at,
            "L51: read on after a failure"
        );
        if self.fail_in == "get_buffer" && self.got.len() == self.fail_at {
            panic!("get_buffer fails");
        }
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.got.extend_from_slice(&self.buf[..n]);
        if self.fail_in == "buffer_updated" && self.got.len() == self.fail_at {
            panic!("buffer_updated fails");
        }
    }
}

/// L50, L51, L59 (SelectorSocketTransportBufferedProtocolTests.test_get_buffer_error,
/// test_buffer_updated_error, test_read_ready_eof): a one-byte buffer still gets every byte
/// and the EOF that came with them; a panic in `get_buffer` or `buffer_updated` is reported
/// as 'Fatal error: protocol.<method>() call failed.' and ends the connection with the error,
/// reading nothing more.
#[test]
fn l50_l51_l59_a_one_byte_buffer_and_a_failing_get_buffer_or_buffer_updated() {
    for fail_in in ["", "get_buffer", "buffer_updated"] {
        let lp = EventLoop::new().unwrap();
        let seen: Rc<RefCell<Vec<String>>> = Rc::default();
        let s = seen.clone();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone());
            },
        ));
        let (ours, mut peer) = UnixStream::pair().unwrap();
        peer.write_all(&[7u8; 100]).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let proto = move || OneByte {
            got: Vec::new(),
            buf: [0],
            calls: Vec::new(),
            fail_in,
            fail_at: if fail_in.is_empty() { usize::MAX } else { 3 },
        };
        let (t, p) = lp
            .run_until_complete(lp.connect_socket(proto, ours))
            .unwrap()
            .unwrap();
        run_turns_until(&lp, 50, || {
            p.borrow()
                .calls
                .last()
                .is_some_and(|c| c.starts_with("connection_lost"))
        });
        let p = p.borrow();
        assert!(t.is_closing());
        if fail_in.is_empty() {
            assert_eq!(p.got.len(), 100);
            assert_eq!(p.calls, ["eof_received", "connection_lost(None)"]);
            assert!(seen.borrow().is_empty());
        } else {
            assert_eq!(p.got.len(), 3, "{fail_in}");
            assert_eq!(p.calls, ["connection_lost(Some(Other))"], "{fail_in}");
            let message = format!("Fatal error: protocol.{fail_in}() call failed.");
            assert_eq!(*seen.borrow(), [message]);
        }
    }
}

/// A buffered protocol for the CPython ports below: records its calls (`connection_lost` with
/// the error kind), can keep the transport open on EOF or panic in `eof_received`.
#[derive(Default)]
struct BufProbe {
    buf: Vec<u8>,
    got: Vec<u8>,
    calls: Vec<String>,
    keep_open: bool,
    panic_on_eof: bool,
}

impl Protocol for BufProbe {
    fn connection_made(&mut self, _t: Transport) {
        self.buf = vec![0; 64];
        self.calls.push("connection_made".into());
    }
    fn eof_received(&mut self) -> bool {
        self.calls.push("eof_received".into());
        assert!(!self.panic_on_eof, "eof_received bug");
        self.keep_open
    }
    fn connection_lost(&mut self, exc: Option<std::io::Error>) {
        self.calls.push(match exc {
            None => "connection_lost(None)".into(),
            Some(e) => format!("connection_lost({:?})", e.kind()),
        });
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for BufProbe {
    fn get_buffer(&mut self, _hint: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        let chunk = self.buf[..n].to_vec();
        self.got.extend(chunk);
        self.calls.push("buffer_updated".into());
    }
}

fn buffered_pair(lp: &EventLoop, p: BufProbe) -> (Transport, Rc<RefCell<BufProbe>>, UnixStream) {
    let (ours, peer) = UnixStream::pair().unwrap();
    let (t, p) = lp
        .run_until_complete(lp.connect_socket(move || p, ours))
        .unwrap()
        .unwrap();
    (t, p, peer)
}

fn lost_of(calls: &[String]) -> bool {
    calls.iter().any(|c| c.starts_with("connection_lost"))
}

/// L54, L80. CPython: SelectorSocketTransportTests.test_read_eof_received_error,
/// SelectorSocketTransportBufferedProtocolTests.test_read_eof_received_error. A failing
/// eof_received is a fatal error with its own message; connection_lost follows, with an error.
#[test]
fn l54_test_read_eof_received_error_plain_and_buffered() {
    const WANT: &str = "Fatal error: protocol.eof_received() call failed.";
    for buffered in [false, true] {
        let lp = EventLoop::new().unwrap();
        let seen = util::capture_exceptions(&lp);
        let calls: Box<dyn Fn() -> Vec<String>>;
        let (t, peer) = if buffered {
            let probe = BufProbe {
                panic_on_eof: true,
                ..Default::default()
            };
            let (t, p, peer) = buffered_pair(&lp, probe);
            calls = Box::new(move || p.borrow().calls.clone());
            (t, peer)
        } else {
            let rec = Recorder {
                on_eof: Some(Box::new(|_: &Transport| panic!("eof_received bug"))),
                ..Default::default()
            };
            let (t, p, peer) = unix_pair(&lp, rec);
            calls = Box::new(move || p.borrow().calls.clone());
            (t, peer)
        };
        peer.shutdown(Shutdown::Write).unwrap();
        run_until(&lp, 100, || lost_of(&calls()));
        let got = calls();
        assert_eq!(got.len(), 3, "buffered {buffered}: {got:?}");
        assert_eq!(got[..2], ["connection_made", "eof_received"]);
        assert_ne!(
            got[2], "connection_lost(None)",
            "buffered {buffered}: an error"
        );
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "buffered {buffered}: {seen:?}");
        assert!(seen[0].starts_with(WANT), "buffered {buffered}: {seen:?}");
        assert!(t.is_closing());
    }
}

/// L47, L62. CPython: SelectorSocketTransportBufferedProtocolTests.
/// test_read_ready_eof_keep_open. A buffered protocol whose eof_received returns true keeps
/// the transport open for writing, with reading stopped; close() then ends it cleanly.
#[test]
fn l47_test_buffered_read_ready_eof_keep_open() {
    let lp = EventLoop::new().unwrap();
    let probe = BufProbe {
        keep_open: true,
        ..Default::default()
    };
    let (t, p, mut peer) = buffered_pair(&lp, probe);
    peer.write_all(b"last words").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run_until(&lp, 100, || {
        p.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!t.is_closing(), "kept open");
    assert!(!t.is_reading(), "reading stopped");
    assert_eq!(p.borrow().got, b"last words");
    t.write(b"reply").unwrap();
    t.close();
    run_until(&lp, 100, || lost_of(&p.borrow().calls));
    peer.set_read_timeout(Some(BOUND)).unwrap();
    let mut back = Vec::new();
    peer.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"reply");
    assert_eq!(p.borrow().calls.last().unwrap(), "connection_lost(None)");
}

/// L48, L61. CPython: SelectorSocketTransportBufferedProtocolTests.test_read_ready_conn_reset.
/// A reset under a buffered protocol: connection_lost(ConnectionReset), no eof_received,
/// nothing reported.
#[test]
fn l61_test_buffered_read_ready_conn_reset() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (l, port) = peer_listener();
    let (_t, p) = lp
        .run_until_complete(lp.create_connection(BufProbe::default, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    let (s, _) = l.accept().unwrap();
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s); // RST
    run_until(&lp, 100, || lost_of(&p.borrow().calls));
    assert_eq!(
        p.borrow().calls,
        ["connection_made", "connection_lost(ConnectionReset)"]
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

/// L52. CPython: SelectorSocketTransportBufferedProtocolTests.test_proto_type_switch.
/// set_protocol re-selects the read path from the new protocol's kind: plain to buffered
/// reads through get_buffer/buffer_updated, and back to plain through data_received.
#[test]
fn l52_test_proto_type_switch() {
    let lp = EventLoop::new().unwrap();
    let (t, plain, mut peer) = unix_pair(&lp, Recorder::default());
    let buffered = Rc::new(RefCell::new(BufProbe {
        buf: vec![0; 64],
        ..Default::default()
    }));
    t.set_protocol(buffered.clone()).unwrap();
    peer.write_all(b"to the buffered one").unwrap();
    run_until(&lp, 100, || !buffered.borrow().got.is_empty());
    assert_eq!(buffered.borrow().got, b"to the buffered one");
    assert!(plain.borrow().data.is_empty());
    let back = Rc::new(RefCell::new(Recorder::default()));
    back.borrow_mut().calls.push("connection_made".into()); // it never gets connection_made
    t.set_protocol(back.clone()).unwrap();
    peer.write_all(b"to the plain one").unwrap();
    run_until(&lp, 100, || !back.borrow().data.is_empty());
    assert_eq!(back.borrow().data, b"to the plain one");
    assert_eq!(buffered.borrow().got, b"to the buffered one");
    t.close();
}

/// L44, L50. CPython: BaseTestBufferedProtocol.test_buffered_proto_create_connection. A
/// buffered client reading through a 100-byte buffer gets a stream server's 9 KiB whole,
/// answers one byte, and the server's close ends it with connection_lost(None).
#[test]
fn l44_l50_test_buffered_proto_create_connection() {
    struct ReceiveStuff {
        buffer: Vec<u8>,
        data: Vec<u8>,
        noise: Vec<u8>,
        transport: Option<Transport>,
        lost: Rc<RefCell<Option<String>>>,
    }
    impl Protocol for ReceiveStuff {
        fn connection_made(&mut self, t: Transport) {
            self.transport = Some(t);
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            *self.lost.borrow_mut() = Some(format!("{:?}", exc.map(|e| e.kind())));
        }
        fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
            Some(self)
        }
    }
    impl asyncio::BufferedProtocol for ReceiveStuff {
        fn get_buffer(&mut self, _hint: usize) -> &mut [u8] {
            self.buffer = vec![0; 100];
            &mut self.buffer
        }
        fn buffer_updated(&mut self, n: usize) {
            self.data.extend_from_slice(&self.buffer[..n]);
            if self.data == self.noise {
                self.transport.as_ref().unwrap().write(b"1").unwrap();
            }
        }
    }
    let noise: Vec<u8> = b"12345678+".repeat(1024);
    let lp = EventLoop::new().unwrap();
    let n = noise.clone();
    let handler = move |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| {
        let n = n.clone();
        async move {
            writer.write(&n)?;
            reader.readexactly(1).await?;
            writer.close();
            writer.wait_closed().await
        }
    };
    let server = lp
        .run_until_complete(asyncio::start_server(handler, "127.0.0.1", 0).into_future())
        .unwrap()
        .unwrap();
    let port = util::port_of(&server);
    let lost = Rc::new(RefCell::new(None));
    let (l, want) = (lost.clone(), noise.clone());
    let factory = move || ReceiveStuff {
        buffer: Vec::new(),
        data: Vec::new(),
        noise: want.clone(),
        transport: None,
        lost: l.clone(),
    };
    let (_t, p) = lp
        .run_until_complete(lp.create_connection(factory, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    run_until(&lp, 10_000, || lost.borrow().is_some());
    assert_eq!(lost.borrow().as_deref(), Some("None"));
    assert_eq!(p.borrow().data, noise);
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}
