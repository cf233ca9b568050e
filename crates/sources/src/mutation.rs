//! Mutation testing of every parser on stable Rust: real captures are mutated (bit flips,
//! inserted and deleted bytes, cut lines, repeated lines, digits turned huge) and fed to the
//! parser, which must return, never panic. Not coverage-guided (cargo-fuzz needs nightly); the
//! iteration count is `PKTMAP_FUZZ_ITERS` per parser and seed (default 100; long runs by hand).

use crate::collectors::{
    conntrack, ethtool, interrupts, link, netdev, pressure, procs, qdisc, snmp, snmp6, sockets,
    sockstat, softirqs, softnet,
};
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len().max(1));
        let last = v.len().saturating_sub(1);
        match rng.below(8) {
            0 if !v.is_empty() => v[at.min(last)] ^= 1 << rng.below(8),
            1 => v.insert(at.min(v.len()), rng.next() as u8),
            2 if !v.is_empty() => {
                v.remove(at.min(last));
            }
            3 => v.truncate(at),
            4 => {
                // Repeat a slice (a duplicated line or message).
                let len = rng.below(64).min(v.len().saturating_sub(at));
                let piece = v[at..at + len].to_vec();
                v.splice(at..at, piece);
            }
            5 => v
                .splice(
                    at.min(v.len())..at.min(v.len()),
                    b"99999999999999999999999".iter().copied(),
                )
                .for_each(drop),
            6 if !v.is_empty() => {
                v[at.min(last)] = [b' ', b'\n', b':', b'\t', 0, 0xff][rng.below(6)]
            }
            _ => v.extend_from_slice(&seed[..rng.below(seed.len())]),
        }
    }
    v
}

fn iterations() -> usize {
    std::env::var("PKTMAP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// Feeds `parse` every seed and `iterations()` mutants of each; returns how many inputs ran.
fn run(name: &str, seeds: &[Vec<u8>], parse: impl Fn(&[u8])) -> usize {
    let mut rng = Rng(0x5eed ^ (name.len() as u64 * 0x9e37_79b9));
    let mut n = 0;
    for s in seeds {
        parse(s);
        for _ in 0..iterations() {
            parse(&mutate(&mut rng, s));
            n += 1;
        }
    }
    n
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn files(dir: &str) -> Vec<Vec<u8>> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(dir);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    out.sort();
    out
}

fn file(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn every_parser_survives_mutated_captures() {
    let host = "hosts/vm-udp-flood/t1";
    let mut total = 0;
    total += run("softnet", &files("public/softnet_stat"), |b| {
        drop(softnet::parse_softnet_stat(&text(b)))
    });
    total += run("snmp", &files("public/netstat-snmp"), |b| {
        drop(snmp::parse_snmp_pairs(&text(b)))
    });
    total += run("snmp6", &[file(&format!("{host}/proc/net/snmp6"))], |b| {
        drop(snmp6::parse_snmp6(&text(b)))
    });
    total += run("netdev", &[file(&format!("{host}/proc/net/dev"))], |b| {
        drop(netdev::parse_net_dev(&text(b)))
    });
    total += run(
        "sockstat",
        &[file(&format!("{host}/proc/net/sockstat"))],
        |b| drop(sockstat::parse_sockstat(&text(b))),
    );
    total += run("conntrack", &files("public/nf_conntrack"), |b| {
        drop(conntrack::parse_nf_conntrack_stat(&text(b)))
    });
    total += run("softirqs", &[file(&format!("{host}/proc/softirqs"))], |b| {
        drop(softirqs::parse_softirqs(&text(b)))
    });
    total += run("interrupts", &files("public/interrupts")[..6], |b| {
        if let Ok(rows) = interrupts::parse_interrupts(&text(b)) {
            for r in &rows {
                for a in r.actions() {
                    let _ = interrupts::identify_queue(a, &Default::default());
                }
            }
        }
    });
    total += run(
        "pressure",
        &[file(&format!("{host}/proc/pressure/cpu"))],
        |b| drop(pressure::parse_pressure(&text(b))),
    );
    total += run(
        "proc-stat",
        &[b"14 (ksoftirqd/1) S 2 0 0 0 -1 69238848 0 0 0 0 7 31 0 0 20 0 1 0 3".to_vec()],
        |b| {
            let _ = procs::parse_stat(&text(b));
        },
    );
    total += run("ethtool-S", &files("public/ethtool-S"), |b| {
        drop(ethtool::parse_ethtool_s(&text(b)))
    });
    total += run("ethtool-other", &files("public/ethtool-other"), |b| {
        let _ = ethtool::parse_sections(&text(b));
        let m = ethtool::parse_keyed(&text(b));
        let _ = m.get("table").map(|t| ethtool::indirection_summary(t));
    });
    total += run(
        "rtnl-links",
        &[file(&format!("{host}/netlink/rtnl-links.bin"))],
        |b| drop(link::parse_links(b)),
    );
    total += run(
        "rtnl-qdiscs",
        &[file(&format!("{host}/netlink/rtnl-qdiscs.bin"))],
        |b| drop(qdisc::parse_qdiscs(b)),
    );
    total += run(
        "sock-diag",
        &[
            file(&format!("{host}/netlink/sockdiag-2-17.bin")),
            file(&format!("{host}/netlink/sockdiag-2-6.bin")),
        ],
        |b| drop(sockets::parse_inet_diag(b, "udp")),
    );
    eprintln!("mutation: {total} inputs, no panic");
    assert!(total > 0);
}
