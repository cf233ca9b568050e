//! A bounded soak: `walk --watch` over every namespace while namespaces and veth pairs are
//! created and deleted underneath it. Memory and descriptors must stay flat, and no handle to a
//! namespace may be kept between maps. `PKTMAP_SOAK_SECS` sets the length (default 20 s).

use crate::support::*;
use std::time::{Duration, Instant};

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches(" kB").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn fds(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn watch_stays_flat_while_namespaces_come_and_go() {
    if !root_or_skip("watch_stays_flat_while_namespaces_come_and_go") {
        return;
    }
    let _g = exclusive();
    let secs: u64 = std::env::var("PKTMAP_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let count = (secs * 5).to_string();
    let mut child = bin()
        .args([
            "--all-netns",
            "walk",
            "--watch",
            "--json",
            "--interval",
            "200ms",
            "--count",
            &count,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut churn = 0;
    while start.elapsed() < Duration::from_secs(secs) && child.try_wait().unwrap().is_none() {
        // Churn: a pair of namespaces with a veth, gone again before the next one.
        let pair = NetnsPair::new();
        churn += 1;
        std::thread::sleep(Duration::from_millis(300));
        drop(pair);
        samples.push((status_kb(pid, "VmRSS:"), fds(pid)));
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "walk --watch failed");
    assert!(churn >= 10, "only {churn} namespace pairs came and went");
    let (first_rss, first_fds) = samples[2].clone();
    let (last_rss, last_fds) = samples[samples.len() - 1].clone();
    let peak = samples.iter().map(|s| s.0).max().unwrap();
    eprintln!(
        "soak {secs} s, {churn} namespace pairs: RSS {first_rss} -> {last_rss} kB (peak {peak}), fds {} -> {}",
        first_fds.len(),
        last_fds.len()
    );
    assert!(
        last_fds.len() <= first_fds.len() + 2,
        "descriptors grew: {first_fds:?} -> {last_fds:?}"
    );
    assert!(
        last_rss <= first_rss + 4096,
        "memory grew: {first_rss} -> {last_rss} kB"
    );
    assert!(
        samples
            .iter()
            .all(|s| s.1.iter().all(|l| !l.starts_with("net:"))),
        "a namespace handle was kept between maps"
    );
}

#[test]
fn ctrl_c_ends_a_watch_cleanly_after_the_maps_already_printed() {
    let child = bin()
        .args(["walk", "--watch", "--json", "--interval", "200ms"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty(), "no map before the interrupt");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("whole JSON lines only");
        assert!(v.is_object() || v.is_array());
    }
}
