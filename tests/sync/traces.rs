//! The primitives against CPython's own traces: scripts of operations run on CPython's
//! `asyncio` and on ours, one loop turn per operation, must log the same events in the same
//! order. The tables are printed by the scripts in `tests/cpython_traces/`.

use super::*;

/// Appends `s` to the trace.
fn push(log: &Rc<RefCell<Vec<String>>>, s: String) {
    log.borrow_mut().push(s);
}

// ---- Condition -------------------------------------------------------------------------------

/// Runs one script on our Condition; returns its trace in the Python script's form.
fn condition_trace(script: &str, same_turn: bool) -> String {
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let out = log.clone();
    let script = script.to_string();
    run(async move {
        let cond = Rc::new(Condition::new());
        let flag = Rc::new(Cell::new(false));
        let mut tasks: Vec<asyncio::Task<()>> = Vec::new();
        let mut held = None;
        for op in script.chars() {
            match op {
                'W' | 'P' => {
                    let (cond, flag, log, id) =
                        (cond.clone(), flag.clone(), log.clone(), tasks.len());
                    tasks.push(spawn(async move {
                        let g = cond.lock().await;
                        push(&log, format!("w{id}+"));
                        let g = if op == 'P' {
                            g.wait_for(|| flag.get()).await
                        } else {
                            g.wait().await
                        };
                        push(&log, format!("w{id}!"));
                        drop(g);
                        push(&log, format!("w{id}-"));
                    }));
                }
                'n' | 'N' | 'a' => {
                    let n = match op {
                        'n' => 1,
                        'N' => 2,
                        _ => usize::MAX,
                    };
                    match &held {
                        Some(g) => asyncio::sync::ConditionGuard::notify(g, n),
                        None => cond.lock().await.notify(n),
                    }
                }
                'L' => {
                    if held.is_none() {
                        held = Some(cond.lock().await);
                    }
                }
                'U' => held = None,
                'T' => flag.set(true),
                'F' => flag.set(false),
                'Y' => {}
                k => {
                    if let Some(t) = tasks.get(k.to_digit(10).unwrap() as usize) {
                        t.cancel();
                    }
                }
            }
            if !(same_turn && (op.is_ascii_digit() || "nNaUTF".contains(op))) {
                yield_now().await;
            }
            push(&log, (if cond.locked() { "L" } else { "u" }).into());
        }
        drop(held);
        for t in &tasks {
            t.cancel();
        }
        for _ in 0..4 {
            yield_now().await;
        }
        push(&log, (if cond.locked() { "L" } else { "u" }).into());
    });
    let trace = out.borrow().join(" ");
    trace
}

/// Scripts of operations on a Condition and the trace CPython 3.11.7 gives for each (printed
/// by `tests/cpython_traces/condition.py 120 1 0`). One operation from a driver task, then one
/// loop turn, then `L` or `u` for `locked()`: `W` spawns a task that takes the lock, logs
/// `w<id>+`, waits, logs `w<id>!`, releases and logs `w<id>-`; `P` the same with
/// `wait_for(flag)`; `n`, `N`, `a` notify 1, 2, all (taking the lock for it unless the driver
/// holds it); `L` / `U` the driver takes / lets go of the lock; `T` / `F` set / clear the
/// flag; `Y` only turns. At the end the driver lets go, every task is cancelled, four turns.
const CONDITION_TRACES: &[(&str, &str)] = &[
    ("YWnWTUTL", "u w0+ u w0! w0- u w1+ u u u u L u"),
    ("WTWLUWUnnY", "w0+ u u w1+ u L u w2+ u u w0! w0- u w1! w1- u u u"),
    ("aWWWYWL", "u w0+ u w1+ u w2+ u u w3+ u L u"),
    ("UWFnUTYnLn", "u w0+ u u w0! w0- u u u u u L L u"),
    ("UNWUYWPNWaF", "u u w0+ u u u w1+ u w2+ u w0! w0- w1! w1- u w3+ u w3! w3- u u u"),
    ("FnNNYTFLYWTnLUPLY", "u u u u u u u L L L L L L w0+ u w1+ w1! w1- u L L u"),
    ("WUFWPFLLTWTWNYY", "w0+ u u u w1+ u w2+ u u L L L L L L L L L u"),
    ("PPFnWnYYnLFLYLUn", "w0+ u w1+ u u u w2+ u u u u u L L L L L u w2! w2- u u"),
    ("LFPF", "L L L L u"),
    ("UWTLYYnFUT", "u w0+ u u L L L L L w0! w0- u u u"),
    ("ULWYYaUWnPYYPWY", "u L L L L L w0+ u w1+ u w0! w0- u w2+ u u u w3+ u w4+ u u u"),
    ("WWWWUWnnnWPL", "w0+ u w1+ u w2+ u w3+ u u w4+ u w0! w0- u w1! w1- u w2! w2- u w5+ u w6+ u L u"),
    ("WPPnFPnNUaTTW", "w0+ u w1+ u w2+ u w0! w0- u u w3+ u u u u u u u w4+ u u"),
    ("NLaU", "u L L u u"),
    ("nWnFnUWnWL", "u w0+ u w0! w0- u u u u w1+ u w1! w1- u w2+ u L u"),
    ("WPUFUYnF", "w0+ u w1+ u u u u u w0! w0- u u u"),
    ("nFWLYaUWNPnWNWWNNP", "u u w0+ u L L L w0! w0- u w1+ u w1! w1- u w2+ u u w3+ u w3! w3- u w4+ u w5+ u w4! w4- u w5! w5- u w6+ u u"),
    ("YnPWYWYnYUPFWLnLW", "u u w0+ u w1+ u u w2+ u u u u u w3+ u u w4+ u L L L L u"),
    ("YUYnTWLNFT", "u u u u u w0+ u L L L L u"),
    ("aLNW", "u L L L u"),
    ("naYPaUnnW", "u u u w0+ u u u u u w1+ u u"),
    ("YLYTYnWWWPPPYnna", "u L L L L L L L L L L L L L L L u"),
    ("nLaaWNnTPYYWaWUWLPPa", "u L L L L L L L L L L L L L w0+ u w1+ w1! w1- u w2+ w3+ w4+ L L L L u"),
    ("YLWYYnY", "u L L L L L L u"),
    ("nLNYYW", "u L L L L L u"),
    ("nWWNWWWUWWnnYUPWUP", "u w0+ u w1+ u w0! w0- w1! w1- u w2+ u w3+ u w4+ u u w5+ u w6+ u w2! w2- u w3! w3- u u u w7+ u w8+ u u w9+ u u"),
    ("PWULYNYnTaW", "w0+ u w1+ u u L L L L L L L L u"),
    ("aWWWNaULaL", "u w0+ u w1+ u w2+ u w0! w0- w1! w1- u w2! w2- u u L L L u"),
    ("WaUWnn", "w0+ u w0! w0- u u w1+ u w1! w1- u u u"),
    ("LnPYnNnnLWnWUWYanLN", "L L L L L L L L L L L L w0+ u w1+ u w2+ u w3+ w1! w1- w2! w2- w3! w3- u u L L u"),
    ("aPaYN", "u w0+ u u u u u"),
    ("aWYYWnnWnLW", "u w0+ u u u w1+ u w0! w0- u w1! w1- u w2+ u w2! w2- u L L u"),
    ("YWWWWNLTTPWF", "u w0+ u w1+ u w2+ u w3+ u w0! w0- w1! w1- u L L L L L L u"),
    ("WFPPPPaNWFNPnP", "w0+ u u w1+ u w2+ u w3+ u w4+ u w0! w0- u u w5+ u u u w6+ u u w7+ u u"),
    ("aYnPN", "u u u w0+ u u u"),
    ("YPWnnWUUYnYUYUWLa", "u w0+ u w1+ u u w1! w1- u w2+ u u u u u u u u u w3+ u L L u"),
    ("nTWUYWWLY", "u u w0+ u u u w1+ u w2+ u L L u"),
    ("YPPnnLYL", "u w0+ u w1+ u u u L L L u"),
    ("WnTWPFaFU", "w0+ u w0! w0- u u w1+ u w2+ w2! w2- u u w1! w1- u u u u"),
    ("naTTnUaYnnW", "u u u u u u u u u u w0+ u u"),
    ("FLPFnN", "u L L L L L u"),
    ("NYLPUWWFYLPPn", "u u L L w0+ u w1+ u w2+ u u u L L L L u"),
    ("nYWTLLLFPYWFWnWnW", "u u w0+ u u L L L L L L L L L L L L L u"),
    ("WUnLULPa", "w0+ u u w0! w0- u L u L L L u"),
    ("PTnWUYUWNnnLYWnFUY", "w0+ u u w0! w0- u w1+ u u u u w2+ u w1! w1- w2! w2- u u u L L L L L w3+ u u u"),
    ("Wnnn", "w0+ u w0! w0- u u u u"),
    ("NPYnnNYnU", "u w0+ u u u u u u u u u"),
    ("YLTUWnYLn", "u L L u w0+ u w0! w0- u u L L u"),
    ("WWWYWYNPWFLYN", "w0+ u w1+ u w2+ u u w3+ u u w0! w0- w1! w1- u w4+ u w5+ u u L L L u"),
    ("FLFaWWUULNYLaYTWL", "u L L L L L w0+ u w1+ u L L L L L L L L L u"),
    ("nYWnFnUFUNPUFnLF", "u u w0+ u w0! w0- u u u u u u u w1+ u u u u L L u"),
    ("LYUL", "L L u L u"),
    ("YWTnNWUPLnPWWL", "u w0+ u u w0! w0- u u w1+ u u w2+ w2! w2- u L L L L L L u"),
    ("UYNPUnTPUFWn", "u u u w0+ u u u u w1+ w1! w1- u u u w2+ u u u"),
    ("WYUWLWUWPFPWLnNnFnna", "w0+ u u u w1+ u L L w2+ u w3+ u w4+ u u w5+ u w6+ u L L L L L L L L u"),
    ("WWFLUFYWPNYn", "w0+ u w1+ u u L u u u w2+ u w3+ u w0! w0- w1! w1- u u w2! w2- u u"),
    ("nLYLPTnannnWLaU", "u L L L L L L L L L L L L L w0+ w0! w0- u u"),
    ("nnWPYUYPnUF", "u u w0+ u w1+ u u u u w2+ u w0! w0- u u u u"),
    ("PPULNLnWn", "w0+ u w1+ u u L L L L L L u"),
    ("WWnLaTWPWWWnW", "w0+ u w1+ u w0! w0- u L L L L L L L L L L u"),
    ("FUanWPWnLnTULPnnNUY", "u u u u w0+ u w1+ u w2+ u w0! w0- u L L L w1! w1- u L L L L L w3+ w3! w3- u w2! w2- u u"),
    ("nUnaTYWnWWWWTaLY", "u u u u u u w0+ u w0! w0- u w1+ u w2+ u w3+ u w4+ u u w1! w1- w2! w2- w3! w3- w4! w4- u L L u"),
    ("nLPPWWLPYWYLn", "u L L L L L L L L L L L L u"),
    ("WUNWWYWF", "w0+ u u w0! w0- u w1+ u w2+ u u w3+ u u u"),
    ("WnWUWnWT", "w0+ u w0! w0- u w1+ u u w2+ u w1! w1- u w3+ u u u"),
    ("nnULannn", "u u u L L L L L u"),
    ("WYYPLUYFWLY", "w0+ u u u w1+ u L u u u w2+ u L L u"),
    ("YnYUWnWnPWPWnUWWW", "u u u u w0+ u w0! w0- u w1+ u w1! w1- u w2+ u w3+ u w4+ u w5+ u u u w6+ u w7+ u w8+ u u"),
    ("TFLWaWPYWUPLUWFnWnaW", "u u L L L L L L L w0+ u w1+ u w2+ w3+ w4+ L u w5+ u u w0! w0- u w6+ u w1! w1- u w3! w3- w5! w5- w6! w6- u w7+ u u"),
    ("WLWnaPnLWNWUn", "w0+ u L L L L L L L L L L w1+ u w0! w0- w2+ w3+ w4+ w1! w1- u u"),
    ("YnaaFLYTWPUFYYFYWNPn", "u u u u u L L L L L w0+ u w1+ u u u u u w2+ u w0! w0- u w3+ u w2! w2- u u"),
    ("LFaWULPYWWNYaUN", "L L L L w0+ u L L L L L L L L w1+ u w2+ w3+ w0! w0- w2! w2- u u"),
    ("LnaFFWFWPaaaYW", "L L L L L L L L L L L L L L u"),
    ("nTULLWYWPWFTYnnYaL", "u u u L L L L L L L L L L L L L L L u"),
    ("LNUaYFPWPnnYPWP", "L L u u u u w0+ u w1+ u w2+ u u w1! w1- u u w3+ u w4+ u w5+ u u"),
    ("WWYnWnnWYFWWnPFUW", "w0+ u w1+ u u w0! w0- u w2+ u w1! w1- u w2! w2- u w3+ u u u w4+ u w5+ u w3! w3- u w6+ u u u w7+ u u"),
    ("TNnnTnUULYnTWnU", "u u u u u u u u L L L L L L w0+ u u"),
    ("WYLFTWLFYY", "w0+ u u L L L L L L L L u"),
    ("WLUWnNWYWNFaYYYNF", "w0+ u L u w1+ u w0! w0- u w1! w1- u w2+ u u w3+ u w2! w2- w3! w3- u u u u u u u u u"),
    ("YFUYNUNPFUYPYPnWU", "u u u u u u u w0+ u u u u w1+ u u w2+ u u w3+ u u u"),
    ("LULNW", "L u L L L u"),
    ("WWLnUn", "w0+ u w1+ u L L w0! w0- u w1! w1- u u"),
    ("TaLUWTLPUPWPnLP", "u u L u w0+ u u L L w1+ w1! w1- u w2+ w2! w2- u w3+ u w4+ w4! w4- u w0! w0- u L L u"),
    ("UnFNUnUaTnTLU", "u u u u u u u u u u u L u u"),
    ("WPnPnW", "w0+ u w1+ u w0! w0- u w2+ u u w3+ u u"),
    ("nPTWLPW", "u w0+ u u w1+ u L L L u"),
    ("UWYnYU", "u w0+ u u w0! w0- u u u u"),
    ("WWYUWnnPTWnWLWU", "w0+ u w1+ u u u w2+ u w0! w0- u w1! w1- u w3+ u u w4+ u w2! w2- u w5+ u L L w6+ u u"),
    ("FTLWTWPLnPFnU", "u u L L L L L L L L L L w0+ u u"),
    ("TYnaTWWLnWYUN", "u u u u u w0+ u w1+ u L L L L w0! w0- u w2+ w1! w1- w2! w2- u u"),
    ("nFnnnUP", "u u u u u u w0+ u u"),
    ("nnUYWYFP", "u u u u w0+ u u u w1+ u u"),
    ("nnTNnTnTLTnaPPYUY", "u u u u u u u u L L L L L L L w0+ w0! w0- u w1+ w1! w1- u u"),
    ("WFaFPnaT", "w0+ u u w0! w0- u u w1+ u u u u u"),
    ("aWPPnnWYWYPWnYnFYNU", "u w0+ u w1+ u w2+ u w0! w0- u u w3+ u u w4+ u u w5+ u w6+ u u u u u u w3! w3- w4! w4- u u u"),
    ("WWNnWnnanFLWWa", "w0+ u w1+ u w0! w0- w1! w1- u u w2+ u w2! w2- u u u u u L L L L u"),
    ("PWnPYWLWWWNannF", "w0+ u w1+ u u w2+ u u w3+ u L L L L L L L L L u"),
    ("LWWPL", "L L L L L u"),
    ("nWanWFaWLPnLWYF", "u w0+ u w0! w0- u u w1+ u u w1! w1- u w2+ u L L L L L L L u"),
    ("YUYLNnNYPWFWPnnUnYW", "u u u L L L L L L L L L L L L w0+ u w1+ w2+ w3+ u u w4+ u u"),
    ("YnFnTPLWLWYL", "u u u u u w0+ w0! w0- u L L L L L L u"),
    ("YWNUPPWYPnTaLNPPLULW", "u w0+ u w0! w0- u u w1+ u w2+ u w3+ u u w4+ u u u w2! w2- w3! w3- w4! w4- w1! w1- u L L L L L w5+ w5! w5- u w6+ w6! w6- L L u"),
    ("nNWYWPLY", "u u w0+ u u w1+ u w2+ u L L u"),
    ("UWUUnLU", "u w0+ u u u w0! w0- u L u u"),
    ("UWWTWWWWYPFFLYnY", "u w0+ u w1+ u u w2+ u w3+ u w4+ u w5+ u u w6+ w6! w6- u u u L L L L u"),
    ("TnnWYLPWWaULnWU", "u u u w0+ u u L L L L L w1+ w1! w1- u w2+ w3+ w0! w0- L L L w2! w2- u u"),
    ("LLNaUnFPWaWFPYTaW", "L L L L u u u w0+ u w1+ u w1! w1- u w2+ u u w3+ u u u w0! w0- w2! w2- w3! w3- u w4+ u u"),
    ("TnLP", "u u L L u"),
    ("nWnaanUTLTnUULYW", "u w0+ u w0! w0- u u u u u u L L L u u L L L u"),
    ("nPPWLUWWWPULFNPPFWn", "u w0+ u w1+ u w2+ u L u w3+ u w4+ u w5+ u w6+ u u L L L L L L L L u"),
    ("ULnY", "u L L L u"),
    ("WYnUPPanWYYPPLYW", "w0+ u u w0! w0- u u w1+ u w2+ u u u w3+ u u u w4+ u w5+ u L L L u"),
    ("nUnWFnFYWnLUWYWLWYWT", "u u u w0+ u u w0! w0- u u u w1+ u w1! w1- u L u w2+ u u w3+ u L L L L L u"),
    ("FnWWN", "u u w0+ u w1+ u w0! w0- w1! w1- u u"),
    ("nUPPYaYUFUYPLLnTnL", "u u w0+ u w1+ u u u u u u u u w2+ u L L L L L L u"),
    ("nYnPWLaP", "u u u w0+ u w1+ u L L L u"),
    ("nnLLnYUWPPnn", "u u L L L L u w0+ u w1+ u w2+ u w0! w0- u u u"),
    ("WYYnYUnYPY", "w0+ u u u w0! w0- u u u u u w1+ u u u"),
    ("LnWWPWWLLUPYPYYWnL", "L L L L L L L L L w0+ u w1+ u w2+ u w3+ u w4+ u w5+ u w6+ w7+ u w0! w0- u L u"),
    ("NnLLPnNP", "u u L L L L L L u"),
];

/// As [`CONDITION_TRACES`], with a digit `k` that cancels task `k` (`120 2 1`). CPython
/// 3.11's cancelled `wait` takes the lock back before it raises, where our dropped wait gives
/// the lock up at once; the seed's scripts happen not to tell the two apart. (Run with
/// `--port`, the script applies that decision to CPython's Condition: 4000 scripts of seed 3
/// then match too.)
const CONDITION_CANCEL_TRACES: &[(&str, &str)] = &[
    ("WWLP4", "w0+ u w1+ u L L L u"),
    ("n0n0WY2PU1L4F", "u u u u w0+ u u u w1+ u u u L L L u"),
    (
        "YUFnWWLUaLUFPYP",
        "u u u u w0+ u w1+ u L u w0! w0- w1! w1- u L u u w2+ u u w3+ u u",
    ),
    (
        "nWPaPPFFLF2",
        "u w0+ u w1+ u w0! w0- u w2+ u w3+ u u u L L L u",
    ),
    ("UU4FLYLLU", "u u u u L L L L u u"),
    ("L34U1FnTn", "L L L u u u u u u u"),
    (
        "FFL2UULY4Y4UT2na3P0",
        "u u L L u u L L L L L u u u u u u w0+ w0! w0- u u u",
    ),
    ("TNN3FYFF10YU", "u u u u u u u u u u u u u"),
    ("4nTFL20Wa4Wn4", "u u u u L L L L L L L L L u"),
    ("WY1WnYn", "w0+ u u u w1+ u w0! w0- u u w1! w1- u u"),
    ("FPnnnWU", "u w0+ u u u u w1+ u u u"),
    ("WLLPn", "w0+ u L L L L u"),
    ("WWWW", "w0+ u w1+ u w2+ u w3+ u u"),
    ("4WLnP", "u w0+ u L L L u"),
    ("4PF3WLYWn", "u w0+ u u u w1+ u L L L L u"),
    ("WWL0144W", "w0+ u w1+ u L L L L L L u"),
    (
        "aTWNUY04WnL03",
        "u u w0+ u w0! w0- u u u u u w1+ u w1! w1- u L L L u",
    ),
    ("TnW22aWW", "u u w0+ u u u w0! w0- u w1+ u w2+ u u"),
    (
        "PFYLTFaPann0U1W3YP",
        "w0+ u u u L L L L L L L L L w1+ u u w2+ u u u w3+ u u",
    ),
    ("nWPPP", "u w0+ u w1+ u w2+ u w3+ u u"),
    ("U1nF3Wn", "u u u u u w0+ u w0! w0- u u"),
    (
        "3UWnWYn003L",
        "u u w0+ u w0! w0- u w1+ u u w1! w1- u u u u L u",
    ),
    (
        "2UnFWPWLUPWF",
        "u u u u w0+ u w1+ u w2+ u L u w3+ u w4+ u u u",
    ),
    ("nWWWPn", "u w0+ u w1+ u w2+ u w3+ u w0! w0- u u"),
    ("nWF2UUN", "u w0+ u u u u u w0! w0- u u"),
    (
        "n2n4UUFWYYWUFYPW",
        "u u u u u u u w0+ u u u w1+ u u u u w2+ u w3+ u u",
    ),
    (
        "LWFW0LN3LNW2UWWNn2W",
        "L L L L L L L L L L L L w1+ u w3+ u w4+ u w1! w1- w3! w3- u w4! w4- u u w5+ u u",
    ),
    (
        "WU1TUnY0WWNWLN4WnT",
        "w0+ u u u u u w0! w0- u u u w1+ u w2+ u w1! w1- w2! w2- u w3+ u L L L L L L u",
    ),
    ("WYLL3UPLLW", "w0+ u u L L L u w1+ u L L L u"),
    (
        "WWW0a1Ln3WW0",
        "w0+ u w1+ u w2+ u u w1! w1- w2! w2- u u L L L L L L u",
    ),
    (
        "W43TNLUPLnTFT44UT2N",
        "w0+ u u u u w0! w0- u L u w1+ w1! w1- u L L L L L L L u u u u u",
    ),
    (
        "nPT0nYU323WY4YWW",
        "u w0+ u u u u u u u u u w1+ u u u u w2+ u w3+ u u",
    ),
    (
        "PYPUWW21WPNLn32",
        "w0+ u u w1+ u u w2+ u w3+ u u u w4+ u w5+ u w3! w3- u L L L L u",
    ),
    (
        "UPFNWPYUWaFn3F",
        "u w0+ u u u w1+ u w2+ u u u w3+ u w1! w1- w3! w3- u u u u u u",
    ),
    ("PPU3nLLY4PUU", "w0+ u w1+ u u u u L L L L L w2+ u u u"),
    ("0L4P", "u L L L u"),
    (
        "FWTnLn34U31TLYa3",
        "u w0+ u u w0! w0- u L L L L u u u u L L L L u",
    ),
    ("4nY0nL", "u u u u u L u"),
    (
        "1WaUF3U1PWWLn4Y0",
        "u w0+ u w0! w0- u u u u u u w1+ u w2+ u w3+ u L L L L L u",
    ),
    ("nWLYnn4YYnT0PW02", "u w0+ u L L L L L L L L L L L L L L u"),
    (
        "TnFYPU3nWLWTY22WY",
        "u u u u w0+ u u u u w1+ u L L L L L L L L u",
    ),
    (
        "2aUnFUWW0LPLn214PWP",
        "u u u u u u w0+ u w1+ u u L L L L L L L L L L u",
    ),
    (
        "LU2NPWNYUWLWYLYUn2N",
        "L u u u w0+ u w1+ u w1! w1- u u u w2+ u L L L L L w3+ u u u w3! w3- u u",
    ),
    (
        "1PT3Y3NWnaNa1N11LFW",
        "u w0+ u u u u u w0! w0- u w1+ u w1! w1- u u u u u u u u L L L u",
    ),
    (
        "1nL0FPF1WNWnUYnFnWWW",
        "u u L L L L L L L L L L w0+ u w1+ u w2+ u u w1! w1- u w3+ u w4+ u w5+ u u",
    ),
    (
        "LnaLWaULPTUNUP3U",
        "L L L L L L w0+ u L L L w1+ w1! w1- u w0! w0- u u w2+ w2! w2- u u u u",
    ),
    ("naPWnTn2LP", "u u w0+ u w1+ u u u w1! w1- u u L L u"),
    ("PPnnY1LL4an40FY", "w0+ u w1+ u u u u u L L L L L L L L L u"),
    ("4L3313NY012WLN", "u L L L L L L L L L L L L L u"),
    (
        "TPnLUTWPaLPWWLPL",
        "u w0+ w0! w0- u u L u u w1+ u w2+ w2! w2- u w1! w1- u L L L L L L L u",
    ),
    ("41UWYa", "u u u w0+ u u w0! w0- u u"),
    ("0LYNT1PLanT", "u L L L L L L L L L L u"),
    ("PnanPUL", "w0+ u u u u w1+ u u L u"),
    (
        "Wann3n40WaL1",
        "w0+ u w0! w0- u u u u u u u w1+ u w1! w1- u L L u",
    ),
    ("PPWUU", "w0+ u w1+ u w2+ u u u u"),
    ("PaFYWa130LnW", "w0+ u u u u w1+ u w1! w1- u u u u L L L u"),
    ("TT0aY00WYFY2TL3U", "u u u u u u u w0+ u u u u u u L L u u"),
    ("ULFUWWUYP", "u L L u w0+ u w1+ u u u w2+ u u"),
    ("2FPWLNU", "u u w0+ u w1+ u L L u u"),
    ("nW2L", "u w0+ u u L u"),
    (
        "PWPU2Wa1UWT",
        "w0+ u w1+ u w2+ u u u w3+ u w1! w1- w3! w3- u u u w4+ u u u",
    ),
    (
        "WTPYWP3FYWW",
        "w0+ u u w1+ w1! w1- u u w2+ u w3+ w3! w3- u u u u w4+ u w5+ u u",
    ),
    ("YWFa2FnPLT", "u w0+ u u w0! w0- u u u u w1+ u L L u"),
    ("PYWn", "w0+ u u w1+ u u u"),
    ("UnW0n1L", "u u w0+ u u u u L u"),
    ("01L3FF2PFWP1nP", "u u L L L L L L L L L L L L u"),
    (
        "nNaUPUPLaNWYWTnN",
        "u u u u w0+ u u w1+ u L L L L L L L L L u",
    ),
    (
        "TnnU3P3Y2WW0YnnnLYW1",
        "u u u u u w0+ w0! w0- u u u u w1+ u w2+ u u u w1! w1- u w2! w2- u u L L L L u",
    ),
    ("1W4n34TY", "u w0+ u u w0! w0- u u u u u u"),
    ("4nP0a", "u u w0+ u u u u"),
    ("3nWP1", "u u w0+ u w1+ u u u"),
    ("W2U1NnPa3", "w0+ u u u u w0! w0- u u w1+ u u u u"),
    (
        "FYWUU24WUN2W",
        "u u w0+ u u u u u w1+ u u w0! w0- w1! w1- u u w2+ u u",
    ),
    ("WnUanY4LYF4n", "w0+ u w0! w0- u u u u u u L L L L L u"),
    (
        "P3PUULLT0n0nYTUnT",
        "w0+ u u w1+ u u u L L L L L L L L L w1! w1- u u u u",
    ),
    ("NWPL01Tn012YP2", "u w0+ u w1+ u L L L L L L L L L L L u"),
    (
        "nYNWWWnaWaYn4",
        "u u u w0+ u w1+ u w2+ u w0! w0- u w1! w1- w2! w2- u w3+ u w3! w3- u u u u u",
    ),
    (
        "UWUT3WNYYPnPP0",
        "u w0+ u u u u w1+ u w0! w0- w1! w1- u u u w2+ w2! w2- u u w3+ w3! w3- u w4+ w4! w4- u u u",
    ),
    (
        "4W1YUn1WTTnPYNnn",
        "u w0+ u u u u w0! w0- u u w1+ u u u w1! w1- u w2+ w2! w2- u u u u u u",
    ),
    (
        "Y03LFUn1nYWn2n",
        "u u u L L u u u u u w0+ u w0! w0- u u u u",
    ),
    ("04LUWULL", "u u L u w0+ u u L L u"),
    (
        "LNnnnWYFW0Y2WWL3ULn",
        "L L L L L L L L L L L L L L L L w1+ u w2+ L L u",
    ),
    (
        "nWLFLFTYW3U43nnWWTWP",
        "u w0+ u L L L L L L L L w1+ u u u w0! w0- u w1! w1- u w2+ u w3+ u u w4+ u w5+ w5! w5- u u",
    ),
    ("nanYW0P1", "u u u u w0+ u u w1+ u u u"),
    (
        "W1YYW22PU3PWN",
        "w0+ u u u u w1+ u u u w2+ u u u w3+ u w4+ u w0! w0- w1! w1- u u",
    ),
    (
        "2nTWYLa2W0LW0LL1nTNF",
        "u u u w0+ u u L L L L L L L L L L L L L L L u",
    ),
    ("WWaU1WL2", "w0+ u w1+ u w0! w0- w1! w1- u u u w2+ u L L u"),
    ("2W3YF", "u w0+ u u u u u"),
    (
        "UUnPP0WWY4L2PNWWn",
        "u u u w0+ u w1+ u u w2+ u w3+ u u u L L L L L L L u",
    ),
    ("LWLW0WnnYnW", "L L L L L L L L L L L u"),
    ("3LWF", "u L L L u"),
    ("Y1nWFFFLUPPU", "u u u w0+ u u u u L u w1+ u w2+ u u u"),
    ("U4LWYPFU", "u u L L L L L w0+ u u"),
    (
        "01UPT0PLPWn3PP1UY",
        "u u u w0+ u u u w1+ w1! w1- u L L L L L L L L w2+ w2! w2- u w4+ w4! w4- u u",
    ),
    ("UTUnUUnnL1WL", "u u u u u u u u L L L L u"),
    ("UNWY", "u u w0+ u u u"),
    (
        "Yn2nnU3ULF0U2nYYPUN",
        "u u u u u u u u L L L u u u u u w0+ u u u u",
    ),
    (
        "UWF2n412LWU0U0F",
        "u w0+ u u u w0! w0- u u u u L L w1+ u u u u u u",
    ),
    (
        "W4LU0334LYLPPn21PU",
        "w0+ u u L u u u u u L L L L L L L L L w3+ u u",
    ),
    (
        "T34PUnaYLN13n2a2WL",
        "u u u w0+ w0! w0- u u u u u L L L L L L L L L L u",
    ),
    ("nUWWW", "u u w0+ u w1+ u w2+ u u"),
    ("a0a4LP4aWF0TL0n", "u u u u L L L L L L L L L L L u"),
    (
        "W0WLWNTP33WWaLT10W",
        "w0+ u u w1+ u L L L L L L L L L L L L L L L u",
    ),
    (
        "1Ynn40aPaNLY04TUnWF",
        "u u u u u u u w0+ u u u L L L L L u u w1+ u u u",
    ),
    ("YLnLLPnY14", "u L L L L L L L L L u"),
    ("nYUnLnYnFPW", "u u u u L L L L L L L u"),
    ("T4L1P2n430PT0W4P", "u u L L L L L L L L L L L L L L u"),
    ("3nW0WU1n4P", "u u w0+ u u w1+ u u u u u w2+ u u"),
    ("L0WWLWNWYLTL", "L L L L L L L L L L L L u"),
    ("WUPPU1W", "w0+ u u w1+ u w2+ u u u w3+ u u"),
    (
        "PTYWF3NNWYYn",
        "w0+ u u u w1+ u u u w1! w1- u u w2+ u u u u u",
    ),
    ("UPPYNU", "u w0+ u w1+ u u u u u"),
    (
        "W3aUWPn0L1",
        "w0+ u u w0! w0- u u w1+ u w2+ u w1! w1- u u L L u",
    ),
    (
        "31WnPnWaWnWLW",
        "u u w0+ u w0! w0- u w1+ u u w2+ u w2! w2- u w3+ u u w4+ u L L u",
    ),
    (
        "30PLPU44nNYWWa1P4WYW",
        "u u w0+ u L L w1+ u u u u u u w2+ u w3+ u w2! w2- w3! w3- u u w4+ u u w5+ u u w6+ u u",
    ),
    ("4TU2LT2N", "u u u u L L L L u"),
    (
        "W1P4WWWPL3PNY",
        "w0+ u u w1+ u u w2+ u w3+ u w4+ u w5+ u L L L L L u",
    ),
    ("WnY44naW", "w0+ u w0! w0- u u u u u u w1+ u u"),
    ("2UnU12WaU", "u u u u u u w0+ u w0! w0- u u u"),
    (
        "1YLPFW2WP2LPU4n1n0Y",
        "u u L L L L L L L L L L w0+ u w1+ u w3+ u u u u u u",
    ),
];

/// As [`CONDITION_CANCEL_TRACES`], in same-turn scripts (`120 4 1 --same-turn --port`): a
/// cancellation, a notify, the driver's release and a change of the flag take no turn, so a
/// notify comes before the task cancelled just before it has run. CPython skips such a
/// waiter (its future is already cancelled); so do we. The table is CPython's Condition with
/// the port's cancellation applied (`--port`): plain 3.11 differs in 3 of these scripts, all
/// by its cancelled wait taking the lock back first. 3000 scripts of the same kind matched.
const CONDITION_SAME_TURN_TRACES: &[(&str, &str)] = &[
    ("NW4LTPWWWLY", "u w0+ u u L L L L L L L L u"),
    ("WnFYLnPWnnW1n", "w0+ u u u w0! w0- u L L L L L L L L L u"),
    ("nPNN14LW0a2L", "u w0+ u u u u u L L L L L L u"),
    ("nPnTnWYNWNY3NFnUU0NU", "u w0+ u u u u w0! w0- w1+ u u u w1! w1- w2+ u u w2! w2- u u u u u u u u u u u"),
    ("PnNnWWWU1nFY1T3aP2", "w0+ u u u u w1+ u w2+ u w3+ u u u u u u u u u u w2! w2- w0! w0- w4+ w4! w4- u u u"),
    ("WUn11UnPLU", "w0+ u u u u u u u w0! w0- w1+ u L u u"),
    ("1YnaWW3nnY0nWa", "u u u u w0+ u w1+ u u u u w0! w0- w1! w1- u u u w2+ u u u"),
    ("NUWWL3WN4", "u u w0+ u w1+ u L L L L L u"),
    ("WaNaP1U02WN0nU", "w0+ u u u u w0! w0- w1+ u u u u u w2+ u u u u u u"),
    ("PnL0PaYWLWUPL", "w0+ u u L L L L L L L L u w1+ u w2+ w3+ w4+ L u"),
    ("NYWUnUnWWWW4P02", "u u w0+ u u u u u w0! w0- w1+ u w2+ u w3+ u w4+ u u w5+ u u u u"),
    ("0WYTYnaW", "u w0+ u u u u u u w0! w0- w1+ u u"),
    ("FNU1nTn", "u u u u u u u u"),
    ("UUTWnUUn1Un", "u u u w0+ u u u u u u u u u"),
    ("nWWnnnFnnUnPaWaYWYL", "u w0+ u w1+ u u u u u u u u u w0! w0- w1! w1- w2+ u u w3+ u u w3! w3- u w4+ u u L u"),
    ("TLWUn", "u L L u w0+ u u"),
    ("aN2T1aUFn", "u u u u u u u u u u"),
    ("aLTWn12nWL0P", "u L L L L L L L L L L L u"),
    ("2WP31UYT4LLn", "u w0+ u w1+ u u u u u u u L L L u"),
    ("nPW0", "u w0+ u w1+ u u u"),
    ("WLLnYWnP20aY", "w0+ u L L L L L L L L L L L u"),
    ("FUWWW30WTYn0PWLWFWN", "u u w0+ u w1+ u w2+ u u u w3+ u u u u u w1! w1- w4+ w4! w4- u w5+ u L L L L L u"),
    ("WWYULnNLnTLWWW0", "w0+ u w1+ u u u L L L L L L L L L L L u"),
    ("FUU3UW1n1NTUWYP", "u u u u u w0+ u u u u u u u w0! w0- w1+ u u w2+ w2! w2- u u"),
    ("PP3PaTanYW3PW1N", "w0+ u w1+ u u w2+ u u u u u w0! w0- w1! w1- w2! w2- u w3+ u u w4+ w4! w4- u w5+ u u u u"),
    ("YWT30TF", "u w0+ u u u u u u u"),
    ("FnUNLn", "u u u u L L u"),
    ("1W2W0aYUY", "u w0+ u u w1+ u u u w1! w1- u u u u"),
    ("FU00ULPn0L2aP", "u u u u u L L L L L L L L u"),
    ("W0P20PNLnYL20WWL1", "w0+ u u w1+ u u u w2+ u u L L L L L L L L L L u"),
    ("a1LaPNW0W", "u u L L L L L L L u"),
    ("WLWPPYT2YWWP1T24n02N", "w0+ u L L L L L L L L L L L L L L L L L L L u"),
    ("0nT3nNLn4aY1FULF", "u u u u u u L L L L L L L u L L u"),
    ("aNUUYWnPYU3Y0LLL", "u u u u u w0+ u u w0! w0- w1+ u u u u u u L L L u"),
    ("PFWU", "w0+ u u w1+ u u u"),
    ("0NWnTn1T0WPnWNP", "u u w0+ u u u u u u u w1+ u w2+ w2! w2- u u w1! w1- w3+ u u w3! w3- w4+ w4! w4- u u"),
    ("PLY20", "w0+ u L L L L u"),
    ("WFnPWnWaWWnW", "w0+ u u u w0! w0- w1+ u w2+ u u w3+ u u w2! w2- w3! w3- w4+ u w5+ u u w6+ u u"),
    ("013P4P1UP34WY", "u u u w0+ u u w1+ u u u w2+ u u u w3+ u u u"),
    ("3W4YPFUPnNTFWLP", "u w0+ u u u w1+ u u u w2+ u u u u u w0! w0- w3+ u L L u"),
    ("nFLY2NLaP", "u u L L L L L L L u"),
    ("WUWn2WNPWPW0WnnY", "w0+ u u w1+ u u u w0! w0- w2+ u u w1! w1- w2! w2- w3+ u w4+ u w5+ u w6+ u u w7+ u u u w4! w4- u u"),
    ("T3YP", "u u u w0+ w0! w0- u u"),
    ("4323LaPFYnWT0LN1U0", "u u u u L L L L L L L L L L L L u u u"),
    ("1nnY2", "u u u u u u"),
    ("T1aWnaW23W0aF", "u u u w0+ u u u w0! w0- w1+ u u u w2+ u u u u u"),
    ("LWP3WTFY03nWn2Wa0P3", "L L L L L L L L L L L L L L L L L L L u"),
    ("WFFWWn0n0W4WW", "w0+ u u u w1+ u w2+ u u u u u w1! w1- w3+ u u w2! w2- w4+ u w5+ u u"),
    ("3PnLn44LNL10LWPUTWF", "u w0+ u u L L L L L L L L L L L L u u w1+ u u u"),
    ("NY3Nn33UaPnWTUnaU1Ua", "u u u u u u u u u w0+ u u w1+ u u u u u u u u u u"),
    ("nnFWWLn0N2", "u u u w0+ u w1+ u L L L L L u"),
    ("0aWP0W3n", "u u w0+ u w1+ u u w2+ u u u u"),
    ("2n1TW1aWUYnP", "u u u u w0+ u u u w0! w0- w1+ u u u u w1! w1- w2+ w2! w2- u u"),
    ("nFWWaN", "u u w0+ u w1+ u u u u"),
    ("4W2P34WP", "u w0+ u u w1+ u u u w2+ u w3+ u u"),
    ("nWYa1a40LP", "u w0+ u u u u u u u L L u"),
    ("nWWP2W2n3", "u w0+ u w1+ u w2+ u u w3+ u u u u u"),
    ("WnPLT0YTYaLU4LWWPPL", "w0+ u u w0! w0- w1+ u L L L L L L L L u u w1! w1- L L L L L L u"),
    ("NnLYn02LLLY", "u u L L L L L L L L L u"),
    ("nnLPYnW", "u u L L L L L u"),
    ("WnN3", "w0+ u u u u u"),
    ("YTWN4LPPL0ULLW", "u u w0+ u u u L L L L L u w1+ w1! w1- w2+ w2! w2- L L L u"),
    ("3PUW443UnWaN0YWWTP", "u w0+ u u w1+ u u u u u u w2+ u u u u w1! w1- w2! w2- u w3+ u w4+ u u w5+ w5! w5- u u"),
    ("WP0n0a0W42WLUnYP0WPP", "w0+ u w1+ u u u u u u w2+ u u u w3+ u L u u u w4+ u u w5+ u w6+ u w7+ u u"),
    ("nU4aY1LP4L2Y2", "u u u u u u L L L L L L L u"),
    ("n0aYWYPLYnTTWW1", "u u u u w0+ u u w1+ u L L L L L L L L u"),
    ("PPY3P0WYLW", "w0+ u w1+ u u u w2+ u u w3+ u u L L u"),
    ("0PYPn", "u w0+ u u w1+ u u u"),
    ("NTnn1", "u u u u u u"),
    ("NF3WPNUWWLF0LWnU2WU", "u u u w0+ u w1+ u u u w0! w0- w2+ u w3+ u L L L L L L u u w4+ u u u"),
    ("Nn2nP", "u u u u w0+ u u"),
    ("34WWWWNFFF", "u u w0+ u w1+ u w2+ u w3+ u u u u u u"),
    ("WWF1a2P1nF3YW3WWP", "w0+ u w1+ u u u u u w0! w0- w2+ u u u u u u w3+ u u w4+ u w5+ u w6+ u u"),
    ("PWFaFa2nPYYWY10W0", "w0+ u w1+ u u u u u u u w1! w1- w2+ u u u w3+ u u u u w4+ u u u"),
    ("PWnY", "w0+ u w1+ u u u u"),
    ("NYLPFLYUn0UPT1YYW", "u u L L L L L u w0+ u u u w1+ u u u u u w2+ u u"),
    ("nY2Y403UaP", "u u u u u u u u u w0+ u u"),
    ("PaNa3nYT0NnL2", "w0+ u u u u u u u u u u u L L u"),
    ("aWna1nPUW", "u w0+ u u u u u w0! w0- w1+ u u w2+ u u"),
    ("WFWWW12YPnnL1", "w0+ u u w1+ u w2+ u w3+ u u u u w4+ u u u L L u"),
    ("Ln1U4UNFWaWWPWUW", "L L L u u u u u w0+ u u w0! w0- w1+ u w2+ u w3+ u w4+ u u w5+ u u"),
    ("PU24WYnLaFL2PWLL", "w0+ u u u u w1+ u u u L L L L L L L L L u"),
    ("LYnTLYU", "L L L L L L u u"),
    ("LPWULF", "L L L u w0+ w1+ L L u"),
    ("WWNWPPUU4L", "w0+ u w1+ u u w0! w0- w1! w1- w2+ u w3+ u w4+ u u u u L u"),
    ("aL2NL4WaLFW3TU3Ln", "u L L L L L L L L L L L L u u w0+ w1+ L L u"),
    ("UNWaYWF12", "u u w0+ u u w0! w0- u w1+ u u u u u"),
    ("0PTnFLUUUY2", "u w0+ u u u u L u u u u u u"),
    ("TW3ULT4", "u w0+ u u u L L L u"),
    ("nPaLPnY3Y2T0", "u w0+ u u L L L L L L L L L u"),
    ("TL4TL0FW", "u L L L L L L L u"),
    ("nY03P1YPWU2YNPWWn", "u u u u w0+ u u u w1+ u w2+ u u u u u w3+ u w4+ u w5+ u u u"),
    ("PaaUYnnW2WWUW4", "w0+ u u u u u u u w1+ u u w2+ u w3+ u u w4+ u u u"),
    ("nTYWY0PPnWn", "u u u w0+ u u u w1+ w1! w1- u w2+ w2! w2- u u w3+ u u u"),
    ("nnWFTaLnYLYP3a213W0n", "u u w0+ u u u u L L L L L L L L L L L L L L u"),
    ("WWa3WLWn3nWT", "w0+ u w1+ u u u w0! w0- w1! w1- w2+ u L L L L L L L u"),
    ("LW13WP4U34UFL3WP", "L L L L L L L u u u u u w0+ w1+ w2+ L L L L u"),
    ("WP1UYFTU", "w0+ u w1+ u u u u u u u u"),
    ("YUn1nnYWnL3Ya3N", "u u u u u u u w0+ u u L L L L L L u"),
    ("PFnP3L2", "w0+ u u u w1+ u u L L u"),
    ("1P0nYWY4", "u w0+ u u u u w1+ u u u u"),
    ("NWWFU2", "u w0+ u w1+ u u u u u"),
    ("1FWnnnn", "u u w0+ u u u u u u"),
    ("nYLnFnW", "u u L L L L L u"),
    ("LL0P4T0", "L L L L L L L u"),
    ("34nTnPPa4Wnn4Y", "u u u u u w0+ w0! w0- u w1+ w1! w1- u u u w2+ u u u u w2! w2- u u"),
    ("FaP0PLYFU4ULa3WUTn", "u u w0+ u u w1+ u L L L u u u L L L L u u w1! w1- w2+ u u"),
    ("PW32n4U0F1T3", "w0+ u w1+ u u u u u u u u u u u u"),
    ("WnL4YW0N0WPLFP2LTP", "w0+ u u L L L L L L L L L L L L L L L L u"),
    ("an1nL", "u u u u L u"),
    ("nT32UNLna", "u u u u u u L L L u"),
    ("n31W42YWYn4WFTanW", "u u u w0+ u u u u w1+ u u u u w0! w0- w2+ u u u u u w1! w1- w2! w2- w3+ u u"),
    ("LW34LULn", "L L L L L u w0+ L L u"),
    ("ULLYWL4PPTUnP34", "u L L L L L L L L L u w0+ w1+ w1! w1- w2+ w2! w2- u w0! w0- w3+ w3! w3- u u u u"),
    ("FLLYWPPN0F2PWT23YW", "u L L L L L L L L L L L L L L L L L u"),
    ("04nWUUnTPWWP", "u u u w0+ u u u u u w0! w0- w1+ w1! w1- u w2+ u w3+ u w4+ w4! w4- u u"),
    ("nYUW1anY43UPWannn", "u u u w0+ u u u u w0! w0- u u u u w1+ u w2+ u u u u u u"),
    ("aWY0PUnYWnYWWT0n", "u w0+ u u u w1+ u u u u w2+ u u u w3+ u w4+ u u u u u"),
    ("4WLUUF1UYP2TFPNLn", "u w0+ u L u u u u u u w1+ u u u u w2+ u u L L u"),
    ("U2F014", "u u u u u u u"),
];

/// Checks every script of `table`; lists all that differ.
fn check(table: &[(&str, &str)], trace: fn(&str) -> String) {
    let mut bad = Vec::new();
    for &(script, expected) in table {
        let got = trace(script);
        if got != expected {
            bad.push(format!("{script}\n  py: {expected}\n  rs: {got}"));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn condition_follows_cpython_step_by_step() {
    check(CONDITION_TRACES, |s| condition_trace(s, false));
}

#[test]
fn condition_with_cancellations_follows_cpython_step_by_step() {
    check(CONDITION_CANCEL_TRACES, |s| condition_trace(s, false));
}

#[test]
fn condition_with_cancellations_in_the_same_turn_follows_cpython_step_by_step() {
    check(CONDITION_SAME_TURN_TRACES, |s| condition_trace(s, true));
}

// ---- Lock, Semaphore, BoundedSemaphore, Event, queues --------------------------------------

/// Cancels task `op` (a digit) if it was spawned.
fn cancel_digit(tasks: &[asyncio::Task<()>], op: char) {
    if let Some(t) = op.to_digit(10).and_then(|k| tasks.get(k as usize)) {
        t.cancel();
    }
}

/// Runs a script's operations, one loop turn and a snapshot after each, then cancels every
/// task and turns three times: the frame every primitive's trace shares. `step` performs one
/// operation (spawning into the vector); `snap` gives the snapshot. `same_turn`: see below.
fn frame<S, T>(script: &str, same_turn: bool, step: S, snap: T) -> String
where
    S: Fn(char, &mut Vec<asyncio::Task<()>>, &Rc<RefCell<Vec<String>>>) + 'static,
    T: Fn() -> String + 'static,
{
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let out = log.clone();
    let script = script.to_string();
    run(async move {
        let mut tasks = Vec::new();
        for op in script.chars() {
            if op.is_ascii_digit() {
                cancel_digit(&tasks, op);
            } else {
                step(op, &mut tasks, &log);
            }
            // In a same-turn script a cancellation and a call that wakes (release, set,
            // clear, get_nowait, put_nowait, task_done) take no turn: the next operation
            // comes before the task they woke or cancelled has run.
            if !(same_turn && (op.is_ascii_digit() || "rscgpd".contains(op))) {
                yield_now().await;
            }
            push(&log, snap());
        }
        for t in &tasks {
            t.cancel();
        }
        for _ in 0..3 {
            yield_now().await;
        }
        push(&log, snap());
    });
    let trace = out.borrow().join(" ");
    trace
}

fn lock_trace(script: &str, same_turn: bool) -> String {
    let lock = Rc::new(Lock::new());
    let l = lock.clone();
    frame(
        script,
        same_turn,
        move |op, tasks, log| match op {
            'A' => {
                let (lock, log, id) = (lock.clone(), log.clone(), tasks.len());
                tasks.push(spawn(async move {
                    lock.acquire().await;
                    push(&log, format!("t{id}+"));
                }));
            }
            'r' if lock.locked() => lock.release().unwrap(),
            _ => {}
        },
        move || (if l.locked() { "L" } else { "u" }).into(),
    )
}

/// A semaphore of 2, bounded or not, through the methods both kinds have.
trait Sem {
    fn acquire(&self) -> asyncio::sync::SemaphoreAcquire<'_>;
    /// `false` when a bounded semaphore refuses.
    fn release_ok(&self) -> bool;
    fn value(&self) -> usize;
    fn locked(&self) -> bool;
}

impl Sem for Semaphore {
    fn acquire(&self) -> asyncio::sync::SemaphoreAcquire<'_> {
        Semaphore::acquire(self)
    }
    fn release_ok(&self) -> bool {
        self.release();
        true
    }
    fn value(&self) -> usize {
        Semaphore::value(self)
    }
    fn locked(&self) -> bool {
        Semaphore::locked(self)
    }
}

impl Sem for BoundedSemaphore {
    fn acquire(&self) -> asyncio::sync::SemaphoreAcquire<'_> {
        BoundedSemaphore::acquire(self)
    }
    fn release_ok(&self) -> bool {
        self.release().is_ok()
    }
    fn value(&self) -> usize {
        BoundedSemaphore::value(self)
    }
    fn locked(&self) -> bool {
        BoundedSemaphore::locked(self)
    }
}

fn semaphore_trace<S: Sem + 'static>(sem: S, script: &str, same_turn: bool) -> String {
    let sem = Rc::new(sem);
    let s = sem.clone();
    frame(
        script,
        same_turn,
        move |op, tasks, log| match op {
            'A' => {
                let (sem, log, id) = (sem.clone(), log.clone(), tasks.len());
                tasks.push(spawn(async move {
                    sem.acquire().await;
                    push(&log, format!("t{id}+"));
                }));
            }
            'r' if !sem.release_ok() => push(log, "E".into()),
            _ => {}
        },
        move || format!("{}{}", s.value(), if s.locked() { "L" } else { "u" }),
    )
}

fn event_trace(script: &str, same_turn: bool) -> String {
    let ev = Rc::new(Event::new());
    let e = ev.clone();
    frame(
        script,
        same_turn,
        move |op, tasks, log| match op {
            'W' => {
                let (ev, log, id) = (ev.clone(), log.clone(), tasks.len());
                tasks.push(spawn(async move {
                    ev.wait().await;
                    push(&log, format!("t{id}!"));
                }));
            }
            's' => ev.set(),
            'c' => ev.clear(),
            _ => {}
        },
        move || (if e.is_set() { "S" } else { "c" }).into(),
    )
}

/// The trace function of one queue kind (they share no trait).
macro_rules! queue_trace {
    ($name:ident, $queue:ident) => {
        fn $name(script: &str, same_turn: bool) -> String {
            let q = Rc::new($queue::new(2));
            let q2 = q.clone();
            let item = Rc::new(Cell::new(0u32));
            frame(
                script,
                same_turn,
                move |op, tasks, log| {
                    // Python: `(n * 7) % 10`, out of order for the priority queue.
                    let next = || {
                        item.set(item.get() + 1);
                        item.get() * 7 % 10
                    };
                    let (q, log2, id) = (q.clone(), log.clone(), tasks.len());
                    match op {
                        'G' => tasks.push(spawn(async move {
                            let v = q.get().await;
                            push(&log2, format!("t{id}={v}"));
                        })),
                        'P' => {
                            let v = next();
                            tasks.push(spawn(async move {
                                q.put(v).await;
                                push(&log2, format!("t{id}<{v}"));
                            }));
                        }
                        'J' => tasks.push(spawn(async move {
                            q.join().await;
                            push(&log2, format!("t{id}j"));
                        })),
                        'g' => push(log, q.get_nowait().map_or("gE".into(), |v| format!("g{v}"))),
                        'p' => {
                            let v = next();
                            let r = q.put_nowait(v);
                            push(log, r.map_or("pF".into(), |()| format!("p{v}")));
                        }
                        'd' => push(log, (if q.task_done().is_ok() { "d" } else { "dE" }).into()),
                        _ => {}
                    }
                },
                move || format!("q{}", q2.qsize()),
            )
        }
    };
}

queue_trace!(queue_trace, Queue);
queue_trace!(lifo_queue_trace, LifoQueue);
queue_trace!(priority_queue_trace, PriorityQueue);

// The tables below: one operation from a driver task, then (unless it is a same-turn one)
// one loop turn, then a snapshot. `A` spawns a task that acquires (`t<id>+`); `W` one that
// waits for the event (`t<id>!`); `G` / `P` one that gets (`t<id>=<item>`) / puts
// (`t<id><<item>`); `J` one that joins (`t<id>j`); `r` releases (`E`: refused by the bounded
// semaphore; the lock only while held); `s` / `c` set / clear the event; `g` / `p`
// get_nowait / put_nowait (`g<item>`, `gE`, `p<item>`, `pF`); `d` task_done (`d`, `dE`); a
// digit `k` cancels task `k`; `Y` only turns. Same-turn operations (every table here is
// `--same-turn`): a cancellation and `r s c g p d` take no turn, so a release or a put comes
// before a task cancelled just before it has run. Snapshots: lock `L`/`u`; semaphore value
// and `L`/`u` for `locked()`; event `S`/`c`; queue `q<qsize>`. Items put are 7, 4, 1, 8, ...
// (`n * 7 % 10`), out of order for the priority queue. At the end every task is cancelled
// and the loop turns three times.

/// `tests/cpython_traces/primitives.py lock 100 1 --same-turn`: CPython 3.11.7's `Lock`.
const LOCK_TRACES: &[(&str, &str)] = &[
    ("255ArA05", "u u u t0+ L u t1+ L L L L"),
    (
        "03Y5AA0AYY255A40r4",
        "u u u u t0+ L L L L L L L L L L L L u u u",
    ),
    ("2ArAAA31AY3", "u t0+ L u t1+ L L L L L L L L L"),
    ("Y4A1A5001A", "u u t0+ L L L L L L L L L"),
    ("A3A50rAY13AA34r", "t0+ L L L L L u t1+ L L L L L L L L u u"),
    ("4r441Y1", "u u u u u u u u"),
    ("rr201Y2A0A", "u u u u u u u t0+ L L L L"),
    (
        "Y3Ar14534rA031A5",
        "u u t0+ L u u u u u u u t1+ L L L L L L L",
    ),
    ("1Yr04A0Ar", "u u u u u t0+ L L L u u"),
    ("3AA1AA5A11AY1r2r", "u t0+ L L L L L L L L L L L L u u u u"),
    (
        "r3124AY5415A151AYA",
        "u u u u u t0+ L L L L L L L L L L L L L L",
    ),
    (
        "r21A1Y0rYrA11252r02",
        "u u u t0+ L L L L u u u t1+ L L L L L L u u u u",
    ),
    ("5A3A", "u t0+ L L L L"),
    ("A515rA3AA", "t0+ L L L L u t1+ L L L L L"),
    ("0A55", "u t0+ L L L L"),
    ("ArA52ArrAAAr", "t0+ L u t1+ L L L L u u t2+ L L L u u"),
    (
        "A3r34r04r00AArYrY5Ar",
        "t0+ L L u u u u u u u u u t1+ L L u t2+ L u u u t3+ L u u",
    ),
    ("r41A2YA", "u u u t0+ L L L L L"),
    ("AYAA4A0413Y", "t0+ L L L L L L L L L L L L"),
    ("35410A13AY3", "u u u u u t0+ L L L L L L L"),
    (
        "33YA4rAAArAArr",
        "u u u t0+ L L u t1+ L L L u t2+ L L u u u",
    ),
    ("Y2rAA1A2A", "u u u t0+ L L L L L L L"),
    (
        "A5421AYArAA23Y2A0A",
        "t0+ L L L L L L L L u t1+ L L L L L L L L L L",
    ),
    (
        "r10Ar2YrAAAr525A",
        "u u u t0+ L u u u u t1+ L L L u u u u u u",
    ),
    (
        "YAr3AY1r31051A",
        "u t0+ L u u t1+ L L L u u u u u u t2+ L L",
    ),
    ("4AAAAA", "u t0+ L L L L L L"),
    ("r5r21rrrrA", "u u u u u u u u u t0+ L L"),
    ("A2540A215ArAY", "t0+ L L L L L L L L L L u t2+ L L L"),
    ("Y5AArA", "u u t0+ L L u t1+ L L"),
    (
        "A21A2Arrr21A0rA5",
        "t0+ L L L L L L u u u u u t3+ L L u t4+ L L L",
    ),
    ("rA23A", "u t0+ L L L L L"),
    ("YA5AAA", "u t0+ L L L L L L"),
    (
        "AA0A3AA4AYY51r1r4",
        "t0+ L L L L L L L L L L L L L u u u u u",
    ),
    (
        "rAA3rAAA5r42r0YrYAA",
        "u t0+ L L L u t1+ L L L L u u u u u u u t3+ L L L L",
    ),
    ("20ArA5251403rr", "u u t0+ L u t1+ L L L L L L L L u u u"),
    ("1ArAArArA", "u t0+ L u t1+ L L u t2+ L u t3+ L L"),
    (
        "A323rAYrArAr52rArA",
        "t0+ L L L L u t1+ L L u t2+ L u t3+ L u u u u t4+ L u t5+ L L",
    ),
    ("AAA5AY", "t0+ L L L L L L L"),
    ("r1A4AA", "u u t0+ L L L L L"),
    ("r55r", "u u u u u"),
    (
        "0AA155rA13AA5AArrA4",
        "u t0+ L L L L L u t2+ L L L L L L L L u u t3+ L L L",
    ),
    (
        "2rAAA14A5r253144AArY",
        "u u t0+ L L L L L L L u u u u u u u t4+ L L u t5+ L L",
    ),
    ("A43Ar5A30", "t0+ L L L L u u t1+ L L L L"),
    (
        "1r1010AYrAr0A53Y2",
        "u u u u u u t0+ L L u t1+ L u u t2+ L L L L L L",
    ),
    ("A4r2", "t0+ L L u u u"),
    ("2AArrY2Y", "u t0+ L L u u t1+ L L L L"),
    ("2AA0AA1r1", "u t0+ L L L L L L u u u"),
    (
        "334AAr030A4Yr1243r",
        "u u u t0+ L L u u u u t1+ L L L u u u u u u u",
    ),
    ("AA513rA155A", "t0+ L L L L L u t2+ L L L L L L"),
    ("r4r1rA44402AA", "u u u u u t0+ L L L L L L L L L"),
    (
        "2YAArYA2455A03Y43rY1",
        "u u t0+ L L u t1+ L L L L L L L L L L L L u u u u",
    ),
    ("14A1A5r3A", "u u t0+ L L L L u u t1+ L L"),
    ("4AA52334A0AY", "u t0+ L L L L L L L L L L L L"),
    (
        "YAr0A20AAY21YA3rr",
        "u t0+ L u u t1+ L L L L L L L L L L L u u u",
    ),
    ("Y41AA102AA3", "u u u t0+ L L L L L L L L L"),
    ("rAArA1Arr25", "u t0+ L L u t1+ L L L u u u u u"),
    ("3055A1r0YA5A", "u u u u t0+ L L u u u t1+ L L L L"),
    (
        "Ar5A5AA24A1r3543",
        "t0+ L u u t1+ L L L L L L L L u u u u u u",
    ),
    ("A1r25rY1", "t0+ L L u u u u u u u"),
    ("51rAA040rr1Yr54", "u u u t0+ L L L L L u u u u u u u u"),
    (
        "A3YYA1Ar324441A021Y",
        "t0+ L L L L L L L u u u u u u u t3+ L L L L L L",
    ),
    ("4A0231Ar1A3Y2", "u t0+ L L L L L L u u t2+ L L L L L"),
    (
        "Yr22444A04A33r3AY",
        "u u u u u u u t0+ L L L L L L u u t1+ L L L",
    ),
    ("35Y5rA5A", "u u u u u t0+ L L L L"),
    ("rr54", "u u u u u"),
    (
        "31rA0r0A01Ar1A42Y",
        "u u u t0+ L L u u t1+ L L L L u u t2+ L L L L L",
    ),
    ("rA30AA", "u t0+ L L L L L L"),
    (
        "4A4AY34r2rA1AArrAA41",
        "u t0+ L L L L L L u u u t1+ L L L L u u t2+ L L L L L",
    ),
    ("0114AAr3441rr24", "u u u u t0+ L L u u u u u u u u u u"),
    ("Y1YA05r2r4A", "u u u t0+ L L L u u u u t1+ L L"),
    ("24A3A2YrY5A5", "u u t0+ L L L L L u t1+ L L L L L"),
    ("AA34A2024A2r", "t0+ L L L L L L L L L L L u u"),
    (
        "1AA5A40rr5YAA4A43r",
        "u t0+ L L L L L L u u u t1+ L L L L L L L u u",
    ),
    ("AAYr0A", "t0+ L L L u u t1+ L L"),
    ("AA52A5A3A", "t0+ L L L L L L L L L L"),
    (
        "41420r3rA24AAAYA00Y",
        "u u u u u u u u t0+ L L L L L L L L L L L L",
    ),
    ("AAr012YA0", "t0+ L L u u u u u t2+ L L L"),
    ("r02AAAAA5A0r", "u u u t0+ L L L L L L L L u u"),
    ("2rAYA53A5AAYA31A", "u u t0+ L L L L L L L L L L L L L L L"),
    (
        "rAA03rAA1A1AAr5A",
        "u t0+ L L L L u t1+ L L L L L L L u u t2+ L L",
    ),
    (
        "AAA03A4r3A30Yr3rr",
        "t0+ L L L L L L L u u t1+ L L L L u u u u u",
    ),
    ("AA252ArY241", "t0+ L L L L L L u t1+ L L L L L"),
    (
        "Ar1Y1A41Y3A4r4245ArA",
        "t0+ L u u u u t1+ L L L L L L L u u u u u t3+ L u t4+ L L",
    ),
    ("AAAYAA3", "t0+ L L L L L L L L"),
    ("101rAr", "u u u u t0+ L u u"),
    ("A1A03", "t0+ L L L L L L"),
    ("Y540A41r", "u u u u t0+ L L L u u"),
    ("r5rArA", "u u u t0+ L u t1+ L L"),
    (
        "A4rr4Ar5Y5A3rAYA",
        "t0+ L L u u u t1+ L u u u u t2+ L L u t3+ L L L L",
    ),
    (
        "1Arr15Y20AA301142411",
        "u t0+ L u u u u u u u t1+ L L L L L L L L L L L L",
    ),
    ("r4AA", "u u t0+ L L L"),
    ("Y1rAYrA2AAr531r", "u u u t0+ L L u t1+ L L L L u u u u u u"),
    (
        "rrrrr4411A1AAr4r5",
        "u u u u u u u u u t0+ L L L L u u u u u",
    ),
    ("2A0r00r4YA25AA", "u t0+ L L u u u u u u t1+ L L L L L L"),
    ("102r5", "u u u u u u"),
    ("424rr53rYr0", "u u u u u u u u u u u u"),
    ("11AAAr3A2AAA5Y", "u u t0+ L L L u u t1+ L L L L L L L L"),
    ("5A13r", "u t0+ L L L u u"),
    ("ArA3213", "t0+ L u t1+ L L L L L L"),
    ("A5A3A1", "t0+ L L L L L L L"),
];

/// `tests/cpython_traces/primitives.py semaphore 100 1 --same-turn`: CPython 3.11.7's `Semaphore(2)`.
const SEMAPHORE_TRACES: &[(&str, &str)] = &[
    ("255ArA05", "2u 2u 2u t0+ 1u 2u t1+ 1u 1u 1u 1u"),
    (
        "03Y5AA0AYY255A40r4",
        "2u 2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u",
    ),
    (
        "2ArAAA31AY3",
        "2u t0+ 1u 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L",
    ),
    ("Y4A1A5001A", "2u 2u t0+ 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L"),
    (
        "A3A50rAY13AA34r",
        "t0+ 1u 1u t1+ 0L 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 1u 1u",
    ),
    ("4r441Y1", "2u 3u 3u 3u 3u 3u 3u 3u"),
    ("rr201Y2A0A", "3u 4u 4u 4u 4u 4u 4u t0+ 3u 3u t1+ 2u 2u"),
    (
        "Y3Ar14534rA031A5",
        "2u 2u t0+ 1u 2u 2u 2u 2u 2u 2u 3u t1+ 2u 2u 2u 2u t2+ 1u 1u 1u",
    ),
    ("1Yr04A0Ar", "2u 2u 3u 3u 3u t0+ 2u 2u t1+ 1u 2u 2u"),
    (
        "3AA1AA5A11AY1r2r",
        "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 2u",
    ),
    (
        "r3124AY5415A151AYA",
        "3u 3u 3u 3u 3u t0+ 2u 2u 2u 2u 2u 2u t1+ 1u 1u 1u 1u t2+ 0L 0L 0L 0L",
    ),
    (
        "r21A1Y0rYrA11252r02",
        "3u 3u 3u t0+ 2u 2u 2u 2u 3u 3u 4u t1+ 3u 3u 3u 3u 3u 3u 4u 4u 4u 4u",
    ),
    ("5A3A", "2u t0+ 1u 1u t1+ 0L 0L"),
    ("A515rA3AA", "t0+ 1u 1u 1u 1u 2u t1+ 1u 1u t2+ 0L 0L 0L"),
    ("0A55", "2u t0+ 1u 1u 1u 1u"),
    (
        "ArA52ArrAAAr",
        "t0+ 1u 2u t1+ 1u 1u 1u t2+ 0L 1u 2u t3+ 1u t4+ 0L 0L 0L 1u",
    ),
    (
        "A3r34r04r00AArYrY5Ar",
        "t0+ 1u 1u 2u 2u 2u 3u 3u 3u 4u 4u 4u t1+ 3u t2+ 2u 3u 3u 4u 4u 4u t3+ 3u 4u 4u",
    ),
    ("r41A2YA", "3u 3u 3u t0+ 2u 2u 2u t1+ 1u 1u"),
    ("AYAA4A0413Y", "t0+ 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("35410A13AY3", "2u 2u 2u 2u 2u t0+ 1u 1u 1u t1+ 0L 0L 0L 0L"),
    (
        "33YA4rAAArAArr",
        "2u 2u 2u t0+ 1u 1u 2u t1+ 1u t2+ 0L 0L 0L t3+ 0L 0L 0L 0L 2u",
    ),
    ("Y2rAA1A2A", "2u 2u 3u t0+ 2u t1+ 1u 1u t2+ 0L 0L 0L 0L"),
    (
        "A5421AYArAA23Y2A0A",
        "t0+ 1u 1u 1u 1u 1u t1+ 0L 0L 0L 0L t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L",
    ),
    (
        "r10Ar2YrAAAr525A",
        "3u 3u 3u t0+ 2u 3u 3u 3u 4u t1+ 3u t2+ 2u t3+ 1u 2u 2u 2u 2u t4+ 1u 1u",
    ),
    (
        "YAr3AY1r31051A",
        "2u t0+ 1u 2u 2u t1+ 1u 1u 1u 2u 2u 2u 2u 2u 2u t2+ 1u 1u",
    ),
    ("4AAAAA", "2u t0+ 1u t1+ 0L 0L 0L 0L 0L"),
    ("r5r21rrrrA", "3u 3u 4u 4u 4u 5u 6u 7u 8u t0+ 7u 7u"),
    (
        "A2540A215ArAY",
        "t0+ 1u 1u 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L t2+ 0L 0L 0L",
    ),
    ("Y5AArA", "2u 2u t0+ 1u t1+ 0L 1u t2+ 0L 0L"),
    (
        "A21A2Arrr21A0rA5",
        "t0+ 1u 1u 1u t1+ 0L 0L 0L 0L 1L 2L 2L 2L t3+ 2u 2u 3u t4+ 2u 2u 2u",
    ),
    ("rA23A", "3u t0+ 2u 2u 2u t1+ 1u 1u"),
    ("YA5AAA", "2u t0+ 1u 1u t1+ 0L 0L 0L 0L"),
    (
        "AA0A3AA4AYY51r1r4",
        "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 2u",
    ),
    (
        "rAA3rAAA5r42r0YrYAA",
        "3u t0+ 2u t1+ 1u 1u 2u t2+ 1u t3+ 0L 0L 0L 0L 0L 0L 1L 1L 2u 3u 3u t5+ 2u t6+ 1u 1u",
    ),
    (
        "20ArA5251403rr",
        "2u 2u t0+ 1u 2u t1+ 1u 1u 1u 1u 1u 1u 1u 1u 2u 3u 3u",
    ),
    (
        "1ArAArArA",
        "2u t0+ 1u 2u t1+ 1u t2+ 0L 1u t3+ 0L 1u t4+ 0L 0L",
    ),
    (
        "A323rAYrArAr52rArA",
        "t0+ 1u 1u 1u 1u 2u t1+ 1u 1u 2u t2+ 1u 2u t3+ 1u 2u 2u 2u 3u t4+ 2u 3u t5+ 2u 2u",
    ),
    ("AAA5AY", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L"),
    ("r1A4AA", "3u 3u t0+ 2u 2u t1+ 1u t2+ 0L 0L"),
    ("r55r", "3u 3u 3u 4u 4u"),
    (
        "0AA155rA13AA5AArrA4",
        "2u t0+ 1u t1+ 0L 0L 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L t3+ t4+ 0L 0L 0L",
    ),
    (
        "2rAAA14A5r253144AArY",
        "2u 3u t0+ 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L t4+ 0L 0L 0L t5+ 0L 0L",
    ),
    ("A43Ar5A30", "t0+ 1u 1u 1u t1+ 0L 1u 1u t2+ 0L 0L 0L 0L"),
    (
        "1r1010AYrAr0A53Y2",
        "2u 3u 3u 3u 3u 3u t0+ 2u 2u 3u t1+ 2u 3u 3u t2+ 2u 2u 2u 2u 2u 2u",
    ),
    ("A4r2", "t0+ 1u 1u 2u 2u 2u"),
    ("2AArrY2Y", "2u t0+ 1u t1+ 0L 1u 2u 2u 2u 2u 2u"),
    ("2AA0AA1r1", "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 1u"),
    (
        "334AAr030A4Yr1243r",
        "2u 2u 2u t0+ 1u t1+ 0L 1u 1u 1u 1u t2+ 0L 0L 0L 1u 1u 1u 1u 1u 2u 2u",
    ),
    (
        "AA513rA155A",
        "t0+ 1u t1+ 0L 0L 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L",
    ),
    (
        "r4r1rA44402AA",
        "3u 3u 4u 4u 5u t0+ 4u 4u 4u 4u 4u 4u t1+ 3u t2+ 2u 2u",
    ),
    (
        "2YAArYA2455A03Y43rY1",
        "2u 2u t0+ 1u t1+ 0L 1u 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u 1u 1u 1u",
    ),
    ("14A1A5r3A", "2u 2u t0+ 1u 1u t1+ 0L 0L 1u 1u t2+ 0L 0L"),
    (
        "4AA52334A0AY",
        "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L",
    ),
    (
        "YAr0A20AAY21YA3rr",
        "2u t0+ 1u 2u 2u t1+ 1u 1u 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 1L 2u",
    ),
    ("Y41AA102AA3", "2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L"),
    (
        "rAArA1Arr25",
        "3u t0+ 2u t1+ 1u 2u t2+ 1u 1u t3+ 0L 1u 2u 2u 2u 2u",
    ),
    (
        "3055A1r0YA5A",
        "2u 2u 2u 2u t0+ 1u 1u 2u 2u 2u t1+ 1u 1u t2+ 0L 0L",
    ),
    (
        "Ar5A5AA24A1r3543",
        "t0+ 1u 2u 2u t1+ 1u 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u",
    ),
    ("A1r25rY1", "t0+ 1u 1u 2u 2u 2u 3u 3u 3u 3u"),
    (
        "51rAA040rr1Yr54",
        "2u 2u 3u t0+ 2u t1+ 1u 1u 1u 1u 2u 3u 3u 3u 4u 4u 4u 4u",
    ),
    (
        "A3YYA1Ar324441A021Y",
        "t0+ 1u 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L t3+ 0L 0L 0L 0L 0L 0L",
    ),
    (
        "4A0231Ar1A3Y2",
        "2u t0+ 1u 1u 1u 1u 1u t1+ 0L 1u 1u t2+ 0L 0L 0L 0L 0L",
    ),
    (
        "Yr22444A04A33r3AY",
        "2u 3u 3u 3u 3u 3u 3u t0+ 2u 2u 2u t1+ 1u 1u 1u 2u 2u t2+ 1u 1u 1u",
    ),
    ("35Y5rA5A", "2u 2u 2u 2u 3u t0+ 2u 2u t1+ 1u 1u"),
    ("rr54", "3u 4u 4u 4u 4u"),
    (
        "31rA0r0A01Ar1A42Y",
        "2u 2u 3u t0+ 2u 2u 3u 3u t1+ 2u 2u 2u t2+ 1u 2u 2u t3+ 1u 1u 1u 1u 1u",
    ),
    ("rA30AA", "3u t0+ 2u 2u 2u t1+ 1u t2+ 0L 0L"),
    (
        "4A4AY34r2rA1AArrAA41",
        "2u t0+ 1u 1u t1+ 0L 0L 0L 0L 1u 1u 2u t2+ 1u 1u t3+ 0L 0L 0L 1L t4+ t5+ 0L 0L 0L 0L 0L",
    ),
    (
        "0114AAr3441rr24",
        "2u 2u 2u 2u t0+ 1u t1+ 0L 1u 1u 1u 1u 1u 2u 3u 3u 3u 3u",
    ),
    ("Y1YA05r2r4A", "2u 2u 2u t0+ 1u 1u 1u 2u 2u 3u 3u t1+ 2u 2u"),
    (
        "24A3A2YrY5A5",
        "2u 2u t0+ 1u 1u t1+ 0L 0L 0L 1u 1u 1u t2+ 0L 0L 0L",
    ),
    (
        "AA34A2024A2r",
        "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u",
    ),
    (
        "1AA5A40rr5YAA4A43r",
        "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 1L 1L t2+ 1u t3+ 0L 0L 0L 0L 0L 0L 0L 1u",
    ),
    ("AAYr0A", "t0+ 1u t1+ 0L 0L 1u 1u t2+ 0L 0L"),
    ("AA52A5A3A", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L"),
    (
        "41420r3rA24AAAYA00Y",
        "2u 2u 2u 2u 2u 3u 3u 4u t0+ 3u 3u 3u t1+ 2u t2+ 1u t3+ 0L 0L 0L 0L 0L 0L 0L",
    ),
    ("AAr012YA0", "t0+ 1u t1+ 0L 1u 1u 1u 1u 1u t2+ 0L 0L 0L"),
    (
        "r02AAAAA5A0r",
        "3u 3u 3u t0+ 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L 0L 1u",
    ),
    (
        "2rAYA53A5AAYA31A",
        "2u 3u t0+ 2u 2u t1+ 1u 1u 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L",
    ),
    (
        "rAA03rAA1A1AAr5A",
        "3u t0+ 2u t1+ 1u 1u 1u 2u t2+ 1u t3+ 0L 0L 0L 0L 0L 0L 0L 0L t4+ 0L 0L",
    ),
    (
        "AAA03A4r3A30Yr3rr",
        "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L t2+ 0L 0L 0L 0L 0L 0L 1L 2L 3u",
    ),
    (
        "AA252ArY241",
        "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L t2+ 0L 0L 0L 0L 0L",
    ),
    (
        "Ar1Y1A41Y3A4r4245ArA",
        "t0+ 1u 2u 2u 2u 2u t1+ 1u 1u 1u 1u 1u t2+ 0L 0L 1u 1u 1u 1u 1u t3+ 0L 1u t4+ 0L 0L",
    ),
    ("AAAYAA3", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L"),
    ("101rAr", "2u 2u 2u 3u t0+ 2u 3u 3u"),
    ("A1A03", "t0+ 1u 1u t1+ 0L 0L 0L 0L"),
    ("Y540A41r", "2u 2u 2u 2u t0+ 1u 1u 1u 2u 2u"),
    ("r5rArA", "3u 3u 4u t0+ 3u 4u t1+ 3u 3u"),
    (
        "A4rr4Ar5Y5A3rAYA",
        "t0+ 1u 1u 2u 3u 3u t1+ 2u 3u 3u 3u 3u t2+ 2u 2u 3u t3+ 2u 2u t4+ 1u 1u",
    ),
    (
        "1Arr15Y20AA301142411",
        "2u t0+ 1u 2u 3u 3u 3u 3u 3u 3u t1+ 2u t2+ 1u 1u 1u 1u 1u 1u 1u 1u 1u 1u 1u",
    ),
    ("r4AA", "3u 3u t0+ 2u t1+ 1u 1u"),
    (
        "Y1rAYrA2AAr531r",
        "2u 2u 3u t0+ 2u 2u 3u t1+ 2u 2u t2+ 1u t3+ 0L 1u 1u 1u 1u 2u 2u",
    ),
    (
        "rrrrr4411A1AAr4r5",
        "3u 4u 5u 6u 7u 7u 7u 7u 7u t0+ 6u 6u t1+ 5u t2+ 4u 5u 5u 6u 6u 6u",
    ),
    (
        "2A0r00r4YA25AA",
        "2u t0+ 1u 1u 2u 2u 2u 3u 3u 3u t1+ 2u 2u 2u t2+ 1u t3+ 0L 0L",
    ),
    ("102r5", "2u 2u 2u 3u 3u 3u"),
    ("424rr53rYr0", "2u 2u 2u 3u 4u 4u 4u 5u 5u 6u 6u 6u"),
    (
        "11AAAr3A2AAA5Y",
        "2u 2u t0+ 1u t1+ 0L 0L 0L 0L t2+ 0L 0L 0L 0L 0L 0L 0L 0L",
    ),
    ("5A13r", "2u t0+ 1u 1u 1u 2u 2u"),
    ("ArA3213", "t0+ 1u 2u t1+ 1u 1u 1u 1u 1u 1u"),
    ("A5A3A1", "t0+ 1u 1u t1+ 0L 0L 0L 0L 0L"),
];

/// `tests/cpython_traces/primitives.py bounded 100 1 --same-turn`: CPython 3.11.7's `BoundedSemaphore(2)`.
const BOUNDED_SEMAPHORE_TRACES: &[(&str, &str)] = &[
    ("1544ArAY", "2u 2u 2u 2u t0+ 1u 2u t1+ 1u 1u 1u"),
    ("Y2r4AAYA5rr144A3Yr", "2u 2u E 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 1L 1L 1L 1L t2+ t3+ 0L 0L 0L 1u 1u"),
    ("1ArAAA20Ar2", "2u t0+ 1u 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L 0L 1u"),
    ("r3A0A4YY0A", "E 2u 2u t0+ 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L"),
    ("A2A4YrAr502AA23", "t0+ 1u 1u t1+ 0L 0L 0L 1u t2+ 0L 1u 1u 1u 1u t3+ 0L 0L 0L 0L 0L"),
    ("A3r330r052Arr", "t0+ 1u 1u 2u 2u 2u 2u E 2u 2u 2u 2u t1+ 1u 2u E 2u 2u"),
    ("50r15AYA34rr2Ar0342", "2u 2u E 2u 2u 2u t0+ 1u 1u t1+ 0L 0L 0L 1u 2u 2u t2+ 1u 2u 2u 2u 2u 2u 2u"),
    ("AY20A4A05rrY3AY", "t0+ 1u 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L 1L t2+ 1u 1u t3+ 0L 0L 0L"),
    ("r3511", "E 2u 2u 2u 2u 2u 2u"),
    ("2AA0AA4A050Ar0r5", "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 2u"),
    ("Yr2013Ar455304A", "2u E 2u 2u 2u 2u 2u t0+ 1u 2u 2u 2u 2u 2u 2u 2u t1+ 1u 1u"),
    ("40ArAY5r10A0rY5rrrA0", "2u 2u t0+ 1u 2u t1+ 1u 1u 1u 2u 2u 2u t2+ 1u 1u 2u 2u 2u E 2u E 2u E 2u t3+ 1u 1u 1u"),
    ("Y1A4A2A01A5A40", "2u 2u t0+ 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("A52AA5AYA44r", "t0+ 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u"),
    ("rA41ArrAAAr", "E 2u t0+ 1u 1u 1u t1+ 0L 1u 2u t2+ 1u t3+ 0L 0L 0L 1u"),
    ("A2r23rY3rYYAArrrr4Ar", "t0+ 1u 1u 2u 2u 2u E 2u 2u 2u E 2u 2u 2u t1+ 1u t2+ 0L 1u 2u E 2u E 2u 2u t3+ 1u 2u 2u"),
    ("r30A1r5", "E 2u 2u 2u t0+ 1u 1u 2u 2u 2u"),
    ("AArA", "t0+ 1u t1+ 0L 1u t2+ 0L 0L"),
    ("3AY30", "2u t0+ 1u 1u 1u 1u 1u"),
    ("05A2430YA02Ar214r", "2u 2u t0+ 1u 1u 1u 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 1L 2u"),
    ("A3rAAArA5Arr3Ar1r", "t0+ 1u 1u 2u t1+ 1u t2+ 0L 0L 0L t3+ 0L 0L 0L 0L 0L 0L t4+ t5+ 0L 0L 0L 1L 2u"),
    ("A05A15A1", "t0+ 1u 1u 1u t1+ 0L 0L 0L 0L 0L 0L"),
    ("A5554310ArArAA12r1", "t0+ 1u 1u 1u 1u 1u 1u 1u 1u t1+ 0L 1u t2+ 0L 1u t3+ 0L 0L 0L 0L 0L 0L 1u"),
    ("YA2rr0YAr1", "2u t0+ 1u 1u 2u E 2u 2u 2u t1+ 1u 2u 2u 2u"),
    ("rAAA5r414ArrAr2A", "E 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L t2+ 0L 0L 1L t3+ t4+ 0L 1u 1u t5+ 0L 0L"),
    ("0r520Y40AA3AAAAA", "2u E 2u 2u 2u 2u 2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("r4r105rrrr", "E 2u 2u E 2u 2u 2u 2u E 2u E 2u E 2u E 2u 2u"),
    ("rA5143Y", "E 2u t0+ 1u 1u 1u 1u 1u 1u 1u"),
    ("104ArArA", "2u 2u 2u t0+ 1u 2u t1+ 1u 2u t2+ 1u 1u"),
    ("54A5ArA114rA10A1", "2u 2u t0+ 1u 1u t1+ 0L 1u t2+ 0L 0L 0L 0L 1u t3+ 0L 0L 0L 0L 0L 0L"),
    ("rrr10A", "E 2u E 2u E 2u 2u 2u t0+ 1u 1u"),
    ("rA4A5rA12AArA54AAA", "E 2u t0+ 1u 1u t1+ 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L t3+ 0L 0L 0L 0L 0L 0L 0L"),
    ("AAYA2AA35Arr405r0", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1L 1L 3u"),
    ("3YrAA2rAAA4r", "2u 2u E 2u t0+ 1u t1+ 0L 0L 1u t2+ 0L 0L 0L 0L 0L 1u"),
    ("YrrrAAr1YArA41", "2u E 2u E 2u E 2u t0+ 1u t1+ 0L 1u 1u 1u t2+ 0L 1u t3+ 0L 0L 0L 0L"),
    ("2rrA0ArAArA5rA4YA21", "2u E 2u E 2u t0+ 1u 1u t1+ 0L 1u t2+ 0L 0L 0L t3+ 0L 0L 0L t4+ 0L 0L 0L 0L 0L 0L 0L"),
    ("ArrArAr451rArA", "t0+ 1u 2u E 2u t1+ 1u 2u t2+ 1u 2u 2u 2u 2u E 2u t3+ 1u 2u t4+ 1u 1u"),
    ("AAA4Ar", "t0+ 1u t1+ 0L 0L 0L 0L 0L 1u"),
    ("r05A3A", "E 2u 2u 2u t0+ 1u 1u t1+ 0L 0L"),
    ("2Ar4", "2u t0+ 1u 2u 2u 2u"),
    ("YY55AA044rA02AA", "2u 2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L"),
    ("A55rrA30", "t0+ 1u 1u 1u 2u E 2u t1+ 1u 1u 1u 1u"),
    ("AAA03A4r51420", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 1u"),
    ("Arr0AA352A", "t0+ 1u 2u E 2u 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L"),
    ("4A2Y4r0r0Y50", "2u t0+ 1u 1u 1u 1u 2u 2u E 2u 2u 2u 2u 2u 2u"),
    ("Ar5rArYA42r1AA3r1A", "t0+ 1u 2u 2u E 2u t1+ 1u 2u 2u t2+ 1u 1u 1u 2u 2u t3+ 1u t4+ 0L 0L 1u 1u t5+ 0L 0L"),
    ("Ar5rr1rA", "t0+ 1u 2u 2u E 2u E 2u 2u E 2u t1+ 1u 1u"),
    ("AYAA0r", "t0+ 1u 1u t1+ 0L 0L 0L 0L 1u"),
    ("2Y223AArY2YA3rr0132r", "2u 2u 2u 2u 2u t0+ 1u t1+ 0L 1u 1u 1u 1u t2+ 0L 0L 1u 2u 2u 2u 2u 2u E 2u 2u"),
    ("AA402rA044A", "t0+ 1u t1+ 0L 0L 0L 0L 1u t2+ 0L 0L 0L 0L 0L 0L"),
    ("r3r50rA333Y1A", "E 2u 2u E 2u 2u 2u E 2u t0+ 1u 1u 1u 1u 1u 1u t1+ 0L 0L"),
    ("101rAAr", "2u 2u 2u E 2u t0+ 1u t1+ 0L 1u 1u"),
    ("A1344AY2r32rr05A0", "t0+ 1u 1u 1u 1u 1u t1+ 0L 0L 0L 1u 1u 1u 2u E 2u 2u 2u t2+ 1u 1u 1u"),
    ("0A4r2", "2u t0+ 1u 1u 2u 2u 2u"),
    ("r3AA415", "E 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L"),
    ("Y5A5r4", "2u 2u t0+ 1u 1u 2u 2u 2u"),
    ("rArYA1YAAr10rA2rr", "E 2u t0+ 1u 2u 2u t1+ 1u 1u 1u t2+ 0L 0L 0L 0L 0L 1L t3+ t4+ 0L 0L 1u 2u 2u"),
    ("r30AA0Y1AA2", "E 2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("5rAArA0Arr1", "2u E 2u t0+ 1u t1+ 0L 1u t2+ 0L 0L 0L 0L 1L 1L 2u"),
    ("52Y4545A0rYr", "2u 2u 2u 2u 2u 2u 2u t0+ 1u 1u 2u 2u E 2u 2u"),
    ("4A1rAr4", "2u t0+ 1u 1u 2u t1+ 1u 2u 2u 2u"),
    ("4AA13A0", "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L"),
    ("2432AA0r14rr0", "2u 2u 2u 2u t0+ 1u t1+ 0L 0L 1u 1u 1u 2u E 2u 2u 2u"),
    ("40rAAY3Yrr0rr43", "2u 2u E 2u t0+ 1u t1+ 0L 0L 0L 0L 1u 2u 2u E 2u E 2u 2u 2u 2u"),
    ("A2rrA0Ar2133530AY15", "t0+ 1u 1u 2u E 2u t1+ 1u 1u t2+ 0L 1u 1u 1u 1u 1u 1u 1u 1u t3+ 0L 0L 0L 0L 0L"),
    ("r33r3AY120Ar0A2r1rrr", "E 2u 2u 2u E 2u 2u t0+ 1u 1u 1u 1u 1u t1+ 0L 1u 1u t2+ 0L 0L 1u 1u 2u E 2u E 2u 2u"),
    ("Y3A22r", "2u 2u t0+ 1u 1u 1u 2u 2u"),
    ("r32A", "E 2u 2u 2u t0+ 1u 1u"),
    ("4r5A4A541Arr43r5", "2u E 2u 2u t0+ 1u 1u t1+ 0L 0L 0L 0L 0L 0L 1L 1L 1L 2L 2L 3u"),
    ("AY5rYAY0Ar0A3", "t0+ 1u 1u 1u 2u 2u t1+ 1u 1u 1u t2+ 0L 1u 1u t3+ 0L 0L 0L"),
    ("ArA2YAA03A3Ar23r1", "t0+ 1u 2u t1+ 1u 1u 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L 2u"),
    ("A0AArrAA3502r", "t0+ 1u 1u t1+ 0L 0L 0L 1L t2+ t3+ 0L 0L 0L 0L 0L 0L 0L 1u"),
    ("003AAr23350rr13Ar0", "2u 2u 2u t0+ 1u t1+ 0L 1u 1u 1u 1u 1u 1u 2u E 2u 2u 2u t2+ 1u 2u 2u 2u"),
    ("AY4r51r3Ar13A52A", "t0+ 1u 1u 1u 2u 2u 2u E 2u 2u t1+ 1u 2u 2u 2u t2+ 1u 1u 1u t3+ 0L 0L"),
    ("rr4A4rAA23A51Y13", "E 2u E 2u 2u t0+ 1u 1u 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("1rY0AA4A", "2u E 2u 2u 2u t0+ 1u t1+ 0L 0L 0L 0L"),
    ("rr4rAA3A32rAAArrYA", "E 2u E 2u 2u E 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 1u t3+ 0L 0L 0L 0L 0L t4+ t5+ 0L 0L 0L"),
    ("AA41A4A2A", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L"),
    ("30531Yr25rA13AAArAY", "2u 2u 2u 2u 2u 2u E 2u 2u 2u E 2u t0+ 1u 1u 1u t1+ 0L 0L 0L 0L t2+ 0L 0L 0L"),
    ("r4AAA5rY01rAY3rrY1", "E 2u 2u t0+ 1u t1+ 0L 0L 0L 0L t2+ 0L 0L 0L 1u t3+ 0L 0L 0L 1u 2u 2u 2u 2u"),
    ("AAAA4A5", "t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L"),
    ("rr51rArA542A4AArA20", "E 2u E 2u 2u 2u E 2u t0+ 1u 2u t1+ 1u 1u 1u 1u t2+ 0L 0L 0L 0L 0L t3+ 0L 0L 0L 0L"),
    ("1rrAA", "2u E 2u E 2u t0+ 1u t1+ 0L 0L"),
    ("25rAA0A05AAr4ArAAA", "2u 2u E 2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L 0L t2+ 0L 0L t3+ 0L 0L 0L 0L"),
    ("2A3r255A2Yrr2rr22AA", "2u t0+ 1u 1u 2u 2u 2u 2u t1+ 1u 1u 1u 2u E 2u 2u E 2u E 2u 2u 2u t2+ 1u t3+ 0L 0L"),
    ("141Ar", "2u 2u 2u t0+ 1u 2u 2u"),
    ("13020Ar0r0A30r2A3", "2u 2u 2u 2u 2u t0+ 1u 2u 2u E 2u 2u t1+ 1u 1u 1u 2u 2u t2+ 1u 1u 1u"),
    ("3134ArAAAAA5", "2u 2u 2u 2u t0+ 1u 2u t1+ 1u t2+ 0L 0L 0L 0L 0L 0L"),
    ("5AA2A50Y0rArAA0AY", "2u t0+ 1u t1+ 0L 0L 0L 0L 0L 0L 0L 0L t2+ 0L 0L t3+ 0L 0L 0L 0L 0L 0L"),
    ("r43YA30r", "E 2u 2u 2u 2u t0+ 1u 1u 1u 2u 2u"),
    ("r4rArA", "E 2u 2u E 2u t0+ 1u 2u t1+ 1u 1u"),
    ("A3rr3Ar4r4A52rAr", "t0+ 1u 1u 2u E 2u 2u t1+ 1u 2u 2u E 2u 2u t2+ 1u 1u 1u 2u t3+ 1u 2u 2u"),
    ("00Arr04r1YA", "2u 2u t0+ 1u 2u E 2u 2u 2u E 2u 2u 2u t1+ 1u 1u"),
    ("25Y00355", "2u 2u 2u 2u 2u 2u 2u 2u 2u"),
    ("0A5r3AArr0rArrA1AAr5", "2u t0+ 1u 1u 2u 2u t1+ 1u t2+ 0L 1u 2u 2u E 2u t3+ 1u 2u E 2u t4+ 1u 1u t5+ 0L 0L 0L 0L 1u"),
    ("rrrrrr3300A0AA", "E 2u E 2u E 2u E 2u E 2u E 2u 2u 2u 2u 2u t0+ 1u 1u t1+ 0L 0L 0L"),
    ("3r4r1AYrYYr3r5", "2u E 2u 2u E 2u 2u t0+ 1u 1u 2u 2u 2u E 2u 2u E 2u 2u 2u"),
    ("14AAA0", "2u 2u t0+ 1u t1+ 0L 0L 0L 0L"),
    ("15r4A313rr42rrrY1r0", "2u 2u E 2u 2u t0+ 1u 1u 1u 1u 2u E 2u 2u 2u E 2u E 2u E 2u 2u 2u E 2u 2u 2u"),
    ("AAAr2A1AAA4r31A4A02r", "t0+ 1u t1+ 0L 0L 0L 0L t3+ 0L 0L 0L 0L 0L 0L 0L 0L 0L t5+ 0L 0L 0L 0L 0L 0L 1u"),
];

/// `tests/cpython_traces/primitives.py event 100 1 --same-turn`: CPython 3.11.7's `Event`.
const EVENT_TRACES: &[(&str, &str)] = &[
    ("3WcW1114", "c c c c c c c c c"),
    (
        "sW1W003W51c5s3WY",
        "S t0! S S t1! S S S S t2! S S S c c S S t3! S S S",
    ),
    ("WW42", "c c c c c"),
    ("04s0", "c c S S S"),
    ("2s11", "c S S S S"),
    ("Ys4s1cW024W", "c S S S S c c c c c c c"),
    ("45cW5Y552", "c c c c c c c c c c"),
    ("24scc31203W1s5004", "c c S c c c c c c c c c S S S S S S"),
    ("Y2545YW14", "c c c c c c c c c c"),
    (
        "WW20Y15W1Wc533304WW2",
        "c c c c c c c c c c c c c c c c c c c c c",
    ),
    ("Ws22s02Y3Y1", "c S S S S S S S S S S S"),
    ("4235W052W22s", "c c c c c c c c c c c S S"),
    (
        "W1Y32s201Y0YW2233",
        "c c c c c S S S S S S S t1! S S S S S S",
    ),
    (
        "13Ws4W23WW2cW4",
        "c c c S S t0! t1! S S S t2! S t3! S S c c c c",
    ),
    ("WW1Wcs", "c c c c c S S"),
    ("W3WYcWWWc2W4", "c c c c c c c c c c c c c"),
    ("45c15Y11WWc0", "c c c c c c c c c c c c c"),
    ("0scWc52s30WsW0", "c S c c c c c S S S t1! S S t2! S S S"),
    ("W5W15240", "c c c c c c c c c"),
    ("4521s24W043", "c c c c S S S t0! S S S S S"),
    (
        "440W5cWsWcWWcc",
        "c c c c c c c S t0! t1! t2! S c c c c c c",
    ),
    ("03cWW2W3s", "c c c c c c c c S S"),
    (
        "W532W0sYWs3403s1W4",
        "c c c c c c S t1! S t2! S S S S S S S S t3! S S S",
    ),
    (
        "c21WY30cWWsY3WY0",
        "c c c c c c c c c c S t1! t2! S S t3! S S S S",
    ),
    ("c4W02Y4212", "c c c c c c c c c c c"),
    ("W5WWWWW2scY", "c c c c c c c c S c t0! t1! t3! t4! t5! c c"),
    (
        "cYYYWcs351W32WYW0W0W",
        "c c c c c c S S S S t0! t1! S S S t2! S S t3! S S t4! S S t5! S S",
    ),
    ("YW330W32", "c c c c c c c c c"),
    ("3WcYc32W1cW", "c c c c c c c c c c c c"),
    ("cW34W", "c c c c c c"),
    ("0WWss3", "c c c S S S S"),
    (
        "WW1W4sW5W002c2c51",
        "c c c c c S t0! t2! t3! S S t4! S S S S c c c c c c",
    ),
    (
        "Ws4YWWWc53Y10Y",
        "c S S t0! S t1! S t2! S t3! S c c c c c c c c",
    ),
    ("WWY31Wcs32514YcW", "c c c c c c c S S S S S S t0! S c c c"),
    ("cssYWcW1W4", "c S S S t0! S c c c c c c"),
    (
        "s0cWYWY3csYW23",
        "S S c c c c c c c S t0! t1! S t2! S S S S",
    ),
    ("ssWs0W", "S S t0! S S S t1! S S"),
    ("2W5WW4WcY11W", "c c c c c c c c c c c c c"),
    ("2YW24WW", "c c c c c c c c"),
    ("WYcW523c", "c c c c c c c c c"),
    ("sW25WY34", "S t0! S S S t1! S S S S S"),
    ("Wc02WW54sc", "c c c c c c c c S c c"),
    ("4102c2", "c c c c c c c"),
    (
        "21W0YWc1W403WW5Y3W",
        "c c c c c c c c c c c c c c c c c c c",
    ),
    ("Wcc030W3", "c c c c c c c c c"),
    ("s1WW2Y", "S S t0! S t1! S S S S"),
    (
        "41445ssY141s50Y2354c",
        "c c c c c S S S S S S S S S S S S S S c c",
    ),
    ("WW24YW2scc5", "c c c c c c c S c c c c"),
    ("2YW55513WW323", "c c c c c c c c c c c c c c"),
    (
        "WWc0s35W14054Y02",
        "c c c c S S S t1! t2! S S S S S S S S S S",
    ),
    ("25W2Wc4Wc", "c c c c c c c c c c"),
    ("W3445W", "c c c c c c c"),
    (
        "s000WY1W31sW0320W4",
        "S S S S t0! S S S t1! S S S S t2! S S S S S t3! S S S",
    ),
    ("cs052Ws213WW4", "c S S S S t0! S S S S S t1! S t2! S S S"),
    ("csWcW2scc3c", "c S t0! S c c c S c c c c c"),
    (
        "W2Y10Ws30scWWW35W2",
        "c c c c c c S S S S c t1! c c c c c c c c",
    ),
    ("454WW2Y3c024Y", "c c c c c c c c c c c c c c"),
    (
        "YWW151Yc20Y5431W400s",
        "c c c c c c c c c c c c c c c c c c c S S",
    ),
    ("c435", "c c c c c"),
    (
        "s132055c5W1342sY2W40",
        "S S S S S S S c c c c c c c S t0! S S t1! S S S S",
    ),
    (
        "0Y33555W15s44c4W0",
        "c c c c c c c c c c S S S c c t0! c c c",
    ),
    ("40cWW3WY", "c c c c c c c c c"),
    ("5042cW1c1W12", "c c c c c c c c c c c c c"),
    ("c2W53", "c c c c c c"),
    ("WYW41WW25W5W045c3", "c c c c c c c c c c c c c c c c c c"),
    ("s2ssYcWW524Y1", "S S S S S c c c c c c c c c"),
    (
        "25WWc4552cY35s020W1c",
        "c c c c c c c c c c c c c S S S S t1! t2! S S c c",
    ),
    ("5sc35s4W30Y0sc", "c S c c c S S t0! S S S S S S c c"),
    ("W45W3135W3", "c c c c c c c c c c c"),
    ("12WWW51Yc0sW", "c c c c c c c c c c S t2! t3! S S"),
    ("54cWWs0Y1W", "c c c c c S S t1! S S t2! S S"),
    ("WW3Ws4W15", "c c c c S S t0! t1! t2! t3! S S S S"),
    (
        "531Y4cW35WWs0s110Wss",
        "c c c c c c c c c c c S S S S S S t2! t3! S S S S",
    ),
    ("1230s15cY13Ws", "c c c c S S S c c c c c S S"),
    ("WWW1Y0", "c c c c c c c"),
    (
        "s0W4WWW0W42W3",
        "S S t0! S S t1! S t2! S t3! S S t4! S S S t5! S S S",
    ),
    ("cWW14cWW2W2WWcW0", "c c c c c c c c c c c c c c c c c"),
    ("sW14W5", "S t0! S S S t1! S S S"),
    ("4s410Y4cc44s", "c S S S S S S c c c c S S"),
    ("W33WY035242", "c c c c c c c c c c c c"),
    ("Y202s", "c c c c S S"),
    (
        "4W5c535WcWWWWs0WW",
        "c c c c c c c c c c c c c S S t1! t2! t3! t4! t5! t6! S t7! S S",
    ),
    ("212YWY", "c c c c c c c"),
    ("W2W14", "c c c c c c"),
    ("051W52cW", "c c c c c c c c c"),
    ("YWcW0W5cY5Wc", "c c c c c c c c c c c c c"),
    (
        "W4cW0s22sYY2031W",
        "c c c c c S S S S t1! S S S S S S t2! S S",
    ),
    ("41225352", "c c c c c c c c c"),
    ("c5Ws", "c c c S S"),
    ("02YW0YW3WWc42Y0", "c c c c c c c c c c c c c c c c"),
    ("YYcY5522W2WWY", "c c c c c c c c c c c c c c"),
    ("Y3W1c11Y50W3WW", "c c c c c c c c c c c c c c c"),
    ("213cs", "c c c c S S"),
    ("Y4Y0c13Y22WWWc", "c c c c c c c c c c c c c c c"),
    ("3WWW053WW24", "c c c c c c c c c c c c"),
    ("5WscW4324WWs", "c c S c t0! c c c c c c c S S"),
    ("20W3Y15cs", "c c c c c c c c S S"),
    ("31s014Y2s1", "c c S S S S S S S S S"),
    ("c0sW52", "c c S t0! S S S S"),
    ("21W032330WY1Wsc5", "c c c c c c c c c c c c c S c c c"),
];

/// `tests/cpython_traces/primitives.py queue 100 1 --same-turn`: CPython 3.11.7's `Queue(2)`.
const QUEUE_TRACES: &[(&str, &str)] = &[
    ("PJP5452p", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("5G23G4J", "q0 q0 q0 q0 q0 q0 t2j q0 q0"),
    ("P0GGGG2p3Gd", "t0<7 q1 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t5=4 q0 d q0 q0"),
    ("5d1dd4YG3PgYP03pYY", "q0 dE q0 q0 dE q0 dE q0 q0 q0 q0 q0 t1<7 q1 g7 q0 q0 t2<4 q1 q1 q1 p1 q2 q2 q2 q2"),
    ("2G5d23g11P4Pg215G5G", "q0 q0 q0 dE q0 q0 q0 gE q0 q0 q0 t1<7 q1 q1 t0=7 t2<4 q1 g4 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("2ggdGpd2114JG", "q0 gE q0 gE q0 dE q0 q0 p7 q1 d q1 q1 q1 q1 q1 t0=7 t1j q0 q0 q0"),
    ("Pp3G51p35131G04G", "t0<7 q1 p4 q2 q2 t1=7 q1 q1 q1 p1 q2 q2 q2 q2 q2 q2 t2=4 q1 q1 q1 t3=1 q0 q0"),
    ("ggPJGPPG4GJ", "gE q0 gE q0 t0<7 q1 q1 t2=7 q0 t3<4 q1 t4<1 q2 t5=4 q1 q1 t6=1 q0 q0 q0"),
    ("JPg1YPggJgJ", "t0j q0 t1<7 q1 g7 q0 q0 q0 t2<4 q1 g4 q0 gE q0 q0 gE q0 q0 q0"),
    ("4055PGY203pJP", "q0 q0 q0 q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t3<1 q2 q2"),
    ("p3GdG2PGg43d", "p7 q1 q1 t0=7 q0 d q0 q0 q0 t2<4 q1 t1=4 q0 gE q0 q0 q0 d q0 q0"),
    ("4dG203GYPpGYPPYYg3JP", "q0 dE q0 q0 q0 q0 q0 q0 q0 t2<7 q1 p4 q2 t1=7 t3=4 q0 q0 t4<1 q1 t5<8 q2 q2 q2 g1 q1 q1 q1 t7<5 q2 q2"),
    ("Gp4g", "q0 p7 q1 q1 g7 q0 q0"),
    ("G2p1Pp3p5P2Y5G02YGgp", "q0 q0 p7 q1 q1 t0=7 t1<4 q1 p1 q2 q2 pF q2 q2 q2 q2 q2 q2 t3=4 q1 q1 q1 q1 t4=1 q0 gE q0 p2 q1 q1"),
    ("P03pJP215dPGPP", "t0<7 q1 q1 q1 p4 q2 q2 q2 q2 q2 q2 d q2 q2 t4=7 q1 t3<8 q2 q2 q2"),
    ("gpJ0J100P", "gE q0 p7 q1 q1 q1 q1 q1 q1 q1 t2<4 q2 q2"),
    ("d5PP0G3P2PP0P", "dE q0 q0 t0<7 q1 t1<4 q2 q2 t2=7 q1 q1 t3<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PdPJ1YP4JPGYGGP3", "t0<7 q1 d q1 t1<4 q2 q2 q2 q2 q2 q2 q2 q2 t6=7 q1 t3<1 q2 t7=4 q1 t5<8 t8=1 q1 t9<5 q2 q2 q2"),
    ("Gpd3gP4", "q0 p7 q1 d q1 q1 g7 q0 t1<4 q1 q1 q1"),
    ("dgP32YJ50", "dE q0 gE q0 t0<7 q1 q1 q1 q1 q1 q1 q1 q1"),
    ("p0GGGY0", "p7 q1 q1 t0=7 q0 q0 q0 q0 q0 q0"),
    ("202PP04PJp51JgpYpd", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 q2 q2 pF q2 q2 q2 q2 g7 q1 p5 q2 q2 pF q2 d q2 q2"),
    ("PJP4P0d2YG0g0Yd", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 d q2 q2 q2 t4=7 q1 q1 g4 q0 q0 t3<1 q1 d q1 q1"),
    ("PPddGd2PJPPGGY", "t0<7 q1 t1<4 q2 d q2 d q2 t2=7 q1 dE q1 q1 t3<1 q2 q2 q2 q2 t7=4 q1 t5<8 t8=1 q1 t6<5 q2 q2"),
    ("55PP0PggPP0YPYP", "q0 q0 t0<7 q1 t1<4 q2 q2 q2 g7 q1 g4 q0 t2<1 t3<8 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("PG0pgY3gGd", "t0<7 q1 t1=7 q0 q0 p4 q1 g4 q0 q0 q0 gE q0 q0 d q0 q0"),
    ("P43J44G20gJ5", "t0<7 q1 q1 q1 q1 q1 q1 t2=7 q0 q0 q0 gE q0 q0 q0 q0"),
    ("3GG1", "q0 q0 q0 q0 q0"),
    ("PPJJ22gP", "t0<7 q1 t1<4 q2 q2 q2 q2 q2 g7 q1 t4<1 q2 q2"),
    ("5Gg04dd055d", "q0 q0 gE q0 q0 q0 dE q0 dE q0 q0 q0 q0 dE q0 q0"),
    ("0JdGP1gpYYY1g4PP2", "q0 t0j q0 dE q0 q0 t2<7 q1 q1 g7 q0 p4 q1 q1 q1 q1 q1 g4 q0 q0 t3<1 q1 t4<8 q2 q2 q2"),
    ("PJ3pG5212", "t0<7 q1 q1 q1 p4 q2 t2=7 q1 q1 q1 q1 q1 q1"),
    ("gGPJPJPPP4d232g04P5p", "gE q0 q0 t1<7 q1 t0=7 q0 t3<4 q1 q1 t5<1 q2 q2 q2 q2 d q2 q2 q2 q2 g4 q1 q1 q1 t6<8 q2 q2 pF q2 q2"),
    ("33PYJd2", "q0 q0 t0<7 q1 q1 q1 d q1 q1 q1"),
    ("p4GG", "p7 q1 q1 t0=7 q0 q0 q0"),
    ("JpgYPpJYJ4g", "t0j q0 p7 q1 g7 q0 q0 t1<4 q1 p1 q2 q2 q2 q2 q2 g4 q1 q1"),
    ("53Pp2pYPGPGYPP1", "q0 q0 t0<7 q1 p4 q2 q2 pF q2 q2 q2 t2=7 q1 t1<8 q2 t4=4 q1 t3<5 q2 q2 q2 q2 q2"),
    ("310GP441Y205P", "q0 q0 q0 q0 t1<7 q1 q1 q1 q1 t0=7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("2pGJp43Yg4p1G232", "q0 p7 q1 t0=7 q0 q0 p4 q1 q1 q1 q1 g4 q0 q0 p1 q1 q1 t2=1 q0 q0 q0 q0 q0"),
    ("P5dYG3P2JgPG1J", "t0<7 q1 q1 d q1 q1 t1=7 q0 q0 t2<4 q1 q1 q1 g4 q0 t4<1 q1 t5=1 q0 q0 q0 q0"),
    ("YP4J5g4GJP3P1P4Gg", "q0 t0<7 q1 q1 q1 q1 g7 q0 q0 q0 q0 t4<4 q1 q1 t2=4 t5<1 q1 q1 t6<8 q2 q2 t7=1 q1 g8 q0 q0"),
    ("gP2JYppd0JPP14GgYJ1d", "gE q0 t0<7 q1 q1 q1 q1 p4 q2 pF q2 d q2 q2 q2 q2 q2 q2 q2 t5=7 q1 g4 q0 t3<8 q1 q1 q1 d q1 q1"),
    ("2g5J0dJdG203dJpP", "q0 gE q0 q0 t0j q0 q0 dE q0 t1j q0 dE q0 q0 q0 q0 q0 dE q0 t3j q0 p7 q1 t4<4 q2 q2"),
    ("4PJ4gPP41", "q0 t0<7 q1 q1 q1 g7 q0 t2<4 q1 t3<1 q2 q2 q2 q2"),
    ("2dPpYPPd205Pg", "q0 dE q0 t0<7 q1 p4 q2 q2 q2 q2 d q2 q2 q2 q2 q2 g7 q1 q1"),
    ("GGpG5", "q0 q0 p7 q1 t0=7 q0 q0 q0"),
    ("40JPgPd2d542gddY42p4", "q0 q0 t0j q0 t1<7 q1 g7 q0 t2<4 q1 d q1 q1 d q1 q1 q1 q1 g4 q0 dE q0 dE q0 q0 q0 q0 p1 q1 q1 q1"),
    ("05PpPGGG502Y", "q0 q0 t0<7 q1 p4 q2 q2 t2=7 q1 t1<1 t3=4 q1 t4=1 q0 q0 q0 q0 q0 q0"),
    ("2gPGG2PG2J", "q0 gE q0 t0<7 q1 t1=7 q0 q0 q0 t3<4 q1 t4=4 q0 q0 q0 q0"),
    ("P4YGGGPG", "t0<7 q1 q1 q1 t1=7 q0 q0 q0 t4<4 q1 t2=4 q0 q0"),
    ("P3PpG5PJp420", "t0<7 q1 q1 t1<4 q2 pF q2 t2=7 q1 q1 t3<8 q2 q2 pF q2 q2 q2 q2 q2"),
    ("JddGg13G13p3", "t0j q0 dE q0 dE q0 q0 gE q0 q0 q0 q0 q0 q0 p7 q1 q1 q1"),
    ("JPJgPP", "t0j q0 t1<7 q1 q1 g7 q0 t3<4 q1 t4<1 q2 q2"),
    ("p3GGP", "p7 q1 q1 t0=7 q0 q0 t2<4 q1 q1"),
    ("51P0GPG4P24GJPJ0PYG2", "q0 q0 t0<7 q1 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 t4<1 q1 q1 q1 t5=1 q0 q0 t7<8 q1 q1 q1 t9<5 q2 q2 t10=8 q1 q1 q1"),
    ("J0PJ2", "t0j q0 q0 t1<7 q1 q1 q1 q1"),
    ("YP3dp00", "q0 t0<7 q1 q1 d q1 p4 q2 q2 q2 q2"),
    ("25PP4GYgp120P31PPGY0", "q0 q0 t0<7 q1 t1<4 q2 q2 t2=7 q1 q1 g4 q0 p1 q1 q1 q1 q1 t3<8 q2 q2 q2 q2 q2 t6=1 q1 t4<5 q2 q2 q2"),
    ("Y01J0GPP000P4J541", "q0 q0 q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 q1 q1 t4<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PGPG5Jd0112Y40gG", "t0<7 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 q0 d q0 q0 q0 q0 q0 q0 q0 q0 gE q0 q0 q0"),
    ("JdPPg3GP", "t0j q0 dE q0 t1<7 q1 t2<4 q2 g7 q1 q1 t3=4 q0 t4<1 q1 q1"),
    ("PpJPPPpg3G15", "t0<7 q1 p4 q2 q2 q2 q2 q2 pF q2 g7 q1 q1 t2<1 t5=4 q1 q1 q1 q1"),
    ("dp5d341p5PJ3p", "dE q0 p7 q1 q1 d q1 q1 q1 q1 p4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("25P2", "q0 q0 t0<7 q1 q1 q1"),
    ("3G14GpYGPY0Y33Y4YP4P", "q0 q0 q0 q0 q0 p7 q1 t0=7 q0 q0 t3<4 q1 t1=4 q0 q0 q0 q0 q0 q0 q0 q0 t4<1 q1 q1 t2=1 t5<8 q1 q1"),
    ("JG3G132YG", "t0j q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG2J4J", "t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0"),
    ("5024P51P3PGgJ1P", "q0 q0 q0 q0 t0<7 q1 q1 q1 t1<4 q2 q2 q2 t3=7 q1 g4 q0 t2<1 q1 q1 t5<8 q2 q2"),
    ("3JY3J305p523P", "q0 t0j q0 q0 q0 t1j q0 q0 q0 q0 p7 q1 q1 q1 q1 t2<4 q2 q2"),
    ("PpPdGP", "t0<7 q1 p4 q2 q2 d q2 t2=7 q1 t1<1 q2 q2"),
    ("P5P2gGP3Gp31", "t0<7 q1 q1 t1<4 q2 q2 g7 q1 t2=4 q0 t3<1 q1 q1 t4=1 q0 p8 q1 q1 q1 q1"),
    ("P3PJJ", "t0<7 q1 q1 t1<4 q2 q2 q2 q2"),
    ("5GpP2P4Y5", "q0 q0 p7 q1 t0=7 t1<4 q1 q1 t2<1 q2 q2 q2 q2 q2"),
    ("P5PP2pgJ3Y5p05PG", "t0<7 q1 q1 t1<4 q2 q2 q2 pF q2 g7 q1 q1 q1 q1 q1 p5 q2 q2 q2 q2 t5=4 q1 q1"),
    ("JG4YPdJJd3PPJp3", "t0j q0 q0 q0 q0 t2<7 q1 d q1 t1=7 t3j q0 t4j q0 dE q0 q0 t5<4 q1 t6<1 q2 q2 pF q2 q2 q2"),
    ("P3JJ5", "t0<7 q1 q1 q1 q1 q1 q1"),
    ("J5p515d0gg4PG", "t0j q0 q0 p7 q1 q1 q1 q1 d q1 q1 g7 q0 gE q0 q0 t1<4 q1 t2=4 q0 q0"),
    ("0Pp0550PPPJdPGgPdpY3", "q0 t0<7 q1 p4 q2 q2 q2 q2 q2 q2 q2 q2 q2 d q2 q2 t6=7 q1 g4 q0 t1<1 t2<8 q2 d q2 pF q2 q2 q2 q2"),
    ("GGYdPdJ0J2GP01", "q0 q0 q0 dE q0 t2<7 q1 d q1 t0=7 t3j q0 q0 t4j q0 q0 q0 t6<4 q1 q1 q1 q1"),
    ("PJPG1PPP", "t0<7 q1 q1 t2<4 q2 t3=7 q1 q1 t4<1 q2 q2 q2 q2"),
    ("0dJG1GPP21dP0", "q0 dE q0 t0j q0 q0 q0 q0 t3<7 q1 t2=7 t4<4 q1 q1 q1 d q1 t5<1 q2 q2 q2"),
    ("G0P1PJ2P532Y", "q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("YPGPgdp3JGJ", "q0 t0<7 q1 t1=7 q0 t2<4 q1 g4 q0 d q0 p1 q1 q1 q1 t4=1 q0 q0 q0"),
    ("J5P2P1P1GY4P", "t0j q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 t4=7 q1 t3<1 q2 q2 q2 q2"),
    ("PPp501Yg", "t0<7 q1 t1<4 q2 pF q2 q2 q2 q2 q2 g7 q1 q1"),
    ("242PPJYG", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 t3=7 q1 q1"),
    ("P2P4", "t0<7 q1 q1 t1<4 q2 q2 q2"),
    ("33J1", "q0 q0 t0j q0 q0 q0"),
    ("24GP5GGGPP1J15ddP", "q0 q0 q0 t1<7 q1 q1 t0=7 q0 q0 q0 t5<4 q1 t2=4 t6<1 q1 q1 t3=1 q0 q0 q0 d q0 d q0 t8<8 q1 q1"),
    ("gPG031JG3321Y04", "gE q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG0Pg50PG5p", "t0<7 q1 t1=7 q0 q0 t2<4 q1 g4 q0 q0 q0 t3<1 q1 t4=1 q0 q0 p8 q1 q1"),
    ("g2dPd00d4515p342", "gE q0 q0 dE q0 t0<7 q1 d q1 q1 q1 dE q1 q1 q1 q1 q1 p4 q2 q2 q2 q2 q2"),
    ("5JPPG23", "q0 t0j q0 t1<7 q1 t2<4 q2 t3=7 q1 q1 q1 q1"),
    ("GPg42YP", "q0 t1<7 q1 g7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("PJG42d2G", "t0<7 q1 q1 t2=7 q0 q0 q0 d q0 q0 t1j q0 q0"),
    ("3gg0dPgg2Gp", "q0 gE q0 gE q0 q0 dE q0 t0<7 q1 g7 q0 gE q0 q0 q0 p4 q1 q1"),
    ("dGpPd24PG2PP5GdGG", "dE q0 q0 p7 q1 t0=7 t1<4 q1 d q1 q1 q1 t2<1 q2 t3=4 q1 q1 t4<8 q2 q2 q2 t6=1 q1 d q1 t7=8 q0 q0 q0"),
    ("4J3gP043g22p5", "q0 t0j q0 q0 gE q0 t1<7 q1 q1 q1 q1 g7 q0 q0 q0 p4 q1 q1 q1"),
    ("1PJJgP10PJJJ", "q0 t0<7 q1 q1 q1 g7 q0 t3<4 q1 q1 q1 t4<1 q2 q2 q2 q2 q2"),
    ("2J4GPPJdpPp3dP4", "q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 d q1 p1 q2 q2 pF q2 q2 d q2 q2 q2 q2"),
];

/// `tests/cpython_traces/primitives.py lifo 100 1 --same-turn`: CPython 3.11.7's `LifoQueue(2)`.
const LIFO_QUEUE_TRACES: &[(&str, &str)] = &[
    ("PJP5452p", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("5G23G4J", "q0 q0 q0 q0 q0 q0 t2j q0 q0"),
    ("P0GGGG2p3Gd", "t0<7 q1 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t5=4 q0 d q0 q0"),
    ("5d1dd4YG3PgYP03pYY", "q0 dE q0 q0 dE q0 dE q0 q0 q0 q0 q0 t1<7 q1 g7 q0 q0 t2<4 q1 q1 q1 p1 q2 q2 q2 q2"),
    ("2G5d23g11P4Pg215G5G", "q0 q0 q0 dE q0 q0 q0 gE q0 q0 q0 t1<7 q1 q1 t0=7 t2<4 q1 g4 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("2ggdGpd2114JG", "q0 gE q0 gE q0 dE q0 q0 p7 q1 d q1 q1 q1 q1 q1 t0=7 t1j q0 q0 q0"),
    ("Pp3G51p35131G04G", "t0<7 q1 p4 q2 q2 t1=4 q1 q1 q1 p1 q2 q2 q2 q2 q2 q2 t2=1 q1 q1 q1 t3=7 q0 q0"),
    ("ggPJGPPG4GJ", "gE q0 gE q0 t0<7 q1 q1 t2=7 q0 t3<4 q1 t4<1 q2 t5=1 q1 q1 t6=4 q0 q0 q0"),
    ("JPg1YPggJgJ", "t0j q0 t1<7 q1 g7 q0 q0 q0 t2<4 q1 g4 q0 gE q0 q0 gE q0 q0 q0"),
    ("4055PGY203pJP", "q0 q0 q0 q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t3<1 q2 q2"),
    ("p3GdG2PGg43d", "p7 q1 q1 t0=7 q0 d q0 q0 q0 t2<4 q1 t1=4 q0 gE q0 q0 q0 d q0 q0"),
    ("4dG203GYPpGYPPYYg3JP", "q0 dE q0 q0 q0 q0 q0 q0 q0 t2<7 q1 p4 q2 t1=4 t3=7 q0 q0 t4<1 q1 t5<8 q2 q2 q2 g8 q1 q1 q1 t7<5 q2 q2"),
    ("Gp4g", "q0 p7 q1 q1 g7 q0 q0"),
    ("G2p1Pp3p5P2Y5G02YGgp", "q0 q0 p7 q1 q1 t0=7 t1<4 q1 p1 q2 q2 pF q2 q2 q2 q2 q2 q2 t3=1 q1 q1 q1 q1 t4=4 q0 gE q0 p2 q1 q1"),
    ("P03pJP215dPGPP", "t0<7 q1 q1 q1 p4 q2 q2 q2 q2 q2 q2 d q2 q2 t4=4 q1 t3<8 q2 q2 q2"),
    ("gpJ0J100P", "gE q0 p7 q1 q1 q1 q1 q1 q1 q1 t2<4 q2 q2"),
    ("d5PP0G3P2PP0P", "dE q0 q0 t0<7 q1 t1<4 q2 q2 t2=4 q1 q1 t3<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PdPJ1YP4JPGYGGP3", "t0<7 q1 d q1 t1<4 q2 q2 q2 q2 q2 q2 q2 q2 t6=4 q1 t3<1 q2 t7=1 q1 t5<8 t8=8 q1 t9<5 q2 q2 q2"),
    ("Gpd3gP4", "q0 p7 q1 d q1 q1 g7 q0 t1<4 q1 q1 q1"),
    ("dgP32YJ50", "dE q0 gE q0 t0<7 q1 q1 q1 q1 q1 q1 q1 q1"),
    ("p0GGGY0", "p7 q1 q1 t0=7 q0 q0 q0 q0 q0 q0"),
    ("202PP04PJp51JgpYpd", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 q2 q2 pF q2 q2 q2 q2 g4 q1 p5 q2 q2 pF q2 d q2 q2"),
    ("PJP4P0d2YG0g0Yd", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 d q2 q2 q2 t4=4 q1 q1 g7 q0 q0 t3<1 q1 d q1 q1"),
    ("PPddGd2PJPPGGY", "t0<7 q1 t1<4 q2 d q2 d q2 t2=4 q1 dE q1 q1 t3<1 q2 q2 q2 q2 t7=1 q1 t5<8 t8=8 q1 t6<5 q2 q2"),
    ("55PP0PggPP0YPYP", "q0 q0 t0<7 q1 t1<4 q2 q2 q2 g4 q1 g7 q0 t2<1 t3<8 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("PG0pgY3gGd", "t0<7 q1 t1=7 q0 q0 p4 q1 g4 q0 q0 q0 gE q0 q0 d q0 q0"),
    ("P43J44G20gJ5", "t0<7 q1 q1 q1 q1 q1 q1 t2=7 q0 q0 q0 gE q0 q0 q0 q0"),
    ("3GG1", "q0 q0 q0 q0 q0"),
    ("PPJJ22gP", "t0<7 q1 t1<4 q2 q2 q2 q2 q2 g4 q1 t4<1 q2 q2"),
    ("5Gg04dd055d", "q0 q0 gE q0 q0 q0 dE q0 dE q0 q0 q0 q0 dE q0 q0"),
    ("0JdGP1gpYYY1g4PP2", "q0 t0j q0 dE q0 q0 t2<7 q1 q1 g7 q0 p4 q1 q1 q1 q1 q1 g4 q0 q0 t3<1 q1 t4<8 q2 q2 q2"),
    ("PJ3pG5212", "t0<7 q1 q1 q1 p4 q2 t2=4 q1 q1 q1 q1 q1 q1"),
    ("gGPJPJPPP4d232g04P5p", "gE q0 q0 t1<7 q1 t0=7 q0 t3<4 q1 q1 t5<1 q2 q2 q2 q2 d q2 q2 q2 q2 g1 q1 q1 q1 t6<8 q2 q2 pF q2 q2"),
    ("33PYJd2", "q0 q0 t0<7 q1 q1 q1 d q1 q1 q1"),
    ("p4GG", "p7 q1 q1 t0=7 q0 q0 q0"),
    ("JpgYPpJYJ4g", "t0j q0 p7 q1 g7 q0 q0 t1<4 q1 p1 q2 q2 q2 q2 q2 g1 q1 q1"),
    ("53Pp2pYPGPGYPP1", "q0 q0 t0<7 q1 p4 q2 q2 pF q2 q2 q2 t2=4 q1 t1<8 q2 t4=8 q1 t3<5 q2 q2 q2 q2 q2"),
    ("310GP441Y205P", "q0 q0 q0 q0 t1<7 q1 q1 q1 q1 t0=7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("2pGJp43Yg4p1G232", "q0 p7 q1 t0=7 q0 q0 p4 q1 q1 q1 q1 g4 q0 q0 p1 q1 q1 t2=1 q0 q0 q0 q0 q0"),
    ("P5dYG3P2JgPG1J", "t0<7 q1 q1 d q1 q1 t1=7 q0 q0 t2<4 q1 q1 q1 g4 q0 t4<1 q1 t5=1 q0 q0 q0 q0"),
    ("YP4J5g4GJP3P1P4Gg", "q0 t0<7 q1 q1 q1 q1 g7 q0 q0 q0 q0 t4<4 q1 q1 t2=4 t5<1 q1 q1 t6<8 q2 q2 t7=8 q1 g1 q0 q0"),
    ("gP2JYppd0JPP14GgYJ1d", "gE q0 t0<7 q1 q1 q1 q1 p4 q2 pF q2 d q2 q2 q2 q2 q2 q2 q2 t5=4 q1 g7 q0 t3<8 q1 q1 q1 d q1 q1"),
    ("2g5J0dJdG203dJpP", "q0 gE q0 q0 t0j q0 q0 dE q0 t1j q0 dE q0 q0 q0 q0 q0 dE q0 t3j q0 p7 q1 t4<4 q2 q2"),
    ("4PJ4gPP41", "q0 t0<7 q1 q1 q1 g7 q0 t2<4 q1 t3<1 q2 q2 q2 q2"),
    ("2dPpYPPd205Pg", "q0 dE q0 t0<7 q1 p4 q2 q2 q2 q2 d q2 q2 q2 q2 q2 g4 q1 q1"),
    ("GGpG5", "q0 q0 p7 q1 t0=7 q0 q0 q0"),
    ("40JPgPd2d542gddY42p4", "q0 q0 t0j q0 t1<7 q1 g7 q0 t2<4 q1 d q1 q1 d q1 q1 q1 q1 g4 q0 dE q0 dE q0 q0 q0 q0 p1 q1 q1 q1"),
    ("05PpPGGG502Y", "q0 q0 t0<7 q1 p4 q2 q2 t2=4 q1 t1<1 t3=1 q1 t4=7 q0 q0 q0 q0 q0 q0"),
    ("2gPGG2PG2J", "q0 gE q0 t0<7 q1 t1=7 q0 q0 q0 t3<4 q1 t4=4 q0 q0 q0 q0"),
    ("P4YGGGPG", "t0<7 q1 q1 q1 t1=7 q0 q0 q0 t4<4 q1 t2=4 q0 q0"),
    ("P3PpG5PJp420", "t0<7 q1 q1 t1<4 q2 pF q2 t2=4 q1 q1 t3<8 q2 q2 pF q2 q2 q2 q2 q2"),
    ("JddGg13G13p3", "t0j q0 dE q0 dE q0 q0 gE q0 q0 q0 q0 q0 q0 p7 q1 q1 q1"),
    ("JPJgPP", "t0j q0 t1<7 q1 q1 g7 q0 t3<4 q1 t4<1 q2 q2"),
    ("p3GGP", "p7 q1 q1 t0=7 q0 q0 t2<4 q1 q1"),
    ("51P0GPG4P24GJPJ0PYG2", "q0 q0 t0<7 q1 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 t4<1 q1 q1 q1 t5=1 q0 q0 t7<8 q1 q1 q1 t9<5 q2 q2 t10=5 q1 q1 q1"),
    ("J0PJ2", "t0j q0 q0 t1<7 q1 q1 q1 q1"),
    ("YP3dp00", "q0 t0<7 q1 q1 d q1 p4 q2 q2 q2 q2"),
    ("25PP4GYgp120P31PPGY0", "q0 q0 t0<7 q1 t1<4 q2 q2 t2=4 q1 q1 g7 q0 p1 q1 q1 q1 q1 t3<8 q2 q2 q2 q2 q2 t6=8 q1 t4<5 q2 q2 q2"),
    ("Y01J0GPP000P4J541", "q0 q0 q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 q1 q1 t4<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PGPG5Jd0112Y40gG", "t0<7 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 q0 d q0 q0 q0 q0 q0 q0 q0 q0 gE q0 q0 q0"),
    ("JdPPg3GP", "t0j q0 dE q0 t1<7 q1 t2<4 q2 g4 q1 q1 t3=7 q0 t4<1 q1 q1"),
    ("PpJPPPpg3G15", "t0<7 q1 p4 q2 q2 q2 q2 q2 pF q2 g4 q1 q1 t2<1 t5=1 q1 q1 q1 q1"),
    ("dp5d341p5PJ3p", "dE q0 p7 q1 q1 d q1 q1 q1 q1 p4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("25P2", "q0 q0 t0<7 q1 q1 q1"),
    ("3G14GpYGPY0Y33Y4YP4P", "q0 q0 q0 q0 q0 p7 q1 t0=7 q0 q0 t3<4 q1 t1=4 q0 q0 q0 q0 q0 q0 q0 q0 t4<1 q1 q1 t2=1 t5<8 q1 q1"),
    ("JG3G132YG", "t0j q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG2J4J", "t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0"),
    ("5024P51P3PGgJ1P", "q0 q0 q0 q0 t0<7 q1 q1 q1 t1<4 q2 q2 q2 t3=4 q1 g7 q0 t2<1 q1 q1 t5<8 q2 q2"),
    ("3JY3J305p523P", "q0 t0j q0 q0 q0 t1j q0 q0 q0 q0 p7 q1 q1 q1 q1 t2<4 q2 q2"),
    ("PpPdGP", "t0<7 q1 p4 q2 q2 d q2 t2=4 q1 t1<1 q2 q2"),
    ("P5P2gGP3Gp31", "t0<7 q1 q1 t1<4 q2 q2 g4 q1 t2=7 q0 t3<1 q1 q1 t4=1 q0 p8 q1 q1 q1 q1"),
    ("P3PJJ", "t0<7 q1 q1 t1<4 q2 q2 q2 q2"),
    ("5GpP2P4Y5", "q0 q0 p7 q1 t0=7 t1<4 q1 q1 t2<1 q2 q2 q2 q2 q2"),
    ("P5PP2pgJ3Y5p05PG", "t0<7 q1 q1 t1<4 q2 q2 q2 pF q2 g4 q1 q1 q1 q1 q1 p5 q2 q2 q2 q2 t5=5 q1 q1"),
    ("JG4YPdJJd3PPJp3", "t0j q0 q0 q0 q0 t2<7 q1 d q1 t1=7 t3j q0 t4j q0 dE q0 q0 t5<4 q1 t6<1 q2 q2 pF q2 q2 q2"),
    ("P3JJ5", "t0<7 q1 q1 q1 q1 q1 q1"),
    ("J5p515d0gg4PG", "t0j q0 q0 p7 q1 q1 q1 q1 d q1 q1 g7 q0 gE q0 q0 t1<4 q1 t2=4 q0 q0"),
    ("0Pp0550PPPJdPGgPdpY3", "q0 t0<7 q1 p4 q2 q2 q2 q2 q2 q2 q2 q2 q2 d q2 q2 t6=4 q1 g7 q0 t1<1 t2<8 q2 d q2 pF q2 q2 q2 q2"),
    ("GGYdPdJ0J2GP01", "q0 q0 q0 dE q0 t2<7 q1 d q1 t0=7 t3j q0 q0 t4j q0 q0 q0 t6<4 q1 q1 q1 q1"),
    ("PJPG1PPP", "t0<7 q1 q1 t2<4 q2 t3=4 q1 q1 t4<1 q2 q2 q2 q2"),
    ("0dJG1GPP21dP0", "q0 dE q0 t0j q0 q0 q0 q0 t3<7 q1 t2=7 t4<4 q1 q1 q1 d q1 t5<1 q2 q2 q2"),
    ("G0P1PJ2P532Y", "q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("YPGPgdp3JGJ", "q0 t0<7 q1 t1=7 q0 t2<4 q1 g4 q0 d q0 p1 q1 q1 q1 t4=1 q0 q0 q0"),
    ("J5P2P1P1GY4P", "t0j q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 t4=4 q1 t3<1 q2 q2 q2 q2"),
    ("PPp501Yg", "t0<7 q1 t1<4 q2 pF q2 q2 q2 q2 q2 g4 q1 q1"),
    ("242PPJYG", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 t3=4 q1 q1"),
    ("P2P4", "t0<7 q1 q1 t1<4 q2 q2 q2"),
    ("33J1", "q0 q0 t0j q0 q0 q0"),
    ("24GP5GGGPP1J15ddP", "q0 q0 q0 t1<7 q1 q1 t0=7 q0 q0 q0 t5<4 q1 t2=4 t6<1 q1 q1 t3=1 q0 q0 q0 d q0 d q0 t8<8 q1 q1"),
    ("gPG031JG3321Y04", "gE q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG0Pg50PG5p", "t0<7 q1 t1=7 q0 q0 t2<4 q1 g4 q0 q0 q0 t3<1 q1 t4=1 q0 q0 p8 q1 q1"),
    ("g2dPd00d4515p342", "gE q0 q0 dE q0 t0<7 q1 d q1 q1 q1 dE q1 q1 q1 q1 q1 p4 q2 q2 q2 q2 q2"),
    ("5JPPG23", "q0 t0j q0 t1<7 q1 t2<4 q2 t3=4 q1 q1 q1 q1"),
    ("GPg42YP", "q0 t1<7 q1 g7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("PJG42d2G", "t0<7 q1 q1 t2=7 q0 q0 q0 d q0 q0 t1j q0 q0"),
    ("3gg0dPgg2Gp", "q0 gE q0 gE q0 q0 dE q0 t0<7 q1 g7 q0 gE q0 q0 q0 p4 q1 q1"),
    ("dGpPd24PG2PP5GdGG", "dE q0 q0 p7 q1 t0=7 t1<4 q1 d q1 q1 q1 t2<1 q2 t3=1 q1 q1 t4<8 q2 q2 q2 t6=8 q1 d q1 t7=4 q0 q0 q0"),
    ("4J3gP043g22p5", "q0 t0j q0 q0 gE q0 t1<7 q1 q1 q1 q1 g7 q0 q0 q0 p4 q1 q1 q1"),
    ("1PJJgP10PJJJ", "q0 t0<7 q1 q1 q1 g7 q0 t3<4 q1 q1 q1 t4<1 q2 q2 q2 q2 q2"),
    ("2J4GPPJdpPp3dP4", "q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 d q1 p1 q2 q2 pF q2 q2 d q2 q2 q2 q2"),
];

/// `tests/cpython_traces/primitives.py priority 100 1 --same-turn`: CPython 3.11.7's `PriorityQueue(2)`.
const PRIORITY_QUEUE_TRACES: &[(&str, &str)] = &[
    ("PJP5452p", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("5G23G4J", "q0 q0 q0 q0 q0 q0 t2j q0 q0"),
    ("P0GGGG2p3Gd", "t0<7 q1 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t5=4 q0 d q0 q0"),
    ("5d1dd4YG3PgYP03pYY", "q0 dE q0 q0 dE q0 dE q0 q0 q0 q0 q0 t1<7 q1 g7 q0 q0 t2<4 q1 q1 q1 p1 q2 q2 q2 q2"),
    ("2G5d23g11P4Pg215G5G", "q0 q0 q0 dE q0 q0 q0 gE q0 q0 q0 t1<7 q1 q1 t0=7 t2<4 q1 g4 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("2ggdGpd2114JG", "q0 gE q0 gE q0 dE q0 q0 p7 q1 d q1 q1 q1 q1 q1 t0=7 t1j q0 q0 q0"),
    ("Pp3G51p35131G04G", "t0<7 q1 p4 q2 q2 t1=4 q1 q1 q1 p1 q2 q2 q2 q2 q2 q2 t2=1 q1 q1 q1 t3=7 q0 q0"),
    ("ggPJGPPG4GJ", "gE q0 gE q0 t0<7 q1 q1 t2=7 q0 t3<4 q1 t4<1 q2 t5=1 q1 q1 t6=4 q0 q0 q0"),
    ("JPg1YPggJgJ", "t0j q0 t1<7 q1 g7 q0 q0 q0 t2<4 q1 g4 q0 gE q0 q0 gE q0 q0 q0"),
    ("4055PGY203pJP", "q0 q0 q0 q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 p4 q1 q1 t3<1 q2 q2"),
    ("p3GdG2PGg43d", "p7 q1 q1 t0=7 q0 d q0 q0 q0 t2<4 q1 t1=4 q0 gE q0 q0 q0 d q0 q0"),
    ("4dG203GYPpGYPPYYg3JP", "q0 dE q0 q0 q0 q0 q0 q0 q0 t2<7 q1 p4 q2 t1=4 t3=7 q0 q0 t4<1 q1 t5<8 q2 q2 q2 g1 q1 q1 q1 t7<5 q2 q2"),
    ("Gp4g", "q0 p7 q1 q1 g7 q0 q0"),
    ("G2p1Pp3p5P2Y5G02YGgp", "q0 q0 p7 q1 q1 t0=7 t1<4 q1 p1 q2 q2 pF q2 q2 q2 q2 q2 q2 t3=1 q1 q1 q1 q1 t4=4 q0 gE q0 p2 q1 q1"),
    ("P03pJP215dPGPP", "t0<7 q1 q1 q1 p4 q2 q2 q2 q2 q2 q2 d q2 q2 t4=4 q1 t3<8 q2 q2 q2"),
    ("gpJ0J100P", "gE q0 p7 q1 q1 q1 q1 q1 q1 q1 t2<4 q2 q2"),
    ("d5PP0G3P2PP0P", "dE q0 q0 t0<7 q1 t1<4 q2 q2 t2=4 q1 q1 t3<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PdPJ1YP4JPGYGGP3", "t0<7 q1 d q1 t1<4 q2 q2 q2 q2 q2 q2 q2 q2 t6=4 q1 t3<1 q2 t7=1 q1 t5<8 t8=7 q1 t9<5 q2 q2 q2"),
    ("Gpd3gP4", "q0 p7 q1 d q1 q1 g7 q0 t1<4 q1 q1 q1"),
    ("dgP32YJ50", "dE q0 gE q0 t0<7 q1 q1 q1 q1 q1 q1 q1 q1"),
    ("p0GGGY0", "p7 q1 q1 t0=7 q0 q0 q0 q0 q0 q0"),
    ("202PP04PJp51JgpYpd", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 q2 q2 pF q2 q2 q2 q2 g4 q1 p5 q2 q2 pF q2 d q2 q2"),
    ("PJP4P0d2YG0g0Yd", "t0<7 q1 q1 t2<4 q2 q2 q2 q2 d q2 q2 q2 t4=4 q1 q1 g7 q0 q0 t3<1 q1 d q1 q1"),
    ("PPddGd2PJPPGGY", "t0<7 q1 t1<4 q2 d q2 d q2 t2=4 q1 dE q1 q1 t3<1 q2 q2 q2 q2 t7=1 q1 t5<8 t8=7 q1 t6<5 q2 q2"),
    ("55PP0PggPP0YPYP", "q0 q0 t0<7 q1 t1<4 q2 q2 q2 g4 q1 g7 q0 t2<1 t3<8 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("PG0pgY3gGd", "t0<7 q1 t1=7 q0 q0 p4 q1 g4 q0 q0 q0 gE q0 q0 d q0 q0"),
    ("P43J44G20gJ5", "t0<7 q1 q1 q1 q1 q1 q1 t2=7 q0 q0 q0 gE q0 q0 q0 q0"),
    ("3GG1", "q0 q0 q0 q0 q0"),
    ("PPJJ22gP", "t0<7 q1 t1<4 q2 q2 q2 q2 q2 g4 q1 t4<1 q2 q2"),
    ("5Gg04dd055d", "q0 q0 gE q0 q0 q0 dE q0 dE q0 q0 q0 q0 dE q0 q0"),
    ("0JdGP1gpYYY1g4PP2", "q0 t0j q0 dE q0 q0 t2<7 q1 q1 g7 q0 p4 q1 q1 q1 q1 q1 g4 q0 q0 t3<1 q1 t4<8 q2 q2 q2"),
    ("PJ3pG5212", "t0<7 q1 q1 q1 p4 q2 t2=4 q1 q1 q1 q1 q1 q1"),
    ("gGPJPJPPP4d232g04P5p", "gE q0 q0 t1<7 q1 t0=7 q0 t3<4 q1 q1 t5<1 q2 q2 q2 q2 d q2 q2 q2 q2 g1 q1 q1 q1 t6<8 q2 q2 pF q2 q2"),
    ("33PYJd2", "q0 q0 t0<7 q1 q1 q1 d q1 q1 q1"),
    ("p4GG", "p7 q1 q1 t0=7 q0 q0 q0"),
    ("JpgYPpJYJ4g", "t0j q0 p7 q1 g7 q0 q0 t1<4 q1 p1 q2 q2 q2 q2 q2 g1 q1 q1"),
    ("53Pp2pYPGPGYPP1", "q0 q0 t0<7 q1 p4 q2 q2 pF q2 q2 q2 t2=4 q1 t1<8 q2 t4=7 q1 t3<5 q2 q2 q2 q2 q2"),
    ("310GP441Y205P", "q0 q0 q0 q0 t1<7 q1 q1 q1 q1 t0=7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("2pGJp43Yg4p1G232", "q0 p7 q1 t0=7 q0 q0 p4 q1 q1 q1 q1 g4 q0 q0 p1 q1 q1 t2=1 q0 q0 q0 q0 q0"),
    ("P5dYG3P2JgPG1J", "t0<7 q1 q1 d q1 q1 t1=7 q0 q0 t2<4 q1 q1 q1 g4 q0 t4<1 q1 t5=1 q0 q0 q0 q0"),
    ("YP4J5g4GJP3P1P4Gg", "q0 t0<7 q1 q1 q1 q1 g7 q0 q0 q0 q0 t4<4 q1 q1 t2=4 t5<1 q1 q1 t6<8 q2 q2 t7=1 q1 g8 q0 q0"),
    ("gP2JYppd0JPP14GgYJ1d", "gE q0 t0<7 q1 q1 q1 q1 p4 q2 pF q2 d q2 q2 q2 q2 q2 q2 q2 t5=4 q1 g7 q0 t3<8 q1 q1 q1 d q1 q1"),
    ("2g5J0dJdG203dJpP", "q0 gE q0 q0 t0j q0 q0 dE q0 t1j q0 dE q0 q0 q0 q0 q0 dE q0 t3j q0 p7 q1 t4<4 q2 q2"),
    ("4PJ4gPP41", "q0 t0<7 q1 q1 q1 g7 q0 t2<4 q1 t3<1 q2 q2 q2 q2"),
    ("2dPpYPPd205Pg", "q0 dE q0 t0<7 q1 p4 q2 q2 q2 q2 d q2 q2 q2 q2 q2 g4 q1 q1"),
    ("GGpG5", "q0 q0 p7 q1 t0=7 q0 q0 q0"),
    ("40JPgPd2d542gddY42p4", "q0 q0 t0j q0 t1<7 q1 g7 q0 t2<4 q1 d q1 q1 d q1 q1 q1 q1 g4 q0 dE q0 dE q0 q0 q0 q0 p1 q1 q1 q1"),
    ("05PpPGGG502Y", "q0 q0 t0<7 q1 p4 q2 q2 t2=4 q1 t1<1 t3=1 q1 t4=7 q0 q0 q0 q0 q0 q0"),
    ("2gPGG2PG2J", "q0 gE q0 t0<7 q1 t1=7 q0 q0 q0 t3<4 q1 t4=4 q0 q0 q0 q0"),
    ("P4YGGGPG", "t0<7 q1 q1 q1 t1=7 q0 q0 q0 t4<4 q1 t2=4 q0 q0"),
    ("P3PpG5PJp420", "t0<7 q1 q1 t1<4 q2 pF q2 t2=4 q1 q1 t3<8 q2 q2 pF q2 q2 q2 q2 q2"),
    ("JddGg13G13p3", "t0j q0 dE q0 dE q0 q0 gE q0 q0 q0 q0 q0 q0 p7 q1 q1 q1"),
    ("JPJgPP", "t0j q0 t1<7 q1 q1 g7 q0 t3<4 q1 t4<1 q2 q2"),
    ("p3GGP", "p7 q1 q1 t0=7 q0 q0 t2<4 q1 q1"),
    ("51P0GPG4P24GJPJ0PYG2", "q0 q0 t0<7 q1 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 t4<1 q1 q1 q1 t5=1 q0 q0 t7<8 q1 q1 q1 t9<5 q2 q2 t10=5 q1 q1 q1"),
    ("J0PJ2", "t0j q0 q0 t1<7 q1 q1 q1 q1"),
    ("YP3dp00", "q0 t0<7 q1 q1 d q1 p4 q2 q2 q2 q2"),
    ("25PP4GYgp120P31PPGY0", "q0 q0 t0<7 q1 t1<4 q2 q2 t2=4 q1 q1 g7 q0 p1 q1 q1 q1 q1 t3<8 q2 q2 q2 q2 q2 t6=1 q1 t4<5 q2 q2 q2"),
    ("Y01J0GPP000P4J541", "q0 q0 q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 q1 q1 t4<1 q2 q2 q2 q2 q2 q2 q2"),
    ("PGPG5Jd0112Y40gG", "t0<7 q1 t1=7 q0 t2<4 q1 t3=4 q0 q0 q0 d q0 q0 q0 q0 q0 q0 q0 q0 gE q0 q0 q0"),
    ("JdPPg3GP", "t0j q0 dE q0 t1<7 q1 t2<4 q2 g4 q1 q1 t3=7 q0 t4<1 q1 q1"),
    ("PpJPPPpg3G15", "t0<7 q1 p4 q2 q2 q2 q2 q2 pF q2 g4 q1 q1 t2<1 t5=1 q1 q1 q1 q1"),
    ("dp5d341p5PJ3p", "dE q0 p7 q1 q1 d q1 q1 q1 q1 p4 q2 q2 q2 q2 q2 pF q2 q2"),
    ("25P2", "q0 q0 t0<7 q1 q1 q1"),
    ("3G14GpYGPY0Y33Y4YP4P", "q0 q0 q0 q0 q0 p7 q1 t0=7 q0 q0 t3<4 q1 t1=4 q0 q0 q0 q0 q0 q0 q0 q0 t4<1 q1 q1 t2=1 t5<8 q1 q1"),
    ("JG3G132YG", "t0j q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG2J4J", "t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0"),
    ("5024P51P3PGgJ1P", "q0 q0 q0 q0 t0<7 q1 q1 q1 t1<4 q2 q2 q2 t3=4 q1 g7 q0 t2<1 q1 q1 t5<8 q2 q2"),
    ("3JY3J305p523P", "q0 t0j q0 q0 q0 t1j q0 q0 q0 q0 p7 q1 q1 q1 q1 t2<4 q2 q2"),
    ("PpPdGP", "t0<7 q1 p4 q2 q2 d q2 t2=4 q1 t1<1 q2 q2"),
    ("P5P2gGP3Gp31", "t0<7 q1 q1 t1<4 q2 q2 g4 q1 t2=7 q0 t3<1 q1 q1 t4=1 q0 p8 q1 q1 q1 q1"),
    ("P3PJJ", "t0<7 q1 q1 t1<4 q2 q2 q2 q2"),
    ("5GpP2P4Y5", "q0 q0 p7 q1 t0=7 t1<4 q1 q1 t2<1 q2 q2 q2 q2 q2"),
    ("P5PP2pgJ3Y5p05PG", "t0<7 q1 q1 t1<4 q2 q2 q2 pF q2 g4 q1 q1 q1 q1 q1 p5 q2 q2 q2 q2 t5=5 q1 q1"),
    ("JG4YPdJJd3PPJp3", "t0j q0 q0 q0 q0 t2<7 q1 d q1 t1=7 t3j q0 t4j q0 dE q0 q0 t5<4 q1 t6<1 q2 q2 pF q2 q2 q2"),
    ("P3JJ5", "t0<7 q1 q1 q1 q1 q1 q1"),
    ("J5p515d0gg4PG", "t0j q0 q0 p7 q1 q1 q1 q1 d q1 q1 g7 q0 gE q0 q0 t1<4 q1 t2=4 q0 q0"),
    ("0Pp0550PPPJdPGgPdpY3", "q0 t0<7 q1 p4 q2 q2 q2 q2 q2 q2 q2 q2 q2 d q2 q2 t6=4 q1 g7 q0 t1<1 t2<8 q2 d q2 pF q2 q2 q2 q2"),
    ("GGYdPdJ0J2GP01", "q0 q0 q0 dE q0 t2<7 q1 d q1 t0=7 t3j q0 q0 t4j q0 q0 q0 t6<4 q1 q1 q1 q1"),
    ("PJPG1PPP", "t0<7 q1 q1 t2<4 q2 t3=4 q1 q1 t4<1 q2 q2 q2 q2"),
    ("0dJG1GPP21dP0", "q0 dE q0 t0j q0 q0 q0 q0 t3<7 q1 t2=7 t4<4 q1 q1 q1 d q1 t5<1 q2 q2 q2"),
    ("G0P1PJ2P532Y", "q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 q2 q2 q2 q2 q2"),
    ("YPGPgdp3JGJ", "q0 t0<7 q1 t1=7 q0 t2<4 q1 g4 q0 d q0 p1 q1 q1 q1 t4=1 q0 q0 q0"),
    ("J5P2P1P1GY4P", "t0j q0 q0 t1<7 q1 q1 t2<4 q2 q2 q2 q2 t4=4 q1 t3<1 q2 q2 q2 q2"),
    ("PPp501Yg", "t0<7 q1 t1<4 q2 pF q2 q2 q2 q2 q2 g4 q1 q1"),
    ("242PPJYG", "q0 q0 q0 t0<7 q1 t1<4 q2 q2 q2 t3=4 q1 q1"),
    ("P2P4", "t0<7 q1 q1 t1<4 q2 q2 q2"),
    ("33J1", "q0 q0 t0j q0 q0 q0"),
    ("24GP5GGGPP1J15ddP", "q0 q0 q0 t1<7 q1 q1 t0=7 q0 q0 q0 t5<4 q1 t2=4 t6<1 q1 q1 t3=1 q0 q0 q0 d q0 d q0 t8<8 q1 q1"),
    ("gPG031JG3321Y04", "gE q0 t0<7 q1 t1=7 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0 q0"),
    ("PG0Pg50PG5p", "t0<7 q1 t1=7 q0 q0 t2<4 q1 g4 q0 q0 q0 t3<1 q1 t4=1 q0 q0 p8 q1 q1"),
    ("g2dPd00d4515p342", "gE q0 q0 dE q0 t0<7 q1 d q1 q1 q1 dE q1 q1 q1 q1 q1 p4 q2 q2 q2 q2 q2"),
    ("5JPPG23", "q0 t0j q0 t1<7 q1 t2<4 q2 t3=4 q1 q1 q1 q1"),
    ("GPg42YP", "q0 t1<7 q1 g7 q0 q0 q0 q0 t2<4 q1 q1"),
    ("PJG42d2G", "t0<7 q1 q1 t2=7 q0 q0 q0 d q0 q0 t1j q0 q0"),
    ("3gg0dPgg2Gp", "q0 gE q0 gE q0 q0 dE q0 t0<7 q1 g7 q0 gE q0 q0 q0 p4 q1 q1"),
    ("dGpPd24PG2PP5GdGG", "dE q0 q0 p7 q1 t0=7 t1<4 q1 d q1 q1 q1 t2<1 q2 t3=1 q1 q1 t4<8 q2 q2 q2 t6=4 q1 d q1 t7=8 q0 q0 q0"),
    ("4J3gP043g22p5", "q0 t0j q0 q0 gE q0 t1<7 q1 q1 q1 q1 g7 q0 q0 q0 p4 q1 q1 q1"),
    ("1PJJgP10PJJJ", "q0 t0<7 q1 q1 q1 g7 q0 t3<4 q1 q1 q1 t4<1 q2 q2 q2 q2 q2"),
    ("2J4GPPJdpPp3dP4", "q0 t0j q0 q0 q0 t2<7 q1 t1=7 t3<4 q1 q1 d q1 p1 q2 q2 pF q2 q2 d q2 q2 q2 q2"),
];

#[test]
fn lock_follows_cpython_step_by_step() {
    check(LOCK_TRACES, |s| lock_trace(s, true));
}

#[test]
fn semaphore_follows_cpython_step_by_step() {
    check(SEMAPHORE_TRACES, |s| {
        semaphore_trace(Semaphore::new(2), s, true)
    });
}

#[test]
fn bounded_semaphore_follows_cpython_step_by_step() {
    check(BOUNDED_SEMAPHORE_TRACES, |s| {
        semaphore_trace(BoundedSemaphore::new(2), s, true)
    });
}

#[test]
fn event_follows_cpython_step_by_step() {
    check(EVENT_TRACES, |s| event_trace(s, true));
}

#[test]
fn queue_follows_cpython_step_by_step() {
    check(QUEUE_TRACES, |s| queue_trace(s, true));
}

#[test]
fn lifo_queue_follows_cpython_step_by_step() {
    check(LIFO_QUEUE_TRACES, |s| lifo_queue_trace(s, true));
}

#[test]
fn priority_queue_follows_cpython_step_by_step() {
    check(PRIORITY_QUEUE_TRACES, |s| priority_queue_trace(s, true));
}
