//! `walk` text and JSON from fixture hosts against files in `tests/golden/`.
//! `PKTMAP_BLESS=1 cargo test golden` rewrites them; review the diff like code.

use crate::cli::fixture_snapshots;
use crate::support::*;

fn check(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("PKTMAP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with PKTMAP_BLESS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(PKTMAP_BLESS=1 to accept)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// The wall-clock times and the root path are the only values that change between runs.
fn normalise(mut v: serde_json::Value) -> String {
    v["host"]["time_from_unix_ms"] = 0.into();
    v["host"]["time_to_unix_ms"] = 0.into();
    if let Some(cs) = v["collectors"].as_array_mut() {
        for c in cs {
            c["duration_us"] = 0.into();
        }
    }
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn golden_host(host: &str) {
    let dir = TempDir::new("golden");
    let (a, b) = fixture_snapshots(host, &dir);
    let text = run(&["walk", "--from", &a, "--to", &b]);
    assert!(text.status.success(), "{}", stderr(&text));
    check(&format!("{host}.walk.txt"), &stdout(&text));
    let json = run(&["walk", "--json", "--from", &a, "--to", &b]);
    check(
        &format!("{host}.walk.json"),
        &normalise(serde_json::from_slice(&json.stdout).unwrap()),
    );
    let map = run(&["walk", "--svg", "--from", &a, "--to", &b]);
    assert!(map.status.success(), "{}", stderr(&map));
    check(&format!("{host}.map.svg"), &stdout(&map));
}

#[test]
fn golden_vm_udp_flood() {
    golden_host("vm-udp-flood");
}

#[test]
fn golden_vm_wrap_reset() {
    golden_host("vm-wrap-reset");
}

#[test]
fn golden_netutils_old_kernel() {
    golden_host("netutils-8cpu-softnet");
}

/// `audit` and `diagnose --since-boot` of the hosts assembled from public captures.
fn golden_command(host: &str, args: &[&str], expect_code: i32) -> String {
    let root = repo().join("fixtures/hosts").join(host).join("t1");
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    let out = run(&full);
    assert_eq!(
        out.status.code(),
        Some(expect_code),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    check(&format!("{host}.{}.txt", args[0]), &text);
    text
}

#[test]
fn golden_audit_of_a_16_cpu_host_with_a_single_queue_nic() {
    let text = golden_command("audit-16cpu-1queue", &["audit"], 1);
    assert!(
        text.contains("eth0: 1 receive queue(s) for 16 CPUs and RPS is off"),
        "{text}"
    );
    assert!(
        text.contains("echo ffff > /sys/class/net/eth0/queues/rx-0/rps_cpus"),
        "{text}"
    );
}

#[test]
fn golden_audit_of_a_host_with_all_queue_irqs_on_cpu0() {
    let text = golden_command("audit-irqs-cpu0", &["audit"], 1);
    assert!(
        text.contains("eth0: all 8 queue IRQs are served by cpu0"),
        "{text}"
    );
    assert!(
        text.contains("eth1: all 8 queue IRQs are served by cpu0"),
        "{text}"
    );
}

#[test]
fn golden_diagnose_of_listen_overflows_since_boot() {
    let text = golden_command(
        "since-boot-listen-overflows",
        &["diagnose", "--since-boot"],
        1,
    );
    assert!(
        text.contains("rx.10 socket queue: accept queues overflow"),
        "{text}"
    );
    assert!(
        text.contains("since boot"),
        "cumulative counters are labelled as such"
    );
}

#[test]
fn golden_diagnose_of_squeeze_on_every_cpu_since_boot() {
    let text = golden_command("since-boot-squeeze", &["diagnose", "--since-boot"], 1);
    assert!(text.contains("time_squeeze"), "{text}");
    assert!(text.contains("on 8 CPUs"), "{text}");
}

#[test]
fn golden_diagnose_of_big_ring_drops_since_boot() {
    let text = golden_command("since-boot-ring-drops", &["diagnose", "--since-boot"], 2);
    assert!(
        text.contains("VERDICT: packets are lost first at rx.3 RX ring"),
        "{text}"
    );
    assert!(
        text.contains("ethtool.drop.rx_discards dev=eth0 queue=0"),
        "{text}"
    );
}

#[test]
fn golden_diagnose_of_the_udp_flood() {
    let dir = TempDir::new("golden-diag");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let out = run(&["diagnose", "--from", &a, "--to", &b]);
    assert_eq!(out.status.code(), Some(2), "critical: {}", stderr(&out));
    let text = stdout(&out);
    check("vm-udp-flood.diagnose.txt", &text);
    assert!(text.starts_with("pktmap diagnose"));
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("VERDICT: packets are lost first at rx.10"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["diagnose", "--json", "--from", &a, "--to", &b]).stdout)
            .unwrap();
    assert_eq!(json["schema"], "pktmap.diagnose/1");
    assert_eq!(json["findings"][0]["stage"], "rx.10");
    assert_eq!(
        json["findings"][0]["evidence"][0]["key"],
        "Udp.RcvbufErrors"
    );
}

/// A kernel of the matrix (`tests/kernels/matrix.py --save-fixtures`): two captures of a
/// namespace whose nft rule drops a flood, replayed in that kernel's layouts. The rule is found
/// and named the same as on this kernel.
fn golden_kernel(series: &str) {
    let dir = TempDir::new("kernel");
    let fixture = repo()
        .join("fixtures/kernels")
        .join(format!("debian-{series}"));
    let [a, b] = ["t1", "t2"].map(|t| {
        let out = dir.path(&format!("{t}.json"));
        let root = fixture.join(format!("{t}.tar.gz"));
        let r = run(&["--root", root.to_str().unwrap(), "snapshot", "-o", &out]);
        assert!(r.status.success(), "{}", stderr(&r));
        out
    });
    let text = run(&["walk", "--from", &a, "--to", &b]);
    assert!(text.status.success(), "{}", stderr(&text));
    check(&format!("debian-{series}.walk.txt"), &stdout(&text));
    let d = run(&["diagnose", "--json", "--from", &a, "--to", &b]);
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    let first = &d["findings"][0];
    assert_eq!(
        (&first["rule"], &first["stage"]),
        (&"firewall-rule".into(), &"rx.8".into()),
        "{d:#}"
    );
    let title = first["title"].as_str().unwrap();
    assert!(
        title.starts_with("inet table pm chain in rule handle"),
        "{title}"
    );
}

#[test]
fn golden_debian_6_1() {
    golden_kernel("6.1");
}

#[test]
fn golden_debian_6_12() {
    golden_kernel("6.12");
}
