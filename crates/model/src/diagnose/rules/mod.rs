//! The rules, in path order: one file per segment of the path, each rule's tests beside it.
//! Each reads counters that moved in the interval, judges them against the traffic they
//! belong to, and says where, why and what to run. Whether a loss exists is the ledger's to
//! say; a rule explains it.

use super::Rule;
use crate::findings::{Confidence, Finding, Severity};

mod firewall;
mod hooks;
mod ip;
mod latency;
mod nic;
mod socket;
mod softirq;
mod transport;
mod tx;

pub use nic::parse_ring;

pub static RULES: &[Rule] = &[
    Rule {
        id: "nic-ring",
        check: nic::nic_ring,
    },
    Rule {
        id: "nic-errors",
        check: nic::nic_errors,
    },
    Rule {
        id: "softirq-backlog",
        check: softirq::softirq_backlog,
    },
    Rule {
        id: "softirq-squeeze",
        check: softirq::softirq_squeeze,
    },
    Rule {
        id: "program-drops",
        check: hooks::program_drops,
    },
    Rule {
        id: "ip-discards",
        check: ip::ip_discards,
    },
    Rule {
        id: "firewall-rule",
        check: firewall::firewall_rules,
    },
    Rule {
        id: "netfilter-gap",
        check: ip::netfilter_gap,
    },
    Rule {
        id: "conntrack",
        check: ip::conntrack,
    },
    Rule {
        id: "closed-port",
        check: transport::closed_port,
    },
    Rule {
        id: "listen-overflow",
        check: socket::listen_overflow,
    },
    Rule {
        id: "tcp-receive-pressure",
        check: socket::tcp_receive_pressure,
    },
    Rule {
        id: "udp-receive-buffer",
        check: socket::udp_receive_buffer,
    },
    Rule {
        id: "send-buffer",
        check: tx::send_buffer,
    },
    Rule {
        id: "qdisc-drops",
        check: tx::qdisc_drops,
    },
    Rule {
        id: "tx-ring",
        check: tx::tx_ring,
    },
    Rule {
        id: "requeues",
        check: latency::requeues,
    },
    Rule {
        id: "retransmits",
        check: latency::retransmits,
    },
    Rule {
        id: "rtt-inflation",
        check: latency::rtt_inflation,
    },
    Rule {
        id: "slow-reader",
        check: latency::slow_reader,
    },
    Rule {
        id: "receive-window",
        check: latency::receive_window,
    },
    Rule {
        id: "qdisc-backlog",
        check: latency::qdisc_backlog,
    },
    Rule {
        id: "cpu-pressure",
        check: latency::cpu_pressure,
    },
    Rule {
        id: "c-states",
        check: latency::c_states,
    },
];

pub(super) fn finding(
    rule: &'static str,
    stage: &'static str,
    severity: Severity,
    title: String,
) -> Finding {
    Finding {
        rule,
        stage,
        severity,
        title,
        evidence: Vec::new(),
        cause: String::new(),
        actions: Vec::new(),
        confidence: Confidence::Medium,
        loss: true,
    }
}

#[cfg(test)]
pub(super) mod testing {
    pub use super::super::Ctx;
    pub use crate::delta::Delta;
    pub use crate::findings::Finding;
    pub use crate::snapshot::{Kind, Meta, Metric, Setting, Snapshot, SocketInfo};

    /// `(name, labels, before, after)`.
    pub type Counter<'a> = (&'a str, &'a [(&'a str, &'a str)], u64, u64);

    /// Two snapshots one second apart: `(name, labels, before, after)` counters, settings and
    /// sockets of the later one.
    pub fn pair(
        counters: &[Counter],
        settings: &[(&str, &str)],
        sockets: Vec<SocketInfo>,
    ) -> (Snapshot, Snapshot) {
        let mk = |uptime: f64, after: bool| {
            let mut s = Snapshot::new(Meta {
                uptime_s: Some(uptime),
                ..Meta::default()
            });
            for (name, l, a, b) in counters {
                s.metrics.push(Metric {
                    name: name.to_string(),
                    labels: l
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: if after { *b } else { *a },
                    kind: if name.starts_with("qdisc.backlog") || name.starts_with("qdisc.qlen") {
                        Kind::Gauge
                    } else {
                        Kind::Counter64
                    },
                });
            }
            for (k, v) in settings {
                s.settings.push(Setting {
                    name: k.to_string(),
                    labels: Default::default(),
                    value: v.to_string(),
                });
            }
            s
        };
        let (a, mut b) = (mk(100.0, false), mk(101.0, true));
        b.sockets = sockets;
        (a, b)
    }

    pub fn run(rule: fn(&Ctx) -> Vec<Finding>, a: &Snapshot, b: &Snapshot) -> Vec<Finding> {
        let d = Delta::between(a, b).unwrap();
        let ledger = crate::ledger::build(&d, None);
        rule(&Ctx {
            delta: &d,
            ledger: &ledger,
        })
    }

    pub const NONE: &[(&str, &str)] = &[];
    pub const ETH0: &[(&str, &str)] = &[("dev", "eth0")];
}

#[cfg(test)]
mod tests {
    use super::RULES;
    use super::testing::*;

    #[test]
    fn rules_have_unique_ids_and_a_quiet_delta_finds_nothing() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 1_000),
                ("Ip.InReceives", NONE, 0, 1_000),
                ("Ip.InDelivers", NONE, 0, 1_000),
                ("Udp.NoPorts", NONE, 0, 2),
            ],
            &[],
            vec![],
        );
        let d = Delta::between(&a, &b).unwrap();
        assert!(super::super::diagnose(&d).is_empty());
    }
}
