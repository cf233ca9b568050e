//! The deployment files: the systemd unit passes systemd's own checks with a low exposure
//! score, and the DaemonSet validates against the Kubernetes schema, strictly. No cluster
//! runs here; this is what can be checked without one.

use crate::support::*;

const SYSTEMD_ANALYZE: Tool = ("systemd-analyze", "systemd");
const KUBERNETES_VALIDATE: Tool = ("kubernetes-validate", "kubernetes-validate from PyPI");

#[test]
fn the_systemd_unit_verifies_and_exposes_little() {
    if !tools_or_skip(
        "the_systemd_unit_verifies_and_exposes_little",
        &[SYSTEMD_ANALYZE],
    ) {
        return;
    }
    let dir = TempDir::new("unit");
    // The unit names the installed binary; verify checks it exists, so point it at this one.
    let unit = std::fs::read_to_string(repo().join("deploy/pktmap.service"))
        .unwrap()
        .replace("/usr/local/bin/pktmap", env!("CARGO_BIN_EXE_pktmap"));
    std::fs::write(dir.0.join("pktmap.service"), unit).unwrap();
    let analyze = |args: &[&str]| {
        std::process::Command::new("systemd-analyze")
            .args(args)
            .arg("./pktmap.service")
            .current_dir(&dir.0)
            .output()
            .unwrap()
    };
    let verify = analyze(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    // The exposure score, 0 (locked down) to 10: at most 4.0 (systemd calls under 5 "OK").
    let security = analyze(&["security", "--offline=yes", "--threshold=40"]);
    assert!(
        security.status.success(),
        "{}{}",
        stdout(&security),
        stderr(&security)
    );
    assert!(stdout(&security).contains("Overall exposure level"));
}

#[test]
fn the_daemonset_validates_strictly_against_the_kubernetes_schema() {
    if !tools_or_skip(
        "the_daemonset_validates_strictly_against_the_kubernetes_schema",
        &[KUBERNETES_VALIDATE],
    ) {
        return;
    }
    let validate = |path: &str| {
        std::process::Command::new("kubernetes-validate")
            .args(["--strict", path])
            .output()
            .unwrap()
    };
    let manifest = repo().join("deploy/daemonset.yaml");
    let ok = validate(&manifest.to_string_lossy());
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    // The check is real: a field no schema has is refused.
    let dir = TempDir::new("daemonset");
    let bad = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("hostPID: true", "hostPID: true\n      hostPIDs: true");
    std::fs::write(dir.0.join("bad.yaml"), bad).unwrap();
    assert!(!validate(&dir.path("bad.yaml")).status.success());
}

/// The shipped dashboard and alerting rules are what `pktmap dashboard` and `pktmap rules`
/// print: generated from the code, never edited by hand.
#[test]
fn the_shipped_dashboard_and_rules_are_the_generated_ones() {
    for (file, command) in [
        ("deploy/grafana-dashboard.json", "dashboard"),
        ("deploy/pktmap-rules.yml", "rules"),
    ] {
        let out = run(&[command]);
        assert!(out.status.success(), "{}", stderr(&out));
        let shipped = std::fs::read(repo().join(file)).unwrap();
        assert!(
            shipped == out.stdout,
            "{file} differs from `pktmap {command}`: run `pktmap {command} > {file}`"
        );
    }
}
