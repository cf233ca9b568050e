//! Every parser of kernel text and binary replies in this crate, with its real seeds: the list
//! the fuzz targets (`fuzz/`) and the stable corpus-and-mutants test share. Each entry parses
//! and then uses the result the way the collector does, so the code after the parser is
//! fuzzed too.

use crate::collectors::{
    conntrack, ethtool, interrupts, link, netdev, pressure, procs, qdisc, snmp, snmp6, sockets,
    sockstat, softirqs, softnet,
};
use crate::ethtool::{Query, genl};
use crate::firewall::{Ruleset, nft, xtables};
use pktmap_model::fuzz::Parser;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the collector does with a ruleset: its discarding rules, their counters and labels.
fn firewall_use(set: &Ruleset) {
    for r in set.discarding() {
        drop((
            r.counter(),
            r.labels(),
            r.place(),
            r.owner(),
            r.show_command(),
        ));
    }
}

fn sockets(b: &[u8], proto: &str) {
    if let Ok(raw) = sockets::parse_raw(b, proto == "udp") {
        drop(sockets::summarize(&raw));
        for (s, _) in sockets::select(raw) {
            drop(s.decode(proto));
        }
    }
}

pub const PARSERS: &[Parser] = &[
    Parser {
        name: "softnet",
        seeds: &["fixtures/public/softnet_stat"],
        parse: |b| drop(softnet::parse_softnet_stat(&text(b))),
    },
    Parser {
        name: "snmp",
        seeds: &[
            "fixtures/public/netstat-snmp",
            "fixtures/hosts/vm-udp-flood/t1/proc/net/snmp",
            "fixtures/hosts/vm-udp-flood/t1/proc/net/netstat",
        ],
        parse: |b| drop(snmp::parse_snmp_pairs(&text(b))),
    },
    Parser {
        name: "snmp6",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/proc/net/snmp6"],
        parse: |b| drop(snmp6::parse_snmp6(&text(b))),
    },
    Parser {
        name: "netdev",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/proc/net/dev"],
        parse: |b| drop(netdev::parse_net_dev(&text(b))),
    },
    Parser {
        name: "sockstat",
        seeds: &[
            "fixtures/hosts/vm-udp-flood/t1/proc/net/sockstat",
            "fixtures/hosts/vm-udp-flood/t1/proc/net/sockstat6",
        ],
        parse: |b| drop(sockstat::parse_sockstat(&text(b))),
    },
    Parser {
        name: "conntrack",
        seeds: &["fixtures/public/nf_conntrack"],
        parse: |b| drop(conntrack::parse_nf_conntrack_stat(&text(b))),
    },
    Parser {
        name: "softirqs",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/proc/softirqs"],
        parse: |b| drop(softirqs::parse_softirqs(&text(b))),
    },
    Parser {
        name: "interrupts",
        seeds: &["fixtures/public/interrupts"],
        parse: |b| {
            let devs = ["eth0", "ens5", "enp1s0f0"].map(String::from).into();
            if let Ok(rows) = interrupts::parse_interrupts(&text(b)) {
                for r in &rows.rows {
                    for a in r.actions() {
                        drop(interrupts::identify_queue(a, &devs));
                    }
                }
            }
        },
    },
    Parser {
        name: "pressure",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/proc/pressure"],
        parse: |b| drop(pressure::parse_pressure(&text(b))),
    },
    Parser {
        name: "proc_stat",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/proc/14/stat"],
        parse: |b| {
            let _ = procs::parse_stat(&text(b));
        },
    },
    Parser {
        name: "ethtool_stats",
        seeds: &["fixtures/public/ethtool-S"],
        parse: |b| drop(ethtool::parse_ethtool_s(&text(b))),
    },
    Parser {
        name: "ethtool_other",
        seeds: &["fixtures/public/ethtool-other"],
        parse: |b| {
            drop(ethtool::parse_sections(&text(b)));
            let m = ethtool::parse_keyed(&text(b));
            drop(m.get("table").map(|t| ethtool::indirection_summary(t)));
        },
    },
    Parser {
        name: "ethtool_genl",
        seeds: &["fuzz/seeds/ethtool_genl"],
        parse: |b| {
            for q in [Query::Rings, Query::Channels, Query::Coalesce] {
                let t = genl::render("eth0", q, b);
                drop(ethtool::parse_sections(&t));
                drop(ethtool::parse_keyed(&t));
            }
        },
    },
    Parser {
        name: "rtnl_links",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/netlink/rtnl-links.bin"],
        parse: |b| drop(link::parse_links(b)),
    },
    Parser {
        name: "rtnl_qdiscs",
        seeds: &["fixtures/hosts/vm-udp-flood/t1/netlink/rtnl-qdiscs.bin"],
        parse: |b| {
            drop(qdisc::parse_qdiscs(b));
            drop(qdisc::parse_filters(b));
        },
    },
    Parser {
        name: "sock_diag_tcp",
        // The flood host had no TCP socket: a loopback listener with a queued connection and
        // established pairs holding unread data, over IPv4 and IPv6.
        seeds: &["fuzz/seeds/sock_diag_tcp"],
        parse: |b| sockets(b, "tcp"),
    },
    Parser {
        name: "sock_diag_udp",
        seeds: &[
            "fixtures/hosts/vm-udp-flood/t1/netlink/sockdiag-2-17.bin",
            "fixtures/hosts/vm-udp-flood/t1/netlink/sockdiag-10-17.bin",
        ],
        parse: |b| sockets(b, "udp"),
    },
    Parser {
        name: "nft",
        // A test namespace's nftables chain and rule dumps: iptables-nft rules with comments,
        // marks, prefixes and a user chain, ip6tables, and an nft ruleset with sets, ct state,
        // ranges, a verdict map, reject with tcp reset, netdev, bridge and arp tables.
        seeds: &["fuzz/seeds/nft"],
        parse: |b| {
            let chains = nft::parse_chains(b).unwrap_or_default();
            let rules = nft::parse_rules(b).unwrap_or_default();
            firewall_use(&Ruleset { chains, rules });
        },
    },
    Parser {
        name: "xtables",
        // The same namespace's legacy ip_tables and ip6_tables filter tables: multiport, an
        // interface, a port range, a comment, a user chain reached from OUTPUT, a v6 prefix.
        seeds: &["fuzz/seeds/xtables"],
        parse: |b| {
            for v6 in [false, true] {
                if let Ok((chains, rules)) = xtables::parse(v6, "filter", b) {
                    firewall_use(&Ruleset { chains, rules });
                }
            }
        },
    },
    Parser {
        name: "archive",
        // A capture of the flood host as `capture --out x.tar` and `x.tar.gz` write it; the
        // snapshot taken over it runs every collector on what the archive held.
        seeds: &["fuzz/seeds/archive"],
        parse: |b| {
            if let Ok(root) = crate::Root::from_archive(b, "fuzz.tar") {
                drop(crate::take_snapshot(&root));
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use pktmap_model::fuzz::{check, repo_root};

    #[test]
    fn every_parser_survives_seeds_fuzz_corpus_and_mutants() {
        check(PARSERS, env!("CARGO_MANIFEST_DIR"));
    }

    /// The row contract over the real seeds: spoiling any one data line of a row-based file
    /// (a letter into its first number) costs that line's rows and nothing else.
    #[test]
    fn a_spoiled_row_costs_that_row_only() {
        let root = repo_root(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        fn spoil(text: &str, line: usize) -> String {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let l = &mut lines[line];
            // The last digit of the line's last field: a number no kernel prints.
            if let Some(i) = l.rfind(|c: char| c.is_ascii_digit()) {
                l.replace_range(i..=i, "z");
            }
            lines.join("\n") + "\n"
        }
        /// (rows kept, rows skipped) of a parse that must not fail as a whole.
        fn counts<T>(r: Result<crate::error::Rows<T>, crate::error::ParseError>) -> (usize, usize) {
            let r = r.unwrap();
            (r.rows.len(), r.skipped.len())
        }
        // (parser, seed, first data line, rows per line)
        type Count = fn(&str) -> (usize, usize);
        let cases: [(&str, &str, usize, Count); 5] = [
            (
                "softirqs",
                "fixtures/hosts/vm-udp-flood/t1/proc/softirqs",
                1,
                |t| counts(softirqs::parse_softirqs(t)),
            ),
            (
                "netdev",
                "fixtures/hosts/vm-udp-flood/t1/proc/net/dev",
                2,
                |t| counts(netdev::parse_net_dev(t)),
            ),
            (
                "softnet",
                "fixtures/hosts/vm-udp-flood/t1/proc/net/softnet_stat",
                0,
                |t| counts(softnet::parse_softnet_stat(t)),
            ),
            (
                "snmp6",
                "fixtures/hosts/vm-udp-flood/t1/proc/net/snmp6",
                0,
                |t| counts(snmp6::parse_snmp6(t)),
            ),
            (
                "conntrack",
                "fixtures/public/nf_conntrack/4cpu-node_exporter.txt",
                1,
                |t| counts(conntrack::parse_nf_conntrack_stat(t)),
            ),
        ];
        for (name, seed, first, count) in cases {
            let text = read(seed);
            let (whole, none) = count(&text);
            assert_eq!(none, 0, "{name}");
            let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
            for line in first..lines {
                let (kept, skipped) = count(&spoil(&text, line));
                assert_eq!((kept, skipped), (whole - 1, 1), "{name} line {}", line + 1);
            }
        }
    }

    #[test]
    fn the_firewall_seeds_read_as_their_rulesets_were_written() {
        let root = repo_root(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read(root.join(p)).unwrap();
        let set = Ruleset {
            chains: nft::parse_chains(&read("fuzz/seeds/nft/chains.bin")).unwrap(),
            rules: nft::parse_rules(&read("fuzz/seeds/nft/rules.bin")).unwrap(),
        };
        let (chains, rules) =
            xtables::parse(false, "filter", &read("fuzz/seeds/xtables/ip-filter.bin")).unwrap();
        let (chains6, rules6) =
            xtables::parse(true, "filter", &read("fuzz/seeds/xtables/ip6-filter.bin")).unwrap();
        let legacy = Ruleset {
            chains: [chains, chains6].concat(),
            rules: [rules, rules6].concat(),
        };
        let shown = |set: &Ruleset| -> Vec<String> {
            set.discarding()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {} | {}",
                        r.family,
                        r.table,
                        r.chain,
                        r.hooks.join(","),
                        r.text
                    )
                })
                .collect()
        };
        let nft = shown(&set);
        for want in [
            "ip filter FORWARD forward | policy drop",
            "ip filter KUBE-FIREWALL input | meta mark & 0x8000 0x8000 drop",
            "inet mix in input | ip saddr @blocked drop",
            "inet mix in input | meta iifname \"veth*\" tcp dport { an anonymous set } reject with tcp reset",
            "inet mix in input | ip6 saddr fd00::/8 udp dport 9000-9100 drop",
            "inet mix sub input | meta mark 0x1 drop",
            "netdev edge ing ingress | udp dport 7 drop",
            "bridge br fw forward | ether type 0x0806 drop",
            "ip6 filter INPUT input | udp dport 7 drop",
        ] {
            assert!(nft.iter().any(|l| l == want), "{want:?} in {nft:#?}");
        }
        let comment = set
            .discarding()
            .into_iter()
            .find(|r| r.chain == "KUBE-FIREWALL")
            .unwrap();
        assert!(comment.owner().unwrap().starts_with("kube-proxy"));
        assert_eq!(
            shown(&legacy),
            vec![
                "ip filter INPUT input | -p udp -m multiport -j DROP",
                "ip filter INPUT input | -d 192.168.0.0/24 -i eth9 -p tcp --dport 22:25 -m comment --comment \"legacy\" -j REJECT",
                "ip filter BLOCK output | -j DROP",
                "ip6 filter INPUT input | -s fd00::/8 -j DROP",
            ]
        );
    }

    #[test]
    fn the_tcp_seed_holds_what_it_stands_for() {
        let root = repo_root(env!("CARGO_MANIFEST_DIR"));
        let v4 =
            std::fs::read(root.join("fuzz/seeds/sock_diag_tcp/loopback-v4-recvq-listener.bin"))
                .unwrap();
        let socks = sockets::parse_inet_diag(&v4, "tcp").unwrap();
        let listener = socks
            .iter()
            .find(|s| s.local.ends_with(":47811") && s.state == "LISTEN");
        assert_eq!(listener.map(|s| s.recv_q), Some(1), "{socks:?}");
        let unread = socks
            .iter()
            .find(|s| s.recv_q == 70_000)
            .expect("70,000 bytes unread");
        assert!(unread.tcp_info.contains_key("rtt"), "{unread:?}");
    }

    #[test]
    fn genl_replies_render_as_ethtool_prints_them() {
        let root = repo_root(env!("CARGO_MANIFEST_DIR"));
        let rings = std::fs::read(root.join("fuzz/seeds/ethtool_genl/rings.bin")).unwrap();
        let t = genl::render("eth0", Query::Rings, &rings);
        let sections = ethtool::parse_sections(&t).unwrap();
        assert!(sections.contains(&("rx".to_string(), 512, 8192)), "{t}");
        assert!(sections.contains(&("tx".to_string(), 1024, 8192)), "{t}");
    }
}
