//! Firewall rules that drop: each one whose counter moved past its floor is named, with its
//! table, chain, hooks, text and rate, how much of IP's unexplained gap it accounts for, and
//! how to see it; wherever its hook sits on the path (rx.7, rx.8, ct.netns, ct.bridge, tx.2).

use super::finding;
use crate::diagnose::{Ctx, scope};
use crate::findings::{Action, Confidence, Evidence, Finding};
use crate::firewall::{self, FwRule, POLICY};
use crate::ledger::CounterView;
use crate::snapshot::Labels;
use std::collections::HashMap;

/// One finding per discarding rule whose drops cleared their floor.
pub(super) fn firewall_rules(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rx_traffic();
    // IP's gap already keeps apart what the IPv4 rules count (the catalog's `includes`).
    let gap = ctx.ledger.line("ip.undelivered", &Labels::new());
    // The ledger's rule lines past their floor, at their stages; a node may hold thousands of
    // rules, so they are walked once and the rules indexed once.
    let lines: Vec<(&'static str, &CounterView)> = ctx
        .ledger
        .stages
        .iter()
        .flat_map(|s| s.counters.iter().map(move |l| (s.id, l)))
        .filter(|(_, l)| l.above_floor && firewall::COUNTERS.contains(&l.change.name.as_str()))
        .collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let rules: HashMap<Labels, &FwRule> =
        ctx.to().firewall.iter().map(|r| (r.labels(), r)).collect();
    let mut out = Vec::new();
    for (stage, line) in lines {
        let (name, labels) = (line.change.name.as_str(), &line.change.labels);
        let (delta, rate) = (
            line.change.delta.unwrap_or(0),
            line.change.rate.unwrap_or(0.0),
        );
        let rule = rules.get(labels).copied();
        let place = rule.map_or_else(|| scope(labels), FwRule::place);
        let mut f = finding(
            "firewall-rule",
            stage,
            Ctx::severity(rate, traffic),
            format!("{place} drops {rate:.0} packets/s"),
        );
        f.evidence
            .push(Evidence::moved(name, scope(labels), delta, rate));
        let mut cause = match rule {
            Some(r) => describe(r),
            None => format!("the firewall rule {place} discards these packets"),
        };
        if matches!(name, firewall::IN | firewall::FORWARD)
            && let Some(g) = gap.filter(|g| g.change.delta.is_some_and(|d| d > 0))
        {
            f.evidence.push(Evidence::moved(
                "ip.undelivered",
                "",
                g.change.delta.unwrap_or(0),
                g.change.rate.unwrap_or(0.0),
            ));
            cause.push_str(&gap_share(delta, g));
        }
        f.cause = cause;
        if let Some(r) = rule {
            f.actions = actions(r);
        }
        f.confidence = Confidence::High;
        out.push(f);
    }
    out
}

fn describe(r: &FwRule) -> String {
    let reached = if r.hooks.is_empty() {
        String::new()
    } else {
        format!(", run at {}", r.hooks.join(" and "))
    };
    let what = if r.rule == POLICY {
        format!(
            "the chain's policy ({}) takes every packet no rule of the chain decided",
            r.verdict
        )
    } else {
        format!(
            "the rule `{}` matches these packets and its verdict is {}",
            r.text, r.verdict
        )
    };
    let mut s = format!("{what} ({}{reached})", r.place());
    if let Some(owner) = r.owner() {
        s.push_str(&format!("; it belongs to {owner}"));
    } else if let Some(c) = &r.comment {
        s.push_str(&format!("; its comment: \"{c}\""));
    }
    s
}

/// Whether the IPv4 rules together account for IP's gap (packets received and never
/// delivered, forwarded or counted as dropped): what the gap line keeps as its own is the part
/// no rule counts.
fn gap_share(this: u64, gap: &CounterView) -> String {
    let total = gap.change.delta.unwrap_or(0).max(1);
    let share = 100.0 * this as f64 / total as f64;
    match gap.own_delta().unwrap_or(0) {
        0 => format!(
            ". It counts {share:.0}% of the packets IP received and never delivered; with the \
             other rules that drop, that gap is fully explained"
        ),
        left => format!(
            ". It counts {share:.0}% of the packets IP received and never delivered; {left} more \
             vanished where no rule with a counter looks (a rule without `counter`, a full \
             conntrack table)"
        ),
    }
}

fn actions(r: &FwRule) -> Vec<Action> {
    let mut v = vec![Action::inspect(r.show_command())];
    if !r.legacy && r.rule != POLICY {
        v.push(Action::inspect(format!("pktmap explain {}", r.rule)));
    }
    let undo = match (r.legacy, r.rule == POLICY) {
        (false, false) => format!(
            "nft delete rule {} {} {} handle {}",
            r.family, r.table, r.chain, r.rule
        ),
        (false, true) => format!(
            "nft chain {} {} {} '{{ policy accept; }}'",
            r.family, r.table, r.chain
        ),
        (true, false) => format!(
            "{} -t {} -D {} {}",
            legacy_tool(r),
            r.table,
            r.chain,
            r.rule
        ),
        (true, true) => format!("{} -t {} -P {} ACCEPT", legacy_tool(r), r.table, r.chain),
    };
    v.push(Action::inspect(format!(
        "{undo}   (only if this traffic should pass; a rule that drops on purpose is doing its job)"
    )));
    v
}

fn legacy_tool(r: &FwRule) -> &'static str {
    if r.family == "ip6" {
        "ip6tables-legacy"
    } else {
        "iptables-legacy"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::firewall::FwRule;

    fn rule(legacy: bool) -> FwRule {
        FwRule {
            family: "ip".into(),
            table: "filter".into(),
            chain: "INPUT".into(),
            hooks: vec!["input".into()],
            rule: "4".into(),
            legacy,
            verdict: "drop".into(),
            text: "udp dport 9401 drop".into(),
            comment: Some("no dns".into()),
            packets: Some(0),
        }
    }

    /// One second in which the rule dropped `dropped` of `received` packets; the rest were
    /// delivered.
    fn snaps(rule: &FwRule, dropped: u64, received: u64) -> (Snapshot, Snapshot) {
        let (mut a, mut b) = pair(
            &[
                ("Ip.InReceives", NONE, 1000, 1000 + received),
                ("Ip.InDelivers", NONE, 1000, 1000 + received - dropped),
            ],
            &[],
            vec![],
        );
        for (s, v) in [(&mut a, 0), (&mut b, dropped)] {
            s.metrics.push(Metric {
                name: firewall::IN.into(),
                labels: rule.labels(),
                value: v,
                kind: Kind::Counter64,
            });
            s.firewall = vec![rule.clone()];
        }
        (a, b)
    }

    fn diagnose_pair(a: &Snapshot, b: &Snapshot) -> Vec<Finding> {
        crate::diagnose::diagnose(&Delta::between(a, b).unwrap())
    }

    #[test]
    fn a_dropping_rule_is_named_with_its_rate_and_its_share_of_the_gap() {
        let r = rule(false);
        let (a, b) = snaps(&r, 5000, 6000);
        let found = diagnose_pair(&a, &b);
        let f = found.iter().find(|f| f.rule == "firewall-rule").unwrap();
        assert_eq!(f.stage, "rx.8");
        assert_eq!(
            f.title,
            "ip table filter chain INPUT rule handle 4 drops 5000 packets/s"
        );
        assert!(f.cause.contains("`udp dport 9401 drop`"), "{}", f.cause);
        assert!(f.cause.contains("fully explained"), "{}", f.cause);
        assert_eq!(f.actions[0].command, "nft -a list chain ip filter INPUT");
        assert!(
            f.actions[2]
                .command
                .starts_with("nft delete rule ip filter INPUT handle 4")
        );
        assert!(
            found
                .iter()
                .all(|f| f.rule != "netfilter-gap" && f.rule != "unexplained-loss"),
            "the rule explains the whole gap: {found:?}"
        );
    }

    #[test]
    fn a_gap_larger_than_the_rules_says_how_much_is_left() {
        let r = rule(true);
        // 4000 dropped by the rule, 1000 more vanished elsewhere.
        let (a, mut b) = snaps(&r, 4000, 6000);
        for m in &mut b.metrics {
            if m.name == "Ip.InDelivers" {
                m.value -= 1000;
            }
        }
        let found = diagnose_pair(&a, &b);
        let f = found.iter().find(|f| f.rule == "firewall-rule").unwrap();
        assert!(f.cause.contains("1000 more vanished"), "{}", f.cause);
        assert!(
            f.actions[1]
                .command
                .starts_with("iptables-legacy -t filter -D INPUT 4")
        );
        assert!(
            found.iter().any(|f| f.rule == "netfilter-gap"),
            "the rest stays a gap"
        );
    }
}
