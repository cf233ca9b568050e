//! Firewall rules that discard packets (drop, reject, a chain's drop policy), as a snapshot
//! records them, and where on the path their drops land. Netfilter rule drops move no counter
//! of IP's; only the rule's own counter says how many packets it took, so each such counter is
//! a loss line of the ledger at the stage of the hook that runs it.

use crate::snapshot::Labels;
use serde::{Deserialize, Serialize};

/// One rule, or one chain's policy, whose verdict discards the packet.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FwRule {
    /// `ip`, `ip6`, `inet`, `arp`, `bridge`, `netdev`.
    pub family: String,
    pub table: String,
    pub chain: String,
    /// The hooks of the base chains that reach this rule: its chain's own, or those of the
    /// chains that jump to it. Empty: nothing reaches it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<String>,
    /// The nft rule handle (`nft -a list chain` shows it), the rule's number in its chain for
    /// a legacy table (`iptables -L --line-numbers`), or `policy`.
    pub rule: String,
    /// From a legacy `ip_tables`/`ip6_tables` table, not nftables.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
    /// `drop` or `reject`.
    pub verdict: String,
    /// The rule in a short readable form.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Packets the rule matched; `None` when it has no counter (a plain nft rule without
    /// `counter`, a base chain created without counters).
    pub packets: Option<u64>,
}

pub const POLICY: &str = "policy";

/// The loss counters of discarding rules, by where their hook sits on the path. The IPv4 and
/// `inet` ones of the receive hooks are what `ip.undelivered` (IP's unexplained gap) is made
/// of; IPv6 has no such gap line, so its rules count apart.
pub const IN: &str = "netfilter.in_drops";
pub const IN6: &str = "netfilter.in6_drops";
pub const FORWARD: &str = "netfilter.forward_drops";
pub const FORWARD6: &str = "netfilter.forward6_drops";
pub const OUT: &str = "netfilter.out_drops";
pub const INGRESS: &str = "netfilter.ingress_drops";
pub const BRIDGE: &str = "netfilter.bridge_drops";
pub const ARP: &str = "netfilter.arp_drops";

/// Every counter name above.
pub const COUNTERS: &[&str] = &[IN, IN6, FORWARD, FORWARD6, OUT, INGRESS, BRIDGE, ARP];

impl FwRule {
    /// The labels of its counter: family (`ip-legacy` for a legacy table, whose names would
    /// otherwise meet iptables-nft's), table, chain and rule.
    pub fn labels(&self) -> Labels {
        let family = if self.legacy {
            format!("{}-legacy", self.family)
        } else {
            self.family.clone()
        };
        [
            ("family", family),
            ("table", self.table.clone()),
            ("chain", self.chain.clone()),
            ("rule", self.rule.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The counter its drops count in: the earliest of its hooks on the path. None when no
    /// base chain reaches it.
    pub fn counter(&self) -> Option<&'static str> {
        let has = |h: &str| self.hooks.iter().any(|x| x == h);
        let v6 = self.family == "ip6";
        Some(match self.family.as_str() {
            "bridge" => BRIDGE,
            "arp" => ARP,
            "netdev" if has("egress") => OUT,
            "netdev" => INGRESS,
            _ if has("ingress") => INGRESS,
            _ if has("prerouting") || has("input") => {
                if v6 {
                    IN6
                } else {
                    IN
                }
            }
            _ if has("forward") => {
                if v6 {
                    FORWARD6
                } else {
                    FORWARD
                }
            }
            _ if has("output") || has("postrouting") => OUT,
            _ => return None,
        })
    }

    /// Where a user sees it, exactly as its tool lists it.
    pub fn show_command(&self) -> String {
        if self.legacy {
            let tool = if self.family == "ip6" {
                "ip6tables-legacy"
            } else {
                "iptables-legacy"
            };
            return format!(
                "{tool} -t {} -L {} -v -n -x --line-numbers",
                self.table, self.chain
            );
        }
        format!(
            "nft -a list chain {} {} {}",
            self.family, self.table, self.chain
        )
    }

    /// `table filter chain INPUT rule 12 (ip)`: the location, for titles.
    pub fn place(&self) -> String {
        let what = if self.rule == POLICY {
            "policy".to_string()
        } else if self.legacy {
            format!("rule #{}", self.rule)
        } else {
            format!("rule handle {}", self.rule)
        };
        let legacy = if self.legacy { " legacy" } else { "" };
        format!(
            "{}{legacy} table {} chain {} {what}",
            self.family, self.table, self.chain
        )
    }

    /// Who owns the rule, when its chain or comment says: Kubernetes' kube-proxy, a network
    /// policy, Docker, firewalld.
    pub fn owner(&self) -> Option<String> {
        let chain = self.chain.as_str();
        let comment = self.comment.as_deref().unwrap_or("");
        let by = |who: &str| {
            Some(if comment.is_empty() {
                format!("{who} (chain {chain})")
            } else {
                format!("{who} (chain {chain}, \"{comment}\")")
            })
        };
        if chain.starts_with("KUBE-NWPLCY") || chain.starts_with("KUBE-POD-FW") {
            by("a Kubernetes network policy")
        } else if chain.starts_with("cali-") || chain.starts_with("CILIUM") {
            by("the cluster's network policy agent")
        } else if chain.starts_with("KUBE-") || self.table == "kube-proxy" {
            by("kube-proxy")
        } else if chain.starts_with("DOCKER") {
            by("Docker")
        } else if self.table == "firewalld" {
            by("firewalld")
        } else if comment.contains("kubernetes") || comment.contains("kube-") {
            by("Kubernetes")
        } else {
            None
        }
    }
}

/// The nft name of a hook number in a family (`include/uapi/linux/netfilter*.h`).
pub fn hook_name(family: &str, hook: u32) -> &'static str {
    match (family, hook) {
        ("netdev", 0) => "ingress",
        ("netdev", 1) => "egress",
        ("arp", 0) => "input",
        ("arp", 1) => "output",
        ("arp", 2) => "forward",
        (_, 0) => "prerouting",
        (_, 1) => "input",
        (_, 2) => "forward",
        (_, 3) => "output",
        (_, 4) => "postrouting",
        (_, 5) => "ingress",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(family: &str, hooks: &[&str]) -> FwRule {
        FwRule {
            family: family.into(),
            table: "filter".into(),
            chain: "INPUT".into(),
            hooks: hooks.iter().map(|h| h.to_string()).collect(),
            rule: "4".into(),
            verdict: "drop".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_rule_counts_at_the_earliest_hook_that_reaches_it() {
        assert_eq!(rule("ip", &["input"]).counter(), Some(IN));
        assert_eq!(rule("inet", &["forward", "input"]).counter(), Some(IN));
        assert_eq!(rule("ip6", &["input"]).counter(), Some(IN6));
        assert_eq!(rule("ip", &["forward"]).counter(), Some(FORWARD));
        assert_eq!(rule("ip6", &["forward"]).counter(), Some(FORWARD6));
        assert_eq!(rule("ip", &["postrouting"]).counter(), Some(OUT));
        assert_eq!(rule("netdev", &["ingress"]).counter(), Some(INGRESS));
        assert_eq!(rule("bridge", &["forward"]).counter(), Some(BRIDGE));
        assert_eq!(rule("ip", &[]).counter(), None, "an unreachable chain");
    }

    #[test]
    fn legacy_and_nft_rules_of_the_same_names_do_not_share_a_counter() {
        let nft = rule("ip", &["input"]);
        let legacy = FwRule {
            legacy: true,
            ..nft.clone()
        };
        assert_ne!(nft.labels(), legacy.labels());
        assert!(
            legacy
                .show_command()
                .starts_with("iptables-legacy -t filter -L INPUT")
        );
        assert_eq!(nft.show_command(), "nft -a list chain ip filter INPUT");
    }

    #[test]
    fn owners_are_named_by_chain_and_comment() {
        let mut r = rule("ip", &["input"]);
        r.chain = "KUBE-FIREWALL".into();
        r.comment = Some("kubernetes firewall for dropping marked packets".into());
        assert!(
            r.owner()
                .unwrap()
                .starts_with("kube-proxy (chain KUBE-FIREWALL")
        );
        r.chain = "KUBE-NWPLCY-ABC".into();
        assert!(r.owner().unwrap().contains("network policy"));
        r.chain = "INPUT".into();
        r.comment = None;
        assert_eq!(r.owner(), None);
    }
}
