//! feed_data, feed_eof and read(n): empty and non-empty feeds, read(0), read to EOF, at_eof,
//! the limit that bounds no read, a stored exception (S11, S13, S17, S19, S23–S25).

use super::*;

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
