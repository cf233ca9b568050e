//! Hostile and odd input: every file of a captured host replaced by something no kernel
//! prints. pktmap must name what it could not read and go on, never panic.

use crate::support::*;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .args(["-a", &from.to_string_lossy(), &to.to_string_lossy()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Deterministic noise, so a failure reproduces.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn mangle(kind: &str, original: &[u8], seed: u64) -> Vec<u8> {
    match kind {
        "empty" => Vec::new(),
        "truncated" => original[..original.len() / 2].to_vec(),
        "garbage" => noise(seed, original.len().max(64)),
        "huge" => {
            let mut v = original.to_vec();
            v.extend(std::iter::repeat_n(b'9', 8 << 20));
            v
        }
        "not-utf8" => original
            .iter()
            .map(|b| if *b == b' ' { 0xff } else { *b })
            .collect(),
        "extra-columns" => String::from_utf8_lossy(original)
            .lines()
            .map(|l| format!("{l} 1 2 3 zz\n"))
            .collect::<String>()
            .into_bytes(),
        _ => unreachable!(),
    }
}

#[test]
fn every_source_mangled_every_way_is_named_not_a_panic() {
    let host = repo().join("fixtures/hosts/vm-udp-flood/t1");
    for (n, kind) in [
        "empty",
        "truncated",
        "garbage",
        "huge",
        "not-utf8",
        "extra-columns",
    ]
    .iter()
    .enumerate()
    {
        let dir = TempDir::new(&format!("hostile-{kind}"));
        let root = dir.0.join("root");
        copy_tree(&host, &root);
        let mut all = Vec::new();
        files(&root, &mut all);
        for (i, f) in all.iter().enumerate() {
            // Enormous files where an enormous file is plausible: the /proc/net tables.
            if *kind == "huge" && !f.to_string_lossy().contains("/proc/net/") {
                continue;
            }
            let original = std::fs::read(f).unwrap();
            std::fs::write(f, mangle(kind, &original, (n * 1000 + i) as u64)).unwrap();
        }
        let out = run(&["--root", &root.to_string_lossy(), "snapshot"]);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{kind}: {err}");
        assert!(out.status.success(), "{kind}: {err}");
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{kind}: {e}"));
        for c in v["collectors"].as_array().unwrap() {
            if c["status"] != "ok" {
                assert!(
                    !c["notes"].as_array().unwrap().is_empty(),
                    "{kind}: {} says nothing",
                    c["id"]
                );
            }
        }
        // The walk and diagnose of two mangled moments also go on.
        let w = run(&[
            "--root",
            &root.to_string_lossy(),
            "walk",
            "--interval",
            "10ms",
        ]);
        assert!(
            !stderr(&w).contains("panicked") && w.status.success(),
            "{kind}: {}",
            stderr(&w)
        );
    }
}

#[test]
fn a_thousand_cpus_and_ten_thousand_interfaces() {
    let dir = TempDir::new("big");
    let root = dir.0.join("root");
    let write = |rel: &str, text: String| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let row = |i: usize| {
        format!(
            "{:08x} 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 {i:08x} 00000000 00000000\n",
            i * 10
        )
    };
    write("proc/net/softnet_stat", (0..1024).map(row).collect());
    write("sys/devices/system/cpu/online", "0-1023\n".into());
    let mut dev = String::from(
        "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n",
    );
    for i in 0..10_000 {
        dev.push_str(&format!("veth{i}: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n"));
    }
    write("proc/net/dev", dev);
    write("proc/uptime", "100.0 0\n".into());
    let out = run(&["--root", &root.to_string_lossy(), "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["meta"]["cpus_online"].as_array().unwrap().len(), 1024);
    let devs = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "netdev.rx_packets")
        .count();
    assert_eq!(devs, 10_000);
    let w = run(&[
        "--root",
        &root.to_string_lossy(),
        "walk",
        "--interval",
        "10ms",
    ]);
    assert!(w.status.success());
    assert!(
        stdout(&w).lines().all(|l| l.chars().count() <= 100),
        "folded to 100 columns"
    );
}

/// Snapshot files whose every value is near 2^64 (the fuzzer's seed
/// `fuzz/seeds/snapshot_json/huge-counters-set.json`): sums and doublings saturate instead of
/// overflowing (a panic in this debug build, a small wrong number in release).
#[test]
fn counters_near_two_to_the_64_survive_walk_diagnose_and_audit() {
    let set: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("fuzz/seeds/snapshot_json/huge-counters-set.json")).unwrap(),
    )
    .unwrap();
    let dir = TempDir::new("huge");
    let (a, b) = (dir.path("a.json"), dir.path("b.json"));
    std::fs::write(&a, set["snapshots"][0].to_string()).unwrap();
    std::fs::write(&b, set["snapshots"][1].to_string()).unwrap();
    for args in [
        vec!["walk", "--from", &a, "--to", &b],
        vec!["walk", "--json", "--from", &a, "--to", &b],
        vec!["diagnose", "--from", &a, "--to", &b],
        vec!["diagnose", "--json", "--from", &a, "--to", &b],
        vec!["audit", "--from", &b],
        vec!["audit", "--format", "sysctl", "--from", &b],
    ] {
        let out = run(&args);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{args:?}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
}

/// One odd row costs that row, not the file: a device line that does not read and a CPU row
/// of another width. The other device and the other CPU are still there; the collector is
/// partial with the row named (typed in JSON); walk says it under the stage and diagnose under
/// its title.
#[test]
fn one_bad_row_costs_that_row_not_the_file() {
    let dir = TempDir::new("bad-row");
    let root = dir.0.join("root");
    copy_tree(&repo().join("fixtures/hosts/vm-udp-flood/t1"), &root);
    let dev = root.join("proc/net/dev");
    let text = std::fs::read_to_string(&dev).unwrap();
    std::fs::write(
        &dev,
        text.replace("    lo:       0       0", "    lo:       0       x"),
    )
    .unwrap();
    let softnet = root.join("proc/net/softnet_stat");
    let text = std::fs::read_to_string(&softnet).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[0] = "004bcc52 00000000 00000000";
    std::fs::write(&softnet, lines.join("\n") + "\n").unwrap();

    let r = root.to_string_lossy();
    let snap: serde_json::Value = json_of(&run(&["--root", &r, "snapshot"]));
    let collector = |id: &str| {
        snap["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let netdev = collector("netdev");
    assert_eq!(netdev["status"], "partial", "{netdev:#}");
    assert_eq!(netdev["skipped"][0]["path"], "/proc/net/dev");
    assert_eq!(netdev["skipped"][0]["line"], 3);
    assert_eq!(netdev["skipped"][0]["field"], "netdev.rx_packets");
    let has = |name: &str, key: &str, value: &str| {
        snap["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == name && m["labels"][key] == value)
    };
    assert!(has("netdev.rx_packets", "dev", "pmfix-vb"));
    assert!(!has("netdev.rx_packets", "dev", "lo"));
    let softnet = collector("softnet");
    assert_eq!(softnet["status"], "partial", "{softnet:#}");
    assert_eq!(softnet["skipped"][0]["line"], 1);
    assert!(has("softnet.processed", "cpu", "1"));

    let walk = stdout(&run(&["--root", &r, "walk", "--interval", "10ms"]));
    assert!(walk.contains("? /proc/net/softnet_stat line 1"), "{walk}");
    let diag = run(&["--root", &r, "diagnose", "--interval", "10ms"]);
    assert!(
        stdout(&diag).contains("read partly: netdev: /proc/net/dev line 3"),
        "{}",
        stdout(&diag)
    );
    // A file with no shape at all is an error, told apart from one that is absent.
    std::fs::write(
        root.join("proc/net/stat/nf_conntrack"),
        "not a header\n1 2\n",
    )
    .unwrap();
    std::fs::remove_file(root.join("proc/net/snmp6")).unwrap();
    let snap: serde_json::Value = json_of(&run(&["--root", &r, "snapshot"]));
    let status = |id: &str| {
        snap["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("conntrack"), "error");
    assert_eq!(status("snmp6"), "unavailable");
}
