//! A scope against CPython's own traces (L39, L40): a task runs `asyncio.timeout_at(when)`
//! around a body that turns a few times; a driver moves the deadline, cancels the task, and
//! looks at `expired()` after each turn.

use super::*;

/// Runs one script: the scope's deadline `kind` (`N` none, `Z` now, `H` an hour away; `z`
/// now, through `timeout_at`, which keeps no handle), a body of `k` turns, then `ops`, one
/// per turn: `Y` nothing, `P` / `N` / `H` reschedule to now / none / an hour away (`E`:
/// refused), `C` cancel the task. Each turn logs `x` / `-` for `expired()` (`.` before the
/// scope began), `b` when the body ends; at the end the task's outcome.
fn scope_trace(kind: char, k: usize, ops: &str) -> String {
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let out = log.clone();
    let ops = ops.to_string();
    run(async move {
        let lp = get_running_loop().unwrap();
        let cm = Rc::new(RefCell::new(None::<Timeout>));
        let (c, l2, lp2) = (cm.clone(), log.clone(), lp.clone());
        let r = spawn(async move {
            let when = match kind {
                'N' => None,
                'Z' => Some(lp2.time()),
                _ => Some(lp2.time() + HOUR),
            };
            let body = async move {
                for _ in 0..k {
                    asyncio::yield_now().await;
                }
                l2.borrow_mut().push("b".into());
            };
            let out = if kind == 'z' {
                // `timeout_at` (wait_for's shape): no handle to move the deadline.
                asyncio::timeout_at(lp2.time(), body).await
            } else {
                timeout_scope_at(when, |t| {
                    keep(&c, &t);
                    body
                })
                .await
            };
            match out {
                Ok(()) => "ok",
                Err(Error::Timeout) => "timeout",
                Err(e) => panic!("{e}"),
            }
        });
        let snap = |log: &Rc<RefCell<Vec<String>>>| {
            let s = match cm.borrow().as_ref() {
                None => ".",
                Some(t) if t.expired() => "x",
                Some(_) => "-",
            };
            log.borrow_mut().push(s.into());
        };
        for op in ops.chars() {
            if op == 'C' {
                r.cancel();
            } else if op != 'Y' {
                let t = cm.borrow().clone();
                if let Some(t) = t {
                    let when = match op {
                        'P' => Some(lp.time()),
                        'N' => None,
                        _ => Some(lp.time() + HOUR),
                    };
                    if t.reschedule(when).is_err() {
                        log.borrow_mut().push("E".into());
                    }
                }
            }
            asyncio::yield_now().await;
            snap(&log);
        }
        for _ in 0..k + 3 {
            asyncio::yield_now().await;
        }
        let outcome = r.await.unwrap_or("cancelled");
        log.borrow_mut().push(outcome.into());
        snap(&log);
    });
    let trace = out.borrow().join(" ");
    trace
}

/// `(deadline kind, body turns, driver's operations, CPython 3.11.7's trace)`, printed by
/// `tests/cpython_traces/timeouts.py` (3000 scope scripts of seed 2 and 1500 plain ones of
/// seed 3 matched in a longer hunt).
const CPYTHON_SCOPES: &[(char, usize, &str, &str)] = &[
    ('N', 0, "", "b ok -"),
    ('Z', 1, "CHCYY", ". . . . . cancelled ."),
    ('H', 1, "YNHY", "- b - E - - ok -"),
    ('Z', 3, "HCNYNP", "- x E x x E x E x cancelled x"),
    ('H', 2, "", "b ok -"),
    ('N', 2, "YPP", "- x E x timeout x"),
    ('H', 1, "YYYY", "- b - - - ok -"),
    ('N', 2, "Y", "- b ok -"),
    ('H', 4, "NH", "- - b ok -"),
    ('H', 1, "CPH", ". . . cancelled ."),
    ('H', 2, "NYYCPY", "- - b - - E - - ok -"),
    ('Z', 3, "NYPYP", "- x E x x E x timeout x"),
    ('H', 4, "CYHPPY", ". . . . . . cancelled ."),
    ('H', 4, "PPHYY", "- x E x x x timeout x"),
    ('H', 1, "YCPY", "- - E - - cancelled -"),
    ('Z', 4, "NNHN", "- - - - b ok -"),
    ('H', 3, "HY", "- - b ok -"),
    ('Z', 4, "HN", "- - b ok -"),
    ('N', 2, "YCYHY", "- - - E - - cancelled -"),
    ('N', 4, "YYNYH", "- - - - b - ok -"),
    ('N', 4, "C", ". cancelled ."),
    ('Z', 1, "YYPHCY", "- x E x E x x x timeout x"),
    ('N', 2, "YY", "- - b ok -"),
    ('H', 0, "", "b ok -"),
    ('N', 0, "", "b ok -"),
    ('N', 0, "YY", "b - - ok -"),
    ('N', 1, "HYPN", "- b - E - E - ok -"),
    ('N', 1, "Y", "- b ok -"),
    ('N', 2, "HHHY", "- - b - - ok -"),
    ('Z', 2, "YYP", "- x E x timeout x"),
    ('H', 4, "YYCPC", "- - - E - - cancelled -"),
    ('H', 1, "YYH", "- b - E - ok -"),
    ('H', 2, "YYPCCY", "- - b - - - - ok -"),
    ('H', 4, "PPNYYC", "- x E x x x x timeout x"),
    ('Z', 2, "NP", "- x timeout x"),
    ('H', 0, "NYHYY", "b - - E - - - ok -"),
    ('N', 1, "Y", "- b ok -"),
    ('N', 3, "YNHYY", "- - - b - - ok -"),
    ('N', 3, "", "b ok -"),
    ('Z', 0, "YNCC", "b - E - - - ok -"),
    ('H', 2, "HP", "- x timeout x"),
    ('Z', 4, "YYYPPY", "- x x E x E x x timeout x"),
    ('N', 4, "YYYYY", "- - - - b - ok -"),
    ('N', 1, "", "b ok -"),
    ('N', 0, "HPPY", "b - E - E - - ok -"),
    ('H', 3, "H", "- b ok -"),
    ('N', 3, "NYN", "- - - b ok -"),
    ('H', 0, "NNY", "b - E - - ok -"),
    ('N', 3, "YN", "- - b ok -"),
    ('N', 4, "YH", "- - b ok -"),
    ('Z', 2, "", "timeout x"),
    ('H', 3, "", "b ok -"),
    ('N', 2, "C", ". cancelled ."),
    ('H', 0, "PYPHPP", "b - - E - E - E - E - ok -"),
    ('N', 4, "YYYY", "- - - - b ok -"),
    ('Z', 2, "YYCPY", "- x x E x x timeout x"),
    ('N', 4, "PH", "- - b ok -"),
    ('Z', 1, "YPYYYY", "- b - - - - - ok -"),
    ('N', 4, "YHPYHY", "- - x x E x x timeout x"),
    ('N', 4, "PCYHH", "- - - E - E - cancelled -"),
    ('Z', 2, "PY", "- x timeout x"),
    ('Z', 2, "NCP", "- x E x cancelled x"),
    ('H', 3, "CHY", ". . . cancelled ."),
    ('Z', 1, "P", "- timeout x"),
    ('H', 2, "PHHH", "- - b - E - ok -"),
    ('N', 4, "CNYYY", ". . . . . cancelled ."),
    ('N', 4, "C", ". cancelled ."),
    ('Z', 0, "YHCHYY", "b - E - - E - - - ok -"),
    ('Z', 3, "H", "- timeout x"),
    ('H', 2, "YNY", "- - b - ok -"),
    ('N', 1, "CPYY", ". . . . cancelled ."),
    ('H', 1, "NYYYP", "- b - - - E - ok -"),
    ('H', 1, "CYC", ". . . cancelled ."),
    ('H', 1, "PHY", "- b - - ok -"),
    ('H', 3, "YPNYP", "- x E x x E x timeout x"),
    ('Z', 3, "HH", "- - b ok -"),
    ('Z', 3, "NY", "- x timeout x"),
    ('H', 0, "CCHYNN", ". . . . . . cancelled ."),
    ('N', 3, "HPHYYP", "- x E x x x E x timeout x"),
    ('H', 3, "YCYYP", "- - - - E - cancelled -"),
    ('N', 4, "PYYP", "- - - x timeout x"),
    ('H', 1, "HN", "- b - ok -"),
    ('H', 1, "CNY", ". . . cancelled ."),
    ('N', 4, "PPYNN", "- x x E x E x timeout x"),
    ('N', 3, "YCYYY", "- - - - - cancelled -"),
    ('Z', 4, "HHYCNP", "- - - - E - E - cancelled -"),
    ('H', 2, "YNP", "- - b - ok -"),
    ('N', 0, "CYYC", ". . . . cancelled ."),
    ('Z', 2, "HCCCH", "- x x x E x cancelled x"),
    ('N', 0, "P", "b - ok -"),
    ('Z', 3, "YYYYN", "- x x x E x timeout x"),
    ('Z', 0, "YN", "b - E - ok -"),
    ('Z', 4, "YCH", "- x E x cancelled x"),
    ('Z', 3, "YPHNH", "- x E x E x E x timeout x"),
    ('Z', 0, "CY", ". . cancelled ."),
    ('Z', 2, "CYHHP", ". . . . . cancelled ."),
    ('H', 0, "HYPN", "b - - E - E - ok -"),
    ('H', 1, "NHYYYY", "- b - - - - - ok -"),
    ('Z', 4, "N", "- timeout x"),
    ('Z', 0, "", "b ok -"),
    ('N', 3, "YYYYYY", "- - - b - - - ok -"),
    ('Z', 2, "P", "- timeout x"),
    ('Z', 2, "YHP", "- - b - ok -"),
    ('H', 1, "YY", "- b - ok -"),
    ('N', 1, "YCH", "- - E - cancelled -"),
    ('Z', 1, "YC", "- x cancelled x"),
    ('N', 1, "CN", ". . cancelled ."),
    ('H', 3, "CCH", ". . . cancelled ."),
    ('Z', 2, "NNNHH", "- - b - E - E - ok -"),
    ('Z', 3, "HCHHCH", "- x E x E x x E x cancelled x"),
    ('Z', 4, "HHYY", "- - - - b ok -"),
    ('Z', 3, "YYY", "- x x timeout x"),
    ('Z', 3, "", "timeout x"),
    ('N', 2, "YYY", "- - b - ok -"),
    ('Z', 1, "YH", "- b - ok -"),
    ('H', 3, "", "b ok -"),
    ('H', 2, "C", ". cancelled ."),
    ('H', 3, "YPHY", "- x E x x timeout x"),
    ('Z', 2, "P", "- timeout x"),
    ('N', 1, "YYYYPY", "- b - - - E - - ok -"),
    ('z', 4, "YYNP", ". . . . timeout ."),
    ('z', 4, "", "timeout ."),
    ('z', 2, "YYHP", ". . . . timeout ."),
    ('z', 3, "CYYHY", ". . . . . cancelled ."),
    ('z', 0, "CYYCN", ". . . . . cancelled ."),
    ('z', 2, "YCCYPN", ". . . . . . cancelled ."),
    ('z', 3, "HCN", ". . . cancelled ."),
    ('z', 1, "YY", ". . timeout ."),
    ('z', 3, "Y", ". timeout ."),
    ('z', 2, "NCP", ". . . cancelled ."),
    ('z', 4, "PNYY", ". . . . timeout ."),
    ('z', 2, "HHYH", ". . . . timeout ."),
    ('z', 4, "NYHH", ". . . . timeout ."),
    ('z', 4, "YY", ". . timeout ."),
    ('z', 3, "HPYYCY", ". . . . . . timeout ."),
    ('z', 1, "", "timeout ."),
    ('z', 3, "PCYYNN", ". . . . . . cancelled ."),
    ('z', 3, "NYNYN", ". . . . . timeout ."),
    ('z', 0, "YY", "b . . ok ."),
    ('z', 4, "YYPY", ". . . . timeout ."),
    ('z', 1, "YCYYY", ". . . . . cancelled ."),
    ('z', 3, "PCN", ". . . cancelled ."),
    ('z', 4, "NYNCN", ". . . . . timeout ."),
    ('z', 3, "HHYYP", ". . . . . timeout ."),
    ('z', 4, "NY", ". . timeout ."),
    ('z', 3, "YYPN", ". . . . timeout ."),
    ('z', 0, "HYPYH", "b . . . . . ok ."),
    ('z', 4, "YHPYN", ". . . . . timeout ."),
    ('z', 0, "YH", "b . . ok ."),
    ('z', 2, "NYYY", ". . . . timeout ."),
    ('z', 2, "YCNYYC", ". . . . . . cancelled ."),
    ('z', 0, "CYNHHY", ". . . . . . cancelled ."),
    ('z', 4, "H", ". timeout ."),
    ('z', 1, "YH", ". . timeout ."),
    ('z', 0, "", "b ok ."),
    ('z', 2, "CYPCC", ". . . . . cancelled ."),
    ('z', 0, "HH", "b . . ok ."),
    ('z', 4, "YYC", ". . . timeout ."),
    ('z', 0, "YYCC", "b . . . . ok ."),
    ('z', 2, "CC", ". . cancelled ."),
];

#[test]
fn l39_l40_scopes_follow_cpython_step_by_step() {
    let mut bad = Vec::new();
    for &(kind, k, ops, expected) in CPYTHON_SCOPES {
        let got = scope_trace(kind, k, ops);
        if got != expected {
            bad.push(format!("{kind} {k} {ops}\n  py: {expected}\n  rs: {got}"));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}
