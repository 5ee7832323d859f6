//! communicate: input and output together, large both ways, many children at once, a broken
//! pipe ignored, no input (stdin still closed), and one failing step that ends it at once.

use super::*;

both!(test_communicate, |w| async move {
    let proc = cat(w).await?;
    let (out, err) = proc.communicate(Some(b"Python The Winner")).await?;
    assert_eq!(
        (out.as_slice(), err.as_slice()),
        (&b"Python The Winner"[..], &b""[..])
    );
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

// More than a pipe buffer each way, the child writing all its output before it reads any
// input: feeding and draining must run together.
both!(
    communicate_large_both_ways_does_not_deadlock,
    |w| async move {
        const N: usize = 2 << 20;
        let script = "import sys\n\
                  sys.stdout.buffer.write(b'x' * (2 << 20)); sys.stdout.flush()\n\
                  data = sys.stdin.buffer.read()\n\
                  sys.stderr.write(str(len(data)))";
        let proc = create_subprocess_exec("python3", ["-c", script])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .child_watcher(w)
            .await?;
        let input = vec![b'y'; N];
        let (out, err) = proc.communicate(Some(&input)).await?;
        assert_eq!(out.len(), N);
        assert!(out.iter().all(|&b| b == b'x'));
        assert_eq!(String::from_utf8_lossy(&err), N.to_string());
        assert_eq!(proc.returncode(), Some(0));
        Ok(())
    }
);

// CPython gh-100133: many children at once, each communicate()d in its own task.
both!(test_subprocess_communicate_stdout, |w| async move {
    let outputs: Vec<String> = (0..10).map(|i| format!("foo{i}")).collect();
    let got = asyncio::gather(outputs.clone().into_iter().map(|out| async move {
        let proc = create_subprocess_exec("python3", ["-c", &format!("print({out:?})")])
            .stdout(Stdio::Pipe)
            .child_watcher(w)
            .await?;
        let (stdout, _) = proc.communicate(None).await?;
        Ok::<_, Error>(String::from_utf8_lossy(&stdout).trim().to_owned())
    }))
    .await?;
    assert_eq!(got, outputs);
    Ok(())
});

both!(test_communicate_ignore_broken_pipe, |w| async move {
    let proc = sh("exit 0", w).stdin(Stdio::Pipe).await?;
    assert_eq!(proc.wait().await, 0);
    let big = vec![b'x'; 4 << 20];
    let (out, err) = proc.communicate(Some(&big)).await?;
    assert!(out.is_empty() && err.is_empty());
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

both!(test_empty_input, |w| async move {
    let proc = cat(w).await?;
    let (out, err) = proc.communicate(Some(b"")).await?;
    assert!(out.is_empty() && err.is_empty());
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

// S-subprocess (CPython `Process._feed_stdin`): `communicate(None)` still closes a piped stdin,
// as CPython's does (it drains and closes stdin whether or not there is input). Left open, a
// child that reads its input to the end (`cat`) never exits and communicate never returns.
both!(
    communicate_without_input_closes_a_stdin_pipe,
    |w| async move {
        let proc = cat(w).await?;
        let done = asyncio::timeout(Duration::from_secs(20), proc.communicate(None)).await;
        let (out, err) = done.expect("communicate(None) hung with stdin left open")?;
        assert!(out.is_empty() && err.is_empty());
        assert_eq!(proc.returncode(), Some(0));
        assert!(proc.stdin.as_ref().unwrap().is_closing());
        Ok(())
    }
);

// CPython's `communicate` gathers its three steps and raises the first exception at once.
// One step failing (here stdin's drain, under a drain timeout, to a child that never reads
// and never exits) must end communicate with that error, not leave it waiting for the other
// steps, whose output never ends while the child waits for the rest of its input.
both!(
    communicate_fails_at_once_when_a_step_fails,
    |w| async move {
        let proc = sh("exec sleep 600", w)
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await?;
        let stdin = proc.stdin.as_ref().unwrap();
        stdin.set_drain_timeout(Some(Duration::from_millis(20)));
        let input = vec![b'x'; 4 << 20]; // far more than a pipe holds
        let done = asyncio::timeout(Duration::from_secs(20), proc.communicate(Some(&input))).await;
        let got = done.expect("communicate waited on after its stdin failed");
        assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
        proc.kill()?;
        proc.wait().await;
        Ok(())
    }
);
