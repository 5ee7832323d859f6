//! `TaskGroup` against CPython's own outcomes: random groups of children that end after a
//! number of turns, some failing, started by a body that may fail itself, the task around
//! the group cancelled after some turns or not. The tables are printed by
//! `tests/cpython_traces/taskgroup.py` (CPython 3.11.7); 2000 groups of each kind (seeds 3
//! and 5) matched in a longer hunt.

use super::*;
use std::cell::RefCell;

/// What the children did: those that ended normally, those that were cancelled, and those
/// whose `create_task` of a grandchild was refused.
#[derive(Default)]
struct Seen {
    done: Vec<usize>,
    cancelled: Vec<usize>,
    refused: Vec<usize>,
}

/// Logs its child as cancelled if dropped before it ended.
struct Ends(Rc<RefCell<Seen>>, usize, bool);

impl Drop for Ends {
    fn drop(&mut self) {
        if !self.2 {
            self.0.borrow_mut().cancelled.push(self.1);
        }
    }
}

/// `group:<name>,<name>` for a group's failures.
fn group_names(errors: &[Error]) -> String {
    let names: Vec<String> = errors
        .iter()
        .map(|e| match e {
            Error::InvalidArgument(m) => m.clone(),
            other => other.to_string(),
        })
        .collect();
    format!("group:{}", names.join(","))
}

/// Records, as `group:<names>`, the failures a dropped group reports to the loop's handler.
fn record_group_reports() -> Rc<RefCell<Vec<String>>> {
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    asyncio::get_running_loop()
        .unwrap()
        .set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                let group = ctx
                    .exception
                    .as_ref()
                    .and_then(|e| e.downcast_ref::<Error>());
                match group {
                    Some(Error::Group(errors)) => r.borrow_mut().push(group_names(errors)),
                    _ => panic!("unexpected report: {}", ctx.message),
                }
            },
        ));
    reports
}

/// Child `i` of group `g`: turns `k` times, then fails (`F`), ends (`o`), or starts a
/// grandchild `10 + i` of one turn and ends (`S`).
fn child(g: TaskGroup, seen: Rc<RefCell<Seen>>, i: usize, k: usize, kind: u8) -> BoxedChild {
    Box::pin(async move {
        let mut ends = Ends(seen.clone(), i, false);
        for _ in 0..k {
            yield_now().await;
        }
        ends.2 = true;
        match kind {
            b'F' => return Err(bad(&format!("c{i}"))),
            b'S' => match g.create_task(child(g.clone(), seen.clone(), 10 + i, 1, b'o')) {
                Ok(t) => t.detach(),
                Err(_) => seen.borrow_mut().refused.push(i),
            },
            _ => {}
        }
        seen.borrow_mut().done.push(i);
        Ok(())
    })
}

type BoxedChild = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// Runs one group in a task: `children` is `<start turn><turns><F|o|S>;...`, the body turns
/// `bturns` times (starting each child at its turn) and then fails if `bfail`; the task is
/// cancelled after `cancel_at` turns, if given.
fn group_trace(children: &str, bturns: usize, bfail: bool, cancel_at: Option<usize>) -> String {
    let spawns = children.contains('S');
    let specs: Vec<(usize, usize, u8)> = children
        .split(';')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let b = c.as_bytes();
            ((b[0] - b'0') as usize, (b[1] - b'0') as usize, b[2])
        })
        .collect();
    let seen = Rc::new(RefCell::new(Seen::default()));
    let out = Rc::new(RefCell::new(String::new()));
    let (s2, o2) = (seen.clone(), out.clone());
    run(async move {
        let seen = s2;
        let reported = record_group_reports();
        let runner = spawn(TaskGroup::run(move |g| async move {
            for t in 0..=bturns {
                for (i, &(start, k, kind)) in specs.iter().enumerate() {
                    if start == t {
                        g.create_task(child(g.clone(), seen.clone(), i, k, kind))?
                            .detach();
                    }
                }
                if t < bturns {
                    yield_now().await;
                }
            }
            if bfail {
                return Err(bad("body"));
            }
            Ok::<_, Error>(())
        }));
        if let Some(turns) = cancel_at {
            for _ in 0..turns {
                yield_now().await;
            }
            runner.cancel();
        }
        *o2.borrow_mut() = match runner.await {
            // The port's documented difference: a group whose `run` is dropped (its task
            // cancelled) cannot raise the failures it collected, as CPython's `__aexit__`
            // does when cancelled while aborting; it reports them through the loop's
            // exception handler instead. Counted as raised when reported so.
            Err(_) => reported
                .borrow_mut()
                .pop()
                .unwrap_or_else(|| "cancelled".into()),
            Ok(Ok(())) => "ok".into(),
            Ok(Err(Error::Group(errors))) => group_names(&errors),
            Ok(Err(e)) => format!("error:{e}"),
        };
    });
    let mut seen = seen.borrow_mut();
    seen.done.sort_unstable();
    seen.cancelled.sort_unstable();
    seen.refused.sort_unstable();
    let mut trace = format!(
        "{} done={:?} cancelled={:?}",
        out.borrow(),
        seen.done,
        seen.cancelled
    );
    if spawns {
        trace.push_str(&format!(" refused={:?}", seen.refused));
    }
    trace
}

/// `taskgroup.py 150 3`: `(children, body turns, body fails, CPython 3.11.7's outcome)`.
const CPYTHON_GROUPS: &[(&str, usize, bool, &str)] = &[
    (
        "02o;15o;03F;01o",
        1,
        false,
        "group:c2 done=[0, 3] cancelled=[1]",
    ),
    ("35o;15F;43o", 4, false, "group:c1 done=[] cancelled=[0, 2]"),
    ("02o", 0, false, "ok done=[0] cancelled=[]"),
    ("25o;15o;13o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("00F;02o", 1, false, "group:c0 done=[] cancelled=[1]"),
    ("23o;24o;02o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    (
        "25F;14o;20o;05o",
        2,
        false,
        "group:c0 done=[1, 2, 3] cancelled=[]",
    ),
    ("", 2, true, "group:body done=[] cancelled=[]"),
    ("", 3, false, "ok done=[] cancelled=[]"),
    ("00F;00F;03o", 0, false, "group:c0,c1 done=[] cancelled=[2]"),
    (
        "00o;00o;01o;14F",
        2,
        false,
        "group:c3 done=[0, 1, 2] cancelled=[]",
    ),
    ("11o;13o", 2, false, "ok done=[0, 1] cancelled=[]"),
    (
        "04o;42o;12o;24o",
        4,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    (
        "20o;10o;23o;24o",
        3,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    (
        "05F;02o;04o;02F",
        0,
        false,
        "group:c3 done=[1] cancelled=[0, 2]",
    ),
    ("23F;04o", 4, true, "group:body done=[] cancelled=[0, 1]"),
    ("21o", 4, false, "ok done=[0] cancelled=[]"),
    ("", 0, false, "ok done=[] cancelled=[]"),
    ("11F", 2, false, "group:c0 done=[] cancelled=[]"),
    (
        "12F;00o;02o;02o",
        1,
        false,
        "group:c0 done=[1, 2, 3] cancelled=[]",
    ),
    (
        "04F;04o;03o;02o",
        0,
        false,
        "group:c0 done=[1, 2, 3] cancelled=[]",
    ),
    ("10o", 3, false, "ok done=[0] cancelled=[]"),
    (
        "34o;10o;42o;10o",
        4,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("00o", 0, false, "ok done=[0] cancelled=[]"),
    ("00o;01o;05F", 1, false, "group:c2 done=[0, 1] cancelled=[]"),
    (
        "02F;00o;00o;01F",
        0,
        false,
        "group:c3,c0 done=[1, 2] cancelled=[]",
    ),
    ("", 1, false, "ok done=[] cancelled=[]"),
    ("02F;44o;03o", 4, false, "group:c0 done=[] cancelled=[2]"),
    ("00F", 0, false, "group:c0 done=[] cancelled=[]"),
    ("", 0, false, "ok done=[] cancelled=[]"),
    ("12F;35o", 3, false, "group:c0 done=[] cancelled=[1]"),
    ("13F", 2, false, "group:c0 done=[] cancelled=[]"),
    ("", 3, false, "ok done=[] cancelled=[]"),
    ("04o;05o", 0, false, "ok done=[0, 1] cancelled=[]"),
    ("", 3, false, "ok done=[] cancelled=[]"),
    ("35o;01F", 3, false, "group:c1 done=[] cancelled=[]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    ("00o;14o;10o", 1, true, "group:body done=[0] cancelled=[]"),
    ("05o;40o;03F", 4, false, "group:c2 done=[] cancelled=[0]"),
    (
        "04F;01o;00F;05o",
        0,
        false,
        "group:c2 done=[1] cancelled=[0, 3]",
    ),
    (
        "10F;24o;00o;04F",
        2,
        false,
        "group:c0 done=[2] cancelled=[3]",
    ),
    ("01o", 4, false, "ok done=[0] cancelled=[]"),
    (
        "32o;32o;03o;35o",
        3,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    (
        "45o;31F;35o;43o",
        4,
        false,
        "group:c1 done=[] cancelled=[0, 2, 3]",
    ),
    ("01o;11o", 1, false, "ok done=[0, 1] cancelled=[]"),
    ("24o;11o;13o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("12o;13o", 4, false, "ok done=[0, 1] cancelled=[]"),
    ("34o", 4, false, "ok done=[0] cancelled=[]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    ("03o;05o;01o", 0, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("01o;02F", 1, true, "group:body done=[] cancelled=[0, 1]"),
    ("05o;00F;10o", 1, false, "group:c1 done=[] cancelled=[0]"),
    ("", 2, true, "group:body done=[] cancelled=[]"),
    ("13F;24o;13F", 2, false, "group:c0,c2 done=[] cancelled=[1]"),
    ("", 2, false, "ok done=[] cancelled=[]"),
    ("00o;05o;02o", 0, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("", 2, false, "ok done=[] cancelled=[]"),
    (
        "24F;14o;22o;25F",
        2,
        false,
        "group:c0 done=[1, 2] cancelled=[3]",
    ),
    ("15o", 1, true, "group:body done=[] cancelled=[]"),
    ("25o", 4, false, "ok done=[0] cancelled=[]"),
    ("13o;15F", 4, false, "group:c1 done=[0] cancelled=[]"),
    (
        "45o;02F;01F;42F",
        4,
        false,
        "group:c2,c1 done=[] cancelled=[]",
    ),
    ("13o;02o", 2, false, "ok done=[0, 1] cancelled=[]"),
    ("05F;01o", 1, false, "group:c0 done=[1] cancelled=[]"),
    ("13o", 3, false, "ok done=[0] cancelled=[]"),
    (
        "01o;12F;13o;12o",
        1,
        false,
        "group:c1 done=[0, 3] cancelled=[2]",
    ),
    (
        "25o;15o;05F;14o",
        3,
        true,
        "group:body done=[] cancelled=[0, 1, 2, 3]",
    ),
    ("04o", 4, false, "ok done=[0] cancelled=[]"),
    (
        "05o;03o;00o;04F",
        0,
        false,
        "group:c3 done=[0, 1, 2] cancelled=[]",
    ),
    ("12o;00o", 2, false, "ok done=[0, 1] cancelled=[]"),
    ("", 0, false, "ok done=[] cancelled=[]"),
    ("01o", 2, false, "ok done=[0] cancelled=[]"),
    ("00o;15F", 3, false, "group:c1 done=[0] cancelled=[]"),
    (
        "01o;00o;03F;05F",
        0,
        false,
        "group:c2 done=[0, 1] cancelled=[3]",
    ),
    ("24o;01F;21o;11F", 3, true, "group:c1 done=[] cancelled=[3]"),
    (
        "15F;04F;31F;03o",
        3,
        false,
        "group:c1,c2 done=[3] cancelled=[0]",
    ),
    ("00o", 0, true, "group:body done=[] cancelled=[]"),
    ("03o", 1, true, "group:body done=[] cancelled=[0]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    (
        "05F;02o;00o;02F",
        0,
        false,
        "group:c3 done=[1, 2] cancelled=[0]",
    ),
    (
        "00F;00F;03F;01o",
        0,
        false,
        "group:c0,c1 done=[] cancelled=[2, 3]",
    ),
    (
        "15F;14o;10o",
        2,
        true,
        "group:body done=[2] cancelled=[0, 1]",
    ),
    ("", 3, false, "ok done=[] cancelled=[]"),
    ("45o;31o", 4, false, "ok done=[0, 1] cancelled=[]"),
    (
        "21o;33F;32F;14o",
        3,
        false,
        "group:c2,c1 done=[0, 3] cancelled=[]",
    ),
    ("01F;03F;02F", 3, false, "group:c0 done=[] cancelled=[1, 2]"),
    (
        "03o;02F;03o;02o",
        0,
        true,
        "group:body done=[] cancelled=[]",
    ),
    ("05F", 0, true, "group:body done=[] cancelled=[]"),
    (
        "00F;01o;14o;14o",
        1,
        false,
        "group:c0 done=[] cancelled=[1]",
    ),
    ("", 4, true, "group:body done=[] cancelled=[]"),
    (
        "00F;00F;01o;05o",
        0,
        false,
        "group:c0,c1 done=[] cancelled=[2, 3]",
    ),
    ("25o;02o;23o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    ("01o;04o", 0, false, "ok done=[0, 1] cancelled=[]"),
    (
        "01o;02F;00F;01o",
        0,
        false,
        "group:c2 done=[0] cancelled=[1, 3]",
    ),
    (
        "15o;12o;13o;13o",
        1,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("", 2, true, "group:body done=[] cancelled=[]"),
    ("", 0, false, "ok done=[] cancelled=[]"),
    (
        "20o;01o;13o;13o",
        2,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("03F", 2, false, "group:c0 done=[] cancelled=[]"),
    ("03o", 0, false, "ok done=[0] cancelled=[]"),
    ("13o;33o", 3, false, "ok done=[0, 1] cancelled=[]"),
    ("10o;12o", 2, false, "ok done=[0, 1] cancelled=[]"),
    ("", 4, true, "group:body done=[] cancelled=[]"),
    ("40F", 4, true, "group:body done=[] cancelled=[]"),
    ("12o;03F;02o", 1, false, "group:c1 done=[0, 2] cancelled=[]"),
    (
        "03o;05o;05F;00o",
        0,
        false,
        "group:c2 done=[0, 1, 3] cancelled=[]",
    ),
    (
        "01o;14o;14F;01F",
        1,
        false,
        "group:c3 done=[0] cancelled=[1, 2]",
    ),
    ("04o;02o;02F", 0, false, "group:c2 done=[1] cancelled=[0]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    ("12o;12o;04o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("13o;20o;03F", 3, false, "group:c2 done=[1] cancelled=[0]"),
    ("", 2, false, "ok done=[] cancelled=[]"),
    ("04o;01o", 0, false, "ok done=[0, 1] cancelled=[]"),
    (
        "20F;02o;34F",
        3,
        true,
        "group:c0,body done=[1] cancelled=[]",
    ),
    ("03F;05F;20o", 2, false, "group:c0 done=[2] cancelled=[1]"),
    ("03F;03F", 0, false, "group:c0,c1 done=[] cancelled=[]"),
    ("03o", 0, true, "group:body done=[] cancelled=[]"),
    ("15F;10F;02F", 1, false, "group:c1,c2 done=[] cancelled=[0]"),
    ("", 1, false, "ok done=[] cancelled=[]"),
    (
        "03o;13F;02F;01F",
        1,
        false,
        "group:c3,c2 done=[] cancelled=[0, 1]",
    ),
    ("", 4, false, "ok done=[] cancelled=[]"),
    ("03F;04o", 0, false, "group:c0 done=[] cancelled=[1]"),
    ("05o;23o;14o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("31o;25o;12o", 4, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("11F;03o", 1, true, "group:body done=[] cancelled=[1]"),
    ("", 4, true, "group:body done=[] cancelled=[]"),
    ("04o;00o;02F", 0, false, "group:c2 done=[1] cancelled=[0]"),
    ("24o;14o;25o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("12F;24F", 2, false, "group:c0 done=[] cancelled=[1]"),
    ("12o;12o", 1, false, "ok done=[0, 1] cancelled=[]"),
    (
        "43o;00o;44o;01o",
        4,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("00o;03o", 0, false, "ok done=[0, 1] cancelled=[]"),
    ("02o;23o", 4, false, "ok done=[0, 1] cancelled=[]"),
    (
        "01o;02F;01o;02o",
        0,
        true,
        "group:body done=[] cancelled=[]",
    ),
    (
        "04o;05o;03o;04o",
        0,
        false,
        "ok done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("22o", 3, true, "group:body done=[] cancelled=[0]"),
    (
        "03F;13F;03F;11o",
        1,
        false,
        "group:c0,c2 done=[3] cancelled=[1]",
    ),
    ("10o;25o;03o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("", 2, false, "ok done=[] cancelled=[]"),
    ("15o;22o;21o", 2, false, "ok done=[0, 1, 2] cancelled=[]"),
    ("", 3, true, "group:body done=[] cancelled=[]"),
    ("", 4, false, "ok done=[] cancelled=[]"),
    (
        "14o;11o;43F;35o",
        4,
        false,
        "group:c2 done=[0, 1, 3] cancelled=[]",
    ),
    ("24F;42o", 4, false, "group:c0 done=[1] cancelled=[]"),
    (
        "13F;32o;31F;03F",
        4,
        false,
        "group:c3 done=[] cancelled=[0, 1, 2]",
    ),
    ("21o", 3, false, "ok done=[0] cancelled=[]"),
    ("01o;11F;12F", 1, false, "group:c1 done=[0] cancelled=[2]"),
    ("", 2, false, "ok done=[] cancelled=[]"),
    (
        "04F;15F;22o",
        2,
        true,
        "group:body done=[] cancelled=[0, 1]",
    ),
];

#[test]
fn taskgroups_end_as_cpython_s_do() {
    let mut bad = Vec::new();
    for &(children, bturns, bfail, expected) in CPYTHON_GROUPS {
        let got = group_trace(children, bturns, bfail, None);
        if got != expected {
            bad.push(format!(
                "{children} {bturns} {bfail}\n  py: {expected}\n  rs: {got}"
            ));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}

/// `taskgroup.py 150 5 --cancel`: as [`CPYTHON_GROUPS`], the task around the group cancelled
/// after some turns:
/// `(children, body turns, body fails, cancel after, CPython 3.11.7's outcome)`.
const CPYTHON_CANCELLED_GROUPS: &[(&str, usize, bool, usize, &str)] = &[
    ("25o;40o", 4, false, 1, "cancelled done=[] cancelled=[]"),
    ("02o", 0, false, 4, "cancelled done=[0] cancelled=[]"),
    (
        "00o;02F;01o;01o",
        0,
        false,
        1,
        "cancelled done=[0] cancelled=[1, 2, 3]",
    ),
    ("", 0, false, 1, "ok done=[] cancelled=[]"),
    ("12o", 1, false, 5, "cancelled done=[0] cancelled=[]"),
    ("03F", 1, false, 1, "cancelled done=[] cancelled=[0]"),
    ("02o;04o", 1, false, 2, "cancelled done=[] cancelled=[0, 1]"),
    ("15o;13o", 2, true, 0, "cancelled done=[] cancelled=[]"),
    (
        "04o;13o;03F",
        2,
        true,
        1,
        "cancelled done=[] cancelled=[0, 2]",
    ),
    ("02o", 0, false, 2, "cancelled done=[] cancelled=[0]"),
    ("", 3, false, 6, "ok done=[] cancelled=[]"),
    ("03o;01o", 2, false, 1, "cancelled done=[] cancelled=[0, 1]"),
    ("24F;22o", 2, false, 5, "cancelled done=[1] cancelled=[0]"),
    ("11o;04o", 1, false, 1, "cancelled done=[] cancelled=[1]"),
    ("23o;10o", 4, false, 6, "cancelled done=[0, 1] cancelled=[]"),
    ("11o;15o", 3, false, 1, "cancelled done=[] cancelled=[]"),
    ("10o;21o", 3, false, 6, "cancelled done=[0, 1] cancelled=[]"),
    (
        "13o;13F;13o;03o",
        1,
        false,
        1,
        "cancelled done=[] cancelled=[3]",
    ),
    ("10o;20o", 3, false, 5, "cancelled done=[0, 1] cancelled=[]"),
    ("", 4, false, 2, "cancelled done=[] cancelled=[]"),
    ("32o;22o", 4, false, 0, "cancelled done=[] cancelled=[]"),
    (
        "22o;32o;22F;25o",
        3,
        false,
        6,
        "group:c2 done=[0] cancelled=[1, 3]",
    ),
    (
        "12o;01o;12o",
        1,
        false,
        5,
        "cancelled done=[0, 1, 2] cancelled=[]",
    ),
    ("32o", 3, false, 5, "cancelled done=[] cancelled=[0]"),
    ("", 2, true, 4, "group:body done=[] cancelled=[]"),
    (
        "11o;15o;31F;10o",
        3,
        true,
        1,
        "cancelled done=[] cancelled=[]",
    ),
    ("", 4, false, 2, "cancelled done=[] cancelled=[]"),
    (
        "04F;20o;23o;20o",
        3,
        false,
        2,
        "cancelled done=[] cancelled=[0]",
    ),
    (
        "24F;21o;45o;31F",
        4,
        false,
        3,
        "cancelled done=[] cancelled=[0, 1]",
    ),
    ("02o", 1, false, 3, "cancelled done=[0] cancelled=[]"),
    ("02o;03o", 0, false, 2, "cancelled done=[] cancelled=[0, 1]"),
    ("31o;25o;32o", 3, false, 2, "cancelled done=[] cancelled=[]"),
    ("13F;31F", 3, false, 6, "group:c0,c1 done=[] cancelled=[]"),
    ("", 3, false, 4, "ok done=[] cancelled=[]"),
    ("10F", 2, false, 1, "cancelled done=[] cancelled=[]"),
    ("14o;25o", 2, false, 0, "cancelled done=[] cancelled=[]"),
    ("02o", 0, false, 2, "cancelled done=[] cancelled=[0]"),
    ("", 4, false, 2, "cancelled done=[] cancelled=[]"),
    ("00F", 4, false, 0, "cancelled done=[] cancelled=[]"),
    ("03o", 4, false, 4, "cancelled done=[0] cancelled=[]"),
    (
        "33o;12o;02o",
        3,
        false,
        3,
        "cancelled done=[2] cancelled=[1]",
    ),
    ("32F;35o", 4, false, 2, "cancelled done=[] cancelled=[]"),
    ("34o", 4, true, 5, "group:body done=[] cancelled=[0]"),
    ("00o;02o", 1, false, 3, "cancelled done=[0, 1] cancelled=[]"),
    ("", 3, true, 0, "cancelled done=[] cancelled=[]"),
    (
        "05o;15o;01o;11F",
        1,
        false,
        4,
        "group:c3 done=[2] cancelled=[0, 1]",
    ),
    (
        "02F;05o;00o",
        0,
        false,
        4,
        "group:c0 done=[2] cancelled=[1]",
    ),
    (
        "25o;01o;14o",
        3,
        false,
        4,
        "cancelled done=[1] cancelled=[0, 2]",
    ),
    (
        "12F;12o;24o;12o",
        4,
        false,
        1,
        "cancelled done=[] cancelled=[]",
    ),
    ("04o;00o", 0, false, 3, "cancelled done=[1] cancelled=[0]"),
    (
        "20o;04o;01o",
        3,
        false,
        6,
        "cancelled done=[0, 1, 2] cancelled=[]",
    ),
    ("", 1, true, 5, "group:body done=[] cancelled=[]"),
    ("15o", 3, false, 1, "cancelled done=[] cancelled=[]"),
    ("25o;13F", 2, false, 5, "group:c1 done=[] cancelled=[0]"),
    ("14F;21o;10F", 2, true, 1, "cancelled done=[] cancelled=[]"),
    ("", 1, false, 3, "ok done=[] cancelled=[]"),
    ("", 2, false, 2, "cancelled done=[] cancelled=[]"),
    (
        "23o;11o;02o",
        4,
        false,
        3,
        "cancelled done=[1, 2] cancelled=[0]",
    ),
    (
        "10F;02o;03o;12o",
        1,
        true,
        0,
        "cancelled done=[] cancelled=[]",
    ),
    (
        "10o;22o;15o",
        3,
        true,
        5,
        "group:body done=[0] cancelled=[1, 2]",
    ),
    (
        "05F;05o;01o;00o",
        0,
        false,
        1,
        "cancelled done=[3] cancelled=[0, 1, 2]",
    ),
    ("00o", 1, false, 2, "cancelled done=[0] cancelled=[]"),
    (
        "03o;01F;00o",
        0,
        false,
        6,
        "group:c1 done=[2] cancelled=[0]",
    ),
    ("", 3, false, 0, "cancelled done=[] cancelled=[]"),
    ("", 1, false, 6, "ok done=[] cancelled=[]"),
    ("", 0, false, 3, "ok done=[] cancelled=[]"),
    ("00o;11o", 3, false, 1, "cancelled done=[0] cancelled=[]"),
    ("02o", 4, true, 1, "cancelled done=[] cancelled=[0]"),
    ("", 4, false, 1, "cancelled done=[] cancelled=[]"),
    ("", 4, false, 2, "cancelled done=[] cancelled=[]"),
    ("34o;02o;14F", 3, false, 0, "cancelled done=[] cancelled=[]"),
    (
        "11F;03F;03o",
        2,
        false,
        2,
        "cancelled done=[] cancelled=[0, 1, 2]",
    ),
    (
        "00o;02o;03o",
        0,
        false,
        6,
        "cancelled done=[0, 1, 2] cancelled=[]",
    ),
    ("", 4, false, 5, "ok done=[] cancelled=[]"),
    (
        "03F;05F;12F;14F",
        1,
        true,
        1,
        "cancelled done=[] cancelled=[0, 1]",
    ),
    ("15o;00o", 1, false, 0, "cancelled done=[] cancelled=[]"),
    ("", 0, true, 1, "group:body done=[] cancelled=[]"),
    (
        "14F;23F;02o",
        2,
        true,
        4,
        "group:body done=[] cancelled=[0, 2]",
    ),
    ("", 1, false, 4, "ok done=[] cancelled=[]"),
    ("13o", 1, true, 2, "group:body done=[] cancelled=[]"),
    ("34o", 3, false, 6, "cancelled done=[] cancelled=[0]"),
    (
        "13o;01o;15F;00o",
        1,
        false,
        5,
        "cancelled done=[0, 1, 3] cancelled=[2]",
    ),
    (
        "11F;02o;11o",
        2,
        false,
        6,
        "group:c0 done=[1, 2] cancelled=[]",
    ),
    (
        "03o;01o;00F;05F",
        0,
        false,
        6,
        "group:c2 done=[1] cancelled=[0, 3]",
    ),
    (
        "23o;20o;15F",
        2,
        false,
        4,
        "cancelled done=[1] cancelled=[0, 2]",
    ),
    ("30o", 4, true, 2, "cancelled done=[] cancelled=[]"),
    ("43o;33o;45o", 4, true, 1, "cancelled done=[] cancelled=[]"),
    ("05o;12F", 3, true, 6, "group:body done=[] cancelled=[0, 1]"),
    (
        "25o;02o;00F;05o",
        2,
        false,
        2,
        "group:c2 done=[] cancelled=[1, 3]",
    ),
    (
        "41o;00F;43o;05o",
        4,
        true,
        5,
        "group:c1 done=[] cancelled=[3]",
    ),
    ("42o", 4, true, 5, "group:body done=[] cancelled=[]"),
    ("10F;22o", 4, true, 1, "cancelled done=[] cancelled=[]"),
    (
        "01o;03F;04o",
        0,
        false,
        3,
        "cancelled done=[0] cancelled=[1, 2]",
    ),
    ("", 2, false, 2, "cancelled done=[] cancelled=[]"),
    ("01F;03F;05o", 1, false, 0, "cancelled done=[] cancelled=[]"),
    (
        "04o;01o;01o",
        0,
        false,
        6,
        "cancelled done=[0, 1, 2] cancelled=[]",
    ),
    ("", 3, true, 5, "group:body done=[] cancelled=[]"),
    ("", 1, true, 1, "cancelled done=[] cancelled=[]"),
    (
        "04o;22o;05o;24o",
        2,
        false,
        0,
        "cancelled done=[] cancelled=[]",
    ),
    ("", 2, false, 1, "cancelled done=[] cancelled=[]"),
    ("11o;01o", 1, false, 3, "cancelled done=[0, 1] cancelled=[]"),
    ("", 0, false, 2, "ok done=[] cancelled=[]"),
    ("", 1, false, 2, "ok done=[] cancelled=[]"),
    (
        "00F;02o;02o",
        0,
        false,
        3,
        "group:c0 done=[] cancelled=[1, 2]",
    ),
    (
        "02o;04o;03o;05o",
        0,
        true,
        0,
        "cancelled done=[] cancelled=[]",
    ),
    (
        "31o;31F;21o",
        4,
        true,
        6,
        "group:body done=[2] cancelled=[0, 1]",
    ),
    ("00F;13o", 1, true, 1, "group:c0 done=[] cancelled=[]"),
    (
        "03o;14o;14F",
        1,
        true,
        6,
        "group:body done=[] cancelled=[0]",
    ),
    (
        "45o;40F;35o",
        4,
        false,
        6,
        "group:c1 done=[] cancelled=[0, 2]",
    ),
    (
        "01o;12o;30o",
        3,
        false,
        3,
        "cancelled done=[0] cancelled=[1]",
    ),
    ("03o;05o", 1, false, 6, "cancelled done=[0, 1] cancelled=[]"),
    ("", 3, true, 3, "cancelled done=[] cancelled=[]"),
    (
        "01o;02o;03F",
        0,
        false,
        4,
        "group:c2 done=[0, 1] cancelled=[]",
    ),
    ("", 0, true, 3, "group:body done=[] cancelled=[]"),
    ("05o;01F", 0, false, 5, "group:c1 done=[] cancelled=[0]"),
    ("", 4, false, 0, "cancelled done=[] cancelled=[]"),
    ("22o;31o", 3, true, 0, "cancelled done=[] cancelled=[]"),
    ("", 4, false, 1, "cancelled done=[] cancelled=[]"),
    ("00F;03F;02F", 1, false, 0, "cancelled done=[] cancelled=[]"),
    ("04F;30o", 3, false, 2, "cancelled done=[] cancelled=[0]"),
    (
        "25o;43o;21o;05o",
        4,
        false,
        4,
        "cancelled done=[2] cancelled=[0, 3]",
    ),
    (
        "04F;42o;13o",
        4,
        false,
        4,
        "cancelled done=[] cancelled=[0, 2]",
    ),
    ("43F", 4, false, 0, "cancelled done=[] cancelled=[]"),
    ("12F", 2, false, 6, "group:c0 done=[] cancelled=[]"),
    ("", 1, false, 6, "ok done=[] cancelled=[]"),
    ("01o;05F", 0, false, 3, "cancelled done=[0] cancelled=[1]"),
    (
        "04F;14F;10o;15o",
        1,
        true,
        4,
        "group:body done=[] cancelled=[0]",
    ),
    ("", 3, false, 4, "ok done=[] cancelled=[]"),
    (
        "44F;05F;40F",
        4,
        false,
        2,
        "cancelled done=[] cancelled=[1]",
    ),
    (
        "05o;20o;22o;20o",
        4,
        false,
        5,
        "cancelled done=[1, 2, 3] cancelled=[0]",
    ),
    ("31o;22o;13F", 3, false, 0, "cancelled done=[] cancelled=[]"),
    ("31F;31o;34o", 3, true, 3, "cancelled done=[] cancelled=[]"),
    (
        "14o;04F;03o;12F",
        2,
        true,
        2,
        "cancelled done=[] cancelled=[0, 1, 2, 3]",
    ),
    ("23o;00o", 3, true, 0, "cancelled done=[] cancelled=[]"),
    ("00o;01o", 0, false, 2, "cancelled done=[0, 1] cancelled=[]"),
    ("00o;05o;00F", 0, true, 0, "cancelled done=[] cancelled=[]"),
    (
        "00o;01o;05F;02o",
        0,
        false,
        0,
        "cancelled done=[] cancelled=[]",
    ),
    ("04o", 1, true, 5, "group:body done=[] cancelled=[0]"),
    ("30F;43o;30F", 4, false, 1, "cancelled done=[] cancelled=[]"),
    ("12o", 3, false, 0, "cancelled done=[] cancelled=[]"),
    ("05o;14o", 1, false, 4, "cancelled done=[] cancelled=[0, 1]"),
    ("05o;13o", 2, false, 0, "cancelled done=[] cancelled=[]"),
    (
        "03o;03o;01F;05o",
        1,
        false,
        6,
        "group:c2 done=[] cancelled=[0, 1, 3]",
    ),
    (
        "02o;15o;04o",
        1,
        true,
        6,
        "group:body done=[] cancelled=[0, 2]",
    ),
    ("05o;04o", 0, false, 1, "cancelled done=[] cancelled=[0, 1]"),
    (
        "23o;12o;00o",
        4,
        true,
        6,
        "group:body done=[1, 2] cancelled=[0]",
    ),
    ("34o;25o", 3, false, 5, "cancelled done=[] cancelled=[0, 1]"),
    ("", 4, true, 3, "cancelled done=[] cancelled=[]"),
    (
        "03o;01o;00o;01o",
        0,
        false,
        6,
        "cancelled done=[0, 1, 2, 3] cancelled=[]",
    ),
    ("", 3, false, 5, "ok done=[] cancelled=[]"),
];

#[test]
fn cancelled_taskgroups_end_as_cpython_s_do() {
    let mut bad = Vec::new();
    for &(children, bturns, bfail, cancel_at, expected) in CPYTHON_CANCELLED_GROUPS {
        let got = group_trace(children, bturns, bfail, Some(cancel_at));
        if got != expected {
            bad.push(format!(
                "{children} {bturns} {bfail} {cancel_at}\n  py: {expected}\n  rs: {got}"
            ));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn a_task_that_ends_in_the_turn_the_body_ends_still_holds_the_group_for_a_turn() {
    // One child ends at once (turn 2), the body ends after one turn (also turn 2), the task
    // around the group is cancelled after two turns. CPython: the child leaves the group's
    // `_tasks` only in its done callback (turn 3), so `__aexit__` waits, the cancellation
    // reaches it there, and the task ends cancelled. Ours counted the child out as it ended:
    // the group returned Ok in turn 2, before the cancellation.
    assert_eq!(
        group_trace("00o", 1, false, Some(2)),
        "cancelled done=[0] cancelled=[]"
    );
}

#[test]
fn cancelling_the_task_around_a_group_does_not_overtake_tasks_queued_before_it() {
    // Two children: one ends at once, the other after one turn; the task around the group
    // is cancelled after two turns, in the turn where the first ends and the second yields.
    // CPython: the second child's step was queued before the cancellation's, so it ends
    // normally first. Ours woke `run` as the first child ended, which put the group's task
    // in the queue ahead of the second child; the cancellation then dropped the group there
    // and the second child with it.
    assert_eq!(
        group_trace("00o;01o", 0, false, Some(2)),
        "cancelled done=[0, 1] cancelled=[]"
    );
}

/// `taskgroup.py 150 7 --spawn` (2000 matched in a longer hunt): groups whose children may
/// start a grandchild as they end (`S`), accepted or refused, some groups cancelled:
/// `(children, body turns, body fails, cancel after, CPython 3.11.7's outcome)`.
const CPYTHON_SPAWNING_GROUPS: &[(&str, usize, bool, Option<usize>, &str)] = &[
    ("15o", 2, true, None, "group:body done=[] cancelled=[0]"),
    (
        "04o;00S;10o;04S",
        2,
        true,
        None,
        "group:body done=[1, 2] cancelled=[0, 3, 11] refused=[]",
    ),
    (
        "04S;10o;04o;13o",
        1,
        false,
        None,
        "ok done=[0, 1, 2, 3, 10] cancelled=[] refused=[]",
    ),
    (
        "04S",
        4,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    ("", 4, false, None, "ok done=[] cancelled=[]"),
    (
        "32S;32F;11o;04F",
        3,
        false,
        Some(2),
        "cancelled done=[] cancelled=[2, 3] refused=[]",
    ),
    (
        "00S;31F",
        3,
        true,
        None,
        "group:body done=[0, 10] cancelled=[] refused=[]",
    ),
    ("", 0, false, None, "ok done=[] cancelled=[]"),
    (
        "23S;10o",
        2,
        false,
        Some(3),
        "cancelled done=[1] cancelled=[0] refused=[]",
    ),
    ("", 0, false, Some(2), "ok done=[] cancelled=[]"),
    (
        "25S;20S;21S",
        4,
        true,
        None,
        "group:body done=[1, 2] cancelled=[0, 11] refused=[]",
    ),
    (
        "21S",
        2,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    (
        "03S",
        0,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    (
        "32S;11o",
        4,
        true,
        Some(1),
        "cancelled done=[] cancelled=[] refused=[]",
    ),
    ("", 1, false, None, "ok done=[] cancelled=[]"),
    (
        "01S;22S",
        2,
        false,
        Some(1),
        "cancelled done=[] cancelled=[0] refused=[]",
    ),
    (
        "03S;33S;30S;30o",
        4,
        true,
        None,
        "group:body done=[0, 2, 3] cancelled=[1] refused=[]",
    ),
    ("", 1, false, None, "ok done=[] cancelled=[]"),
    (
        "04o;04o;01S;01F",
        0,
        false,
        None,
        "group:c3 done=[2] cancelled=[0, 1, 12] refused=[]",
    ),
    ("", 3, true, None, "group:body done=[] cancelled=[]"),
    (
        "20o;05F;23o",
        3,
        false,
        Some(1),
        "cancelled done=[] cancelled=[1]",
    ),
    ("24o", 2, false, Some(2), "cancelled done=[] cancelled=[]"),
    (
        "01F;04S",
        0,
        false,
        Some(2),
        "group:c0 done=[] cancelled=[1] refused=[]",
    ),
    (
        "01S;01S;12o;02S",
        1,
        false,
        Some(5),
        "cancelled done=[0, 1, 2, 3, 10, 11, 13] cancelled=[] refused=[]",
    ),
    (
        "22F;01o;03o",
        2,
        false,
        Some(3),
        "cancelled done=[1] cancelled=[0, 2]",
    ),
    ("", 4, false, None, "ok done=[] cancelled=[]"),
    ("", 0, false, Some(6), "ok done=[] cancelled=[]"),
    (
        "03F;05S;13o",
        1,
        false,
        None,
        "group:c0 done=[] cancelled=[1, 2] refused=[]",
    ),
    ("05o", 0, false, None, "ok done=[0] cancelled=[]"),
    ("24o", 2, true, Some(6), "group:body done=[] cancelled=[]"),
    (
        "03o;00F;02S;04F",
        0,
        false,
        None,
        "group:c1 done=[] cancelled=[0, 2, 3] refused=[]",
    ),
    (
        "05S;04o",
        0,
        false,
        Some(4),
        "cancelled done=[] cancelled=[0, 1] refused=[]",
    ),
    (
        "04o;01o;04o",
        0,
        false,
        Some(2),
        "cancelled done=[1] cancelled=[0, 2]",
    ),
    (
        "43o;40o;12o;04S",
        4,
        false,
        None,
        "ok done=[0, 1, 2, 3, 13] cancelled=[] refused=[]",
    ),
    (
        "15F;34S",
        3,
        false,
        None,
        "group:c0 done=[] cancelled=[1] refused=[]",
    ),
    (
        "41S;13o",
        4,
        false,
        None,
        "ok done=[0, 1, 10] cancelled=[] refused=[]",
    ),
    (
        "01F;01F;02o",
        1,
        false,
        Some(1),
        "cancelled done=[] cancelled=[0, 1, 2]",
    ),
    (
        "01o;05S;02S",
        0,
        true,
        None,
        "group:body done=[] cancelled=[] refused=[]",
    ),
    ("", 2, false, None, "ok done=[] cancelled=[]"),
    (
        "04S;04o;01o",
        0,
        true,
        None,
        "group:body done=[] cancelled=[] refused=[]",
    ),
    (
        "03F;11S",
        1,
        false,
        None,
        "group:c0 done=[1] cancelled=[11] refused=[]",
    ),
    ("", 2, false, Some(6), "ok done=[] cancelled=[]"),
    (
        "02o;02o;00F",
        1,
        false,
        None,
        "group:c2 done=[] cancelled=[0, 1]",
    ),
    (
        "12S;00S;21o;02o",
        2,
        true,
        Some(2),
        "cancelled done=[1] cancelled=[0, 3, 11] refused=[]",
    ),
    (
        "02S;25o;12o;10o",
        2,
        true,
        Some(4),
        "group:body done=[3] cancelled=[0, 2] refused=[]",
    ),
    (
        "11S;05S;14S;15o",
        1,
        false,
        None,
        "ok done=[0, 1, 2, 3, 10, 11, 12] cancelled=[] refused=[]",
    ),
    (
        "10o;00F;11o",
        1,
        true,
        None,
        "group:c1,body done=[] cancelled=[]",
    ),
    ("41F;03o", 4, true, None, "group:body done=[1] cancelled=[]"),
    ("14F;00F", 2, false, None, "group:c1 done=[] cancelled=[]"),
    (
        "03F;25o;04o",
        2,
        true,
        None,
        "group:body done=[] cancelled=[0, 2]",
    ),
    (
        "03o;12o;04S",
        1,
        false,
        Some(1),
        "cancelled done=[] cancelled=[0, 2] refused=[]",
    ),
    (
        "25S;12S;10S",
        4,
        false,
        Some(5),
        "cancelled done=[1, 2, 12] cancelled=[0, 11] refused=[]",
    ),
    (
        "44S",
        4,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    ("00o", 4, true, None, "group:body done=[0] cancelled=[]"),
    (
        "05o;13F;03o",
        3,
        false,
        Some(4),
        "cancelled done=[2] cancelled=[0, 1]",
    ),
    (
        "05S;00F;05o;05S",
        0,
        false,
        None,
        "group:c1 done=[] cancelled=[0, 2, 3] refused=[]",
    ),
    (
        "04o;04o",
        3,
        false,
        Some(5),
        "cancelled done=[0, 1] cancelled=[]",
    ),
    (
        "21o;10S;15o;21S",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 3, 11, 13] cancelled=[] refused=[]",
    ),
    (
        "30S;12o;30F",
        3,
        false,
        Some(6),
        "group:c2 done=[0, 1] cancelled=[10] refused=[]",
    ),
    ("31o;04o", 3, true, None, "group:body done=[] cancelled=[1]"),
    (
        "25S",
        2,
        false,
        Some(0),
        "cancelled done=[] cancelled=[] refused=[]",
    ),
    (
        "13S",
        2,
        true,
        None,
        "group:body done=[] cancelled=[0] refused=[]",
    ),
    (
        "25o;32S;20F",
        3,
        true,
        None,
        "group:c2,body done=[] cancelled=[0] refused=[]",
    ),
    ("", 3, false, Some(1), "cancelled done=[] cancelled=[]"),
    (
        "02o;03S",
        0,
        true,
        None,
        "group:body done=[] cancelled=[] refused=[]",
    ),
    ("00F;01F", 0, false, None, "group:c0 done=[] cancelled=[1]"),
    (
        "05S;24o;20o",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 10] cancelled=[] refused=[]",
    ),
    ("23o", 4, false, None, "ok done=[0] cancelled=[]"),
    (
        "12F;12F;15o",
        1,
        false,
        Some(4),
        "group:c0,c1 done=[] cancelled=[2]",
    ),
    ("", 3, true, None, "group:body done=[] cancelled=[]"),
    (
        "14o;12S;11S;01o",
        1,
        true,
        None,
        "group:body done=[] cancelled=[3] refused=[]",
    ),
    (
        "12S",
        2,
        false,
        Some(0),
        "cancelled done=[] cancelled=[] refused=[]",
    ),
    (
        "35S;13F;20S",
        3,
        false,
        None,
        "group:c1 done=[2, 12] cancelled=[0] refused=[]",
    ),
    (
        "10F;13S;33F;01o",
        4,
        false,
        None,
        "group:c0 done=[3] cancelled=[1] refused=[]",
    ),
    (
        "00S;43S;10o",
        4,
        true,
        Some(4),
        "cancelled done=[0, 2, 10] cancelled=[] refused=[]",
    ),
    (
        "04o;01o;05F",
        0,
        false,
        None,
        "group:c2 done=[0, 1] cancelled=[]",
    ),
    (
        "00o;24S;13F",
        4,
        false,
        None,
        "group:c2 done=[0] cancelled=[1] refused=[]",
    ),
    (
        "03F;05o;04o;00S",
        0,
        false,
        None,
        "group:c0 done=[3, 13] cancelled=[1, 2] refused=[]",
    ),
    (
        "05S",
        0,
        true,
        Some(1),
        "group:body done=[] cancelled=[] refused=[]",
    ),
    (
        "13o;25S",
        3,
        false,
        None,
        "ok done=[0, 1, 11] cancelled=[] refused=[]",
    ),
    (
        "01S;02o",
        0,
        false,
        None,
        "ok done=[0, 1, 10] cancelled=[] refused=[]",
    ),
    ("", 2, false, Some(3), "ok done=[] cancelled=[]"),
    ("13o", 1, false, None, "ok done=[0] cancelled=[]"),
    ("04o", 0, false, None, "ok done=[0] cancelled=[]"),
    (
        "15F;00o;11o",
        1,
        false,
        Some(4),
        "cancelled done=[1, 2] cancelled=[0]",
    ),
    ("", 3, false, None, "ok done=[] cancelled=[]"),
    ("11o;00F", 2, true, None, "group:c1 done=[] cancelled=[]"),
    ("32F", 4, false, None, "group:c0 done=[] cancelled=[]"),
    (
        "02S;01F;05S",
        0,
        true,
        None,
        "group:body done=[] cancelled=[] refused=[]",
    ),
    ("", 3, false, None, "ok done=[] cancelled=[]"),
    ("05o;02F", 0, false, None, "group:c1 done=[] cancelled=[0]"),
    ("12o;24o", 2, true, None, "group:body done=[] cancelled=[0]"),
    (
        "32S;31S;10F",
        3,
        false,
        None,
        "group:c2 done=[] cancelled=[] refused=[]",
    ),
    (
        "22S",
        4,
        false,
        Some(6),
        "cancelled done=[0] cancelled=[10] refused=[]",
    ),
    (
        "03o;03o;03S;01S",
        0,
        false,
        None,
        "ok done=[0, 1, 2, 3, 12, 13] cancelled=[] refused=[]",
    ),
    ("", 4, false, None, "ok done=[] cancelled=[]"),
    (
        "11S",
        3,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    ("", 4, false, None, "ok done=[] cancelled=[]"),
    (
        "12F;22o;11o;01o",
        2,
        false,
        None,
        "group:c0 done=[2, 3] cancelled=[1]",
    ),
    ("", 2, false, Some(1), "cancelled done=[] cancelled=[]"),
    (
        "05S",
        4,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    ("32o", 3, false, None, "ok done=[0] cancelled=[]"),
    ("00F", 0, false, None, "group:c0 done=[] cancelled=[]"),
    (
        "00S;42o",
        4,
        true,
        None,
        "group:body done=[0, 10] cancelled=[] refused=[]",
    ),
    (
        "00S",
        0,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    (
        "22o;22o;00S",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 12] cancelled=[] refused=[]",
    ),
    (
        "05S;05o;05F",
        0,
        false,
        Some(2),
        "cancelled done=[] cancelled=[0, 1, 2] refused=[]",
    ),
    (
        "02S;13S;02o",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 10, 11] cancelled=[] refused=[]",
    ),
    (
        "03o;03S;03o",
        0,
        true,
        Some(0),
        "cancelled done=[] cancelled=[] refused=[]",
    ),
    (
        "04S;15S;01F",
        1,
        false,
        None,
        "group:c2 done=[] cancelled=[0, 1] refused=[]",
    ),
    ("", 0, false, None, "ok done=[] cancelled=[]"),
    ("03F", 2, true, None, "group:body done=[] cancelled=[0]"),
    (
        "05o;04o;01S;00S",
        0,
        false,
        None,
        "ok done=[0, 1, 2, 3, 12, 13] cancelled=[] refused=[]",
    ),
    ("", 2, true, None, "group:body done=[] cancelled=[]"),
    (
        "05F;03S;04F;02S",
        0,
        false,
        Some(3),
        "cancelled done=[3] cancelled=[0, 1, 2] refused=[]",
    ),
    (
        "23o;00S;13o",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 11] cancelled=[] refused=[]",
    ),
    (
        "10o;02S;10S",
        1,
        false,
        None,
        "ok done=[0, 1, 2, 11, 12] cancelled=[] refused=[]",
    ),
    ("05F", 0, false, None, "group:c0 done=[] cancelled=[]"),
    (
        "05o;00S;01o;02o",
        0,
        false,
        None,
        "ok done=[0, 1, 2, 3, 11] cancelled=[] refused=[]",
    ),
    ("01F;03o", 0, false, None, "group:c0 done=[] cancelled=[1]"),
    ("44o;22o", 4, true, None, "group:body done=[] cancelled=[1]"),
    ("11F;04o", 2, false, None, "group:c0 done=[] cancelled=[1]"),
    (
        "45o;24S;22S;24o",
        4,
        false,
        None,
        "ok done=[0, 1, 2, 3, 11, 12] cancelled=[] refused=[]",
    ),
    ("14o", 3, false, None, "ok done=[0] cancelled=[]"),
    (
        "22o;20o;02S;23S",
        2,
        false,
        None,
        "ok done=[0, 1, 2, 3, 12, 13] cancelled=[] refused=[]",
    ),
    ("00o", 3, true, None, "group:body done=[0] cancelled=[]"),
    (
        "04o;04F;01F;01o",
        0,
        true,
        None,
        "group:body done=[] cancelled=[]",
    ),
    (
        "00o;13F;00S",
        1,
        false,
        Some(4),
        "cancelled done=[0, 2, 12] cancelled=[1] refused=[]",
    ),
    (
        "44S;11o;00S",
        4,
        true,
        None,
        "group:body done=[1, 2, 12] cancelled=[] refused=[]",
    ),
    ("", 1, false, None, "ok done=[] cancelled=[]"),
    (
        "11S;14S;45S;41S",
        4,
        false,
        Some(2),
        "cancelled done=[] cancelled=[0, 1] refused=[]",
    ),
    (
        "03S;00S;01o",
        0,
        false,
        None,
        "ok done=[0, 1, 2, 10, 11] cancelled=[] refused=[]",
    ),
    (
        "05o;05S",
        0,
        false,
        Some(5),
        "cancelled done=[] cancelled=[0, 1] refused=[]",
    ),
    (
        "21o;20o",
        2,
        false,
        Some(1),
        "cancelled done=[] cancelled=[]",
    ),
    (
        "11S",
        1,
        false,
        None,
        "ok done=[0, 10] cancelled=[] refused=[]",
    ),
    (
        "34o;03o;42o",
        4,
        false,
        None,
        "ok done=[0, 1, 2] cancelled=[]",
    ),
    ("10o", 4, true, None, "group:body done=[0] cancelled=[]"),
    ("20o", 2, true, Some(5), "group:body done=[] cancelled=[]"),
    ("", 0, false, Some(0), "cancelled done=[] cancelled=[]"),
    ("25o", 2, false, Some(6), "cancelled done=[] cancelled=[0]"),
    ("", 3, false, None, "ok done=[] cancelled=[]"),
    ("", 0, false, Some(6), "ok done=[] cancelled=[]"),
    ("00o;05o", 0, false, None, "ok done=[0, 1] cancelled=[]"),
    ("", 2, false, None, "ok done=[] cancelled=[]"),
    (
        "24S;14o",
        2,
        false,
        None,
        "ok done=[0, 1, 10] cancelled=[] refused=[]",
    ),
    ("", 4, false, None, "ok done=[] cancelled=[]"),
    (
        "15o;42o;30S;12o",
        4,
        true,
        None,
        "group:body done=[2, 3] cancelled=[0] refused=[]",
    ),
    ("34F", 3, false, None, "group:c0 done=[] cancelled=[]"),
    ("21o", 4, false, Some(0), "cancelled done=[] cancelled=[]"),
    (
        "05F;00S;05o",
        0,
        false,
        None,
        "group:c0 done=[1, 2, 11] cancelled=[] refused=[]",
    ),
];

#[test]
fn taskgroups_whose_tasks_start_tasks_end_as_cpython_s_do() {
    let mut bad = Vec::new();
    for &(children, bturns, bfail, cancel_at, expected) in CPYTHON_SPAWNING_GROUPS {
        let got = group_trace(children, bturns, bfail, cancel_at);
        if got != expected {
            bad.push(format!(
                "{children} {bturns} {bfail} {cancel_at:?}\n  py: {expected}\n  rs: {got}"
            ));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}
