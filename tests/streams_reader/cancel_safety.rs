//! Cancel safety (S22, D1): every read dropped pending, or woken then cancelled before it
//! runs, leaves the bytes it had seen in the buffer.

use super::*;

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
