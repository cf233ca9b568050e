//! The stage catalog: the packet path as data. Every stage, counter, tunable, drop reason and
//! tool pktmap knows is one entry in `stages.rs` or `items.rs`; everything else (walk, explain,
//! the sysctl collector, the JSON) reads it from here.

mod floors;
mod items;
mod reasons;
mod stages;

use foldhash::HashMap;
use serde::Serialize;
use std::sync::{LazyLock, RwLock};

pub use floors::{Floor, NOISY_KEYS, floor};
pub use items::{GROUPS, ITEMS};
pub use reasons::{REASONS, Reason, reason};
pub use stages::STAGES;

/// Which journey a stage belongs to.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    Rx,
    Tx,
    Container,
}

#[derive(Serialize, Debug)]
pub struct Stage {
    /// `rx.1`..`rx.11`, `tx.1`..`tx.5`, `ct.*`.
    pub id: &'static str,
    pub path: Path,
    pub title: &'static str,
    /// What the kernel or hardware does here.
    pub happens: &'static str,
    /// Where packets can be lost here.
    pub drop_points: &'static [&'static str],
    /// Unit of this stage's traffic: the sum of its `traffic` class counters and of
    /// `traffic_also`.
    pub unit: &'static str,
    /// Counters of this stage that count packets which reached it and were then refused
    /// (UDP's InErrors and NoPorts): they passed through, so they count as its traffic too.
    pub traffic_also: &'static [&'static str],
    /// Commands a practitioner uses to look at this stage.
    pub inspect: &'static [&'static str],
}

/// What kind of thing a catalog item is, which also says where its value comes from.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A monotonic counter read from procfs or sysfs.
    Counter,
    /// A level read from procfs or sysfs.
    Gauge,
    /// A `/proc/sys` tunable, read by the sysctl collector.
    Sysctl,
    /// A per-device or per-queue file under `/sys` that is a setting.
    Sysfs,
    /// A value reached through ethtool (netlink or ioctl).
    Ethtool,
    /// IRQ layout: `/proc/interrupts`, affinities, irqbalance.
    Irq,
    /// A kernel thread or daemon.
    Process,
    /// A per-socket value (sock_diag).
    Socket,
    /// A queueing discipline value (rtnetlink).
    Qdisc,
    /// A `skb:kfree_skb` drop reason.
    DropReason,
    /// A piece of the container path.
    Container,
    /// CPU state that delays the application.
    Cpu,
    /// A device attribute attached to a link (XDP, tc hooks).
    Link,
}

/// What a counter's movement means. Drives highlighting in `walk` and evidence in `diagnose`.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Packets passing: the stage's throughput.
    Traffic,
    /// Packets lost here.
    Drop,
    /// Packets rejected as malformed or failing a check.
    Error,
    /// Not a loss, but a sign the stage is falling behind (squeeze, pruning, retransmits).
    Strain,
    Info,
}

#[derive(Serialize, Debug)]
pub struct Item {
    /// The name the kernel or the tool uses: `TcpExt.ListenOverflows`, `net.core.somaxconn`.
    pub key: &'static str,
    pub kind: ItemKind,
    pub stage: &'static str,
    pub class: Class,
    /// Where pktmap reads it.
    pub source: &'static str,
    pub about: &'static str,
    /// Commands that show it or change it.
    pub commands: &'static [&'static str],
    /// Names under which the value appears in a snapshot, when not the key itself.
    pub values: &'static [&'static str],
    /// For a counter that repeats another source's (`/proc/net/dev` next to sysfs): the name
    /// that supersedes it when both are present for the same labels.
    pub same_as: Option<&'static str>,
    /// Counters this one already counts (`Udp.InErrors` counts `Udp.RcvbufErrors`): when they
    /// explain all of its movement, the walk shows them and not this one twice.
    pub includes: &'static [&'static str],
}

/// A default for counters of one family that have no item of their own (the kernel adds
/// TcpExt counters every few releases; they still land on the right stage).
#[derive(Serialize, Debug)]
pub struct Group {
    pub prefix: &'static str,
    pub stage: &'static str,
    pub about: &'static str,
    /// The class of every counter in the family; `None`: judged by each counter's name.
    pub class: Option<Class>,
    /// Counters that repeat, in a driver's own words, losses another counter of the stage
    /// already counts: shown as evidence, not added to the stage's totals.
    pub detail: bool,
}

/// The stage whose counters each collector mostly reads, so that what a collector could not
/// read (rows it skipped) is said under that stage.
pub static COLLECTOR_STAGES: &[(&str, &str)] = &[
    ("link", "rx.1"),
    ("netdev", "rx.1"),
    ("netclass", "rx.1"),
    ("queues", "rx.2"),
    ("ethtool", "rx.3"),
    ("interrupts", "rx.4"),
    ("softnet", "rx.5"),
    ("softirqs", "rx.5"),
    ("snmp", "rx.8"),
    ("snmp6", "rx.8"),
    ("conntrack", "rx.8"),
    ("firewall", "rx.8"),
    ("rt_cache", "rx.8"),
    ("neigh", "tx.2"),
    ("sysctl", "rx.8"),
    ("netstat", "rx.9"),
    ("sockstat", "rx.10"),
    ("sockets", "rx.10"),
    ("pressure", "rx.11"),
    ("cpuidle", "rx.11"),
    ("procs", "rx.11"),
    ("qdisc", "tx.3"),
];

/// The stage a collector's unread rows are said under.
pub fn collector_stage(id: &str) -> Option<&'static str> {
    COLLECTOR_STAGES
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, s)| *s)
}

pub fn stage(id: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.id == id)
}

/// The item whose key, or one of whose value names, is `name`. Indexed once: collectors and
/// the walk look up every metric of a snapshot.
pub fn item(name: &str) -> Option<&'static Item> {
    static INDEX: LazyLock<HashMap<&'static str, &'static Item>> = LazyLock::new(|| {
        ITEMS
            .iter()
            .flat_map(|i| {
                std::iter::once(i.key)
                    .chain(i.values.iter().copied())
                    .map(move |k| (k, i))
            })
            .collect()
    });
    INDEX.get(name).copied()
}

/// Case-insensitive lookup for `explain`, which users type by hand.
pub fn find(key: &str) -> Option<&'static Item> {
    item(key).or_else(|| {
        ITEMS.iter().find(|i| {
            i.key.eq_ignore_ascii_case(key) || i.values.iter().any(|v| v.eq_ignore_ascii_case(key))
        })
    })
}

pub fn group(name: &str) -> Option<&'static Group> {
    // Longest prefix wins: `TcpExt.` before `Tcp`.
    GROUPS
        .iter()
        .filter(|g| name.starts_with(g.prefix))
        .max_by_key(|g| g.prefix.len())
}

/// Where a metric of this name belongs and what its movement means.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub stage: &'static str,
    pub class: Class,
    pub item: Option<&'static Item>,
    pub detail: bool,
}

/// Remembered per name: every collection places every metric of every snapshot (the ledger,
/// the census), and a name outside the items is placed by prefix and by its words. Names are
/// the kernel's counters and drivers' statistics, a bounded set; past the bound, computed.
pub fn place(name: &str) -> Option<Placement> {
    const REMEMBERED: usize = 1 << 16;
    static MEMO: LazyLock<RwLock<HashMap<Box<str>, Option<Placement>>>> =
        LazyLock::new(RwLock::default);
    if let Some(p) = MEMO.read().ok().and_then(|m| m.get(name).copied()) {
        return p;
    }
    let p = place_anew(name);
    if let Ok(mut m) = MEMO.write()
        && m.len() < REMEMBERED
    {
        m.insert(name.into(), p);
    }
    p
}

fn place_anew(name: &str) -> Option<Placement> {
    if let Some(item) = item(name) {
        return Some(Placement {
            stage: item.stage,
            class: item.class,
            item: Some(item),
            detail: false,
        });
    }
    group(name).map(|g| Placement {
        stage: g.stage,
        class: g.class.unwrap_or_else(|| class_by_name(name)),
        item: None,
        detail: g.detail,
    })
}

/// The class of a counter without an item, from the words kernel developers use in names.
fn class_by_name(name: &str) -> Class {
    let field = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    if ["drop", "discard", "overflow"]
        .iter()
        .any(|w| field.contains(w))
    {
        Class::Drop
    } else if ["err", "fail"].iter().any(|w| field.contains(w)) {
        Class::Error
    } else if ["prune", "collapse", "retrans", "timeout"]
        .iter()
        .any(|w| field.contains(w))
    {
        Class::Strain
    } else {
        Class::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn item_keys_and_value_names_are_unique() {
        let mut seen = HashSet::new();
        for i in ITEMS {
            assert!(seen.insert(i.key), "duplicate key {}", i.key);
            for v in i.values {
                assert!(seen.insert(v), "duplicate value name {v}");
            }
        }
    }

    #[test]
    fn stage_ids_are_unique_and_every_reference_exists() {
        let mut seen = HashSet::new();
        for s in STAGES {
            assert!(seen.insert(s.id), "duplicate stage {}", s.id);
        }
        for i in ITEMS {
            assert!(
                stage(i.stage).is_some(),
                "{} names stage {}",
                i.key,
                i.stage
            );
            if let Some(other) = i.same_as {
                assert!(
                    item(other).is_some(),
                    "{} is same_as unknown {other}",
                    i.key
                );
            }
        }
        for g in GROUPS {
            assert!(
                stage(g.stage).is_some(),
                "group {} names {}",
                g.prefix,
                g.stage
            );
        }
    }

    #[test]
    fn stages_follow_the_article_numbering() {
        let rx: Vec<_> = STAGES
            .iter()
            .filter(|s| s.path == Path::Rx)
            .map(|s| s.id)
            .collect();
        let expected: Vec<String> = (1..=11).map(|n| format!("rx.{n}")).collect();
        assert_eq!(rx, expected);
        let tx: Vec<_> = STAGES
            .iter()
            .filter(|s| s.path == Path::Tx)
            .map(|s| s.id)
            .collect();
        assert_eq!(tx, ["tx.1", "tx.2", "tx.3", "tx.4", "tx.5"]);
        for ct in ["ct.veth", "ct.bridge", "ct.netns"] {
            assert!(stage(ct).is_some(), "{ct}");
        }
    }

    /// The reference's coverage list, copied with its provenance into the project.
    #[test]
    fn every_coverage_key_is_in_the_catalog_at_its_stage() {
        let tsv = include_str!("../../../../fixtures/reference/coverage.tsv");
        let mut missing = Vec::new();
        for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (key, stage_col) = (cols[0], cols[2]);
            let want = stage_col.split_whitespace().next().unwrap();
            match item(key) {
                Some(i) if i.stage == want => {}
                Some(i) => missing.push(format!("{key}: at {} not {want}", i.stage)),
                None => missing.push(format!("{key}: absent")),
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn unknown_counters_of_known_families_are_placed_by_name() {
        let p = place("TcpExt.TCPSomethingNewDrop").unwrap();
        assert_eq!((p.stage, p.class), ("rx.9", Class::Drop));
        assert_eq!(place("Ip6SomethingNew").unwrap().stage, "rx.8");
        assert_eq!(place("TcpExt.ListenOverflows").unwrap().stage, "rx.10");
        assert!(place("completely.unknown").is_none());
    }

    #[test]
    fn every_text_is_written_out() {
        for s in STAGES {
            assert!(s.happens.len() > 40, "{} needs a description", s.id);
        }
        for i in ITEMS {
            assert!(i.about.len() > 15, "{} needs a description", i.key);
            assert!(!i.source.is_empty(), "{} needs a source", i.key);
        }
    }
}

/// Every stage id and counter name written as a literal in the code that judges and shows
/// them resolves in the catalog: a typo would otherwise sort a finding last or read a counter
/// that never exists, silently.
#[cfg(test)]
mod names {
    use super::*;

    /// The literals that look like a stage id or a counter of a known family.
    fn literals(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for piece in text.split('"').skip(1).step_by(2) {
            let family = [
                "Ip.",
                "IpExt.",
                "Tcp.",
                "TcpExt.",
                "Udp.",
                "Icmp.",
                "softnet.",
                "qdisc.",
                "nf_conntrack.",
                "netdev.",
                "sockstat.",
                "Ip6",
                "Udp6",
                "Icmp6",
            ]
            .iter()
            .any(|p| piece.starts_with(p) && piece.len() > p.len());
            let stage_like =
                piece.starts_with("rx.") || piece.starts_with("tx.") || piece.starts_with("ct.");
            let word = piece
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._".contains(c));
            if (family || stage_like) && word {
                out.push(piece.to_string());
            }
        }
        out
    }

    #[test]
    fn every_name_and_stage_id_used_in_the_code_is_in_the_catalog() {
        let sources = [
            include_str!("../diagnose/mod.rs"),
            include_str!("../diagnose/rules/mod.rs"),
            include_str!("../diagnose/rules/nic.rs"),
            include_str!("../diagnose/rules/softirq.rs"),
            include_str!("../diagnose/rules/ip.rs"),
            include_str!("../diagnose/rules/transport.rs"),
            include_str!("../diagnose/rules/socket.rs"),
            include_str!("../diagnose/rules/tx.rs"),
            include_str!("../diagnose/rules/latency.rs"),
            include_str!("../audit.rs"),
            include_str!("../walk.rs"),
            include_str!("../ledger.rs"),
            include_str!("../trace.rs"),
            include_str!("floors.rs"),
            include_str!("../../../render/src/walk.rs"),
            include_str!("../../../render/src/findings.rs"),
        ];
        let mut unknown: Vec<String> = sources
            .iter()
            .flat_map(|s| literals(s))
            .filter(|n| {
                let is_stage = n.starts_with("rx.") || n.starts_with("tx.") || n.starts_with("ct.");
                if is_stage {
                    stage(n).is_none()
                } else {
                    item(n).is_none()
                }
            })
            .collect();
        unknown.sort();
        unknown.dedup();
        assert!(unknown.is_empty(), "{} names: {unknown:#?}", unknown.len());
    }
}
