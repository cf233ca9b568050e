//! Firewall rules that drop, named: real rulesets (iptables on nftables, nft with a named set,
//! a rule without a counter, a legacy ip_tables table, a chain policy) in a test namespace,
//! flooded, each found by its table, chain and handle four ways (walk and diagnose live and
//! replayed, and traced), from a capture, and by `explain`.

use crate::rig::{Expect, find, rig_pair, udp_sender};
use crate::support::*;
use serde_json::Value;
use std::time::Duration;

pub const NFT: Tool = ("nft", "nftables");
pub const IPTABLES_LEGACY: Tool = ("iptables-legacy", "iptables");

/// Loads an nft ruleset into namespace `ns`.
fn nft_in(ns: &str, ruleset: &str) {
    let mut c = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), ruleset.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "nft -f: {ruleset}");
}

/// `step` run over and over until the handle drops, given time to start.
fn traffic(step: impl FnMut() + Send + 'static) -> Repeat {
    let r = repeat("pmt-fw", step);
    std::thread::sleep(Duration::from_millis(300));
    r
}

fn diagnose_now(ns: &str) -> Value {
    let out = NetnsPair::pktmap_in(ns, &["diagnose", "--json", "--interval", "1s"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

/// `diagnose --json` in namespace `ns` while `step` runs over and over.
fn diagnosed_under(ns: &str, step: impl FnMut() + Send + 'static) -> Value {
    let _traffic = traffic(step);
    diagnose_now(ns)
}

fn findings<'a>(d: &'a Value, rule: &str) -> Vec<&'a Value> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn text(v: &Value) -> String {
    v.to_string()
}

#[test]
fn an_iptables_reject_and_a_chain_policy_drop_are_each_named() {
    let Some((pair, _g)) = rig_pair(
        "an_iptables_reject_and_a_chain_policy_drop_are_each_named",
        &[IPTABLES, BPFTOOL],
    ) else {
        return;
    };
    let ipt = |args: &[&str]| {
        let mut v = vec!["ip", "netns", "exec", &pair.b, "iptables"];
        v.extend_from_slice(args);
        sh(&v);
    };
    ipt(&[
        "-A",
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "9451",
        "-m",
        "comment",
        "--comment",
        "pktmap test reject",
        "-j",
        "REJECT",
    ]);
    ipt(&["-P", "INPUT", "DROP"]);
    let mut reject = udp_sender(&pair.a, ADDR_A, ADDR_B, 9451);
    let mut policy = udp_sender(&pair.a, ADDR_A, ADDR_B, 9453);
    let step = move || {
        reject();
        policy();
    };
    find(
        &pair.b,
        Expect::at("rx.8", "netfilter.in_drops", Some("NETFILTER_DROP"))
            .titled("ip table filter chain INPUT"),
        step,
    );
    // Both, each by name, in one report; together they are the whole of IP's gap.
    let mut reject = udp_sender(&pair.a, ADDR_A, ADDR_B, 9451);
    let mut policy = udp_sender(&pair.a, ADDR_A, ADDR_B, 9453);
    let d = diagnosed_under(&pair.b, move || {
        reject();
        policy();
    });
    let named = findings(&d, "firewall-rule");
    let titles: Vec<&str> = named.iter().map(|f| f["title"].as_str().unwrap()).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("chain INPUT policy drops")),
        "{titles:?}"
    );
    let rejecting = named
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("rule handle"))
        .unwrap_or_else(|| panic!("{titles:?}"));
    let cause = rejecting["cause"].as_str().unwrap();
    assert!(cause.contains("udp dport 9451 reject"), "{cause}");
    assert!(cause.contains("pktmap test reject"), "{cause}");
    assert!(findings(&d, "netfilter-gap").is_empty(), "{d:#}");
}

#[test]
fn an_nft_rule_matching_a_named_set_is_named_with_its_text() {
    let Some((pair, _g)) = rig_pair(
        "an_nft_rule_matching_a_named_set_is_named_with_its_text",
        &[NFT, BPFTOOL],
    ) else {
        return;
    };
    nft_in(
        &pair.b,
        &format!(
            "table inet pmt {{
                set blocked {{ type ipv4_addr; elements = {{ {ADDR_A} }}; }}
                chain in {{
                    type filter hook input priority 0; policy accept;
                    ip saddr @blocked udp dport 9454 counter drop comment \"blocked senders\"
                }}
            }}"
        ),
    );
    find(
        &pair.b,
        Expect::at("rx.8", "netfilter.in_drops", Some("NETFILTER_DROP"))
            .titled("inet table pmt chain in rule handle"),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9454),
    );
    let d = diagnosed_under(&pair.b, udp_sender(&pair.a, ADDR_A, ADDR_B, 9454));
    let f = findings(&d, "firewall-rule")[0];
    let cause = f["cause"].as_str().unwrap();
    assert!(
        cause.contains("ip saddr @blocked udp dport 9454 drop"),
        "{cause}"
    );
    assert!(cause.contains("blocked senders"), "{cause}");
    assert!(cause.contains("fully explained"), "{cause}");
    assert!(
        f["actions"][0]["command"] == "nft -a list chain inet pmt in",
        "{f:#}"
    );
}

#[test]
fn a_rule_without_a_counter_is_listed_as_one_whose_drops_cannot_be_told_apart() {
    let Some((pair, _g)) = rig_pair(
        "a_rule_without_a_counter_is_listed_as_one_whose_drops_cannot_be_told_apart",
        &[NFT, BPFTOOL],
    ) else {
        return;
    };
    nft_in(
        &pair.b,
        "table ip quiet {
            chain in {
                type filter hook input priority 0;
                udp dport 9455 drop
            }
        }",
    );
    // No counter names it: the loss is IP's gap.
    find(
        &pair.b,
        Expect::at("rx.8", "ip.undelivered", Some("NETFILTER_DROP")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9455),
    );
    let _traffic = traffic(udp_sender(&pair.a, ADDR_A, ADDR_B, 9455));
    let d = diagnose_now(&pair.b);
    let gap = findings(&d, "netfilter-gap")[0];
    assert!(
        text(gap).contains("ip table quiet chain in rule handle"),
        "{gap:#}"
    );
    assert!(text(gap).contains("have no counter"), "{gap:#}");
    let w: Value = json_of(&NetnsPair::pktmap_in(
        &pair.b,
        &["walk", "--json", "--interval", "1s"],
    ));
    let rx8 = w["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "rx.8")
        .unwrap();
    let listed = rx8["rules"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|r| r["table"] == "quiet" && r["packets"].is_null() && r["rate"].is_null()),
        "{rx8:#}"
    );
}

#[test]
fn a_legacy_ip_tables_rule_is_named_by_its_number() {
    let Some((pair, _g)) = rig_pair(
        "a_legacy_ip_tables_rule_is_named_by_its_number",
        &[IPTABLES_LEGACY, BPFTOOL],
    ) else {
        return;
    };
    sh_in(
        &pair.b,
        &[
            "iptables-legacy",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            "9456",
            "-j",
            "DROP",
        ],
    );
    find(
        &pair.b,
        Expect::at("rx.8", "netfilter.in_drops", Some("NETFILTER_DROP"))
            .titled("ip legacy table filter chain INPUT rule #1"),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9456),
    );
    let d = diagnosed_under(&pair.b, udp_sender(&pair.a, ADDR_A, ADDR_B, 9456));
    let f = findings(&d, "firewall-rule")[0];
    assert!(
        text(f).contains("-p udp --dport 9456 -j DROP"),
        "iptables-save's words: {f:#}"
    );
    assert_eq!(
        f["actions"][0]["command"],
        "iptables-legacy -t filter -L INPUT -v -n -x --line-numbers"
    );
}

#[test]
fn rules_replay_from_a_capture_and_explain_finds_them_by_handle() {
    let Some((pair, _g)) = rig_pair(
        "rules_replay_from_a_capture_and_explain_finds_them_by_handle",
        &[NFT, IPTABLES_LEGACY],
    ) else {
        return;
    };
    nft_in(
        &pair.b,
        "table inet cap {
            chain in {
                type filter hook input priority 0;
                tcp dport 22 counter reject
            }
        }",
    );
    sh_in(
        &pair.b,
        &[
            "iptables-legacy",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "23",
            "-j",
            "DROP",
        ],
    );
    let live: Value = json_of(&run(&["--netns", &pair.b, "snapshot", "-o", "-"]));
    let dir = TempDir::new("fwcap");
    let cap = dir.path("cap");
    let out = run(&["--netns", &pair.b, "capture", "--out", &cap]);
    assert!(out.status.success(), "{}", stderr(&out));
    let replayed: Value = json_of(&run(&["--root", &cap, "snapshot", "-o", "-"]));
    assert_eq!(
        replayed["firewall"], live["firewall"],
        "the same rules, replayed"
    );
    let handle = live["firewall"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "cap")
        .unwrap()["rule"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text(&replayed["firewall"]).contains("-p tcp --dport 23 -j DROP"),
        "the legacy table is in the capture: {replayed:#}"
    );
    for how in [
        vec!["--root", cap.as_str()],
        vec!["--netns", pair.b.as_str()],
    ] {
        let mut args = how.clone();
        args.extend(["explain", handle.as_str()]);
        let out = run(&args);
        assert!(out.status.success(), "{how:?}: {}", stderr(&out));
        let t = stdout(&out);
        assert!(t.contains("inet table cap chain in rule handle"), "{t}");
        assert!(t.contains("tcp dport 22 reject"), "{t}");
        assert!(t.contains("runs at: input  (stage rx.8"), "{t}");
    }
}
