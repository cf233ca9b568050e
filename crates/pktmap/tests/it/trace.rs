//! `pktmap trace drops` on the real kernel: each induced drop is counted with the kernel's
//! reason, placed at its stage and attributed to its namespace.

use crate::live::{deaf_receiver, stubborn_listener, udp_flood};
use crate::support::*;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize, Debug)]
struct Trace {
    events: u64,
    reasons: Vec<Row>,
    cost: Vec<Cost>,
}

#[derive(Deserialize, Debug)]
struct Cost {
    program: String,
    runs: u64,
    run_time_ns: u64,
}

#[derive(Deserialize, Debug)]
struct Row {
    name: String,
    stage: Option<String>,
    count: u64,
    locations: Vec<(String, u64)>,
    netns: Vec<(String, u64)>,
}

fn trace_in(ns: &str, secs: &str) -> Trace {
    let out = run(&[
        "--netns",
        ns,
        "trace",
        "drops",
        "--json",
        "--cost",
        "--interval",
        secs,
    ]);
    json_of(&out)
}

fn row<'a>(t: &'a Trace, name: &str) -> &'a Row {
    t.reasons
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {t:#?}"))
}

#[test]
fn closed_port_rule_and_full_buffer_each_get_their_reason_stage_and_namespace() {
    if !root_with_tools_or_skip(
        "closed_port_rule_and_full_buffer_each_get_their_reason_stage_and_namespace",
        &[IPTABLES],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    pair.drop_udp_in_b(9301);
    let _rx = deaf_receiver(&pair.b, 9302);
    let floods = [
        udp_flood(&pair.a, 9300, 2_000, 2.0), // closed port
        udp_flood(&pair.a, 9301, 2_000, 2.0), // DROP rule
        udp_flood(&pair.a, 9302, 5_000, 2.0), // a buffer nobody reads
    ];
    std::thread::sleep(Duration::from_millis(300));
    let t = trace_in(&pair.b, "1s");
    for f in floods {
        f.join().unwrap();
    }
    for (name, stage) in [
        ("NO_SOCKET", "rx.9"),
        ("NETFILTER_DROP", "rx.8"),
        ("SOCKET_RCVBUFF", "rx.10"),
    ] {
        let r = row(&t, name);
        assert_eq!(r.stage.as_deref(), Some(stage), "{name}");
        assert!(r.count > 500, "{name}: {r:?}");
        assert!(r.netns[0].0.starts_with(&pair.b), "{name} in {:?}", r.netns);
    }
    // kernel-notes: rule drops are freed in nft_do_chain (or ipt_do_table).
    assert!(
        row(&t, "NETFILTER_DROP").locations[0]
            .0
            .contains("do_chain")
            || row(&t, "NETFILTER_DROP").locations[0]
                .0
                .contains("do_table")
    );
    assert!(t.events >= t.reasons.iter().map(|r| r.count).sum::<u64>());
    // Asked with --cost, pktmap reports its own: its program ran at least once per drop it saw.
    let c = t
        .cost
        .iter()
        .find(|c| c.program == "count_drop")
        .expect("the program's cost");
    assert!(c.runs >= t.events && c.run_time_ns > 0, "{c:?}");
}

fn loaded_programs() -> String {
    let out = std::process::Command::new("bpftool")
        .args(["prog", "show"])
        .output()
        .expect("bpftool (CI installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `trace drops` for 30 s and waits until its program is in the kernel.
fn tracer_loaded() -> std::process::Child {
    let child = bin()
        .args(["trace", "drops", "--json", "--interval", "30s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !loaded_programs().contains("count_drop") {
        assert!(
            std::time::Instant::now() < deadline,
            "the program never loaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn nothing_stays_loaded_after_sigint_sigterm_or_sigkill() {
    if !root_with_tools_or_skip(
        "nothing_stays_loaded_after_sigint_sigterm_or_sigkill",
        &[BPFTOOL],
    ) {
        return;
    }
    let _g = exclusive();
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let child = tracer_loaded();
        let asked = std::time::Instant::now();
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !loaded_programs().contains("count_drop"),
            "a program outlived pktmap after signal {sig}"
        );
        if sig == libc::SIGKILL {
            continue;
        }
        // Interrupted, it reports what it counted so far, over the time it really counted.
        assert!(out.status.success(), "signal {sig}: {}", stderr(&out));
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "signal {sig} ignored"
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let secs = v["interval_s"].as_f64().unwrap();
        assert!((0.0..10.0).contains(&secs), "signal {sig}: {secs} s");
    }
}

#[test]
fn two_tracers_at_once_each_count_every_drop() {
    if !root_with_tools_or_skip("two_tracers_at_once_each_count_every_drop", &[BPFTOOL]) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let start = |secs: &'static str| {
        let ns = pair.b.clone();
        std::thread::spawn(move || trace_in(&ns, secs))
    };
    let (one, two) = (start("5s"), start("5s"));
    // Both tracers are attached before the flood starts and still are after it ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while loaded_programs().matches("count_drop").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "tracers never loaded");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = udp_flood(&pair.a, 9310, 2_000, 1.0).join().unwrap();
    let (one, two) = (one.join().unwrap(), two.join().unwrap());
    for t in [&one, &two] {
        let n = row(t, "NO_SOCKET").count;
        // A closed port answers each datagram with a drop; ICMP rate limits do not apply here.
        assert!(n >= sent && n <= sent + 50, "{n} of {sent} sent: {t:#?}");
    }
}

/// kernel-notes: a SYN meeting a full accept queue is consumed without a reason; only a
/// completed handshake that finds it full says TCP_LISTEN_OVERFLOW. TCP_DEFER_ACCEPT holds
/// each connection until its first data, so every client's data completes one.
#[test]
fn a_completed_handshake_meeting_a_full_accept_queue_is_listen_overflow_at_rx10() {
    if !root_or_skip("a_completed_handshake_meeting_a_full_accept_queue_is_listen_overflow_at_rx10")
    {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let listener = stubborn_listener(&pair.b, 8095, 1);
    let secs: libc::c_int = 5;
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&listener),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            4,
        )
    };
    assert_eq!(rc, 0);
    let ns = pair.b.clone();
    let tracer = std::thread::spawn(move || trace_in(&ns, "4s"));
    std::thread::sleep(Duration::from_millis(1000));
    // Every client completes its handshake (held back by TCP_DEFER_ACCEPT, so the accept
    // queue stays empty meanwhile) before any sends: then each first data segment finishes a
    // connection the full queue has no room for.
    let all_connected = std::sync::Arc::new(std::sync::Barrier::new(20));
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let (a, all_connected) = (pair.a.clone(), all_connected.clone());
            std::thread::spawn(move || {
                NetnsPair::within(&a, move || {
                    use std::io::Write;
                    let s = std::net::TcpStream::connect_timeout(
                        &format!("{ADDR_B}:8095").parse().unwrap(),
                        Duration::from_millis(1000),
                    );
                    all_connected.wait();
                    let mut s = s.ok()?;
                    s.write_all(b"hello").ok()?;
                    std::thread::sleep(Duration::from_secs(2));
                    Some(s)
                })
            })
        })
        .collect();
    let t = tracer.join().unwrap();
    let r = row(&t, "TCP_LISTEN_OVERFLOW");
    assert_eq!(r.stage.as_deref(), Some("rx.10"));
    assert!(r.count >= 5, "{r:?}");
    assert!(r.netns[0].0.starts_with(&pair.b), "{:?}", r.netns);
    for c in clients {
        let _ = c.join();
    }
}

/// The first diagnose finding whose `field` is `value`, and its evidence keys.
fn finding<'a>(
    v: &'a serde_json::Value,
    field: &str,
    value: &str,
) -> (&'a serde_json::Value, Vec<&'a str>) {
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[field] == value)
        .unwrap_or_else(|| panic!("no finding with {field} {value}: {v:#}"));
    let keys = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    (f, keys)
}

#[test]
fn diagnose_with_trace_adds_the_kernels_reason_to_the_finding() {
    if !root_with_tools_or_skip(
        "diagnose_with_trace_adds_the_kernels_reason_to_the_finding",
        &[IPTABLES],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    pair.drop_udp_in_b(9310);
    let _rx = deaf_receiver(&pair.b, 9311);
    let floods = [
        udp_flood(&pair.a, 9310, 3_000, 2.0),
        udp_flood(&pair.a, 9311, 5_000, 2.0),
    ];
    std::thread::sleep(Duration::from_millis(300));
    let out = run(&[
        "--netns",
        &pair.b,
        "diagnose",
        "--trace",
        "--json",
        "--interval",
        "1s",
    ]);
    for f in floods {
        f.join().unwrap();
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let (f, keys) = finding(&v, "stage", "rx.8");
    assert!(keys.contains(&"drop reason NETFILTER_DROP"), "{keys:?}");
    assert_eq!(f["confidence"], "high");
    // The full buffer's finding names, from a sampled packet, the socket the drops hit.
    let (f, _) = finding(&v, "stage", "rx.10");
    let traced = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "drop reason SOCKET_RCVBUFF")
        .unwrap_or_else(|| panic!("{f}"));
    let scope = traced["scope"].as_str().unwrap();
    assert!(scope.contains(&format!("> {ADDR_B}:9311")), "{scope}");
}

#[test]
fn doctor_says_what_this_kernel_offers() {
    let out = run(&["doctor", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |what: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .unwrap_or_else(|| panic!("{what}"))
            .clone()
    };
    // The development kernel and CI's have BTF and the drop tracepoint.
    assert_eq!(check("kernel BTF")["ok"], true);
    assert_eq!(check("kfree_skb")["ok"], true);
    assert!(
        check("drop reasons")["detail"]
            .as_str()
            .unwrap()
            .contains("reasons named")
    );
    assert!(
        check("kprobes")["detail"]
            .as_str()
            .unwrap()
            .contains("not needed")
    );
    for tp in ["napi_poll", "net_dev_start_xmit", "sched_switch"] {
        assert_eq!(check(tp)["ok"], true, "{tp}");
    }
    // fentry is tried, not guessed: this kernel refuses it (kernel-notes), others may not.
    let fentry = check("fentry")["detail"].as_str().unwrap().to_string();
    assert!(
        fentry.starts_with("allowed (tried)") || fentry.starts_with("refused (loading"),
        "{fentry}"
    );
}

#[test]
fn latency_histograms_fill_with_plausible_values_under_tcp_traffic() {
    if !root_or_skip("latency_histograms_fill_with_plausible_values_under_tcp_traffic") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    // A queue to reside in: a veth has none (noqueue), and none is measured there.
    sh(&[
        "tc",
        "-n",
        &pair.a,
        "qdisc",
        "add",
        "dev",
        &pair.veth_a,
        "root",
        "pfifo",
        "limit",
        "10000",
    ]);
    let listener = NetnsPair::within(&pair.b, || {
        std::net::TcpListener::bind((ADDR_B, 8090)).unwrap()
    });
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        while s.read(&mut buf).unwrap_or(0) > 0 {}
    });
    let writer = NetnsPair::within(&pair.a, || {
        std::net::TcpStream::connect((ADDR_B, 8090)).unwrap()
    });
    let w = std::thread::spawn(move || {
        use std::io::Write;
        let mut writer = writer;
        let chunk = vec![7u8; 16 * 1024];
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(2500) {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let out = run(&[
        "trace",
        "latency",
        "--duty",
        "20",
        "--json",
        "--interval",
        "1s",
    ]);
    w.join().unwrap();
    reader.join().unwrap();
    let v: serde_json::Value = json_of(&out);
    assert!(
        v["disabled"].as_array().unwrap().is_empty(),
        "{}",
        v["disabled"]
    );
    let hist = |stage: &str, name: &str| {
        v["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["stage"] == stage && h["name"].as_str().unwrap().starts_with(name))
            .unwrap()
            .clone()
    };
    for (stage, name) in [
        ("rx.5", "NET_RX softirq: run"),
        ("rx.11", "received to copied"),
        ("tx.3", "qdisc residence"),
        ("rx.11", "run-queue"),
    ] {
        let h = hist(stage, name);
        assert!(h["count"].as_u64().unwrap() > 10, "{name}: {h}");
        // Between a microsecond-ish and a second: plausible for a loaded VM.
        let p50 = h["p50"].as_u64().unwrap();
        assert!((100..1_000_000_000).contains(&p50), "{name}: p50 {p50} ns");
        // A start time matched to the wrong end (a reused skb address, the idle task's pid 0)
        // shows as hours in the tail.
        let p99 = h["p99"].as_u64().unwrap();
        assert!(p99 < 10_000_000_000, "{name}: p99 {p99} ns");
    }
    // NAPI per device and CPU accounts for every poll the packets-per-poll histogram saw (the
    // maps are read after detaching, so exactly).
    let napi = v["napi"].as_array().unwrap();
    let polls: u64 = napi.iter().map(|r| r["polls"].as_u64().unwrap()).sum();
    assert_eq!(v["napi_polls"].as_u64().unwrap(), polls);
    let total = hist("rx.6", "napi_poll")["count"].as_u64().unwrap();
    assert!(total > 10, "{total}");
    assert_eq!(polls, total);
    // In 20% windows the programs were attached about a fifth of the interval, shorter than
    // the period as it is.
    assert_eq!(v["duty_percent"], 20);
    assert_eq!(v["duty_budget"], serde_json::Value::Null);
    assert_eq!(v["grace_ms"], 100);
    assert_eq!(v["period_ms"], 1000);
    let observed = v["observed_s"].as_f64().unwrap();
    assert!((0.15..0.4).contains(&observed), "{observed}");
    assert!(napi.iter().all(|r| r["mean_work"].as_f64().unwrap() >= 0.0));
    assert!(
        napi.iter().any(|r| r["mean_work"].as_f64().unwrap() >= 1.0),
        "{napi:?}"
    );
}

/// The default duty sizes its windows to the traffic. Quiet, the programs stay attached
/// throughout; under a flood that makes them run several times the budget a second (measured
/// attached throughout), windows bring the runs of the interval back near the budget, and the
/// histograms still fill.
#[test]
fn automatic_duty_stays_attached_when_quiet_and_samples_a_flood() {
    if !root_or_skip("automatic_duty_stays_attached_when_quiet_and_samples_a_flood") {
        return;
    }
    // Alone: the quiet run must be quiet, and the flood would load every other test.
    let _g = exclusive();
    let pair = NetnsPair::new();
    let latency = |args: &[&str]| {
        let mut all = vec!["trace", "latency", "--json"];
        all.extend_from_slice(args);
        json_of::<serde_json::Value>(&run(&all))
    };
    let runs_per_s = |v: &serde_json::Value| {
        v["runs"].as_u64().unwrap() as f64 / v["interval_s"].as_f64().unwrap()
    };
    let budget = pktmap_bpf::latency::Duty::BUDGET;
    // Quiet: the transmit programs only, which no other test's traffic reaches while this one
    // runs alone (the scheduler's would count every context switch of the machine).
    let quiet = latency(&["--stage", "tx.3", "--interval", "1s"]);
    assert_eq!(quiet["duty_budget"], budget);
    assert_eq!(quiet["duty_percent"], 100, "{}", runs_per_s(&quiet));
    assert!(quiet["observed_s"].as_f64().unwrap() > 0.9);

    // Into a closed port, unpaced.
    let sender = NetnsPair::within(&pair.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    let flood = repeat("pmt-auto-flood", move || {
        let _ = sender.send_to(&[0u8; 18], (ADDR_B, 9));
    });
    std::thread::sleep(Duration::from_millis(300));
    let full = latency(&["--duty", "100", "--interval", "1s"]);
    let auto = latency(&["--interval", "3s"]);
    drop(flood);
    let (full_rate, auto_rate) = (runs_per_s(&full), runs_per_s(&auto));
    let budget = budget as f64;
    assert!(
        full_rate > 3.0 * budget,
        "the flood must outrun the budget for this test to mean anything: {full_rate}"
    );
    let duty = auto["duty_percent"].as_u64().unwrap();
    assert!(duty < 50, "{duty}% at {full_rate} runs/s throughout");
    // Near the budget: the first window runs at the full rate until a tenth of the budget is
    // spent, the last grace runs past the interval, and the shortest window may exceed it.
    assert!(
        auto_rate < 2.5 * budget && auto_rate < full_rate / 2.0,
        "{auto_rate} runs/s in windows, {full_rate} throughout"
    );
    let napi = auto["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["stage"] == "rx.6")
        .unwrap()["count"]
        .as_u64()
        .unwrap();
    assert!(napi > 100, "{napi}");
}

/// `--stage tx.3` shows only the qdisc histogram and loads only its two programs (the others
/// would cost a run per packet for nothing).
#[test]
fn latency_stage_attaches_only_that_stages_programs() {
    if !root_or_skip("latency_stage_attaches_only_that_stages_programs") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let sender = NetnsPair::within(&pair.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    let flood = repeat("pmt-flood", move || {
        let _ = sender.send_to(b"x", (ADDR_B, 9));
        std::thread::sleep(Duration::from_micros(200));
    });
    let out = run(&[
        "trace",
        "latency",
        "--stage",
        "tx.3",
        "--cost",
        "--json",
        "--interval",
        "1s",
    ]);
    drop(flood);
    let v: serde_json::Value = json_of(&out);
    let stages: Vec<&str> = v["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["tx.3"]);
    let ran: Vec<&str> = v["cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["program"].as_str().unwrap())
        .collect();
    assert!(ran.contains(&"net_dev_queue"), "{ran:?}");
    assert!(
        ran.iter()
            .all(|p| ["net_dev_queue", "net_dev_start_xmit"].contains(p)),
        "{ran:?}"
    );
    let bad = run(&["trace", "latency", "--stage", "rx.9"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        stderr(&bad).contains("rx.5, rx.6, rx.11, tx.3"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn diagnose_with_trace_adds_latency_histograms_to_the_slow_reader() {
    if !root_or_skip("diagnose_with_trace_adds_latency_histograms_to_the_slow_reader") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (reader, w) = slow_tcp_reader(&pair, 8091);
    std::thread::sleep(Duration::from_millis(600));
    let out = run(&[
        "--netns",
        &pair.b,
        "diagnose",
        "--trace",
        "--json",
        "--interval",
        "1s",
    ]);
    w.join().unwrap();
    reader.join().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let (_, keys) = finding(&v, "rule", "slow-reader");
    assert!(
        keys.iter().any(|k| k.starts_with("histogram run-queue")),
        "{keys:?}"
    );
}

/// Run-queue latency of one process or one command: a thread of this test, named uniquely,
/// wakes every 5 ms; the filters keep its wakeups and nothing of a command that does not run.
#[test]
fn run_queue_latency_filters_by_process_and_by_command() {
    if !root_or_skip("run_queue_latency_filters_by_process_and_by_command") {
        return;
    }
    let _g = shared();
    let name = format!("pmtwake{}", std::process::id() % 100_000);
    let waker = repeat(&name, || std::thread::sleep(Duration::from_millis(5)));
    let runq = |interval: &str, filter: &[&str]| {
        let mut args = vec!["trace", "latency", "--json", "--interval", interval];
        args.extend_from_slice(filter);
        let out = run(&args);
        let v: serde_json::Value = json_of(&out);
        let count = v["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().starts_with("run-queue"))
            .unwrap()["count"]
            .as_u64()
            .unwrap();
        (count, v["observed_s"].as_f64())
    };
    let (by_comm, throughout) = runq("1s", &["--comm", &name, "--duty", "100"]);
    let (by_pid, _) = runq(
        "1s",
        &["--task", &std::process::id().to_string(), "--duty", "100%"],
    );
    let (nobody, _) = runq("1s", &["--comm", "pmt-not-running", "--duty", "100"]);
    // Attached a quarter of the 2 s period: about half a second's wakeups.
    let (sampled, observed) = runq("2s", &["--comm", &name, "--duty", "25"]);
    drop(waker);
    // At most 200 wakeups a second; a loaded VM may lose some to scheduling, never most.
    assert!((50..=260).contains(&by_comm), "{by_comm}");
    assert_eq!(throughout, None);
    assert!(by_pid >= by_comm / 2, "{by_pid} vs {by_comm}");
    assert_eq!(nobody, 0);
    let observed = observed.unwrap();
    assert!((0.4..0.7).contains(&observed), "{observed}");
    let expected = by_comm as f64 * observed;
    assert!(
        (expected * 0.5..expected * 1.6).contains(&(sampled as f64)),
        "{sampled} in {observed} s, against {by_comm} in 1 s"
    );
    let long = run(&["trace", "latency", "--comm", "a-command-name-too-long"]);
    assert_eq!(long.status.code(), Some(3));
    assert!(stderr(&long).contains("15 bytes"), "{}", stderr(&long));
}

/// Time sampling cuts at the grace, and says so. A tbf queue that holds one sampling period of
/// packets (its latency limit, the sender always ahead of its rate) makes every packet wait
/// about a period in the qdisc. Attached throughout, qdisc residence shows it; in 200 ms
/// windows, a packet queued in one window leaves in the next, whose stamp is later than its
/// start: counted late, never matched across the gap.
#[test]
fn sampling_windows_cut_long_latencies_and_count_them_late() {
    if !root_or_skip("sampling_windows_cut_long_latencies_and_count_them_late") {
        return;
    }
    // Alone: qdisc residence is traced host-wide, and another test's qdisc traffic (short
    // waits, many packets) would set the p99.
    let _g = exclusive();
    let pair = NetnsPair::new();
    let period = pktmap_bpf::latency::Duty::PERIOD.as_millis();
    let wait = format!("{period}ms");
    pair.tbf_in_a(&["rate", "400kbit", "burst", "2kb", "latency", &wait]);
    let sender = NetnsPair::within(&pair.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    // Room in the socket for the whole queue: the qdisc, not the socket, sets the wait.
    let size: libc::c_int = 4 << 20;
    let set = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sender),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&raw const size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    let send = repeat("pmt-queued", move || {
        let _ = sender.send_to(&[1u8; 100], (ADDR_B, 9));
        std::thread::sleep(Duration::from_millis(1));
    });
    let qdisc = |duty: &str, interval: &str| {
        let out = run(&[
            "trace",
            "latency",
            "--stage",
            "tx.3",
            "--duty",
            duty,
            "--json",
            "--interval",
            interval,
        ]);
        let v: serde_json::Value = json_of(&out);
        let h = &v["histograms"][0];
        (
            h["count"].as_u64().unwrap(),
            h["p99"].as_u64(),
            v["late"].as_u64().unwrap(),
        )
    };
    // The sender runs at about twice the rate: the queue fills within the period, then every
    // packet waits its period.
    std::thread::sleep(Duration::from_millis(period as u64));
    // Over a period and a second: the packets queued in the first second leave within it, and
    // a second window opens a period after the first.
    let interval = format!("{}ms", period + 1000);
    let (all, all_p99, _) = qdisc("100", &interval);
    // The share of the period that makes 200 ms windows.
    let percent = (100 * 200 / period).to_string();
    let (_, sampled_p99, late) = qdisc(&percent, &interval);
    drop(send);
    assert!(all > 10, "{all}");
    assert!(
        all_p99.unwrap() >= 1 << 30,
        "{all_p99:?}: the queue holds {period} ms"
    );
    // Recorded latencies end within window and grace (300 ms): below 2^29 ns (537 ms).
    assert!(sampled_p99.is_none_or(|p| p < 1 << 29), "{sampled_p99:?}");
    assert!(late > 0);
}

/// NAPI rows are per device and namespace: two pairs' receiving veths (each polling through a
/// NAPI instance of its own) have the same ifindex, each in its own namespace, yet
/// show as two rows, each named as its namespace names it.
#[test]
fn napi_rows_keep_same_ifindex_devices_of_two_namespaces_apart() {
    if !root_with_tools_or_skip(
        "napi_rows_keep_same_ifindex_devices_of_two_namespaces_apart",
        &[ETHTOOL],
    ) {
        return;
    }
    let _g = shared();
    let pairs = [NetnsPair::new(), NetnsPair::new()];
    let ifindex = |p: &NetnsPair| {
        let out = std::process::Command::new("ip")
            .args(["-n", &p.b, "-o", "link", "show", "dev", &p.veth_b])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split(':')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(ifindex(&pairs[0]), ifindex(&pairs[1]));
    let senders: Vec<Repeat> = pairs
        .iter()
        .map(|p| {
            // GRO switched on while up gives the veth its NAPI instance; UDP forwarding GRO
            // lets a TSO-capable sender's datagrams use it.
            for features in [
                &["gro", "off"][..],
                &["gro", "on", "rx-udp-gro-forwarding", "on"],
            ] {
                let mut args = vec!["ip", "netns", "exec", &p.b, "ethtool", "-K", &p.veth_b];
                args.extend_from_slice(features);
                sh(&args);
            }
            let s = NetnsPair::within(&p.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
            repeat("pmt-napi", move || {
                let _ = s.send_to(b"x", (ADDR_B, 9));
                std::thread::sleep(Duration::from_micros(500));
            })
        })
        .collect();
    let out = run(&[
        "trace",
        "latency",
        "--stage",
        "rx.6",
        "--duty",
        "100",
        "--json",
        "--interval",
        "1s",
    ]);
    drop(senders);
    let v: serde_json::Value = json_of(&out);
    let napi = v["napi"].as_array().unwrap();
    for p in &pairs {
        assert!(
            napi.iter().any(|r| r["device"] == p.veth_b.as_str()
                && r["netns"].as_str().is_some_and(|n| n.contains(&p.b))),
            "{} in {}: {napi:?}",
            p.veth_b,
            p.b
        );
    }
}

#[test]
fn sampled_drops_name_the_flow_at_the_rate_asked() {
    if !root_or_skip("sampled_drops_name_the_flow_at_the_rate_asked") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let flood = udp_flood(&pair.a, 9330, 2_000, 2.0);
    std::thread::sleep(Duration::from_millis(300));
    let out = run(&[
        "--netns",
        &pair.b,
        "trace",
        "drops",
        "--json",
        "--sample",
        "20",
        "--interval",
        "1s",
    ]);
    flood.join().unwrap();
    let v: serde_json::Value = json_of(&out);
    let row = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "NO_SOCKET")
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    let samples = row["samples"].as_array().unwrap();
    let (flow, n) = (
        samples[0][0].as_str().unwrap(),
        samples[0][1].as_u64().unwrap(),
    );
    assert!(flow.starts_with(&format!("udp {ADDR_A}:")), "{flow}");
    assert!(flow.ends_with(&format!("> {ADDR_B}:9330")), "{flow}");
    // The budget is per second of the kernel clock: a 1 s interval may touch two seconds.
    assert!((10..=45).contains(&n), "{n} samples at 20/s");
    assert_eq!(v["samples_lost"], 0);
}

/// Drops in TCP after the socket lookup (duplicates of spurious retransmits in a bulk
/// transfer: TCP_OLD_SEQUENCE, TCP_OLD_DATA) have no device and no owning socket on the skb;
/// the tracepoint's receiving socket names their namespace.
#[test]
fn tcp_layer_drops_name_their_namespace() {
    if !root_or_skip("tcp_layer_drops_name_their_namespace") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let listener = NetnsPair::within(&pair.b, || {
        std::net::TcpListener::bind((ADDR_B, 9320)).unwrap()
    });
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        while s.read(&mut buf).unwrap_or(0) > 0 {}
    });
    let stream = NetnsPair::within(&pair.a, || {
        std::net::TcpStream::connect((ADDR_B, 9320)).unwrap()
    });
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut stream = stream;
        let chunk = vec![1u8; 1 << 20];
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(5) && stream.write_all(&chunk).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(500));
    let out = run(&[
        "--all-netns",
        "trace",
        "drops",
        "--json",
        "--interval",
        "3s",
    ]);
    writer.join().unwrap();
    reader.join().unwrap();
    let t: serde_json::Value = json_of(&out);
    let tcp: Vec<&serde_json::Value> = t["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("TCP_"))
        .collect();
    let here = tcp.iter().any(|r| {
        r["netns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n[0].as_str().unwrap().starts_with(&pair.b))
    });
    assert!(here, "TCP drops in {}: {tcp:#?}", pair.b);
    for r in &tcp {
        assert!(
            r["netns"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n[0] != "none"),
            "{r:#}"
        );
    }
}

/// `--all-netns trace drops` in text: one table per namespace, each with the devices of that
/// namespace by name (not `ifindex N`), never a namespace from one drop and a device from
/// another.
#[test]
fn all_netns_drops_are_one_table_per_namespace_with_its_own_devices() {
    if !root_with_tools_or_skip(
        "all_netns_drops_are_one_table_per_namespace_with_its_own_devices",
        &[BPFTOOL],
    ) {
        return;
    }
    let _g = shared();
    let (one, two) = (NetnsPair::new(), NetnsPair::new());
    let floods = [
        udp_flood(&one.a, 9310, 2_000, 2.5), // closed port in one.b
        udp_flood(&two.a, 9311, 2_000, 2.5), // closed port in two.b
    ];
    std::thread::sleep(Duration::from_millis(300));
    let out = run(&["--all-netns", "trace", "drops", "--interval", "1s"]);
    for f in floods {
        f.join().unwrap();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for pair in [&one, &two] {
        let at = text
            .find(&format!("namespace {}", pair.b))
            .unwrap_or_else(|| panic!("no table for {}:\n{text}", pair.b));
        let table = &text[at..];
        let table = &table[..table[1..]
            .find("\nnamespace ")
            .map_or(table.len(), |i| i + 1)];
        assert!(table.contains("NO_SOCKET"), "{table}");
        assert!(table.contains(&format!("dev {}", pair.veth_b)), "{table}");
        let other = if std::ptr::eq(pair, &one) { &two } else { &one };
        assert!(
            !table.contains(&other.veth_b),
            "another namespace's device: {table}"
        );
    }
}

/// "received to copied into the application (TCP)" is TCP's: UDP datagrams into a reader that
/// keeps up, with no TCP anywhere on the host meanwhile (the test runs alone), leave it empty
/// while the run-queue histogram fills. The datagrams are 4,000 bytes: fragmented on the
/// veth and reassembled, they are copied through the same tracepoint as TCP (a small linear
/// datagram is copied without it).
#[test]
fn the_tcp_copy_histogram_counts_no_udp() {
    if !root_or_skip("the_tcp_copy_histogram_counts_no_udp") {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    let rx = NetnsPair::within(&pair.b, || {
        std::net::UdpSocket::bind((ADDR_B, 9320)).unwrap()
    });
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut got = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(2500) {
            if rx.recv(&mut buf).is_ok() {
                got += 1;
            }
        }
        got
    });
    let sock = NetnsPair::within(&pair.a, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    let sender = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            for _ in 0..10 {
                let _ = sock.send_to(&[0u8; 4000], (ADDR_B, 9320));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let out = run(&[
        "trace",
        "latency",
        "--stage",
        "rx.11",
        "--duty",
        "100",
        "--json",
        "--interval",
        "1s",
    ]);
    sender.join().unwrap();
    assert!(reader.join().unwrap() > 1_000, "the reader read");
    let v: serde_json::Value = json_of(&out);
    let count = |name: &str| {
        v["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().starts_with(name))
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count("received to copied"), 0, "{v:#}");
    assert!(count("run-queue") > 0, "{v:#}");
}
