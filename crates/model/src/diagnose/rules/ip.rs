//! rx.8: IP input, netfilter and conntrack.

use super::finding;
use crate::diagnose::Ctx;
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};

/// rx.8: IP input discards, bad headers or addresses, no route, reverse-path filter.
pub(super) fn ip_discards(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rate("Ip.InReceives");
    let mut out = Vec::new();
    for (name, cause) in [
        ("Ip.InDiscards", "IP input had no resources for the packets"),
        (
            "Ip.InHdrErrors",
            "packets with bad IP headers (checksum, TTL expired, bad options)",
        ),
        (
            "Ip.InAddrErrors",
            "packets for an address this host neither owns nor routes",
        ),
        ("IpExt.InNoRoutes", "no route for received packets"),
        (
            "TcpExt.IPReversePathFilter",
            "the reverse path filter dropped packets arriving on an interface the route back does not use",
        ),
    ] {
        let (d, r) = ctx.sum(name);
        if !Ctx::significant(name, d, r, traffic) {
            continue;
        }
        let mut f = finding(
            "ip-discards",
            "rx.8",
            Ctx::severity(r, traffic),
            format!("IP input drops packets ({name} {r:.0}/s)"),
        );
        f.evidence.push(Evidence::moved(name, "", d, r));
        f.cause = cause.into();
        if name == "TcpExt.IPReversePathFilter" {
            let cur = ctx.setting("net.ipv4.conf.all.rp_filter").unwrap_or("?");
            f.actions.push(Action::sysctl(
                "net.ipv4.conf.all.rp_filter",
                cur,
                2,
                "loose mode accepts asymmetric routes",
            ));
        }
        f.actions.push(Action::inspect(format!("nstat -az {name}")));
        out.push(f);
    }
    out
}

/// rx.8: packets enter IP and vanish without any IP counter saying why: a netfilter rule
/// (kernel-notes: rule drops move no SNMP drop counter).
pub(super) fn netfilter_gap(ctx: &Ctx) -> Vec<Finding> {
    // The ledger keeps the gap as a line of its own, judged by its floor.
    let Some(gap) = ctx
        .ledger
        .line("ip.undelivered", &Default::default())
        .filter(|g| g.above_floor)
    else {
        return Vec::new();
    };
    let (received, rate_in) = ctx.sum("Ip.InReceives");
    // What no rule's counter accounts for.
    let missing = gap.own_delta().unwrap_or(0);
    let rate = gap.own_rate().unwrap_or(0.0);
    let conntrack_full = ctx.sum("nf_conntrack.drop").0 > 0;
    let mut f = finding(
        "netfilter-gap",
        "rx.8",
        Ctx::severity(rate, rate_in),
        if gap.included > 0 {
            format!(
                "{rate:.0} packets/s enter IP and are never delivered, beyond what firewall \
                 rules count"
            )
        } else {
            format!("{rate:.0} packets/s enter IP and are never delivered: netfilter drops them")
        },
    );
    f.evidence
        .push(Evidence::moved("Ip.InReceives", "", received, rate_in));
    f.evidence.push(Evidence::moved(
        "Ip.InDelivers",
        "",
        ctx.sum("Ip.InDelivers").0,
        ctx.rate("Ip.InDelivers"),
    ));
    f.evidence
        .push(Evidence::moved("ip.undelivered", "", missing, rate));
    f.cause = if conntrack_full {
        "a full conntrack table (nf_conntrack drop rising) or a rule drops them".into()
    } else {
        "a firewall rule (iptables/nftables DROP or REJECT) on PREROUTING, INPUT or FORWARD: \
         rule drops move no IP drop counter, only the rule's own"
            .into()
    };
    // Rules that discard without a counter may be these drops; none can be told apart.
    let uncounted: Vec<&crate::firewall::FwRule> = ctx
        .to()
        .firewall
        .iter()
        .filter(|r| r.packets.is_none() && r.counter() == Some(crate::firewall::IN))
        .collect();
    if !uncounted.is_empty() {
        let named: Vec<String> = uncounted
            .iter()
            .take(3)
            .map(|r| format!("{} (`{}`)", r.place(), r.text))
            .collect();
        f.cause.push_str(&format!(
            ". {} rule(s) that drop have no counter, so their drops cannot be attributed: {}{}",
            uncounted.len(),
            named.join(", "),
            if uncounted.len() > 3 { ", ..." } else { "" }
        ));
        f.actions.push(Action::inspect(format!(
            "{}   (see which rule it is)",
            uncounted[0].show_command()
        )));
    }
    f.actions
        .push(Action::inspect("iptables -L -v -n -x | grep -vE '^ +0 +0'"));
    f.actions.push(Action::inspect("nft list ruleset"));
    f.actions.push(Action::inspect(
        "pktmap trace drops   (NETFILTER_DROP and its location)",
    ));
    f.confidence = Confidence::Medium;
    vec![f]
}

/// rx.8: conntrack table full or insert failures.
pub(super) fn conntrack(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let count = ctx.value("net.netfilter.nf_conntrack_count");
    let max = ctx
        .setting("net.netfilter.nf_conntrack_max")
        .and_then(|m| m.parse::<u64>().ok());
    let (drops, rate) = ctx.sum("nf_conntrack.drop");
    let (early, _) = ctx.sum("nf_conntrack.early_drop");
    let (failed, frate) = ctx.sum("nf_conntrack.insert_failed");
    let full = matches!((count, max), (Some(c), Some(m)) if m > 0 && u128::from(c) * 100 >= u128::from(m) * 95);
    let early_rate = ctx.rate("nf_conntrack.early_drop");
    if Ctx::significant("nf_conntrack.drop", drops, rate, 0.0)
        || Ctx::significant("nf_conntrack.early_drop", early, early_rate, 0.0)
        || full
    {
        let mut f = finding(
            "conntrack",
            "rx.8",
            Severity::Critical,
            "the conntrack table is full: new flows are dropped".into(),
        );
        f.loss = drops > 0;
        f.evidence
            .push(Evidence::moved("nf_conntrack.drop", "", drops, rate));
        f.evidence.push(Evidence::moved(
            "nf_conntrack.early_drop",
            "",
            early,
            early_rate,
        ));
        if let (Some(c), Some(m)) = (count, max) {
            f.evidence.push(Evidence::value(
                "net.netfilter.nf_conntrack_count",
                "",
                format!("{c} of {m}"),
            ));
            f.actions.push(Action::sysctl("net.netfilter.nf_conntrack_max", &m.to_string(), m.saturating_mul(2), "room for the flows this host tracks (each entry costs ~300 bytes); global, shared by every namespace"));
        }
        f.cause =
            "every new flow needs a conntrack entry; when the table is full the packet is dropped \
                   (the kernel log says \"nf_conntrack: table full, dropping packet\")"
                .into();
        f.actions.push(Action::inspect("dmesg | grep conntrack"));
        f.actions.push(Action::inspect("conntrack -S"));
        f.confidence = Confidence::High;
        out.push(f);
    }
    if Ctx::significant("nf_conntrack.insert_failed", failed, frate, 0.0) {
        let mut f = finding(
            "conntrack",
            "rx.8",
            Severity::Warning,
            format!("conntrack insertions fail {frate:.0}/s"),
        );
        f.evidence.push(Evidence::moved(
            "nf_conntrack.insert_failed",
            "",
            failed,
            frate,
        ));
        f.cause = "two packets of a new flow raced to create its entry (typical of UDP DNS with \
                   parallel A/AAAA queries through NAT): one is dropped"
            .into();
        f.actions.push(Action::inspect("conntrack -S"));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn ip_discards_and_rp_filter() {
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("TcpExt.IPReversePathFilter", NONE, 0, 500),
            ],
            &[("net.ipv4.conf.all.rp_filter", "1")],
            vec![],
        );
        let f = run(ip_discards, &a, &b);
        assert_eq!(f[0].stage, "rx.8");
        assert_eq!(f[0].actions[0].proposed.as_deref(), Some("2"));
    }

    #[test]
    fn netfilter_gap_counts_what_ip_never_accounts_for() {
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("Ip.InDelivers", NONE, 0, 4_000),
            ],
            &[],
            vec![],
        );
        let f = run(netfilter_gap, &a, &b);
        assert_eq!(f[0].stage, "rx.8");
        assert!(f[0].title.starts_with("6000"));
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("Ip.InDelivers", NONE, 0, 9_999),
            ],
            &[],
            vec![],
        );
        assert!(run(netfilter_gap, &a, &b).is_empty());
    }

    #[test]
    fn conntrack_full_and_insert_races() {
        let (a, b) = pair(
            &[
                ("nf_conntrack.drop", &[("cpu", "0")], 0, 40),
                ("nf_conntrack.insert_failed", &[("cpu", "0")], 0, 30),
            ],
            &[("net.netfilter.nf_conntrack_max", "1000")],
            vec![],
        );
        let f = run(conntrack, &a, &b);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].severity, Severity::Critical);
    }
}
