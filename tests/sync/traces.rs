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
fn condition_trace(script: &str) -> String {
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
            yield_now().await;
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
    check(CONDITION_TRACES, condition_trace);
}

#[test]
fn condition_with_cancellations_follows_cpython_step_by_step() {
    check(CONDITION_CANCEL_TRACES, condition_trace);
}
