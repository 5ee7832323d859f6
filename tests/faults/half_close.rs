//! A peer's half-close (FIN): we read EOF and keep writing, at the stream and at the protocol
//! layer (L47, L62, L63, S17, S63).

use super::*;

#[test]
fn peer_half_close_reads_eof_and_we_keep_writing_s63_s17_l62_l63() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let fds = open_fds();
    let (l, port) = listener();
    const TOTAL: usize = 4 << 20;
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"request\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap(); // half-close, then keep reading
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let pattern = |i: usize| (i % 253) as u8;
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"request\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"", "S25: EOF");
        assert!(reader.at_eof(), "S17");
        assert_eq!(
            reader.read(10).await.unwrap(),
            b"",
            "S24: b'' at EOF, again"
        );
        assert_eq!(reader.readline().await.unwrap(), b"", "S27");
        match reader.readexactly(1).await {
            Err(Error::IncompleteRead { partial, expected }) => {
                assert!(partial.is_empty());
                assert_eq!(expected, Some(1));
            }
            other => panic!("S38: {other:?}"),
        }
        let t = writer.transport();
        assert!(
            !t.is_closing(),
            "S63: EOF keeps a plain transport open for writing"
        );
        assert!(!t.is_reading(), "L63: reading is over after EOF");
        // Write 4 MiB in 64 KiB writes, draining after each: the peer reads them all.
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        for chunk in data.chunks(64 * KIB) {
            writer.write(chunk).unwrap();
            writer.drain().await.unwrap();
        }
        writer.write_eof().unwrap(); // the peer's read_to_end ends
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    let got = peer.join().unwrap();
    assert_eq!(got.len(), TOTAL);
    assert!(
        got.iter().enumerate().all(|(i, &b)| b == pattern(i)),
        "corrupted"
    );
    assert_loop_empty(&lp, 0);
    assert_eq!(open_fds(), fds);
}

#[test]
fn peer_half_close_at_the_protocol_layer_keeps_writing_when_asked_l47_l62() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (l, port) = listener();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"bye").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let rec = Recorder {
        keep_open_on_eof: true,
        on_eof: Some(Box::new(|t: &Transport| t.write(b"still here").unwrap())),
        ..Default::default()
    };
    let (t, proto) = lp
        .run_until_complete(lp.create_connection(move || rec, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    run_until(&lp, 1000, || {
        proto.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!t.is_closing(), "L47: eof_received returned true");
    t.write(b" and here").unwrap();
    t.close();
    run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    assert_eq!(peer.join().unwrap(), b"still here and here");
}
