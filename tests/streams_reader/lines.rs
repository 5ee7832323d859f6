//! lines() (S40, issue #8): a line stream that ends at EOF, goes on after a limit overrun and
//! reports a stored exception every time.

use super::*;

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
