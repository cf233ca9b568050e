//! The firewall as the kernel holds it: nftables through nfnetlink (which also holds what
//! `iptables-nft`, kube-proxy and firewalld write) and legacy `ip_tables`/`ip6_tables`
//! through their getsockopt interface. Both read into one [`Ruleset`]; [`discarding`] keeps
//! the rules and policies that drop or reject, each with the hooks that reach it.

pub mod expr;
pub mod nft;
pub mod xtables;

use crate::error::SourceError;
use crate::netlink::Dump;
use crate::root::Root;
use pktmap_model::firewall::{FwRule, POLICY};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// What a rule (or a chain's policy) does with the packets it matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Verdict {
    /// No verdict: the packet goes on to the next rule (a counter, a log, a mark).
    #[default]
    Continue,
    Accept,
    Drop,
    Reject,
    Queue,
    Return,
    Jump(String),
    Goto(String),
    /// A verdict map or a target pktmap does not know: it may discard, it may not.
    Other(String),
}

impl Verdict {
    /// nft's word for it.
    pub fn word(&self) -> String {
        match self {
            Verdict::Continue => "continue".into(),
            Verdict::Accept => "accept".into(),
            Verdict::Drop => "drop".into(),
            Verdict::Reject => "reject".into(),
            Verdict::Queue => "queue".into(),
            Verdict::Return => "return".into(),
            Verdict::Jump(c) => format!("jump {c}"),
            Verdict::Goto(c) => format!("goto {c}"),
            Verdict::Other(s) => s.clone(),
        }
    }

    /// From netfilter's verdict numbers (NF_DROP, NF_ACCEPT...; nft's negative ones).
    pub fn from_code(code: i32, chain: Option<String>) -> Verdict {
        match code {
            0 => Verdict::Drop,
            1 => Verdict::Accept,
            3 => Verdict::Queue,
            -1 => Verdict::Continue,
            -3 => Verdict::Jump(chain.unwrap_or_default()),
            -4 => Verdict::Goto(chain.unwrap_or_default()),
            -5 => Verdict::Return,
            other => Verdict::Other(format!("verdict {other}")),
        }
    }

    fn discards(&self) -> bool {
        matches!(self, Verdict::Drop | Verdict::Reject)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chain {
    pub family: &'static str,
    pub table: String,
    pub name: String,
    /// A base chain's hook (`input`...) and priority.
    pub hook: Option<(&'static str, i32)>,
    pub policy: Option<Verdict>,
    /// Packets the policy decided, when the chain keeps counters.
    pub packets: Option<u64>,
    pub legacy: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub family: &'static str,
    pub table: String,
    pub chain: String,
    /// The nft handle, or the rule's number in its chain for a legacy table.
    pub id: String,
    pub text: String,
    pub verdict: Verdict,
    pub packets: Option<u64>,
    pub comment: Option<String>,
    pub legacy: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ruleset {
    pub chains: Vec<Chain>,
    pub rules: Vec<Rule>,
}

/// A family name from its NFPROTO number.
pub fn family_name(n: u8) -> &'static str {
    match n {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => "unknown",
    }
}

/// (legacy, family, table, chain).
type ChainKey<'a> = (bool, &'a str, &'a str, &'a str);

impl Ruleset {
    /// Each chain's hooks: a base chain's own, and through jumps and gotos those of every
    /// base chain that reaches it.
    pub fn hooks(&self) -> HashMap<ChainKey<'_>, BTreeSet<&'static str>> {
        let mut edges: HashMap<ChainKey<'_>, Vec<&str>> = HashMap::new();
        for r in &self.rules {
            if let Verdict::Jump(to) | Verdict::Goto(to) = &r.verdict {
                edges
                    .entry((r.legacy, r.family, &r.table, &r.chain))
                    .or_default()
                    .push(to);
            }
        }
        let mut out: HashMap<ChainKey<'_>, BTreeSet<&'static str>> = HashMap::new();
        for c in &self.chains {
            let Some((hook, _)) = c.hook else { continue };
            let mut queue = VecDeque::from([c.name.as_str()]);
            while let Some(name) = queue.pop_front() {
                let k = (c.legacy, c.family, c.table.as_str(), name);
                if !out.entry(k).or_default().insert(hook) {
                    continue;
                }
                queue.extend(edges.get(&k).into_iter().flatten().copied());
            }
        }
        out
    }

    /// The rules and chain policies that drop or reject, each with the hooks that reach it.
    pub fn discarding(&self) -> Vec<FwRule> {
        let hooks = self.hooks();
        let hooks_of = |legacy, family, table: &str, chain: &str| -> Vec<String> {
            hooks
                .get(&(legacy, family, table, chain))
                .map(|h| h.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for c in &self.chains {
            if c.policy.as_ref().is_some_and(Verdict::discards) {
                out.push(FwRule {
                    family: c.family.into(),
                    table: c.table.clone(),
                    chain: c.name.clone(),
                    hooks: hooks_of(c.legacy, c.family, &c.table, &c.name),
                    rule: POLICY.into(),
                    legacy: c.legacy,
                    verdict: "drop".into(),
                    text: "policy drop".into(),
                    comment: None,
                    packets: c.packets,
                });
            }
        }
        for r in self.rules.iter().filter(|r| r.verdict.discards()) {
            out.push(FwRule {
                family: r.family.into(),
                table: r.table.clone(),
                chain: r.chain.clone(),
                hooks: hooks_of(r.legacy, r.family, &r.table, &r.chain),
                rule: r.id.clone(),
                legacy: r.legacy,
                verdict: r.verdict.word(),
                text: r.text.clone(),
                comment: r.comment.clone(),
                packets: r.packets,
            });
        }
        out
    }
}

/// Every ruleset of the root's namespace: nftables, then the legacy tables its
/// `/proc/net/ip(6)_tables_names` lists. What could not be read is returned beside what could;
/// an error only when nothing could.
pub fn read(root: &Root) -> Result<(Ruleset, Vec<SourceError>), SourceError> {
    let mut set = Ruleset::default();
    let mut errors = Vec::new();
    let mut read_any = false;
    let nl = |d: Dump| {
        root.netlink(d)
            .map(|b| (b, root.base().join("netlink").join(d.file())))
    };
    match (nl(Dump::NftChains), nl(Dump::NftRules)) {
        (Ok((chains, cfile)), Ok((rules, rfile))) => {
            set.chains = nft::parse_chains(&chains).map_err(|e| e.at(&cfile))?;
            set.rules = nft::parse_rules(&rules).map_err(|e| e.at(&rfile))?;
            read_any = true;
        }
        (Err(e), _) | (_, Err(e)) => errors.push(needs(e, "CAP_NET_ADMIN")),
    }
    for v6 in [false, true] {
        let names = root.proc(if v6 {
            "net/ip6_tables_names"
        } else {
            "net/ip_tables_names"
        });
        let text = match root.read(&names) {
            Ok(t) => t,
            // No legacy tables in this kernel, or none loaded in a replayed capture.
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                // The list is root's (mode 0440): a user with capabilities but another uid
                // needs to be let past the file's mode.
                errors.push(needs(e, "uid 0 or CAP_DAC_READ_SEARCH"));
                continue;
            }
        };
        read_any = true;
        for table in text.split_whitespace() {
            let family = if v6 { "ip6" } else { "ip" };
            let file = root
                .base()
                .join("xtables")
                .join(format!("{family}-{table}.bin"));
            match root.xtables(v6, table) {
                Ok(bytes) => {
                    let (chains, rules) =
                        xtables::parse(v6, table, &bytes).map_err(|e| e.at(&file))?;
                    set.chains.extend(chains);
                    set.rules.extend(rules);
                }
                Err(e) => errors.push(needs(e, "CAP_NET_ADMIN and CAP_NET_RAW")),
            }
        }
    }
    // Nothing read: the first refusal (nftables', the one most hosts use) is the answer.
    if !read_any && !errors.is_empty() {
        return Err(errors.remove(0));
    }
    Ok((set, errors))
}

/// A refused dump names the capability it takes.
fn needs(e: SourceError, caps: &str) -> SourceError {
    match e {
        SourceError::Io { path, err } if err.kind() == std::io::ErrorKind::PermissionDenied => {
            SourceError::Io {
                path: path.with_file_name(format!(
                    "{} (needs {caps})",
                    path.file_name().unwrap_or_default().to_string_lossy()
                )),
                err,
            }
        }
        other => other,
    }
}

/// Netlink attributes built by hand, for the parsers' tests.
#[cfg(test)]
pub(crate) mod testing {
    /// An attribute (type, value), padded to 4 bytes.
    pub fn nla(ty: u16, v: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&ty.to_ne_bytes());
        b.extend_from_slice(v);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(name: &str, hook: Option<&'static str>, policy: Option<Verdict>) -> Chain {
        Chain {
            family: "ip",
            table: "filter".into(),
            name: name.into(),
            hook: hook.map(|h| (h, 0)),
            policy,
            packets: Some(7),
            legacy: false,
        }
    }

    fn rule(chain: &str, id: &str, verdict: Verdict) -> Rule {
        Rule {
            family: "ip",
            table: "filter".into(),
            chain: chain.into(),
            id: id.into(),
            text: "x".into(),
            verdict,
            packets: Some(3),
            comment: None,
            legacy: false,
        }
    }

    #[test]
    fn regular_chains_take_the_hooks_of_the_base_chains_that_jump_to_them() {
        let rs = Ruleset {
            chains: vec![
                chain("INPUT", Some("input"), Some(Verdict::Drop)),
                chain("FORWARD", Some("forward"), Some(Verdict::Accept)),
                chain("KUBE-FIREWALL", None, None),
                chain("DEEPER", None, None),
                chain("ORPHAN", None, None),
            ],
            rules: vec![
                rule("INPUT", "2", Verdict::Jump("KUBE-FIREWALL".into())),
                rule("FORWARD", "3", Verdict::Jump("KUBE-FIREWALL".into())),
                rule("KUBE-FIREWALL", "4", Verdict::Goto("DEEPER".into())),
                rule("DEEPER", "5", Verdict::Reject),
                // A loop must not hang the walk.
                rule("DEEPER", "6", Verdict::Jump("KUBE-FIREWALL".into())),
                rule("ORPHAN", "7", Verdict::Drop),
                rule("INPUT", "8", Verdict::Accept),
            ],
        };
        let d = rs.discarding();
        let ids: Vec<(&str, &str, Vec<String>)> = d
            .iter()
            .map(|r| (r.chain.as_str(), r.rule.as_str(), r.hooks.clone()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("INPUT", "policy", vec!["input".to_string()]),
                (
                    "DEEPER",
                    "5",
                    vec!["forward".to_string(), "input".to_string()]
                ),
                ("ORPHAN", "7", vec![]),
            ]
        );
        assert_eq!(d[1].verdict, "reject");
        assert_eq!(d[0].packets, Some(7));
    }
}
