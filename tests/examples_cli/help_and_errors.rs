//! The command-line contract of every example: `--help` (exit 0), usage errors that name
//! the flag or argument (exit 2, one line on stderr), a runtime error in Display form (exit 1).

use super::*;

/// Every example, with arguments holding one bad input, and how the error must name it.
const EXAMPLES: &[(&str, &[&str], &str)] = &[
    ("chat_server", &["--outbox", "0"], "--outbox"),
    ("echo_client_protocol", &["--port", "abc"], "--port"),
    ("echo_server", &["--port", "70000"], "--port"),
    ("echo_server_protocol", &["--port", "-1"], "--port"),
    ("embed_in_poll", &["--port", ""], "--port"),
    ("http_headers", &["example.com"], "URL"),
    // No flags: an extra argument is the bad input.
    ("loop_demo", &["extra"], "'extra'"),
    ("soak", &["--seconds", "soon"], "--seconds"),
    ("stdin_echo_client", &["--port", "abc"], "--port"),
    ("subprocess_exec", &["--python"], "--python"),
    ("subprocess_shell", &["ls", "extra"], "'extra'"),
    ("tcp_echo_client", &["--port", "abc"], "--port"),
    ("tcp_echo_server", &["--port", "70000"], "--port"),
    (
        "tls_echo_client",
        &["--cafile", "ca.pem", "--port=8x"],
        "--port",
    ),
    ("udp_echo_client", &["--port", "abc"], "--port"),
    ("udp_echo_server", &["--port", "70000"], "--port"),
    ("unix_echo_client", &["--unix"], "--unix"),
    ("wait_for_data", &["extra"], "'extra'"),
];

#[test]
fn the_table_covers_every_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let is_rs = path.extension().is_some_and(|x| x == "rs");
            is_rs.then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = EXAMPLES.iter().map(|e| e.0).collect();
    assert_eq!(
        on_disk, listed,
        "EXAMPLES must list every examples/*.rs, sorted"
    );
}

#[test]
fn help_prints_usage_on_stdout_and_exits_0() {
    for &(name, _, _) in EXAMPLES {
        for flag in ["--help", "-h"] {
            let r = run(name, &[flag]);
            assert_eq!(r.code, Some(0), "{name} {flag}: {}", r.stderr);
            assert!(
                r.stdout.starts_with(&format!("Usage: {name}")),
                "{name} {flag}: {}",
                r.stdout
            );
            assert!(r.stdout.contains("--help"), "{name} {flag}: {}", r.stdout);
            assert_eq!(r.stderr, "", "{name} {flag}");
        }
    }
}

#[test]
fn help_wins_over_other_arguments() {
    let r = run("tcp_echo_client", &["--port", "abc", "--help", "--bogus"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("Usage: tcp_echo_client"));
}

#[test]
fn help_lists_each_flag_with_its_default() {
    let r = run("tcp_echo_client", &["--help"]);
    for line in [
        "--host H",
        "[default: 127.0.0.1]",
        "--port P",
        "[default: 8888]",
        "MESSAGE",
        "[default: Hello World!]",
    ] {
        assert!(r.stdout.contains(line), "{line:?} not in {}", r.stdout);
    }
}

/// The one line a usage error prints: starts with the program's name, ends with the hint.
fn assert_usage_error(name: &str, args: &[&str], r: &Run, names: &str) {
    assert_eq!(r.code, Some(2), "{name} {args:?}: {}", r.stderr);
    assert_eq!(r.stdout, "", "{name} {args:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{name} {args:?}: {}", r.stderr);
    assert!(r.stderr.starts_with(&format!("{name}: ")), "{}", r.stderr);
    assert!(r.stderr.contains(names), "{name} {args:?}: {}", r.stderr);
    assert!(
        r.stderr.ends_with(&format!("(see {name} --help)\n")),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_flag_exits_2_naming_it() {
    for &(name, _, _) in EXAMPLES {
        for args in [&["--no-such-flag"][..], &["--no-such-flag=1"], &["-x"]] {
            let r = run(name, args);
            let spelled = args[0].split('=').next().unwrap();
            assert_usage_error(name, args, &r, &format!("unknown flag '{spelled}'"));
        }
    }
}

#[test]
fn a_bad_value_exits_2_naming_the_flag() {
    for &(name, args, names) in EXAMPLES {
        let r = run(name, args);
        assert_usage_error(name, args, &r, names);
    }
}

#[test]
fn the_messages_say_what_is_wrong() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "echo_server",
            &["--port", "abc"],
            "echo_server: invalid value 'abc' for --port: not a port number (0 to 65535)",
        ),
        // In words, not std's `number too large to fit in target type`.
        (
            "echo_server",
            &["--port", "70000"],
            "echo_server: invalid value '70000' for --port: not a port number (0 to 65535)",
        ),
        (
            "tcp_echo_client",
            &["--port", "99999"],
            "tcp_echo_client: invalid value '99999' for --port: not a port number (0 to 65535)",
        ),
        (
            "udp_echo_server",
            &["--port=-1"],
            "udp_echo_server: invalid value '-1' for --port: not a port number (0 to 65535)",
        ),
        (
            "tcp_echo_client",
            &["--port"],
            "tcp_echo_client: --port needs a value P",
        ),
        (
            "tcp_echo_client",
            &["a", "b"],
            "tcp_echo_client: unexpected argument 'b'",
        ),
        ("http_headers", &[], "http_headers: missing argument URL"),
        (
            "http_headers",
            &["http://127.0.0.1:99999/"],
            "http_headers: invalid value 'http://127.0.0.1:99999/' for URL: bad port \"99999\": \
             not a port number (0 to 65535)",
        ),
        // urlsplit raises ValueError('Invalid IPv6 URL') (it was taken as host "::1").
        (
            "http_headers",
            &["http://[::1/"],
            "http_headers: invalid value 'http://[::1/' for URL: Invalid IPv6 URL: a '[' \
             without its ']', or the other way",
        ),
        (
            "tls_echo_client",
            &[],
            "tls_echo_client: missing --cafile CA.pem",
        ),
        (
            "echo_server",
            &["--tls-key", "k.pem"],
            "echo_server: --tls-key needs --tls-cert",
        ),
        (
            "echo_server",
            &["--workers", "0"],
            "echo_server: invalid value '0' for --workers: not in 1..=1024",
        ),
        (
            "echo_server",
            &["--workers", "1025"],
            "echo_server: invalid value '1025' for --workers: not in 1..=1024",
        ),
        (
            "echo_server",
            &["--workers", "2", "--unix", "s.sock"],
            "echo_server: --workers needs TCP, not --unix",
        ),
        (
            "echo_server",
            &["--idle-timeout", "soon"],
            "echo_server: invalid value 'soon' for --idle-timeout: not a number of seconds (e.g. 30 or 0.5)",
        ),
        (
            "echo_server",
            &["--idle-timeout", "-1"],
            "echo_server: invalid value '-1' for --idle-timeout: seconds cannot be negative",
        ),
        // Zero is refused, not "off" (asyncio's timeout=0 expires at once; the flag's
        // absence is "off"): it closed every connection in the next loop iteration.
        (
            "echo_server",
            &["--idle-timeout", "0"],
            "echo_server: invalid value '0' for --idle-timeout: must be more than 0 (leave the \
             flag out for none)",
        ),
        // Less than a nanosecond is zero as a Duration.
        (
            "echo_server",
            &["--idle-timeout=1e-10"],
            "echo_server: invalid value '1e-10' for --idle-timeout: must be more than 0 (leave \
             the flag out for none)",
        ),
        // A negative number is a value (argparse's rule): after a flag it is that flag's, and
        // it names the flag; where an argument may stand it is one. It was "unknown flag '-5'".
        (
            "echo_server",
            &["--port", "-5"],
            "echo_server: invalid value '-5' for --port: not a port number (0 to 65535)",
        ),
        ("echo_server", &["-5"], "echo_server: unexpected argument '-5'"),
        (
            "tcp_echo_client",
            &["-5", "-6"],
            "tcp_echo_client: unexpected argument '-6'",
        ),
        (
            "subprocess_shell",
            &["true", "-0.5"],
            "subprocess_shell: unexpected argument '-0.5'",
        ),
        // The value as given (it was printed parsed: '1000000000000000000000000000000').
        (
            "echo_server",
            &["--idle-timeout", "1e30"],
            "echo_server: invalid value '1e30' for --idle-timeout: too many seconds",
        ),
        (
            "echo_server",
            &["--idle-timeout", "nan"],
            "echo_server: invalid value 'nan' for --idle-timeout: not a number of seconds (e.g. 30 or 0.5)",
        ),
        // A range check quotes the value as given too (it printed '0').
        (
            "chat_server",
            &["--outbox", "00"],
            "chat_server: invalid value '00' for --outbox: not in 1..=18446744073709551615",
        ),
        (
            "embed_in_poll",
            &["--count-idle=1"],
            "embed_in_poll: --count-idle takes no value",
        ),
        (
            "soak",
            &["--tls", "maybe"],
            "soak: invalid value 'maybe' for --tls: expected auto, on, off or only",
        ),
        (
            "soak",
            &["--peak", "99999999"],
            "soak: invalid value '99999999' for --peak: not in 0..=1000000",
        ),
        // A whole number's flag in words, with its range, not std's `invalid digit found in
        // string` (a sign, an exponent) or `number too large to fit in target type`.
        (
            "chat_server",
            &["--outbox", "99999999999999999999999"],
            "chat_server: invalid value '99999999999999999999999' for --outbox: not a whole \
             number in 1..=18446744073709551615",
        ),
        (
            "soak",
            &["--seconds", "1e9"],
            "soak: invalid value '1e9' for --seconds: not a whole number in 0..=31536000",
        ),
        (
            "soak",
            &["--seed", "-1"],
            "soak: invalid value '-1' for --seed: not a whole number in 0..=18446744073709551615",
        ),
        (
            "tls_echo_client",
            &["--cafile", "ca.pem", "--reconnect", "-1"],
            "tls_echo_client: invalid value '-1' for --reconnect: not a whole number in \
             0..=4294967295",
        ),
    ];
    for &(name, args, expected) in cases {
        let r = run(name, args);
        assert_eq!(r.code, Some(2), "{name} {args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            format!("{expected} (see {name} --help)\n"),
            "{name} {args:?}"
        );
    }
}

#[test]
fn a_bracketed_ipv6_host_without_a_port_is_not_a_usage_error() {
    // urlsplit("http://[::1]/") has hostname '::1' and no port: the example must go on to
    // connect (port 80 on ::1: refused or answered, either way not exit 2). It read "1]" as
    // the port.
    let r = run("http_headers", &["http://[::1]/"]);
    assert_ne!(r.code, Some(2), "{}", r.stderr);
    assert!(!r.stderr.contains("bad port"), "{}", r.stderr);
}

#[test]
fn an_empty_port_in_the_url_is_no_port() {
    // urlsplit("http://[::1]:/").port is None, as for "http://[::1]/": the example goes on to
    // connect to port 80 (refused or answered, either way not exit 2). It said: bad port "".
    for url in ["http://[::1]:/", "http://127.0.0.1:/"] {
        let r = run("http_headers", &[url]);
        assert_ne!(r.code, Some(2), "{url}: {}", r.stderr);
        assert!(!r.stderr.contains("bad port"), "{url}: {}", r.stderr);
    }
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let r = run("tcp_echo_client", &[OsStr::from_bytes(b"caf\xe9")]);
    assert_eq!(
        r.stderr,
        "tcp_echo_client: argument \"caf\\xE9\" is not valid UTF-8 (see tcp_echo_client --help)\n"
    );
    assert_eq!(r.code, Some(2));
}

#[test]
fn a_runtime_error_prints_display_and_exits_1() {
    let dir = util::temp_dir("examples-cli");
    let missing = dir.join("no-server.sock");
    let missing = missing.to_str().unwrap();
    let r = run("unix_echo_client", &["--unix", missing]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    // Display, one line, as Python words it: no `Os { code: 2, kind: NotFound, .. }`.
    assert_eq!(
        r.stderr,
        format!("unix_echo_client: [Errno 2] No such file or directory: '{missing}'\n")
    );
    let r = run(
        "echo_server",
        &[
            "--unix",
            missing,
            "--tls-cert",
            missing,
            "--tls-key",
            missing,
        ],
    );
    if cfg!(feature = "tls") {
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(r.stderr.starts_with("echo_server: "), "{}", r.stderr);
        assert!(r.stderr.contains(missing), "{}", r.stderr);
        assert!(!r.stderr.contains("kind:"), "Debug output: {}", r.stderr);
    } else {
        // Without TLS the flags themselves are the error.
        assert_eq!(r.code, Some(2), "{}", r.stderr);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A TLS client pointed at a plain-text port (here `echo_server` without TLS, which sends the
/// ClientHello back) prints one line, our words for it: not rustls' own warning before it
/// (`WARN rustls::check: Received a ClientHello handshake message while expecting
/// [ServerHello, HelloRetryRequest]`), which the examples' logger passed on.
#[test]
fn a_tls_client_at_a_plain_port_prints_one_line_without_rustls_logs() {
    if !cfg!(feature = "tls") {
        return; // tls_echo_client cannot connect over TLS in this build
    }
    let dir = util::temp_dir("examples-cli-tls-plain");
    let ca = dir.join("ca.pem");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&ca, made.cert.pem()).unwrap();
    let server = ServerChild::start("echo_server", &["--port", "0"]);
    let first = server.line();
    let port = first
        .strip_prefix("Serving on 127.0.0.1:")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let r = run(
        "tls_echo_client",
        &["--cafile", ca.to_str().unwrap(), "--port", port],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "tls_echo_client: unexpected message: the peer answered with a ClientHello"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
