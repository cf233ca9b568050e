//! Legacy `ip_tables` and `ip6_tables` through their getsockopt interface
//! (IPT_SO_GET_INFO, then IPT_SO_GET_ENTRIES), the way `iptables-legacy-save` reads them.
//! A table is read only when `/proc/net/ip_tables_names` lists it: asking for one that is not
//! loaded would create it in the namespace, and pktmap changes nothing.
//!
//! A table's bytes, live and in a capture, are its `ipt_getinfo` (84 bytes) followed by its
//! entries: each an `ipt_entry` (or `ip6t_entry`) with its counters, its matches and its
//! target. A user chain begins with an `ERROR` target naming it and ends with a RETURN; a
//! built-in chain's policy is the entry at its hook's underflow.

use super::{Chain, Rule, Verdict};
use crate::error::ParseError;
use std::collections::HashMap;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

const INFO_LEN: usize = 84;
const SO_GET_INFO: libc::c_int = 64;
const SO_GET_ENTRIES: libc::c_int = 65;
const CHAINS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
const HOOKS: [&str; 5] = ["prerouting", "input", "forward", "output", "postrouting"];

/// Where the fields of an entry sit, for IPv4 or IPv6.
struct Layout {
    /// sizeof(ipt_entry) / sizeof(ip6t_entry).
    entry: usize,
    addr: usize,
    iface: usize,
    proto: usize,
    flags: usize,
    invflags: usize,
    target_offset: usize,
    counters: usize,
    goto_flag: u8,
}

const V4: Layout = Layout {
    entry: 112,
    addr: 4,
    iface: 16,
    proto: 80,
    flags: 82,
    invflags: 83,
    target_offset: 88,
    counters: 96,
    goto_flag: 0x02,
};

const V6: Layout = Layout {
    entry: 168,
    addr: 16,
    iface: 64,
    proto: 128,
    flags: 131,
    invflags: 132,
    target_offset: 140,
    counters: 152,
    goto_flag: 0x04,
};

/// Reads a loaded table of the calling thread's namespace: its info and its entries.
pub fn read_live(v6: bool, table: &str) -> std::io::Result<Vec<u8>> {
    let (domain, level) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_IPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_IP)
    };
    // SAFETY: a plain socket call; the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let get = |opt, buf: &mut [u8]| -> std::io::Result<()> {
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: buf is valid for len bytes and the kernel writes at most len.
        let r = unsafe { libc::getsockopt(raw, level, opt, buf.as_mut_ptr().cast(), &mut len) };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    let name = table.as_bytes();
    if name.len() >= 32 {
        return Err(std::io::Error::other("table name too long"));
    }
    // The table may change between the two calls (EAGAIN): ask again.
    for _ in 0..3 {
        let mut info = [0u8; INFO_LEN];
        info[..name.len()].copy_from_slice(name);
        get(SO_GET_INFO, &mut info)?;
        let size = u32::from_ne_bytes(info[80..84].try_into().expect("4")) as usize;
        let mut buf = vec![0u8; 40 + size];
        buf[..name.len()].copy_from_slice(name);
        buf[32..36].copy_from_slice(&(size as u32).to_ne_bytes());
        match get(SO_GET_ENTRIES, &mut buf) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(e),
            Ok(()) => {
                let mut out = info.to_vec();
                out.extend_from_slice(&buf[40..]);
                return Ok(out);
            }
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::EAGAIN))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4"))
}

fn cstr(b: &[u8]) -> String {
    super::expr::text(b)
}

/// One entry's parts.
struct Entry<'a> {
    offset: usize,
    head: &'a [u8],
    matches: &'a [u8],
    target_name: String,
    target_data: &'a [u8],
}

/// A table's chains and rules.
pub fn parse(v6: bool, table: &str, bytes: &[u8]) -> Result<(Vec<Chain>, Vec<Rule>), ParseError> {
    let l = if v6 { &V6 } else { &V4 };
    let family = if v6 { "ip6" } else { "ip" };
    if bytes.len() < INFO_LEN {
        return Err(ParseError::new(
            1,
            "ipt_getinfo",
            format!("{} bytes, not {INFO_LEN}", bytes.len()),
        ));
    }
    let valid = u32_at(bytes, 32);
    let hook_entry: Vec<usize> = (0..5).map(|i| u32_at(bytes, 36 + 4 * i) as usize).collect();
    let underflow: Vec<usize> = (0..5).map(|i| u32_at(bytes, 56 + 4 * i) as usize).collect();
    let size = u32_at(bytes, 80) as usize;
    let blob = &bytes[INFO_LEN..];
    if blob.len() != size {
        return Err(ParseError::new(
            1,
            "size",
            format!("entries of {} bytes for a table of {size}", blob.len()),
        ));
    }
    let mut entries = Vec::new();
    let mut off = 0;
    while off < size {
        let n = entries.len() + 1;
        let e = blob.get(off..off + l.entry).ok_or_else(|| {
            ParseError::new(
                n,
                "ipt_entry",
                format!("ends inside an entry at byte {off}"),
            )
        })?;
        let (target_offset, next) = (
            u16_at(e, l.target_offset) as usize,
            u16_at(e, l.target_offset + 2) as usize,
        );
        if target_offset < l.entry || next < target_offset + 32 || off + next > size {
            return Err(ParseError::new(
                n,
                "next_offset",
                format!("target at {target_offset}, next at {next} in an entry at byte {off}"),
            ));
        }
        let whole = &blob[off..off + next];
        let target = &whole[target_offset..];
        entries.push(Entry {
            offset: off,
            head: e,
            matches: &whole[l.entry..target_offset],
            target_name: cstr(&target[2..31]),
            target_data: &target[32..],
        });
        off += next;
    }

    // Where each chain's rules begin.
    let mut starts: HashMap<usize, (String, Option<usize>)> = HashMap::new();
    for h in (0..5).filter(|h| valid & (1 << h) != 0) {
        starts.insert(hook_entry[h], (CHAINS[h].to_string(), Some(h)));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.target_name == "ERROR"
            && let Some(next) = entries.get(i + 1)
        {
            starts.insert(next.offset, (cstr(e.target_data), None));
        }
    }
    let chain_at = |offset: usize| starts.get(&offset).map(|(n, _)| n.clone());

    let mut chains = Vec::new();
    let mut rules = Vec::new();
    let mut current: Option<(String, Option<usize>)> = None;
    let mut number = 0;
    for (i, e) in entries.iter().enumerate() {
        if let Some(start) = starts.get(&e.offset) {
            current = Some(start.clone());
            number = 0;
            if start.1.is_none() {
                chains.push(Chain {
                    family,
                    table: table.into(),
                    name: start.0.clone(),
                    legacy: true,
                    ..Chain::default()
                });
            }
        }
        if e.target_name == "ERROR" {
            continue;
        }
        let Some((chain, hook)) = &current else {
            continue;
        };
        let packets = u64::from_ne_bytes(e.head[l.counters..l.counters + 8].try_into().expect("8"));
        let verdict = verdict_of(e, l, &chain_at);
        if let Some(h) = hook.filter(|h| underflow[*h] == e.offset) {
            chains.push(Chain {
                family,
                table: table.into(),
                name: chain.clone(),
                hook: Some((HOOKS[h], 0)),
                policy: Some(verdict),
                packets: Some(packets),
                legacy: true,
            });
            continue;
        }
        // A user chain's closing RETURN is not a rule of its.
        let last = entries.get(i + 1).is_none_or(|n| n.target_name == "ERROR");
        if hook.is_none() && verdict == Verdict::Return && last {
            continue;
        }
        number += 1;
        let (text, comment) = render(e, l, &verdict);
        rules.push(Rule {
            family,
            table: table.into(),
            chain: chain.clone(),
            id: number.to_string(),
            text,
            verdict,
            packets: Some(packets),
            comment,
            legacy: true,
        });
    }
    Ok((chains, rules))
}

fn verdict_of(e: &Entry, l: &Layout, chain_at: &dyn Fn(usize) -> Option<String>) -> Verdict {
    match e.target_name.as_str() {
        "" if e.target_data.len() >= 4 => {
            let v = i32::from_ne_bytes(e.target_data[..4].try_into().expect("4"));
            if v == -5 {
                Verdict::Return
            } else if v < 0 {
                // -NF_DROP - 1 and so on; i32::MIN has no negation.
                let code = -i64::from(v) - 1;
                Verdict::from_code(i32::try_from(code).unwrap_or(i32::MAX), None)
            } else {
                let to = chain_at(v as usize).unwrap_or_else(|| format!("offset {v}"));
                if e.head[l.flags] & l.goto_flag != 0 {
                    Verdict::Goto(to)
                } else {
                    Verdict::Jump(to)
                }
            }
        }
        "REJECT" => Verdict::Reject,
        "DROP" => Verdict::Drop,
        "ACCEPT" => Verdict::Accept,
        other => Verdict::Other(other.to_string()),
    }
}

/// The rule as `iptables-save` would print it (without the chain), and its comment.
fn render(e: &Entry, l: &Layout, verdict: &Verdict) -> (String, Option<String>) {
    let h = e.head;
    let inv = |bit: u8| if h[l.invflags] & bit != 0 { "! " } else { "" };
    let mut s = String::new();
    for (i, opt, bit) in [(0, "-s", 0x08), (1, "-d", 0x10)] {
        let at = i * l.addr;
        let mask = &h[2 * l.addr + at..2 * l.addr + at + l.addr];
        if mask.iter().any(|b| *b != 0) {
            let addr = &h[at..at + l.addr];
            let bits: u32 = mask.iter().map(|b| b.count_ones()).sum();
            let shown = if l.addr == 4 {
                Ipv4Addr::from(<[u8; 4]>::try_from(addr).expect("4")).to_string()
            } else {
                Ipv6Addr::from(<[u8; 16]>::try_from(addr).expect("16")).to_string()
            };
            let _ = write!(s, " {}{opt} {shown}/{bits}", inv(bit));
        }
    }
    for (i, opt, bit) in [(0, "-i", 0x01), (1, "-o", 0x02)] {
        let name = cstr(&h[l.iface + 16 * i..l.iface + 16 * (i + 1)]);
        if !name.is_empty() {
            let _ = write!(s, " {}{opt} {name}", inv(bit));
        }
    }
    let proto = u16_at(h, l.proto);
    if proto != 0 {
        let name = match proto {
            6 => "tcp".to_string(),
            17 => "udp".into(),
            1 => "icmp".into(),
            58 => "ipv6-icmp".into(),
            n => n.to_string(),
        };
        let _ = write!(s, " {}-p {name}", inv(0x40));
    }
    let mut comment = None;
    let mut off = 0;
    while off + 32 <= e.matches.len() {
        let size = u16_at(e.matches, off) as usize;
        if size < 32 || off + size > e.matches.len() {
            break;
        }
        let name = cstr(&e.matches[off + 2..off + 31]);
        let data = &e.matches[off + 32..off + size];
        match name.as_str() {
            "tcp" | "udp" if data.len() >= 8 => {
                let port = |at: usize| u16_at(data, at);
                for (opt, lo, hi) in [("--sport", port(0), port(2)), ("--dport", port(4), port(6))]
                {
                    match (lo, hi) {
                        (0, 65535) => {}
                        (a, b) if a == b => {
                            let _ = write!(s, " {opt} {a}");
                        }
                        (a, b) => {
                            let _ = write!(s, " {opt} {a}:{b}");
                        }
                    }
                }
            }
            "comment" => {
                let c = cstr(data);
                let _ = write!(s, " -m comment --comment \"{c}\"");
                comment = Some(c);
            }
            other => {
                let _ = write!(s, " -m {other}");
            }
        }
        off += size;
    }
    let target = match verdict {
        Verdict::Drop => "-j DROP".to_string(),
        Verdict::Accept => "-j ACCEPT".into(),
        Verdict::Reject => "-j REJECT".into(),
        Verdict::Return => "-j RETURN".into(),
        Verdict::Queue => "-j QUEUE".into(),
        Verdict::Jump(c) => format!("-j {c}"),
        Verdict::Goto(c) => format!("-g {c}"),
        Verdict::Continue => String::new(),
        Verdict::Other(t) => format!("-j {t}"),
    };
    let _ = write!(s, " {target}");
    (s.trim().to_string(), comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 entry: a UDP port match, a comment, and a standard or named target.
    fn entry(
        dport: Option<u16>,
        comment: Option<&str>,
        target: &str,
        verdict: i32,
        pcnt: u64,
    ) -> Vec<u8> {
        let mut head = vec![0u8; 112];
        let mut matches = Vec::new();
        if let Some(p) = dport {
            head[80..82].copy_from_slice(&17u16.to_ne_bytes());
            let mut m = vec![0u8; 32 + 12];
            m[..2].copy_from_slice(&44u16.to_ne_bytes());
            m[2..5].copy_from_slice(b"udp");
            m[32..34].copy_from_slice(&0u16.to_ne_bytes());
            m[34..36].copy_from_slice(&65535u16.to_ne_bytes());
            m[36..38].copy_from_slice(&p.to_ne_bytes());
            m[38..40].copy_from_slice(&p.to_ne_bytes());
            matches.extend(m);
        }
        if let Some(c) = comment {
            let mut m = vec![0u8; 32 + 256];
            m[..2].copy_from_slice(&288u16.to_ne_bytes());
            m[2..9].copy_from_slice(b"comment");
            m[32..32 + c.len()].copy_from_slice(c.as_bytes());
            matches.extend(m);
        }
        let mut t = vec![0u8; 40];
        t[..2].copy_from_slice(&40u16.to_ne_bytes());
        t[2..2 + target.len()].copy_from_slice(target.as_bytes());
        t[32..36].copy_from_slice(&verdict.to_ne_bytes());
        if target == "ERROR" {
            t = vec![0u8; 64];
            t[..2].copy_from_slice(&64u16.to_ne_bytes());
            t[2..7].copy_from_slice(b"ERROR");
            let name = if verdict == 0 { "ERROR" } else { "BLOCK" };
            t[32..32 + name.len()].copy_from_slice(name.as_bytes());
        }
        let target_offset = 112 + matches.len();
        head[88..90].copy_from_slice(&(target_offset as u16).to_ne_bytes());
        head[90..92].copy_from_slice(&((target_offset + t.len()) as u16).to_ne_bytes());
        head[96..104].copy_from_slice(&pcnt.to_ne_bytes());
        [head, matches, t].concat()
    }

    /// filter with INPUT (policy DROP): a UDP DROP, a jump to BLOCK; BLOCK: a REJECT.
    fn table() -> Vec<u8> {
        let parts = [
            entry(Some(9401), Some("no dns"), "", -1, 77), // INPUT 1: DROP
            entry(None, None, "", 0, 5),                   // INPUT 2: jump BLOCK (offset patched)
            entry(None, None, "", -1, 12),                 // INPUT policy DROP
            entry(None, None, "ERROR", 1, 0),              // BLOCK head
            entry(None, None, "REJECT", 0, 3),             // BLOCK 1
            entry(None, None, "", -5, 0),                  // BLOCK's RETURN
            entry(None, None, "ERROR", 0, 0),              // end
        ];
        let offs: Vec<usize> = parts
            .iter()
            .scan(0, |o, p| {
                let here = *o;
                *o += p.len();
                Some(here)
            })
            .collect();
        let mut parts = parts.to_vec();
        // The jump goes to BLOCK's first rule.
        let t = u16_at(&parts[1], 88) as usize;
        parts[1][t + 32..t + 36].copy_from_slice(&(offs[4] as i32).to_ne_bytes());
        let blob = parts.concat();
        let mut info = vec![0u8; 84];
        info[..6].copy_from_slice(b"filter");
        info[32..36].copy_from_slice(&0b00010u32.to_ne_bytes());
        for h in 1..2 {
            info[36 + 4 * h..40 + 4 * h].copy_from_slice(&0u32.to_ne_bytes());
            info[56 + 4 * h..60 + 4 * h].copy_from_slice(&(offs[2] as u32).to_ne_bytes());
        }
        info[80..84].copy_from_slice(&(blob.len() as u32).to_ne_bytes());
        [info, blob].concat()
    }

    #[test]
    fn rules_policies_and_user_chains_of_a_legacy_table() {
        let (chains, rules) = parse(false, "filter", &table()).unwrap();
        let input = chains.iter().find(|c| c.name == "INPUT").unwrap();
        assert_eq!(
            (input.policy.clone(), input.packets),
            (Some(Verdict::Drop), Some(12))
        );
        assert_eq!(input.hook, Some(("input", 0)));
        assert!(chains.iter().any(|c| c.name == "BLOCK" && c.hook.is_none()));
        let shown: Vec<(&str, &str, &str)> = rules
            .iter()
            .map(|r| (r.chain.as_str(), r.id.as_str(), r.text.as_str()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "INPUT",
                    "1",
                    "-p udp --dport 9401 -m comment --comment \"no dns\" -j DROP"
                ),
                ("INPUT", "2", "-j BLOCK"),
                ("BLOCK", "1", "-j REJECT"),
            ]
        );
        assert_eq!(rules[0].comment.as_deref(), Some("no dns"));
        assert_eq!(rules[0].packets, Some(77));
    }

    #[test]
    fn truncated_and_inconsistent_tables_are_errors_naming_the_field() {
        let t = table();
        assert_eq!(
            parse(false, "filter", &t[..50]).unwrap_err().field,
            "ipt_getinfo"
        );
        assert_eq!(
            parse(false, "filter", &t[..t.len() - 8]).unwrap_err().field,
            "size"
        );
        let mut bad = t.clone();
        bad[84 + 90..84 + 92].copy_from_slice(&9000u16.to_ne_bytes());
        assert_eq!(
            parse(false, "filter", &bad).unwrap_err().field,
            "next_offset"
        );
        for cut in (84..t.len()).step_by(7) {
            let mut short = t[..cut].to_vec();
            short[80..84].copy_from_slice(&((cut - 84) as u32).to_ne_bytes());
            let _ = parse(false, "filter", &short);
        }
    }
}
