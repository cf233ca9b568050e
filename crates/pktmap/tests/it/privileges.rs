//! Each command as an unprivileged user holding only the capabilities the README documents
//! for it: it works as it does for root, and without them it names what it lacks.

use crate::live::udp_flood;
use crate::support::*;
use std::process::Output;
use std::time::Duration;

/// pktmap as user `nobody` with exactly `caps` (comma-separated, e.g. `bpf,perfmon`).
fn as_nobody(caps: &str, args: &[&str]) -> Output {
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    if !caps.is_empty() {
        let list: Vec<String> = caps.split(',').map(|c| format!("+{c}")).collect();
        let list = list.join(",");
        c.arg(format!("--inh-caps={list}"))
            .arg(format!("--ambient-caps={list}"));
    }
    c.arg(env!("CARGO_BIN_EXE_pktmap"))
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

/// `(collector, status)` of a walk: what could be read.
fn statuses(walk: &serde_json::Value) -> Vec<(String, String)> {
    walk["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].to_string(), c["status"].to_string()))
        .collect()
}

fn namespaces(walks: &serde_json::Value) -> Vec<u64> {
    let mut v: Vec<u64> = walks["walks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["host"]["netns"]["inode"].as_u64().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn each_command_works_with_only_the_capabilities_documented_for_it() {
    if !root_or_skip("each_command_works_with_only_the_capabilities_documented_for_it") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let walk = ["walk", "--json", "--interval", "100ms"];
    let in_ns = ["--netns", &pair.b, "walk", "--json", "--interval", "100ms"];

    // walk, snapshot, diagnose, audit: no capability at all, but for the firewall's rules,
    // which take CAP_NET_ADMIN (and for legacy tables CAP_NET_RAW, and root's list of them).
    let root_statuses = statuses(&json(&run(&walk)));
    assert_eq!(
        statuses(&json(&as_nobody(
            "net_admin,net_raw,dac_read_search",
            &walk
        ))),
        root_statuses
    );
    let bare = json(&as_nobody("", &walk));
    let without: Vec<_> = root_statuses
        .iter()
        .map(|(id, st)| match id.as_str() {
            "\"firewall\"" => (id.clone(), "\"unavailable\"".to_string()),
            _ => (id.clone(), st.clone()),
        })
        .collect();
    assert_eq!(statuses(&bare), without);
    let note = bare["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "firewall")
        .unwrap()
        .to_string();
    assert!(note.contains("needs CAP_NET_ADMIN"), "{note}");
    // --netns: CAP_SYS_ADMIN, and without it the refusal names it.
    assert_eq!(
        statuses(&json(&as_nobody(
            "sys_admin,net_admin,net_raw,dac_read_search",
            &in_ns
        ))),
        statuses(&json(&run(&in_ns)))
    );
    let refused = as_nobody("", &in_ns);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        stderr(&refused).contains("CAP_SYS_ADMIN"),
        "{}",
        stderr(&refused)
    );

    // --all-netns: CAP_SYS_ADMIN enters, CAP_SYS_PTRACE sees other users' processes' namespaces.
    let all = ["--all-netns", "walk", "--json", "--interval", "100ms"];
    let root_sees = namespaces(&json(&run(&all)));
    assert!(root_sees.len() >= 3, "{root_sees:?}");
    assert_eq!(
        namespaces(&json(&as_nobody("sys_admin,sys_ptrace", &all))),
        root_sees
    );
    let partial = as_nobody("sys_admin", &all);
    assert!(partial.status.success(), "{}", stderr(&partial));
    assert!(
        stderr(&partial).contains("CAP_SYS_PTRACE"),
        "{}",
        stderr(&partial)
    );
}

#[test]
fn trace_needs_bpf_and_perfmon_and_names_what_more_would_add() {
    if !root_or_skip("trace_needs_bpf_and_perfmon_and_names_what_more_would_add") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let refused = as_nobody("", &["trace", "drops", "--interval", "100ms"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        stderr(&refused).contains("CAP_BPF and CAP_PERFMON"),
        "{}",
        stderr(&refused)
    );
    for (caps, limits) in [
        ("bpf,perfmon", 2),
        ("bpf,perfmon,syslog", 1),
        ("bpf,perfmon,syslog,sys_admin", 0),
    ] {
        let flood = udp_flood(&pair.a, 9320, 2_000, 2.5);
        std::thread::sleep(Duration::from_millis(300));
        let t = json(&as_nobody(
            caps,
            &["trace", "drops", "--json", "--cost", "--interval", "1s"],
        ));
        flood.join().unwrap();
        let no_socket = t["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "NO_SOCKET")
            .unwrap_or_else(|| panic!("{caps}: {t:#}"));
        assert!(
            no_socket["count"].as_u64().unwrap() > 1_000,
            "{caps}: {t:#}"
        );
        let l = t["limits"].as_array().unwrap();
        assert_eq!(l.len(), limits, "{caps}: {l:?}");
        // With CAP_SYSLOG the location is a symbol, as root sees it.
        let place = no_socket["locations"][0][0].as_str().unwrap();
        assert_eq!(place.starts_with("0x"), limits == 2, "{caps}: {place}");
    }
}
