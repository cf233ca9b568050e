//! The commands as a user runs them, and the JSON decoded into this test's own types.

use crate::support::*;
use serde::Deserialize;

#[derive(Deserialize, Debug)]
pub struct WalkDoc {
    pub schema: String,
    pub interval_s: f64,
    pub first_loss: Option<String>,
    pub stages: Vec<StageDoc>,
    pub collectors: Vec<CollectorDoc>,
}

#[derive(Deserialize, Debug)]
pub struct StageDoc {
    pub id: String,
    pub traffic_per_s: Option<f64>,
    pub drops_per_s: f64,
    pub counters: Vec<CounterDoc>,
}

#[derive(Deserialize, Debug)]
pub struct CounterDoc {
    pub name: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: u64,
    pub delta: Option<u64>,
    pub rate: Option<f64>,
    pub status: String,
    pub class: String,
}

#[derive(Deserialize, Debug)]
pub struct CollectorDoc {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub notes: Vec<String>,
}

impl WalkDoc {
    pub fn stage(&self, id: &str) -> &StageDoc {
        self.stages
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no stage {id}"))
    }
    pub fn counter(&self, stage: &str, name: &str, dev: Option<&str>) -> Option<&CounterDoc> {
        self.stage(stage).counters.iter().find(|c| {
            c.name == name && dev.is_none_or(|d| c.labels.get("dev").is_some_and(|l| l == d))
        })
    }
}

fn host(name: &str, t: &str) -> String {
    repo()
        .join("fixtures/hosts")
        .join(name)
        .join(t)
        .to_string_lossy()
        .into_owned()
}

/// Snapshots of a fixture host's two moments, written to `dir`.
pub fn fixture_snapshots(name: &str, dir: &TempDir) -> (String, String) {
    let (a, b) = (dir.path("t0.json"), dir.path("t1.json"));
    for (t, out) in [("t0", &a), ("t1", &b)] {
        let o = run(&["--root", &host(name, t), "snapshot", "-o", out]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    (a, b)
}

#[test]
fn walk_json_has_every_stage_with_ids_and_kernel_names() {
    let dir = TempDir::new("schema");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let out = run(&["walk", "--json", "--from", &a, "--to", &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w.schema, "pktmap.walk/1");
    let ids: Vec<&str> = w.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        &ids[..11],
        [
            "rx.1", "rx.2", "rx.3", "rx.4", "rx.5", "rx.6", "rx.7", "rx.8", "rx.9", "rx.10",
            "rx.11"
        ]
    );
    assert!(ids.contains(&"tx.3") && ids.contains(&"ct.veth"));
    assert!(w.interval_s > 0.9 && w.interval_s < 1.2, "{}", w.interval_s);
    let c = w.counter("rx.10", "Udp.RcvbufErrors", None).unwrap();
    assert_eq!(c.class, "drop");
    assert!(c.delta.unwrap() > 100_000 && c.value >= c.delta.unwrap());
    assert_eq!(w.first_loss.as_deref(), Some("rx.10"));
}

#[test]
fn wrap_and_reset_from_fixture() {
    let dir = TempDir::new("wrap");
    let (a, b) = fixture_snapshots("vm-wrap-reset", &dir);
    let w: WalkDoc =
        serde_json::from_slice(&run(&["walk", "--json", "--from", &a, "--to", &b]).stdout).unwrap();
    let processed = w
        .stage("rx.5")
        .counters
        .iter()
        .find(|c| c.name == "softnet.processed" && c.labels["cpu"] == "0")
        .unwrap();
    assert_eq!(processed.status, "wrapped");
    assert_eq!(processed.delta, Some(0x1800));
    let reset = w.counter("rx.1", "rx_packets", Some("pmfix-vb")).unwrap();
    assert_eq!(reset.status, "reset");
    assert_eq!(reset.rate, None);
    // The reset device's drops are not counted as a loss.
    assert_eq!(w.stage("rx.1").drops_per_s, 0.0);
}

#[test]
fn iface_filter_keeps_only_that_device() {
    let dir = TempDir::new("iface");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let w: WalkDoc = serde_json::from_slice(
        &run(&["walk", "--json", "--iface", "lo", "--from", &a, "--to", &b]).stdout,
    )
    .unwrap();
    let devs: Vec<&String> = w
        .stages
        .iter()
        .flat_map(|s| &s.counters)
        .filter_map(|c| c.labels.get("dev"))
        .collect();
    assert!(!devs.is_empty());
    assert!(devs.iter().all(|d| *d == "lo"), "{devs:?}");
}

#[test]
fn snapshot_is_written_atomically_and_loads() {
    let dir = TempDir::new("snap");
    let path = dir.path("s.json");
    let o = run(&[
        "--root",
        &host("vm-udp-flood", "t0"),
        "snapshot",
        "-o",
        &path,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["format"], "pktmap-snapshot");
    assert_eq!(v["meta"]["kernel"], "6.18.44-fc-v595");
    assert!(
        v["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["duration_us"].is_u64())
    );
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn a_snapshot_from_another_version_is_refused_by_name() {
    let dir = TempDir::new("version");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    v["version"] = 2.into();
    v["pktmap_version"] = "0.9.0".into();
    std::fs::write(&b, v.to_string()).unwrap();
    let o = run(&["walk", "--from", &a, "--to", &b]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(err.contains("version 2") && err.contains("0.9.0"), "{err}");
}

#[test]
fn snapshots_in_the_wrong_order_are_refused() {
    let dir = TempDir::new("order");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let o = run(&["walk", "--from", &b, "--to", &a]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not later"), "{}", stderr(&o));
}

#[test]
fn an_empty_root_walks_with_every_collector_unavailable() {
    let dir = TempDir::new("empty");
    let out = run(&["--root", &dir.path(""), "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in v["collectors"].as_array().unwrap() {
        assert_eq!(c["status"], "unavailable", "{c}");
        assert!(
            c["notes"][0].as_str().unwrap().contains("not present"),
            "{c}"
        );
    }
}

#[test]
fn a_malformed_source_names_file_and_line_and_the_rest_goes_on() {
    let dir = TempDir::new("malformed");
    let root = dir.0.join("root");
    std::fs::create_dir_all(root.join("proc/net")).unwrap();
    std::fs::write(root.join("proc/net/softnet_stat"), "00000001 00000002\n").unwrap();
    std::fs::write(
        root.join("proc/net/snmp"),
        "Udp: InDatagrams RcvbufErrors\nUdp: 5 7\n",
    )
    .unwrap();
    let out = run(&["--root", &root.to_string_lossy(), "snapshot"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let softnet = v["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "softnet")
        .unwrap();
    let note = softnet["notes"][0].as_str().unwrap();
    assert!(
        note.contains("softnet_stat line 1") && note.contains("2 columns"),
        "{note}"
    );
    let snmp = v["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "snmp")
        .unwrap();
    assert_eq!(snmp["status"], "ok");
}

#[test]
fn stages_lists_the_catalog() {
    let out = run(&["stages", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 19);
    let rx10 = stages.iter().find(|s| s["id"] == "rx.10").unwrap();
    assert!(
        rx10["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "TcpExt.ListenOverflows")
    );
    let text = stdout(&run(&["stages"]));
    assert!(text.contains("rx.5") && text.contains("softnet.time_squeeze"));
}

#[test]
fn explain_gives_meaning_stage_and_value_here() {
    let root = host("vm-udp-flood", "t1");
    let out = run(&["--root", &root, "explain", "Udp.RcvbufErrors"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("rx.10") && text.contains("nstat"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(
        &run(&["--root", &root, "explain", "--json", "udp.rcvbuferrors"]).stdout,
    )
    .unwrap();
    assert!(v["values"][0]["value"].as_u64().unwrap() > 0);
    let sysctl = stdout(&run(&["--root", &root, "explain", "net.core.somaxconn"]));
    assert!(sysctl.contains("4096"), "{sysctl}");
    let stage = stdout(&run(&["explain", "rx.5"]));
    assert!(stage.contains("softnet.dropped"), "{stage}");
    let family = stdout(&run(&["--root", &root, "explain", "TcpExt.TCPHPHits"]));
    assert!(family.contains("rx.9"), "{family}");
    let reason = stdout(&run(&["explain", "NO_SOCKET"]));
    assert!(
        reason.contains("rx.9")
            && reason.contains("pktmap trace drops")
            && reason.contains("Udp.NoPorts"),
        "{reason}"
    );
    // A reason without catalog notes of its own is still explained, from the mapping.
    let mapped = stdout(&run(&["explain", "TCP_OLD_SEQUENCE"]));
    assert!(
        mapped.contains("rx.9") && mapped.contains("only tracing sees it"),
        "{mapped}"
    );
    let o = run(&["explain", "no.such.thing"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("pktmap stages"));
}

#[test]
fn no_colour_when_piped() {
    let dir = TempDir::new("color");
    let (a, b) = fixture_snapshots("vm-udp-flood", &dir);
    let out = stdout(&run(&["walk", "--from", &a, "--to", &b]));
    assert!(!out.contains('\x1b'));
    assert!(
        out.lines().all(|l| l.chars().count() <= 100),
        "a line is wider than 100 columns"
    );
}

/// Without rtnetlink (a capture that lacks it), link counters come from sysfs.
#[test]
fn sysfs_statistics_stand_in_for_rtnetlink() {
    let dir = TempDir::new("sysfs");
    let dev = dir.0.join("root/sys/class/net/eth9");
    std::fs::create_dir_all(dev.join("statistics")).unwrap();
    std::fs::write(dev.join("ifindex"), "4\n").unwrap();
    std::fs::write(dev.join("statistics/rx_packets"), "123\n").unwrap();
    std::fs::write(dev.join("statistics/rx_missed_errors"), "7\n").unwrap();
    let out = run(&["--root", &dir.path("root"), "snapshot"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let metric = |name: &str| {
        v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name && m["labels"]["dev"] == "eth9")
            .map(|m| m["value"].as_u64().unwrap())
    };
    assert_eq!(metric("rx_packets"), Some(123));
    assert_eq!(metric("rx_missed_errors"), Some(7));
    assert_eq!(v["identities"]["dev=eth9"], "4");
}

#[test]
fn a_usage_error_exits_3_never_the_critical_2() {
    let out = run(&["diagnose", "--intervl", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--intervl"));
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

/// Collectors stand alone: the devices are read once and handed to each, so the ethtool
/// collector run by itself still finds them (it read the link collector's results before),
/// and qdiscs are named by device, not by ifindex.
#[test]
fn a_collector_run_alone_finds_the_devices() {
    let host = repo().join("fixtures/hosts/vm-udp-flood/t1");
    let host = host.to_string_lossy();
    let ethtool: serde_json::Value = json_of(&run(&[
        "--root",
        &host,
        "snapshot",
        "--collector",
        "ethtool",
    ]));
    let devs: std::collections::BTreeSet<&str> = ethtool["settings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["labels"]["dev"].as_str())
        .collect();
    assert!(devs.contains("pmfix-vb"), "{ethtool:#}");
    let qdisc: serde_json::Value =
        json_of(&run(&["--root", &host, "snapshot", "--collector", "qdisc"]));
    let metrics = qdisc["metrics"].as_array().unwrap();
    assert!(!metrics.is_empty());
    assert!(
        metrics
            .iter()
            .all(|m| !m["labels"]["dev"].as_str().unwrap().starts_with("ifindex")),
        "{qdisc:#}"
    );
}
