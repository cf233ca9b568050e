//! `pktmap serve` against real traffic: a UDP receiver that never reads in a namespace, the
//! server run inside it, and its answers read over HTTP the way Prometheus and a user would.

use crate::live::deaf_receiver;
use crate::support::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub const PROMTOOL: Tool = ("promtool", "prometheus");

/// One request over a new connection from inside namespace `ns`: (status, body).
pub(crate) fn request(ns: &str, port: u16, head: String) -> (u16, String) {
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

pub(crate) fn get(ns: &str, port: u16, path: &str) -> (u16, String) {
    request(
        ns,
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

/// A child process killed (and waited for) on drop, so a failing test leaves no server.
pub(crate) struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// UDP from namespace a to b's `port`, about 5,000 datagrams a second, until dropped.
pub(crate) fn flood(pair: &NetnsPair, port: u16) -> Repeat {
    let sock = NetnsPair::within(&pair.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    repeat("pmt-serve-flood", move || {
        for _ in 0..50 {
            let _ = sock.send_to(&[0u8; 64], (ADDR_B, port));
        }
        std::thread::sleep(Duration::from_millis(10));
    })
}

/// A port no other test of this run takes.
pub(crate) fn free_port() -> u16 {
    20_000 + (std::process::id() % 10_000) as u16 + 7 * unique() as u16
}

/// `pktmap serve` (1 s intervals) in namespace `ns`, once it is ready; it was not ready
/// before its first interval.
fn start_serve(ns: &str) -> (Killed, u16) {
    start_serve_with(ns, &["serve", "--interval", "1s"], true)
}

/// `pktmap ARGS --listen 127.0.0.1:PORT` in namespace `ns` (ARGS include `serve`), once
/// `/readyz` answers 200; with `unready_first`, it must have answered 503 before.
pub(crate) fn start_serve_with(ns: &str, args: &[&str], unready_first: bool) -> (Killed, u16) {
    let port = free_port();
    let server = std::process::Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_pktmap")])
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Killed(server);
    let start = Instant::now();
    let mut was_unready = false;
    loop {
        let up = NetnsPair::within(ns, move || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        match up.then(|| get(ns, port, "/readyz").0) {
            Some(200) => break,
            Some(503) => was_unready = true,
            _ => {}
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    if unready_first {
        assert!(was_unready, "ready before any interval was measured");
    }
    (server, port)
}

/// Whether Debian's python3-prometheus-client is there (its OpenMetrics parser); skips or,
/// with `CI=true`, fails as for a missing tool.
fn openmetrics_parser_or_skip(test: &str) -> bool {
    let have = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .status()
        .is_ok_and(|s| s.success());
    if have {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs CI=true: apt-get install python3-prometheus-client");
    }
    eprintln!(
        "skipping {test}: needs the OpenMetrics parser (apt-get install python3-prometheus-client)"
    );
    false
}

#[test]
fn serve_answers_with_the_map_of_a_real_fault() {
    if !root_with_tools_or_skip("serve_answers_with_the_map_of_a_real_fault", &[PROMTOOL])
        || !openmetrics_parser_or_skip("serve_answers_with_the_map_of_a_real_fault")
    {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9501);
    let _sender = flood(&pair, 9501);
    let (mut server, port) = start_serve(&pair.b);
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
        .output_with(metrics.as_bytes());
    assert!(ok.success(), "{said}");

    // OpenMetrics when asked for, as Python's strict parser reads it.
    let (status, om) = request(
        &pair.b,
        port,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n"
            .into(),
    );
    assert_eq!(status, 200);
    assert!(om.ends_with("# EOF\n"), "{om}");
    let parse = "import sys\nfrom prometheus_client.openmetrics.parser import \
                 text_string_to_metric_families as p\n\
                 fams = list(p(sys.stdin.read()))\n\
                 print(sum(len(f.samples) for f in fams))";
    let (ok, said) = std::process::Command::new("/usr/bin/python3")
        .args(["-c", parse])
        .output_with(om.as_bytes());
    assert!(ok.success(), "{said}");
    let samples: usize = said.trim().parse().unwrap();
    assert!(samples > 100, "{said}");
    let (status, audit) = get(&pair.b, port, "/api/audit");
    assert_eq!(status, 200);
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(audit[0]["schema"], "pktmap.audit/1");

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

    terminates_cleanly(&mut server);
}

/// The socket census of the collection an answer came from: (its age in ms, the UDP sockets
/// kept on `port` with their drops).
fn census(ns: &str, port: u16, udp_port: u16) -> (u64, Vec<u64>) {
    let (status, body) = get(ns, port, "/api/snapshot");
    assert_eq!(status, 200);
    let snaps: serde_json::Value = serde_json::from_str(&body).unwrap();
    let snap = &snaps[0];
    let run = snap["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sockets")
        .unwrap_or_else(|| panic!("no census: {body}"));
    let now = snap["meta"]["time_unix_ms"].as_u64().unwrap();
    let age = run["carried_from_ms"].as_u64().map_or(0, |at| now - at);
    let kept = snap["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["proto"] == "udp"
                && s["local"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(":{udp_port}"))
        })
        .map(|s| s["skmem"]["drops"].as_u64().unwrap_or(0))
        .collect();
    (age, kept)
}

/// Between censuses serve reads the counters and keeps the last census, saying how old it is;
/// a socket-stage loss counter moving takes a new one at once, which names the socket.
#[test]
fn the_socket_census_is_kept_while_quiet_and_retaken_when_a_socket_loses() {
    if !root_or_skip("the_socket_census_is_kept_while_quiet_and_retaken_when_a_socket_loses") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9502);
    let (_server, port) = start_serve_with(
        &pair.b,
        &["serve", "--interval", "1s", "--census", "60m"],
        true,
    );
    // Quiet: the census of the start is carried, older each interval.
    std::thread::sleep(Duration::from_millis(1100));
    let (age, kept) = census(&pair.b, port, 9502);
    assert!(age >= 900, "carried census is {age} ms old");
    assert!(kept.is_empty(), "{kept:?}");
    let (_, metrics) = get(&pair.b, port, "/metrics");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("pktmap_census_age_seconds"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let shown: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(shown >= 0.9, "{line}");

    // Udp.RcvbufErrors moves: the next collection takes a census, and it names the socket.
    let sender = flood(&pair, 9502);
    let start = Instant::now();
    let drops = loop {
        let (age, kept) = census(&pair.b, port, 9502);
        if age == 0 && kept.iter().any(|d| *d > 0) {
            break kept;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no fresh census naming the socket: {age} ms, {kept:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(drops.len(), 1, "{drops:?}");

    // Quiet again: that census is carried, with the socket it named.
    drop(sender);
    std::thread::sleep(Duration::from_millis(3500));
    let (age, kept) = census(&pair.b, port, 9502);
    assert!(age >= 900, "carried census is {age} ms old");
    assert_eq!(kept.len(), 1, "{kept:?}");
}

/// SIGTERM stops the server within 5 s with success (`ip netns exec` execs pktmap in place,
/// so the child is pktmap itself).
fn terminates_cleanly(server: &mut Killed) {
    unsafe { libc::kill(server.0.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(st) = server.0.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still serving");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// Feeds `input` to a command's standard input: (status, what it printed).
trait OutputWith {
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String);
}

impl OutputWith for std::process::Command {
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String) {
        let mut child = self
            .stdin(std::process::Stdio::piped())
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

/// The alerting rules pass Prometheus's own checks, and its rule unit test: a finding that
/// persists fires its alert, whose annotation carries this node's fix command.
#[test]
fn alerting_rules_pass_promtool_and_carry_the_fix_command() {
    if !root_with_tools_or_skip(
        "alerting_rules_pass_promtool_and_carry_the_fix_command",
        &[PROMTOOL],
    ) {
        return;
    }
    let dir = TempDir::new("rules");
    let out = run(&["rules"]);
    assert!(out.status.success());
    std::fs::write(dir.0.join("rules.yml"), &out.stdout).unwrap();
    let check = std::process::Command::new("promtool")
        .args(["check", "rules", &dir.path("rules.yml")])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        stdout(&check) + &stderr(&check)
    );
    let series = r#"{rule="udp-receive-buffer",stage="rx.10",netns="1",instance="n1""#;
    std::fs::write(
        dir.0.join("test.yml"),
        format!(
            r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'pktmap_finding{series},severity="critical"}}'
        values: '1x10'
      - series: 'pktmap_finding_info{series},title="UDP receive buffers are full",action="ss -uamp"}}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 1m
        alertname: PktmapUdpReceiveBuffer
        exp_alerts: []
      - eval_time: 5m
        alertname: PktmapUdpReceiveBuffer
        exp_alerts:
          - exp_labels:
              rule: udp-receive-buffer
              stage: rx.10
              netns: "1"
              instance: n1
              severity: critical
              title: UDP receive buffers are full
              action: ss -uamp
            exp_annotations:
              summary: "n1 rx.10: UDP receive buffers are full"
              action: ss -uamp
              explain: pktmap explain rx.10
"#
        ),
    )
    .unwrap();
    let test = std::process::Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", stdout(&test) + &stderr(&test));
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A real Prometheus scrapes `serve` every second with the generated rules loaded: PromQL
/// through its HTTP API sees the drops at rx.10 and the finding, and the alert for it is
/// pending with the fix command in its annotation.
#[test]
fn a_real_prometheus_sees_the_fault_and_its_alert() {
    let prometheus: Tool = ("prometheus", "prometheus");
    if !root_with_tools_or_skip(
        "a_real_prometheus_sees_the_fault_and_its_alert",
        &[PROMTOOL, prometheus],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9502);
    let _sender = flood(&pair, 9502);
    let (server, port) = start_serve(&pair.b);
    let dir = TempDir::new("prometheus");
    std::fs::write(dir.0.join("rules.yml"), run(&["rules"]).stdout).unwrap();
    std::fs::write(
        dir.0.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: pktmap\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let _prom = Killed(
        std::process::Command::new("ip")
            .args(["netns", "exec", &pair.b, "prometheus"])
            .arg(format!("--config.file={}", dir.path("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", dir.path("data")))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .arg("--log.level=error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = |q: &str| -> serde_json::Value {
        let (status, body) = get(&pair.b, web, &format!("/api/v1/query?query={}", encode(q)));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(20) {
        let up = NetnsPair::within(&pair.b, move || {
            std::net::TcpStream::connect(("127.0.0.1", web)).is_ok()
        });
        if up {
            let v = query(r#"pktmap_stage_drops_per_second{stage="rx.10"} > 100"#);
            if v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                seen = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let seen = seen.expect("Prometheus saw the drops at rx.10");
    assert_eq!(seen["data"]["result"][0]["metric"]["job"], "pktmap");
    let f = query("pktmap_finding");
    assert!(
        f["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metric"]["rule"] == "udp-receive-buffer" && r["metric"]["stage"] == "rx.10"),
        "{f}"
    );
    // Dashboards join by stage: the drops summed by stage equal the stage's own figure.
    let by_stage = query(r#"sum by (stage) (pktmap_stage_drops_per_second{stage="rx.10"})"#);
    assert!(!by_stage["data"]["result"].as_array().unwrap().is_empty());
    // The alert is pending (its `for:` has not run out) and says what to run.
    let start = Instant::now();
    let alert = loop {
        let (_, body) = get(&pair.b, web, "/api/v1/alerts");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let found = v["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == "PktmapUdpReceiveBuffer")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{v}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(alert["state"], "pending", "{alert}");
    assert_eq!(alert["annotations"]["action"], "ss -uamp", "{alert}");
    // Every query of the shipped dashboard returns series for this node.
    let board = json_of::<serde_json::Value>(&run(&["dashboard"]));
    let instance = format!("127.0.0.1:{port}");
    for panel in board["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let q = t["expr"].as_str().unwrap().replace("$instance", &instance);
            // A rate needs two scrapes in its window: wait for them.
            let start = Instant::now();
            loop {
                let v = query(&q);
                assert_eq!(v["status"], "success", "{q}: {v}");
                if !v["data"]["result"].as_array().unwrap().is_empty() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "{}: {q} returned nothing",
                    panel["title"]
                );
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    drop(server);
}

/// `serve --trace` in a namespace where UDP goes to a closed port: the kernel's reason is a
/// counter on the page at its stage, the latency histograms and pktmap's own BPF cost are
/// there, and SIGTERM ends it cleanly (its programs go with it).
#[test]
fn serve_with_trace_exports_drop_reasons_latency_and_its_cost() {
    if !root_with_tools_or_skip(
        "serve_with_trace_exports_drop_reasons_latency_and_its_cost",
        &[PROMTOOL],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _sender = flood(&pair, 9503);
    let (mut server, port) =
        start_serve_with(&pair.b, &["serve", "--trace", "--interval", "1s"], true);
    std::thread::sleep(Duration::from_millis(1200));
    let (status, m) = get(&pair.b, port, "/metrics");
    assert_eq!(status, 200);
    let reason = m
        .lines()
        .find(|l| l.starts_with(r#"pktmap_drop_reason_total{reason="NO_SOCKET",stage="rx.9"}"#))
        .unwrap_or_else(|| panic!("{m}"));
    let n: f64 = reason.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n > 500.0, "{reason}");
    assert!(
        m.contains(r#"pktmap_latency_seconds_bucket{histogram="run-queue latency: woken to running",stage="rx.11",le="+Inf"}"#),
        "{m}"
    );
    assert!(m.contains("pktmap_bpf_runs_total{program="), "{m}");
    // The reason's ledger line is not a kernel counter (it counts one interval).
    assert!(!m.contains(r#"counter="drop reason"#), "{m}");
    let (ok, said) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .output_with(m.as_bytes());
    assert!(ok.success(), "{said}");
    // The drops are NO_SOCKET's evidence in the closed-port finding, not a second loss.
    let (_, diag) = get(&pair.b, port, "/api/diagnose");
    assert!(diag.contains("drop reason NO_SOCKET"), "{diag}");

    terminates_cleanly(&mut server);
}
