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
