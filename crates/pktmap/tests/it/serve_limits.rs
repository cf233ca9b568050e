//! `pktmap serve` at its bounds: a hundred scrapes at once, slow clients, collection shared
//! by concurrent scrapes, the series and namespace limits, and a run with exactly what the
//! DaemonSet grants.

use crate::serve::{Killed, free_port, get, start_serve_with};
use crate::support::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Peak resident memory of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// `n` connections to `port` opened from inside namespace `ns`.
fn connections(ns: &str, port: u16, n: usize) -> Vec<std::net::TcpStream> {
    NetnsPair::within(ns, move || {
        (0..n)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect()
    })
}

#[test]
fn a_hundred_concurrent_scrapes_are_all_answered_in_bounded_memory() {
    if !root_or_skip("a_hundred_concurrent_scrapes_are_all_answered_in_bounded_memory") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (server, port) = start_serve_with(&pair.b, &["serve", "--interval", "1s"], true);
    // All hundred are open before any is sent: the server sees them at once.
    let conns = connections(&pair.b, port, 100);
    let answers: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out
            })
        })
        .collect();
    let mut ok = 0;
    for a in answers {
        let out = a.join().unwrap();
        if out.starts_with("HTTP/1.1 200") && out.contains("pktmap_stage_drops_per_second") {
            ok += 1;
        }
    }
    assert_eq!(ok, 100, "every scrape answered");
    let kib = peak_rss_kib(server.0.id());
    eprintln!("serve: peak RSS after 100 concurrent scrapes: {kib} KiB");
    assert!(kib < 64 * 1024, "{kib} KiB");
}

#[test]
fn slow_clients_are_cut_off_and_scrapes_are_still_answered() {
    if !root_or_skip("slow_clients_are_cut_off_and_scrapes_are_still_answered") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (_server, port) = start_serve_with(&pair.b, &["serve", "--interval", "1s"], true);
    // More slow clients than workers, each sending half a request line and then nothing.
    let start = Instant::now();
    let slow: Vec<_> = connections(&pair.b, port, 12)
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.write_all(b"GET /metr").unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut buf = [0u8; 64];
                // The server closes the connection: EOF or a reset, not our own timeout.
                let closed = match s.read(&mut buf) {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                };
                (closed, start.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (status, _) = get(&pair.b, port, "/metrics");
    assert_eq!(status, 200, "a scrape behind the slow clients");
    for s in slow {
        let (closed, after) = s.join().unwrap();
        assert!(closed, "closed by the server");
        assert!(after < Duration::from_secs(12), "{after:?}");
    }
}

#[test]
fn concurrent_scrapes_share_one_collection_and_cache_0_collects_each_time() {
    if !root_or_skip("concurrent_scrapes_share_one_collection_and_cache_0_collects_each_time") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    // Collect on scrape: ready at once, its baseline taken at start.
    let (_cached, port) = start_serve_with(
        &pair.b,
        &["serve", "--interval", "0", "--cache", "5s"],
        false,
    );
    let bodies: Vec<String> = (0..20)
        .map(|_| {
            let ns = pair.b.clone();
            std::thread::spawn(move || get(&ns, port, "/metrics"))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| {
            let (status, body) = t.join().unwrap();
            assert_eq!(status, 200);
            body
        })
        .collect();
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "one collection answered all twenty"
    );
    let (_fresh, port) = start_serve_with(
        &pair.b,
        &["serve", "--interval", "0", "--cache", "0"],
        false,
    );
    let durations = |body: &str| -> Vec<String> {
        body.lines()
            .filter(|l| l.starts_with("pktmap_collector_duration_seconds"))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (
        get(&pair.b, port, "/metrics").1,
        get(&pair.b, port, "/metrics").1,
    );
    assert!(!durations(&a).is_empty());
    assert_ne!(durations(&a), durations(&b), "each scrape collected anew");
}

#[test]
fn the_page_keeps_to_its_limits_and_says_what_it_left_out() {
    if !root_or_skip("the_page_keeps_to_its_limits_and_says_what_it_left_out") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _other = NetnsPair::new();
    let (_server, port) = start_serve_with(
        &pair.b,
        &[
            "--all-netns",
            "serve",
            "--interval",
            "1s",
            "--netns-limit",
            "1",
            "--series-limit",
            "100",
        ],
        true,
    );
    let (status, m) = get(&pair.b, port, "/metrics");
    assert_eq!(status, 200);
    let value = |name: &str| -> f64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {m}"))
    };
    // This pair's namespace is the own one; the other pair's two are past the limit of 1.
    assert!(value("pktmap_netns_left_out") >= 2.0, "{m}");
    assert!(value("pktmap_series_left_out") > 0.0, "{m}");
    assert!(
        m.contains(r#"pktmap_finding{rule="series-limit",severity="warning"} 1"#),
        "{m}"
    );
    let own_ns = m
        .lines()
        .filter(|l| l.starts_with("pktmap_netns_info"))
        .count();
    assert!(own_ns <= 2, "the own namespace and at most one more: {m}");
}

/// The capability set and mounts the DaemonSet grants: root with only CAP_SYS_ADMIN,
/// CAP_SYS_PTRACE, CAP_BPF, CAP_PERFMON, CAP_SYSLOG, CAP_NET_ADMIN and CAP_NET_RAW, a read-only
/// root filesystem, an
/// in-memory /tmp, no new privileges; and its arguments, `--trace` included.
fn as_the_daemonset_allows(port: u16) -> Killed {
    let bin = env!("CARGO_BIN_EXE_pktmap");
    // The binary is held open before /tmp is covered (a checkout may live under /tmp) and
    // run through its descriptor.
    let script = format!(
        "exec 3<{bin} && mount -t tmpfs -o size=16m tmpfs /tmp && mount -o remount,bind,ro / && \
         exec setpriv --bounding-set -all,+sys_admin,+sys_ptrace,+bpf,+perfmon,+syslog,+net_admin,+net_raw \
         --inh-caps -all --no-new-privs /proc/self/fd/3 --all-netns serve --trace \
         --interval 1s --listen 127.0.0.1:{port}"
    );
    Killed(
        std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// What a page says cannot be seen in namespace `inode`, and the collectors that succeeded
/// there.
fn sight(m: &str, inode: &str) -> (Vec<String>, Vec<String>) {
    let tag = format!("netns=\"{inode}\"");
    let pick = |prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = m
            .lines()
            .filter(|l| l.starts_with(prefix) && l.contains(&tag))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    (pick("pktmap_unseen{"), pick("pktmap_collector_success{"))
}

fn ready_page(port: u16) -> String {
    let start = Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return out;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(15), "never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_with_only_what_the_daemonset_grants_sees_what_root_sees() {
    const SETPRIV: Tool = ("setpriv", "util-linux");
    const UNSHARE: Tool = ("unshare", "util-linux");
    if !root_with_tools_or_skip(
        "serve_with_only_what_the_daemonset_grants_sees_what_root_sees",
        &[SETPRIV, UNSHARE],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let inode = |path: &str| -> String {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m).to_string())
            .unwrap()
    };
    let (host, b) = (
        inode("/proc/self/ns/net"),
        inode(&format!("/run/netns/{}", pair.b)),
    );
    let granted = free_port();
    let _limited = as_the_daemonset_allows(granted);
    let limited = ready_page(granted);
    let full = free_port();
    let _root = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_pktmap"))
            .args([
                "--all-netns",
                "serve",
                "--trace",
                "--interval",
                "1s",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{full}"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let root = ready_page(full);
    for ns in [&host, &b] {
        let (seen, by_root) = (sight(&limited, ns), sight(&root, ns));
        assert!(!seen.1.is_empty(), "namespace {ns} read: {limited}");
        assert_eq!(
            seen, by_root,
            "namespace {ns}: the same as root, nothing missing"
        );
    }
    // Tracing runs, and lacks nothing root has.
    let traced = |m: &str| -> Vec<String> {
        m.lines()
            .filter(|l| l.starts_with(r#"pktmap_unseen{collector="trace""#))
            .map(str::to_string)
            .collect()
    };
    assert!(limited.contains("pktmap_bpf_runs_total{"), "{limited}");
    assert_eq!(traced(&limited), traced(&root));
}
