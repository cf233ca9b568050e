//! `pktmap serve` against real traffic: a UDP receiver that never reads in a namespace, the
//! server run inside it, and its answers read over HTTP the way Prometheus and a user would.

use crate::live::{deaf_receiver, udp_flood};
use crate::support::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub const PROMTOOL: Tool = ("promtool", "prometheus");

/// One request over a new connection from inside namespace `ns`: (status, body).
fn request(ns: &str, port: u16, head: String) -> (u16, String) {
    NetnsPair::within(ns, move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        (status, body.to_string())
    })
}

fn get(ns: &str, port: u16, path: &str) -> (u16, String) {
    request(ns, port, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
}

#[test]
fn serve_answers_with_the_map_of_a_real_fault() {
    if !root_with_tools_or_skip("serve_answers_with_the_map_of_a_real_fault", &[PROMTOOL]) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9501);
    let sender = udp_flood(&pair.a, 9501, 5_000, 8.0);
    let port = 20_000 + (std::process::id() % 10_000) as u16 + unique() as u16;
    let mut server = std::process::Command::new("ip")
        .args(["netns", "exec", &pair.b, env!("CARGO_BIN_EXE_pktmap")])
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "1s",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Not ready until one interval is over; then ready.
    let start = Instant::now();
    let mut was_unready = false;
    loop {
        let status = NetnsPair::within(&pair.b, move || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .then(|| get(&pair.b, port, "/readyz").0);
        match status {
            Some(200) => break,
            Some(503) => was_unready = true,
            _ => {}
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(was_unready, "ready before any interval was measured");
    std::thread::sleep(Duration::from_millis(1200));

    let (status, metrics) = get(&pair.b, port, "/metrics");
    assert_eq!(status, 200);
    let drops = metrics
        .lines()
        .find(|l| l.starts_with("pktmap_stage_drops_per_second{stage=\"rx.10\""))
        .unwrap_or_else(|| panic!("{metrics}"));
    let rate: f64 = drops.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(rate > 500.0, "{drops}");
    assert!(
        metrics.contains("pktmap_finding{stage=\"rx.10\",rule=\"udp-receive-buffer\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("pktmap_kernel_loss_total{counter=\"Udp.RcvbufErrors\",stage=\"rx.10\"")
    );
    // The text format passes Prometheus's own checker.
    let (ok, said) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .output_with(metrics.as_bytes());
    assert!(ok.success(), "{said}");

    let (status, walk) = get(&pair.b, port, "/api/walk");
    assert_eq!(status, 200);
    let walks: serde_json::Value = serde_json::from_str(&walk).unwrap();
    assert_eq!(walks[0]["first_loss"], "rx.10");
    let (status, diag) = get(&pair.b, port, "/api/diagnose");
    assert_eq!(status, 200);
    assert!(diag.contains("udp-receive-buffer"));
    assert_eq!(get(&pair.b, port, "/healthz").0, 200);
    assert_eq!(get(&pair.b, port, "/nope").0, 404);
    // Only GET and HEAD; HEAD has no body; a head over 8 KiB is refused.
    let (status, _) = request(&pair.b, port, "POST /metrics HTTP/1.1\r\n\r\n".into());
    assert_eq!(status, 405);
    let (status, body) = request(&pair.b, port, "HEAD /metrics HTTP/1.1\r\n\r\n".into());
    assert_eq!((status, body.len()), (200, 0));
    let big = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(request(&pair.b, port, big).0, 431);

    // SIGTERM stops it cleanly.
    let pid = server.id() as i32;
    // `ip netns exec` execs pktmap in place, so the child is pktmap itself.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(st) = server.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still serving");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    sender.join().unwrap();
}

/// Feeds `input` to a command's standard input: (status, what it printed).
trait OutputWith {
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String);
}

impl OutputWith for std::process::Command {
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String) {
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}
