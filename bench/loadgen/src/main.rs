//! A closed-loop HTTP/1.1 load generator for the bench scripts.
//!
//! Unlike `wrk`, it checks the status of every response against what the
//! mix file expects, so a soak run can prove "zero unexpected statuses" and a
//! benchmark cannot silently count errors as throughput.
//!
//! Mix file: one request per line, `WEIGHT METHOD TARGET STATUS [BODY]`;
//! `BODY` is sent as written, or `x*N` for N bytes of `x`; `{seq}` in it
//! becomes a text unique to the request (this process's id, a dash and the
//! request's number), for inserts that must not collide. `#` starts a comment.
//!
//! Bodies are read frame by frame as they arrive: besides each response's
//! whole time (`p50_ms`, `p99_ms`), it reports the time to its first body
//! byte (`ttfb50_ms`, `ttfb99_ms`: from sending the request to the first
//! data frame, or to the end of an empty body), which for a streamed answer
//! is when its first chunk came, and the body bytes read per second
//! (`body_mib_per_s`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

/// Closed-loop HTTP/1.1 load with per-response status checks.
#[derive(Parser)]
struct Args {
    /// Server address.
    #[arg(long)]
    addr: SocketAddr,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Stop after this many requests (all connections together)...
    #[arg(long)]
    requests: Option<u64>,
    /// ...or after this long (e.g. `10s`).
    #[arg(long, value_parser = parse_secs)]
    duration: Option<Duration>,
    /// The request mix.
    #[arg(long)]
    mix: PathBuf,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How long each connection waits after an answer before its next
    /// request (e.g. `0.011s`): a paced client, whose requests find the
    /// server idle, as a streamed answer's pauses leave it.
    #[arg(long, value_parser = parse_secs)]
    pause: Option<Duration>,
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs = text.strip_suffix('s').unwrap_or(text);
    secs.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("`{text}`: {e}"))
}

#[derive(Clone, Debug)]
struct MixEntry {
    method: hyper::Method,
    target: String,
    expected: u16,
    body: Bytes,
    /// The body before and after `{seq}`, if it has one.
    sequenced: Option<(String, String)>,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    /// Time to the first body byte of each response counted in `latencies_us`.
    first_byte_us: Vec<u32>,
    body_bytes: u64,
    by_entry: BTreeMap<usize, (u64, u64)>,
    unexpected: Vec<String>,
    io_errors: u64,
    reconnects: u64,
}

fn read_mix(path: &PathBuf) -> anyhow::Result<(Vec<MixEntry>, Vec<usize>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entries = Vec::new();
    let mut schedule = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(5, ' ');
        let (Some(weight), Some(method), Some(target), Some(status)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("{}:{}: expected `WEIGHT METHOD TARGET STATUS [BODY]`", path.display(), n + 1);
        };
        let weight: usize = weight.parse().with_context(|| format!("{}:{}: weight", path.display(), n + 1))?;
        let body = match parts.next().map(str::trim) {
            Some(b) if b.starts_with("x*") => Bytes::from(vec![b'x'; b[2..].parse().context("x*N body")?]),
            Some(b) => Bytes::copy_from_slice(b.as_bytes()),
            None => Bytes::new(),
        };
        let sequenced = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| text.split_once("{seq}"))
            .map(|(before, after)| (before.to_owned(), after.to_owned()));
        entries.push(MixEntry {
            method: method.parse().with_context(|| format!("{}:{}: method", path.display(), n + 1))?,
            target: target.to_owned(),
            expected: status.parse().with_context(|| format!("{}:{}: status", path.display(), n + 1))?,
            body,
            sequenced,
        });
        schedule.extend(std::iter::repeat_n(entries.len() - 1, weight));
    }
    if schedule.is_empty() {
        bail!("{}: no requests", path.display());
    }
    // Spread each entry through the schedule instead of running it in a block.
    let len = schedule.len();
    let stride = (1..len).rev().find(|s| gcd(*s, len) == 1 && *s > len / 3).unwrap_or(1);
    let spread = (0..len).map(|i| schedule[(i * stride) % len]).collect();
    Ok((entries, spread))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn worker(
    addr: SocketAddr,
    entries: Arc<Vec<MixEntry>>,
    schedule: Arc<Vec<usize>>,
    next: Arc<AtomicU64>,
    limit: u64,
    stop: Arc<AtomicBool>,
    pause: Option<Duration>,
) -> Stats {
    let mut stats = Stats::default();
    let mut sender: Option<Sender> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= limit {
            break;
        }
        let index = schedule[(n % schedule.len() as u64) as usize];
        let entry = &entries[index];
        // The server may close a connection after some answers (e.g. a 413
        // whose body it did not read): reconnect and carry on.
        let mut ready = None;
        for _ in 0..3 {
            let mut s = match sender.take() {
                Some(s) => s,
                None => match connect(addr).await {
                    Ok(s) => s,
                    Err(_) => {
                        stats.io_errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            if s.ready().await.is_ok() {
                ready = Some(s);
                break;
            }
            stats.reconnects += 1;
        }
        let Some(mut s) = ready else { continue };
        let req = hyper::Request::builder()
            .method(entry.method.clone())
            .uri(&entry.target)
            .header("host", addr.to_string())
            .body(Full::new(match &entry.sequenced {
                Some((before, after)) => Bytes::from(format!("{before}{}-{n}{after}", std::process::id())),
                None => entry.body.clone(),
            }));
        let Ok(req) = req else {
            stats.unexpected.push(format!("{} {}: cannot build request", entry.method, entry.target));
            continue;
        };
        let started = Instant::now();
        let mut first_byte = None;
        let status = match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let mut body = resp.into_body();
                loop {
                    match body.frame().await {
                        None => break Some(status),
                        Some(Ok(frame)) => {
                            if let Some(data) = frame.data_ref().filter(|d| !d.is_empty()) {
                                first_byte.get_or_insert_with(|| started.elapsed());
                                stats.body_bytes += data.len() as u64;
                            }
                        }
                        Some(Err(_)) => break None,
                    }
                }
            }
            Err(_) => None,
        };
        let elapsed = started.elapsed();
        sender = Some(s);
        let counts = stats.by_entry.entry(index).or_default();
        counts.0 += 1;
        match status {
            Some(status) if status == entry.expected => {
                let micros = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
                stats.latencies_us.push(micros(elapsed));
                stats.first_byte_us.push(micros(first_byte.unwrap_or(elapsed)));
            }
            Some(status) => {
                counts.1 += 1;
                if stats.unexpected.len() < 20 {
                    stats
                        .unexpected
                        .push(format!("{} {}: got {status}, expected {}", entry.method, entry.target, entry.expected));
                }
            }
            None => {
                counts.1 += 1;
                stats.io_errors += 1;
                sender = None;
            }
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
    stats
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.requests.is_none() && args.duration.is_none() {
        bail!("give --requests or --duration");
    }
    let (entries, schedule) = read_mix(&args.mix)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build()?;
    let entries = Arc::new(entries);
    let schedule = Arc::new(schedule);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let limit = args.requests.unwrap_or(u64::MAX);

    let started = Instant::now();
    let results: Vec<Stats> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..args.connections {
            let task = worker(
                args.addr,
                Arc::clone(&entries),
                Arc::clone(&schedule),
                Arc::clone(&next),
                limit,
                Arc::clone(&stop),
                args.pause,
            );
            tasks.push(tokio::spawn(task));
        }
        if let Some(duration) = args.duration {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                tokio::time::sleep(duration).await;
                stop.store(true, Ordering::Relaxed);
            });
        }
        let mut out = Vec::new();
        for t in tasks {
            if let Ok(stats) = t.await {
                out.push(stats);
            }
        }
        out
    });
    let elapsed = started.elapsed();

    let mut total = Stats::default();
    for s in results {
        total.latencies_us.extend(s.latencies_us);
        total.first_byte_us.extend(s.first_byte_us);
        total.body_bytes += s.body_bytes;
        for (k, (n, bad)) in s.by_entry {
            let e = total.by_entry.entry(k).or_default();
            e.0 += n;
            e.1 += bad;
        }
        total.unexpected.extend(s.unexpected);
        total.io_errors += s.io_errors;
        total.reconnects += s.reconnects;
    }
    report(&entries, &mut total, elapsed);
    let bad: u64 = total.by_entry.values().map(|(_, bad)| bad).sum();
    if bad > 0 || total.io_errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn report(entries: &[MixEntry], total: &mut Stats, elapsed: Duration) {
    let requests: u64 = total.by_entry.values().map(|(n, _)| n).sum();
    let unexpected: u64 = total.by_entry.values().map(|(_, bad)| bad).sum();
    total.latencies_us.sort_unstable();
    total.first_byte_us.sort_unstable();
    let pct_of = |v: &[u32], p: f64| {
        if v.is_empty() { 0.0 } else { f64::from(v[((v.len() - 1) as f64 * p) as usize]) / 1000.0 }
    };
    let pct = |p: f64| pct_of(&total.latencies_us, p);
    println!(
        "requests={requests} unexpected={unexpected} io_errors={} reconnects={}",
        total.io_errors, total.reconnects
    );
    // (The first-byte names hold no `p50_ms`: scripts read `p50_ms=` with a greedy match.)
    println!(
        "seconds={:.2} rps={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} ttfb50_ms={:.3} ttfb99_ms={:.3} \
         body_mib_per_s={:.1}",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        pct_of(&total.first_byte_us, 0.50),
        pct_of(&total.first_byte_us, 0.99),
        total.body_bytes as f64 / f64::from(1 << 20) / elapsed.as_secs_f64(),
    );
    for (index, (n, bad)) in &total.by_entry {
        let e = &entries[*index];
        println!("  {n:>8}  {bad:>6} bad  {} {} -> {}", e.method, e.target, e.expected);
    }
    for line in &total.unexpected {
        println!("  unexpected: {line}");
    }
}
