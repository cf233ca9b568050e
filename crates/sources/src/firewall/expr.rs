//! An nft rule's expressions back into a short readable rule. The kernel keeps a rule as a
//! small register program (load a header field into a register, mask it, compare it, give a
//! verdict); this follows the registers so `payload` + `cmp` reads `tcp dport 22` again, the
//! way `nft list` prints it. What it cannot name it prints by the expression's name, so a rule
//! is always located and its verdict always known.

use super::Verdict;
use crate::netlink::attrs;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What a register holds.
#[derive(Debug, Clone)]
enum Load {
    Payload { base: u32, offset: u32, len: u32 },
    Meta(u32),
    Ct(u32),
    Masked(Box<Load>, Vec<u8>),
}

/// How a loaded value prints.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fmt {
    Addr,
    Proto,
    IfName,
    NfProto,
    CtState,
    /// A number in network order (header fields).
    Be,
    /// A number in host order (meta and ct keys).
    Host,
    Hex,
    /// A number in host order, shown in hex (marks, status bits).
    HostHex,
    /// The first bytes of an address: a network of that many bytes' prefix.
    Prefix(usize),
    Bytes,
}

/// A rule's expressions, read.
#[derive(Debug, Default)]
pub struct Rendered {
    pub text: String,
    pub verdict: Verdict,
    pub packets: Option<u64>,
    /// A comment carried by an xtables `comment` match (iptables-nft writes some this way).
    pub comment: Option<String>,
}

#[derive(Default)]
struct Vm {
    regs: HashMap<u32, Load>,
    /// The network and transport protocols the rule has matched so far.
    l3: Option<u8>,
    l4: Option<u8>,
    parts: Vec<String>,
    /// `reject with tcp reset`: the kind of reject, said after the verdict.
    reject_with: Option<&'static str>,
    out: Rendered,
}

/// Byte offset of a register in the register file: four 16-byte registers or sixteen
/// 4-byte ones over the same memory.
fn reg(r: u32) -> u32 {
    if r >= 8 {
        (r - 8).saturating_mul(4)
    } else {
        r.saturating_sub(1) * 16
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

fn attr(a: &[(u16, &[u8])], ty: u16) -> Option<Vec<u8>> {
    a.iter().find(|(t, _)| *t == ty).map(|(_, v)| v.to_vec())
}

fn u32_attr(a: &[(u16, &[u8])], ty: u16) -> Option<u32> {
    a.iter().find(|(t, _)| *t == ty).and_then(|(_, v)| be32(v))
}

/// A string attribute without its terminating NUL.
pub fn text(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// NFTA_DATA_VALUE inside a nested data attribute.
fn data_value(b: &[u8]) -> Vec<u8> {
    attr(&attrs(b), 1).unwrap_or_default()
}

/// Reads the NFTA_RULE_EXPRESSIONS list of one rule in `family`.
pub fn render(family: &str, list: &[u8]) -> Rendered {
    let mut vm = Vm {
        l3: match family {
            "ip" => Some(2),
            "ip6" => Some(10),
            _ => None,
        },
        ..Vm::default()
    };
    for (ty, elem) in attrs(list) {
        if ty != 1 {
            continue;
        }
        let e = attrs(elem);
        let name = attr(&e, 1).map(|n| text(&n)).unwrap_or_default();
        let data = attr(&e, 2).unwrap_or_default();
        vm.step(&name, &attrs(&data));
    }
    let verdict = vm.out.verdict.word();
    if vm.out.verdict != Verdict::Continue {
        vm.parts.push(verdict);
    }
    if let Some(with) = vm.reject_with {
        vm.parts.push(with.into());
    }
    vm.out.text = implied_away(&vm.parts).join(" ");
    vm.out
}

/// As nft prints them: without the protocol matches the next part implies (`udp dport 53`,
/// not `meta l4proto udp udp dport 53`), and two bounds as one range.
fn implied_away(parts: &[String]) -> Vec<String> {
    let implies = |this: &str, next: &str| {
        let proto = ["meta l4proto ", "ip protocol ", "ip6 nexthdr "]
            .iter()
            .find_map(|p| this.strip_prefix(p));
        match (proto, this) {
            (Some(p), _) => next.starts_with(&format!("{p} ")),
            (None, "meta nfproto ipv4") => next.starts_with("ip "),
            (None, "meta nfproto ipv6") => next.starts_with("ip6 "),
            _ => false,
        }
    };
    let kept: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(i, p)| !parts.get(i + 1).is_some_and(|n| implies(p, n)))
        .map(|(_, p)| p.as_str())
        .collect();
    // `X >= a` then `X <= b` is the range `X a-b`.
    let mut out: Vec<String> = Vec::new();
    for p in kept {
        let merged = out.last().and_then(|last| {
            let (lhs, lo) = last.split_once(" >= ")?;
            let hi = p.strip_prefix(lhs)?.strip_prefix(" <= ")?;
            Some(format!("{lhs} {lo}-{hi}"))
        });
        match merged {
            Some(m) => *out.last_mut().expect("merged with it") = m,
            None => out.push(p.to_string()),
        }
    }
    out
}

impl Vm {
    fn step(&mut self, name: &str, a: &[(u16, &[u8])]) {
        match name {
            "payload" => match u32_attr(a, 1) {
                Some(dreg) => {
                    let load = Load::Payload {
                        base: u32_attr(a, 2).unwrap_or(0),
                        offset: u32_attr(a, 3).unwrap_or(0),
                        len: u32_attr(a, 4).unwrap_or(0),
                    };
                    self.regs.insert(reg(dreg), load);
                }
                None => self.parts.push("payload set".into()),
            },
            "meta" => match (u32_attr(a, 1), u32_attr(a, 2)) {
                (Some(dreg), Some(key)) => {
                    self.regs.insert(reg(dreg), Load::Meta(key));
                }
                (_, key) => self
                    .parts
                    .push(format!("meta {} set", meta_name(key.unwrap_or(u32::MAX)))),
            },
            "ct" => match (u32_attr(a, 1), u32_attr(a, 2)) {
                (Some(dreg), Some(key)) => {
                    self.regs.insert(reg(dreg), Load::Ct(key));
                }
                (_, key) => self
                    .parts
                    .push(format!("ct {} set", ct_name(key.unwrap_or(u32::MAX)))),
            },
            "bitwise" => {
                let (Some(sreg), Some(dreg)) = (u32_attr(a, 1), u32_attr(a, 2)) else {
                    return;
                };
                let mask = attr(a, 4).map(|m| data_value(&m)).unwrap_or_default();
                if let Some(src) = self.regs.get(&reg(sreg)).cloned() {
                    self.regs
                        .insert(reg(dreg), Load::Masked(Box::new(src), mask));
                }
            }
            "cmp" => {
                let op = match u32_attr(a, 2).unwrap_or(0) {
                    0 => "",
                    1 => "!= ",
                    2 => "< ",
                    3 => "<= ",
                    4 => "> ",
                    _ => ">= ",
                };
                let value = attr(a, 3).map(|d| data_value(&d)).unwrap_or_default();
                let load = u32_attr(a, 1).and_then(|r| self.regs.get(&reg(r)).cloned());
                let part = match load {
                    Some(l) => self.compare(&l, op, &value),
                    None => format!("cmp {op}0x{}", hex(&value)),
                };
                self.parts.push(part);
            }
            "range" => {
                let load = u32_attr(a, 1).and_then(|r| self.regs.get(&reg(r)).cloned());
                let neg = if u32_attr(a, 2) == Some(1) { "!= " } else { "" };
                let from = attr(a, 3).map(|d| data_value(&d)).unwrap_or_default();
                let to = attr(a, 4).map(|d| data_value(&d)).unwrap_or_default();
                let part = match load {
                    Some(l) => {
                        let (lhs, fmt) = self.describe(&l);
                        format!("{lhs} {neg}{}-{}", value(fmt, &from), value(fmt, &to))
                    }
                    None => "range".into(),
                };
                self.parts.push(part);
            }
            "lookup" => {
                let set = attr(a, 1).map(|s| text(&s)).unwrap_or_default();
                let set = if set.starts_with("__set") || set.starts_with("__map") {
                    "{ an anonymous set }".to_string()
                } else {
                    format!("@{set}")
                };
                let neg = u32_attr(a, 5).is_some_and(|f| f & 1 == 1);
                let lhs = u32_attr(a, 2)
                    .and_then(|r| self.regs.get(&reg(r)).cloned())
                    .map_or_else(|| "lookup".into(), |l| self.describe(&l).0);
                match u32_attr(a, 3) {
                    // A verdict map: its elements decide, and any of them may drop.
                    Some(0) => self.out.verdict = Verdict::Other(format!("{lhs} vmap {set}")),
                    Some(_) => self.parts.push(format!("{lhs} map {set}")),
                    None if neg => self.parts.push(format!("{lhs} != {set}")),
                    None => self.parts.push(format!("{lhs} {set}")),
                }
            }
            "immediate" => {
                let data = attr(a, 2).unwrap_or_default();
                let d = attrs(&data);
                if u32_attr(a, 1) == Some(0)
                    && let Some(v) = attr(&d, 2)
                {
                    let v = attrs(&v);
                    let code = u32_attr(&v, 1).unwrap_or(u32::MAX) as i32;
                    let chain = attr(&v, 2).map(|c| text(&c));
                    self.out.verdict = Verdict::from_code(code, chain);
                }
            }
            "counter" => self.out.packets = attr(a, 2).and_then(|p| be64(&p)),
            "reject" => {
                self.out.verdict = Verdict::Reject;
                if u32_attr(a, 1) == Some(1) {
                    self.reject_with = Some("with tcp reset");
                }
            }
            "queue" => self.out.verdict = Verdict::Queue,
            "match" => {
                let m = attr(a, 1).map(|n| text(&n)).unwrap_or_default();
                let info = attr(a, 3).unwrap_or_default();
                if m == "comment" {
                    self.out.comment = Some(text(&info));
                } else {
                    self.parts.push(format!("xt match \"{m}\""));
                }
            }
            "target" => {
                let t = attr(a, 1).map(|n| text(&n)).unwrap_or_default();
                match t.as_str() {
                    "REJECT" => self.out.verdict = Verdict::Reject,
                    "DROP" => self.out.verdict = Verdict::Drop,
                    "ACCEPT" => self.out.verdict = Verdict::Accept,
                    _ => self.parts.push(format!("xt target \"{t}\"")),
                }
            }
            // Register shuffles that print nothing of their own.
            "byteorder" => {}
            other => self.parts.push(other.to_string()),
        }
    }

    /// The left side of a match and how its value prints.
    fn describe(&self, l: &Load) -> (String, Fmt) {
        match l {
            Load::Meta(k) => (format!("meta {}", meta_name(*k)), meta_fmt(*k)),
            Load::Ct(k) => (format!("ct {}", ct_name(*k)), ct_fmt(*k)),
            Load::Masked(inner, mask) => {
                let (lhs, fmt) = self.describe(inner);
                match fmt {
                    Fmt::Addr | Fmt::CtState => (lhs, fmt),
                    Fmt::HostHex => (format!("{lhs} & {}", value(fmt, mask)), fmt),
                    _ => (format!("{lhs} & 0x{}", hex(mask)), Fmt::Hex),
                }
            }
            Load::Payload { base, offset, len } => self.payload(*base, *offset, *len),
        }
    }

    fn payload(&self, base: u32, offset: u32, len: u32) -> (String, Fmt) {
        let named = match (base, self.l3, offset, len) {
            (1, Some(2), 9, 1) => Some(("ip protocol", Fmt::Proto)),
            (1, Some(2), 12, 4) => Some(("ip saddr", Fmt::Addr)),
            (1, Some(2), 16, 4) => Some(("ip daddr", Fmt::Addr)),
            (1, Some(2), 8, 1) => Some(("ip ttl", Fmt::Be)),
            (1, Some(10), 6, 1) => Some(("ip6 nexthdr", Fmt::Proto)),
            (1, Some(10), 8, 16) => Some(("ip6 saddr", Fmt::Addr)),
            (1, Some(10), 24, 16) => Some(("ip6 daddr", Fmt::Addr)),
            (1, Some(10), 7, 1) => Some(("ip6 hoplimit", Fmt::Be)),
            // iptables-nft matches a network by loading only its prefix's bytes.
            (1, Some(2), 12, 1..4) => Some(("ip saddr", Fmt::Prefix(4))),
            (1, Some(2), 16, 1..4) => Some(("ip daddr", Fmt::Prefix(4))),
            (1, Some(10), 8, 1..16) => Some(("ip6 saddr", Fmt::Prefix(16))),
            (1, Some(10), 24, 1..16) => Some(("ip6 daddr", Fmt::Prefix(16))),
            _ => None,
        };
        if let Some((n, f)) = named {
            return (n.into(), f);
        }
        if (base, offset, len) == (0, 12, 2) {
            return ("ether type".into(), Fmt::Hex);
        }
        if base == 2 {
            let proto = match self.l4 {
                Some(6) => "tcp",
                Some(17) => "udp",
                Some(132) => "sctp",
                Some(1) => "icmp",
                Some(58) => "icmpv6",
                _ => "th",
            };
            let field = match (proto, offset, len) {
                ("icmp" | "icmpv6", 0, 1) => Some("type"),
                ("icmp" | "icmpv6", 1, 1) => Some("code"),
                ("tcp", 13, 1) => Some("flags"),
                (_, 0, 2) if !proto.starts_with("icmp") => Some("sport"),
                (_, 2, 2) if !proto.starts_with("icmp") => Some("dport"),
                _ => None,
            };
            if let Some(field) = field {
                let fmt = if field == "flags" { Fmt::Hex } else { Fmt::Be };
                return (format!("{proto} {field}"), fmt);
            }
        }
        let b = match base {
            0 => "@ll",
            1 => "@nh",
            2 => "@th",
            _ => "@ih",
        };
        (
            format!("{b},{},{}", u64::from(offset) * 8, u64::from(len) * 8),
            Fmt::Bytes,
        )
    }

    fn compare(&mut self, l: &Load, op: &str, v: &[u8]) -> String {
        let (lhs, fmt) = self.describe(l);
        if let Load::Masked(inner, mask) = l {
            let (ilhs, ifmt) = self.describe(inner);
            // `ct state established,related` is (state & mask) != 0.
            if ifmt == Fmt::CtState && v.iter().all(|b| *b == 0) {
                let neg = if op.is_empty() { "!= " } else { "" };
                return format!("{ilhs} {neg}{}", value(Fmt::CtState, mask));
            }
            // An address under a prefix mask is a network.
            if ifmt == Fmt::Addr
                && let Some(bits) = prefix_len(mask)
            {
                return format!("{ilhs} {op}{}/{bits}", value(Fmt::Addr, v));
            }
        }
        if op.is_empty() {
            match fmt {
                Fmt::Proto => self.l4 = v.first().copied(),
                Fmt::NfProto => self.l3 = v.first().copied(),
                _ => {}
            }
        }
        format!("{lhs} {op}{}", value(fmt, v))
    }
}

fn prefix_len(mask: &[u8]) -> Option<u32> {
    let bits: u32 = mask.iter().map(|b| b.count_ones()).sum();
    let contiguous = mask
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1))
        .skip(bits as usize)
        .all(|b| b == 0);
    contiguous.then_some(bits)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn value(fmt: Fmt, v: &[u8]) -> String {
    let host = |v: &[u8]| -> u64 {
        let mut b = [0u8; 8];
        let n = v.len().min(8);
        b[..n].copy_from_slice(&v[..n]);
        u64::from_le_bytes(b)
    };
    match fmt {
        Fmt::Addr if v.len() == 4 => Ipv4Addr::from(<[u8; 4]>::try_from(v).expect("4")).to_string(),
        Fmt::Addr if v.len() == 16 => {
            Ipv6Addr::from(<[u8; 16]>::try_from(v).expect("16")).to_string()
        }
        Fmt::Proto => match v.first() {
            Some(6) => "tcp".into(),
            Some(17) => "udp".into(),
            Some(1) => "icmp".into(),
            Some(58) => "icmpv6".into(),
            Some(132) => "sctp".into(),
            Some(47) => "gre".into(),
            Some(50) => "esp".into(),
            Some(n) => n.to_string(),
            None => "?".into(),
        },
        Fmt::IfName => {
            let name = text(v);
            // A name compared on fewer bytes than its NUL is a prefix (`eth*`).
            if v.contains(&0) {
                format!("\"{name}\"")
            } else {
                format!("\"{name}*\"")
            }
        }
        Fmt::NfProto => match v.first() {
            Some(2) => "ipv4".into(),
            Some(10) => "ipv6".into(),
            _ => format!("0x{}", hex(v)),
        },
        Fmt::CtState => {
            let bits = host(v);
            let names: Vec<&str> = [
                (1, "invalid"),
                (2, "established"),
                (4, "related"),
                (8, "new"),
                (64, "untracked"),
            ]
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| *n)
            .collect();
            if names.is_empty() {
                format!("0x{bits:x}")
            } else {
                names.join(",")
            }
        }
        Fmt::Be if v.len() <= 8 => v
            .iter()
            .fold(0u64, |a, b| a << 8 | u64::from(*b))
            .to_string(),
        Fmt::Host if v.len() <= 8 => host(v).to_string(),
        Fmt::Hex => format!("0x{}", hex(v)),
        Fmt::HostHex if v.len() <= 8 => format!("0x{:x}", host(v)),
        Fmt::Prefix(full) if v.len() < full => {
            let mut a = v.to_vec();
            a.resize(full, 0);
            format!("{}/{}", value(Fmt::Addr, &a), v.len() * 8)
        }
        Fmt::Prefix(_) => value(Fmt::Addr, v),
        _ => format!("0x{}", hex(v)),
    }
}

fn meta_name(k: u32) -> &'static str {
    const NAMES: &[&str] = &[
        "length",
        "protocol",
        "priority",
        "mark",
        "iif",
        "oif",
        "iifname",
        "oifname",
        "iiftype",
        "oiftype",
        "skuid",
        "skgid",
        "nftrace",
        "rtclassid",
        "secmark",
        "nfproto",
        "l4proto",
        "ibrname",
        "obrname",
        "pkttype",
        "cpu",
        "iifgroup",
        "oifgroup",
        "cgroup",
        "random",
        "secpath",
        "iifkind",
        "oifkind",
    ];
    NAMES.get(k as usize).copied().unwrap_or("key")
}

fn meta_fmt(k: u32) -> Fmt {
    match k {
        6 | 7 | 17 | 18 | 26 | 27 => Fmt::IfName,
        15 => Fmt::NfProto,
        16 => Fmt::Proto,
        3 => Fmt::HostHex,
        1 => Fmt::Hex,
        _ => Fmt::Host,
    }
}

fn ct_name(k: u32) -> &'static str {
    const NAMES: &[&str] = &[
        "state",
        "direction",
        "status",
        "mark",
        "secmark",
        "expiration",
        "helper",
        "l3proto",
        "saddr",
        "daddr",
        "protocol",
        "proto-src",
        "proto-dst",
        "label",
        "packets",
        "bytes",
        "avgpkt",
        "zone",
        "event",
        "ip saddr",
        "ip daddr",
        "ip6 saddr",
        "ip6 daddr",
        "id",
    ];
    NAMES.get(k as usize).copied().unwrap_or("key")
}

fn ct_fmt(k: u32) -> Fmt {
    match k {
        0 => Fmt::CtState,
        2 | 3 => Fmt::HostHex,
        8 | 9 | 19..=22 => Fmt::Addr,
        6 => Fmt::IfName,
        _ => Fmt::Host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::testing::nla;

    fn u32a(ty: u16, v: u32) -> Vec<u8> {
        nla(ty, &v.to_be_bytes())
    }

    fn expr(name: &str, data: &[Vec<u8>]) -> Vec<u8> {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        let mut e = nla(1, &n);
        e.extend(nla(2, &data.concat()));
        nla(1, &e)
    }

    fn value(ty: u16, v: &[u8]) -> Vec<u8> {
        nla(ty, &nla(1, v))
    }

    fn verdict(code: i32) -> Vec<u8> {
        nla(2, &nla(2, &u32a(1, code as u32)))
    }

    #[test]
    fn a_port_match_with_a_counter_and_a_drop_reads_as_nft_prints_it() {
        let list = [
            expr("meta", &[u32a(2, 16), u32a(1, 8)]),
            expr("cmp", &[u32a(1, 8), u32a(2, 0), value(3, &[17])]),
            expr("payload", &[u32a(1, 8), u32a(2, 2), u32a(3, 2), u32a(4, 2)]),
            expr(
                "cmp",
                &[u32a(1, 8), u32a(2, 0), value(3, &9401u16.to_be_bytes())],
            ),
            expr(
                "counter",
                &[nla(1, &1234u64.to_be_bytes()), nla(2, &56u64.to_be_bytes())],
            ),
            expr("immediate", &[u32a(1, 0), verdict(0)]),
        ]
        .concat();
        let r = render("inet", &list);
        assert_eq!(r.text, "udp dport 9401 drop");
        assert_eq!(r.verdict, Verdict::Drop);
        assert_eq!(r.packets, Some(56));
    }

    #[test]
    fn networks_states_sets_and_jumps() {
        let list = [
            expr(
                "payload",
                &[u32a(1, 1), u32a(2, 1), u32a(3, 12), u32a(4, 4)],
            ),
            expr(
                "bitwise",
                &[
                    u32a(1, 1),
                    u32a(2, 1),
                    u32a(3, 4),
                    value(4, &[255, 0, 0, 0]),
                    value(5, &[0; 4]),
                ],
            ),
            expr("cmp", &[u32a(1, 1), u32a(2, 0), value(3, &[10, 0, 0, 0])]),
            expr("ct", &[u32a(2, 0), u32a(1, 1)]),
            expr(
                "bitwise",
                &[
                    u32a(1, 1),
                    u32a(2, 1),
                    u32a(3, 4),
                    value(4, &6u32.to_le_bytes()),
                    value(5, &[0; 4]),
                ],
            ),
            expr("cmp", &[u32a(1, 1), u32a(2, 1), value(3, &[0; 4])]),
            expr(
                "payload",
                &[u32a(1, 1), u32a(2, 1), u32a(3, 16), u32a(4, 4)],
            ),
            expr("lookup", &[nla(1, b"blocked\0"), u32a(2, 1), u32a(5, 1)]),
            expr(
                "immediate",
                &[
                    u32a(1, 0),
                    nla(
                        2,
                        &nla(2, &[u32a(1, (-3i32) as u32), nla(2, b"KUBE-FW\0")].concat()),
                    ),
                ],
            ),
        ]
        .concat();
        let r = render("ip", &list);
        assert_eq!(
            r.text,
            "ip saddr 10.0.0.0/8 ct state established,related ip daddr != @blocked jump KUBE-FW"
        );
        assert_eq!(r.verdict, Verdict::Jump("KUBE-FW".into()));
        assert_eq!(r.packets, None, "no counter expression");
    }

    #[test]
    fn xtables_targets_and_unknown_expressions_keep_the_verdict_known() {
        let list = [
            expr("match", &[nla(1, b"comment\0"), nla(3, b"kube drop\0\0\0")]),
            expr("target", &[nla(1, b"REJECT\0")]),
        ]
        .concat();
        let r = render("ip", &list);
        assert_eq!(
            (r.verdict.clone(), r.comment.as_deref()),
            (Verdict::Reject, Some("kube drop"))
        );
        let odd = render(
            "ip",
            &[
                expr("quota", &[]),
                expr("immediate", &[u32a(1, 0), verdict(1)]),
            ]
            .concat(),
        );
        assert_eq!(odd.text, "quota accept");
    }

    #[test]
    fn garbage_renders_something_and_never_panics() {
        for cut in 0..40 {
            let list = [
                expr("payload", &[u32a(1, 1), u32a(2, 2), u32a(3, 2), u32a(4, 2)]),
                expr("cmp", &[u32a(1, 1), value(3, &[1, 2, 3])]),
            ]
            .concat();
            let _ = render("inet", &list[..cut.min(list.len())]);
        }
        let r = render(
            "inet",
            &[expr("cmp", &[u32a(1, 99), value(3, &[7])])].concat(),
        );
        assert_eq!(r.text, "cmp 0x07");
    }
}
