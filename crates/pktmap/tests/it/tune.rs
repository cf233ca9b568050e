//! `pktmap tune` on a real fault: a listener whose backlog `net.core.somaxconn` caps, in a
//! namespace the test makes, with a workload that opens 200 connections each period. The
//! change is measured against its baseline, reported improved, without effect or worse, and
//! always left as it was; a killed experiment is undone by `tune revert`.

use crate::support::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const PYTHON: Tool = ("python3", "python3");

/// A listener on 127.0.0.1:9900 that never accepts (its backlog as the kernel caps it), and
/// 200 connections to it.
const WORKLOAD: &str = r#"
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 9900)); l.listen(4096)
held = []
for _ in range(200):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", 9900))
    except BlockingIOError: pass
    held.append(c)
time.sleep(60)
"#;

struct Setup {
    pair: NetnsPair,
    dir: TempDir,
    _g: std::sync::RwLockReadGuard<'static, ()>,
}

impl Setup {
    fn new(test: &str, somaxconn: u32) -> Option<Setup> {
        if !root_with_tools_or_skip(test, &[PYTHON]) {
            return None;
        }
        let g = shared();
        let pair = NetnsPair::new();
        sh(&["ip", "-n", &pair.b, "link", "set", "lo", "up"]);
        sysctl_in(&pair.b, &format!("net.core.somaxconn={somaxconn}"));
        let dir = TempDir::new("tune");
        std::fs::write(dir.0.join("workload.py"), WORKLOAD).unwrap();
        Some(Setup { pair, dir, _g: g })
    }

    fn journal(&self) -> String {
        self.dir.path("journal.json")
    }

    fn args<'a>(&'a self, change: &'a str, workload: &'a str) -> Vec<&'a str> {
        vec![
            "--netns",
            &self.pair.b,
            "tune",
            "try",
            change,
            "--duration",
            "2s",
            "--rounds",
            "3",
            "--workload",
            workload,
            "--json",
            "--journal",
        ]
    }

    fn try_change(&self, change: &str) -> Value {
        let workload = format!("python3 {}", self.dir.path("workload.py"));
        let journal = self.journal();
        let mut args = self.args(change, &workload);
        args.push(&journal);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)
    }

    fn somaxconn(&self) -> String {
        stdout_in(&self.pair.b, &["cat", "/proc/sys/net/core/somaxconn"])
            .trim()
            .to_string()
    }
}

fn effect<'a>(r: &'a Value, series: &str) -> &'a Value {
    r["effects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["series"] == series)
        .unwrap_or_else(|| panic!("no {series} in {r:#}"))
}

#[test]
fn raising_a_capped_backlog_is_measured_as_an_improvement_and_reverted() {
    let Some(s) = Setup::new(
        "raising_a_capped_backlog_is_measured_as_an_improvement_and_reverted",
        8,
    ) else {
        return;
    };
    let r = s.try_change("net.core.somaxconn=1024");
    assert_eq!(r["verdict"], "improved", "{r:#}");
    let e = effect(&r, "TcpExt.ListenOverflows");
    assert_eq!(e["verdict"], "improved");
    assert!(e["baseline_mean"].as_f64().unwrap() > 50.0, "{e}");
    assert_eq!(e["changed_mean"].as_f64().unwrap(), 0.0, "{e}");
    assert_eq!(s.somaxconn(), "8", "restored");
    let h: Value = json_of(&run(&[
        "tune",
        "history",
        "--json",
        "--journal",
        &s.journal(),
    ]));
    assert_eq!(h[0]["state"], "reverted");
    assert_eq!(h[0]["result"]["verdict"], "improved");
}

#[test]
fn a_change_that_moves_nothing_is_no_effect_and_one_that_hurts_is_worse() {
    let Some(s) = Setup::new(
        "a_change_that_moves_nothing_is_no_effect_and_one_that_hurts_is_worse",
        1024,
    ) else {
        return;
    };
    let ecn = s.try_change("net.ipv4.tcp_ecn=1");
    assert_eq!(ecn["verdict"], "no_measurable_effect", "{ecn:#}");
    // Congestion control is a per-namespace sysctl with a word for a value.
    let cc = s.try_change("net.ipv4.tcp_congestion_control=reno");
    assert_eq!(cc["verdict"], "no_measurable_effect", "{cc:#}");
    let now = stdout_in(
        &s.pair.b,
        &["sysctl", "-n", "net.ipv4.tcp_congestion_control"],
    );
    assert_eq!(now.trim(), cc["baseline"].as_str().unwrap(), "restored");
    let r = s.try_change("net.core.somaxconn=8");
    assert_eq!(r["verdict"], "worse", "{r:#}");
    assert_eq!(effect(&r, "TcpExt.ListenOverflows")["verdict"], "worse");
    assert_eq!(s.somaxconn(), "1024", "restored");
}

#[test]
fn a_killed_experiment_is_undone_by_revert_and_blocks_the_next() {
    let Some(s) = Setup::new(
        "a_killed_experiment_is_undone_by_revert_and_blocks_the_next",
        8,
    ) else {
        return;
    };
    let journal = s.journal();
    let mut child = bin()
        .args([
            "--netns",
            &s.pair.b,
            "tune",
            "try",
            "net.core.somaxconn=512",
            "--duration",
            "3s",
            "--rounds",
            "5",
            "--journal",
            &journal,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed while the changed value is in place (the second period).
    let start = Instant::now();
    while s.somaxconn() != "512" {
        assert!(start.elapsed() < Duration::from_secs(10), "never changed");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(s.somaxconn(), "512", "left changed by the kill");
    // Another experiment waits for the revert, and walk says one is applied.
    let out = run(&[
        "--netns",
        &s.pair.b,
        "tune",
        "try",
        "net.core.somaxconn=64",
        "--journal",
        &journal,
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("still applied"), "{}", stderr(&out));
    let walk = bin()
        .env("PKTMAP_TUNE_JOURNAL", &journal)
        .args(["--netns", &s.pair.b, "walk", "--interval", "200ms"])
        .output()
        .unwrap();
    assert!(
        stderr(&walk).contains("a tune experiment is still applied: net.core.somaxconn=512"),
        "{}",
        stderr(&walk)
    );
    let out = run(&["tune", "revert", "--journal", &journal]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("restored to 8"), "{}", stdout(&out));
    assert_eq!(s.somaxconn(), "8");
    let again = run(&["tune", "revert", "--journal", &journal]);
    assert!(stdout(&again).contains("nothing to revert"));
}

#[test]
fn a_host_wide_setting_is_refused_inside_a_namespace() {
    if !root_or_skip("a_host_wide_setting_is_refused_inside_a_namespace") {
        return;
    }
    let pair = NetnsPair::new();
    let dir = TempDir::new("tune-global");
    let before = std::fs::read_to_string("/proc/sys/net/core/netdev_max_backlog").unwrap();
    let out = run(&[
        "--netns",
        &pair.b,
        "tune",
        "try",
        "net.core.netdev_max_backlog=9999",
        "--journal",
        &dir.path("j.json"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("whole host"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/core/netdev_max_backlog").unwrap(),
        before
    );
    assert!(
        !std::path::Path::new(&dir.path("j.json")).exists(),
        "nothing journaled"
    );
}

#[test]
fn the_plan_proposes_the_setting_that_addresses_the_finding() {
    let Some(s) = Setup::new(
        "the_plan_proposes_the_setting_that_addresses_the_finding",
        8,
    ) else {
        return;
    };
    let workload = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &s.pair.b,
            "python3",
            &s.dir.path("workload.py"),
        ])
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _w = Kill(workload);
    std::thread::sleep(Duration::from_millis(300));
    let plan: Value = json_of(&run(&[
        "--netns",
        &s.pair.b,
        "tune",
        "plan",
        "--interval",
        "2s",
        "--json",
    ]));
    let first = &plan[0];
    assert_eq!(first["setting"], "net.core.somaxconn", "{plan:#}");
    assert_eq!(first["current"], "8");
    assert_eq!(first["scope"], "per namespace");
    assert_eq!(first["addresses"], "listen-overflow");
    assert!(
        first["try"]
            .as_str()
            .unwrap()
            .starts_with("pktmap tune try net.core.somaxconn=")
    );
}

/// A UDP flood of 200-byte datagrams to b:9990 from whichever namespace runs it, for a minute.
const FLOOD: &str = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 60
while time.time() < end:
    for _ in range(50):
        try: s.sendto(b"x" * 200, ("10.77.0.2", 9990))
        except OSError: pass
    time.sleep(0.005)
"#;

fn device_try(ns: &str, change: &str, workload: &str, journal: &str, rounds: &str) -> Value {
    let out = run(&[
        "--netns",
        ns,
        "tune",
        "try",
        change,
        "--duration",
        "1500ms",
        "--rounds",
        rounds,
        "--workload",
        workload,
        "--json",
        "--journal",
        journal,
    ]);
    assert!(out.status.success(), "{change}: {}", stderr(&out));
    json_of(&out)
}

#[test]
fn replacing_a_dropping_qdisc_is_measured_and_the_old_one_put_back() {
    let Some(s) = Setup::new(
        "replacing_a_dropping_qdisc_is_measured_and_the_old_one_put_back",
        1024,
    ) else {
        return;
    };
    let p = &s.pair;
    p.tbf_in_a(&["rate", "1mbit", "burst", "2kb", "limit", "3000"]);
    std::fs::write(s.dir.0.join("flood.py"), FLOOD).unwrap();
    let flood = format!("python3 {}", s.dir.path("flood.py"));
    let r = device_try(
        &p.a,
        &format!("qdisc:{}=pfifo limit 1000", p.veth_a),
        &flood,
        &s.journal(),
        "3",
    );
    assert_eq!(
        (&r["stage"], &r["verdict"]),
        (&"tx.3".into(), &"improved".into()),
        "{r:#}"
    );
    // The old qdisc, as tc shows it and takes it back (its limit shown as a latency).
    let old = r["baseline"].as_str().unwrap();
    assert!(old.starts_with("tbf rate 1Mbit burst 2Kb lat "), "{old}");
    let now = stdout_in(&p.a, &["tc", "qdisc", "show", "dev", &p.veth_a, "root"]);
    assert!(
        now.contains("qdisc tbf") && now.contains("rate 1Mbit"),
        "restored: {now}"
    );
}

#[test]
fn a_steering_mask_and_veth_channels_are_changed_for_real_and_put_back() {
    let Some(s) = Setup::new(
        "a_steering_mask_and_veth_channels_are_changed_for_real_and_put_back",
        1024,
    ) else {
        return;
    };
    let p = &s.pair;
    let file = format!("/sys/class/net/{}/queues/rx-0/rps_cpus", p.veth_b);
    let seen = s.dir.path("seen");
    // Each period writes down the mask the namespace shows.
    let watch = format!("ip netns exec {} cat {file} >> {seen}", p.b);
    let r = device_try(&p.b, &format!("{file}=3"), &watch, &s.journal(), "2");
    assert_eq!(r["stage"], "rx.7", "{r:#}");
    let masks = std::fs::read_to_string(&seen).unwrap();
    let masks: Vec<&str> = masks.lines().map(str::trim).collect();
    assert_eq!(masks, ["0", "3", "0", "3"], "A B A B, as applied");
    assert_eq!(stdout_in(&p.b, &["cat", &file]).trim(), "0", "restored");

    let channels = |ns: &str, dev: &str| {
        let l = stdout_in(ns, &["ethtool", "-l", dev]);
        l.split("Current hardware settings:")
            .nth(1)
            .unwrap()
            .to_string()
    };
    let before = channels(&p.b, &p.veth_b);
    let r = device_try(
        &p.b,
        &format!("ethtool:{}:channels.rx=2", p.veth_b),
        "true",
        &s.journal(),
        "1",
    );
    assert_eq!(
        (&r["baseline"], &r["stage"]),
        (&"1".into(), &"rx.2".into()),
        "{r:#}"
    );
    assert_eq!(r["command"], format!("ethtool -L {} rx 2", p.veth_b));
    assert_eq!(channels(&p.b, &p.veth_b), before, "restored");

    // What the device does not offer is refused before anything is journaled.
    let refused = run(&[
        "--netns",
        &p.b,
        "tune",
        "try",
        &format!("ethtool:{}:rings.rx=512", p.veth_b),
        "--journal",
        &s.journal(),
    ]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(stderr(&refused).contains("rings"), "{}", stderr(&refused));
    let h: Value = json_of(&run(&[
        "tune",
        "history",
        "--json",
        "--journal",
        &s.journal(),
    ]));
    assert_eq!(
        h.as_array().unwrap().len(),
        2,
        "two experiments, nothing for the refused one"
    );
}
