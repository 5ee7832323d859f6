//! The load generator every server faces: blocking std sockets on the calling thread (the
//! caller pins it, see `on_cpu`), timing with `Instant` into an hdrhistogram (ns, 3 digits).
//! Also the two alternative clients of the client comparison (ours and tokio's).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The percentiles kept from each latency run (also the points of the SVG plot).
pub const QS: [f64; 9] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999];

pub const MSG: usize = 64;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Latency distribution of one run, in ns.
#[derive(Clone, Debug, Default)]
pub struct Lat {
    /// Value at each of [`QS`].
    pub q: Vec<f64>,
    pub max: f64,
    pub count: u64,
}

impl Lat {
    pub fn at(&self, quantile: f64) -> f64 {
        QS.iter()
            .position(|&x| x == quantile)
            .map_or(f64::NAN, |i| self.q[i])
    }

    fn from(h: &Histogram<u64>) -> Lat {
        Lat {
            q: QS.iter().map(|&x| h.value_at_quantile(x) as f64).collect(),
            max: h.max() as f64,
            count: h.len(),
        }
    }

    /// Per-percentile median over runs.
    pub fn median_of(runs: &[Lat]) -> Lat {
        let col = |f: &dyn Fn(&Lat) -> f64| super::median(runs.iter().map(f).collect());
        Lat {
            q: (0..QS.len()).map(|i| col(&|l| l.q[i])).collect(),
            max: col(&|l| l.max),
            count: runs.iter().map(|l| l.count).sum(),
        }
    }
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

fn record(h: &mut Histogram<u64>, since: Instant) {
    let ns = since.elapsed().as_nanos() as u64;
    h.saturating_record(ns.max(1));
}

pub fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// `n` round trips of 64 B on `s`, recorded into `h` when given.
pub fn round_trips(s: &mut TcpStream, n: u64, mut h: Option<&mut Histogram<u64>>) {
    let out = [0x5au8; MSG];
    let mut back = [0u8; MSG];
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&out).expect("ping write");
        s.read_exact(&mut back).expect("pong read");
        if let Some(h) = h.as_deref_mut() {
            record(h, t);
        }
    }
}

/// A ping-pong connection: 64 B round trips, recorded into its histogram.
pub struct PingPong {
    s: TcpStream,
    h: Histogram<u64>,
}

impl PingPong {
    /// Connects and does `warm` unrecorded round trips.
    pub fn new(port: u16, warm: u64) -> PingPong {
        let mut s = connect(port).expect("connect");
        round_trips(&mut s, warm, None);
        PingPong { s, h: histogram() }
    }

    pub fn run(&mut self, n: u64) {
        round_trips(&mut self.s, n, Some(&mut self.h));
    }

    pub fn lat(&self) -> Lat {
        Lat::from(&self.h)
    }
}

/// Ping-pong latency in one go: `warm` unrecorded round trips, then `n` recorded.
pub fn pingpong(port: u16, warm: u64, n: u64) -> Lat {
    let mut p = PingPong::new(port, warm);
    p.run(n);
    p.lat()
}

/// What the scheduler says of a server child so far: CPU time (ns) and preemptions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sched {
    pub cpu_ns: u64,
    pub preempted: u64,
}

/// Result of a throughput run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tput {
    pub msgs_per_s: f64,
    pub p99_ns: f64,
    pub msgs: u64,
    /// Server CPU time per message.
    pub server_cpu_ns: f64,
    /// Times the server was preempted, per message.
    pub server_preempted: f64,
}

/// `conns` connections, each with one `size`-byte message in flight: write one on every
/// connection, then read every echo, and again. A message's latency runs from its write to
/// the end of its echo's read.
pub struct Throughput {
    socks: Vec<TcpStream>,
    out: Vec<u8>,
    back: Vec<u8>,
    sent: Vec<Instant>,
    h: Histogram<u64>,
    msgs: u64,
    secs: f64,
    sched: Sched,
}

impl Throughput {
    /// Connects and runs unrecorded for `warm`.
    pub fn new(port: u16, conns: usize, size: usize, warm: Duration) -> Throughput {
        let mut t = Throughput {
            socks: (0..conns)
                .map(|_| connect(port).expect("connect"))
                .collect(),
            out: vec![0x33u8; size],
            back: vec![0u8; size],
            sent: vec![Instant::now(); conns],
            h: histogram(),
            msgs: 0,
            secs: 0.0,
            sched: Sched::default(),
        };
        let start = Instant::now();
        while start.elapsed() < warm {
            t.round(false);
        }
        t
    }

    fn round(&mut self, rec: bool) {
        for (s, t) in self.socks.iter_mut().zip(self.sent.iter_mut()) {
            *t = Instant::now();
            s.write_all(&self.out).expect("write");
        }
        for (s, t) in self.socks.iter_mut().zip(self.sent.iter()) {
            s.read_exact(&mut self.back).expect("read");
            if rec {
                record(&mut self.h, *t);
            }
        }
    }

    /// Runs recorded rounds for `dur`; `sched()` (the server's CPU time and preemptions so
    /// far) is read as the window opens and closes.
    pub fn run(&mut self, dur: Duration, sched: impl Fn() -> Sched) {
        let s0 = sched();
        let start = Instant::now();
        while start.elapsed() < dur {
            self.round(true);
            self.msgs += self.socks.len() as u64;
        }
        self.secs += start.elapsed().as_secs_f64();
        let s1 = sched();
        self.sched.cpu_ns += s1.cpu_ns.saturating_sub(s0.cpu_ns);
        self.sched.preempted += s1.preempted.saturating_sub(s0.preempted);
    }

    pub fn result(&self) -> Tput {
        Tput {
            msgs_per_s: self.msgs as f64 / self.secs,
            p99_ns: self.h.value_at_quantile(0.99) as f64,
            msgs: self.msgs,
            server_cpu_ns: self.sched.cpu_ns as f64 / self.msgs.max(1) as f64,
            server_preempted: self.sched.preempted as f64 / self.msgs.max(1) as f64,
        }
    }
}

/// Bulk: a second thread (pinned to `cpu` as well) writes `bytes` in 64 KiB chunks while this
/// one reads the echo back. Returns the seconds taken and the server's CPU ns over them.
pub fn bulk(port: u16, bytes: u64, cpu: usize, server_cpu: impl Fn() -> u64) -> (f64, u64) {
    const CHUNK: usize = 64 * 1024;
    let mut s = connect(port).expect("connect");
    let mut w = s.try_clone().expect("clone");
    let cpu0 = server_cpu();
    let start = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            super::pin_current(cpu).expect("pin");
            let chunk = vec![0x77u8; CHUNK];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                w.write_all(&chunk[..n]).expect("bulk write");
                left -= n as u64;
            }
        });
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        while got < bytes {
            match s.read(&mut buf) {
                Ok(0) => panic!("bulk: EOF after {got} of {bytes} bytes"),
                Ok(n) => got += n as u64,
                Err(e) => panic!("bulk read after {got} bytes: {e}"),
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu_ns = server_cpu().saturating_sub(cpu0);
    let _ = s.shutdown(Shutdown::Both);
    (secs, cpu_ns)
}

/// Connection rate: connect, one 64 B echo, close, for `dur`. Returns (connections, seconds).
pub fn conn_rate(port: u16, dur: Duration) -> (u64, f64) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        let mut s = match connect(port) {
            Ok(s) => s,
            Err(e) => panic!("connect failed after {n} connections: {e}"),
        };
        round_trips(&mut s, 1, None);
        n += 1;
    }
    (n, start.elapsed().as_secs_f64())
}

/// Opens `n` connections, each used for one 64 B echo, and keeps them open.
pub fn open_idle(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = connect(port).unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
            round_trips(&mut s, 1, None);
            s
        })
        .collect()
}

/// Ping-pong measured by our client: `open_connection`, `write` + `drain`, `read_into`.
pub fn client_asyncio(port: u16, warm: u64, n: u64) -> Lat {
    asyncio::run(async move {
        let (r, w) = asyncio::open_connection("127.0.0.1", port)
            .await
            .expect("open_connection");
        let out = [0x5au8; MSG];
        let mut back = [0u8; MSG];
        let mut h = histogram();
        for i in 0..warm + n {
            let t = Instant::now();
            w.write(&out).expect("write");
            w.drain().await.expect("drain");
            let mut got = 0;
            while got < MSG {
                let k = r.read_into(&mut back[got..]).await.expect("read_into");
                assert!(k > 0, "EOF");
                got += k;
            }
            if i >= warm {
                record(&mut h, t);
            }
        }
        w.close();
        let _ = w.wait_closed().await;
        Lat::from(&h)
    })
    .expect("asyncio::run")
}

/// Ping-pong measured by a tokio current_thread client: `write_all`, `read_exact`.
pub fn client_tokio(port: u16, warm: u64, n: u64) -> Lat {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let out = [0x5au8; MSG];
        let mut back = [0u8; MSG];
        let mut h = histogram();
        for i in 0..warm + n {
            let t = Instant::now();
            s.write_all(&out).await.expect("write");
            s.read_exact(&mut back).await.expect("read");
            if i >= warm {
                record(&mut h, t);
            }
        }
        Lat::from(&h)
    })
}
