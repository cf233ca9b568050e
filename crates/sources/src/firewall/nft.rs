//! nftables chain and rule dumps (NFT_MSG_GETCHAIN, NFT_MSG_GETRULE over nfnetlink) into a
//! [`Ruleset`]. Integers in nftables attributes are in network order.

use super::expr::{render, text};
use super::{Chain, Rule, Ruleset, Verdict, family_name};
use crate::error::ParseError;
use crate::netlink::{attrs, split_messages};
use pktmap_model::firewall::hook_name;

const SUBSYS_NFTABLES: u16 = 10;
pub const MSG_NEWCHAIN: u16 = 3;
pub const MSG_GETCHAIN: u16 = 4;
pub const MSG_NEWRULE: u16 = 6;
pub const MSG_GETRULE: u16 = 7;

/// The nlmsghdr type of an nftables message.
pub const fn msg_type(msg: u16) -> u16 {
    (SUBSYS_NFTABLES << 8) | msg
}

type Attrs<'a> = Vec<(u16, &'a [u8])>;

/// Each reply message of kind `want`, as (1-based message number, family, attributes).
fn messages(bytes: &[u8], want: u16) -> Result<Vec<(usize, &'static str, Attrs<'_>)>, ParseError> {
    let mut out = Vec::new();
    for (i, (kind, msg)) in split_messages(bytes)?.into_iter().enumerate() {
        if kind != msg_type(want) {
            continue;
        }
        // nlmsghdr (16) + nfgenmsg (4).
        let Some(body) = msg.get(20..) else {
            return Err(ParseError::new(
                i + 1,
                "nfgenmsg",
                "message ends inside its header",
            ));
        };
        out.push((i + 1, family_name(msg[16]), attrs(body)));
    }
    Ok(out)
}

fn get<'a>(a: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    a.iter().find(|(t, _)| *t == ty).map(|(_, v)| *v)
}

fn required(n: usize, a: &[(u16, &[u8])], ty: u16, field: &str) -> Result<String, ParseError> {
    get(a, ty)
        .map(text)
        .ok_or_else(|| ParseError::new(n, field, "missing"))
}

fn be32(n: usize, b: &[u8], field: &str) -> Result<u32, ParseError> {
    b.get(..4)
        .map(|v| u32::from_be_bytes(v.try_into().expect("4 bytes")))
        .ok_or_else(|| ParseError::new(n, field, format!("{} bytes, not 4", b.len())))
}

fn be64(n: usize, b: &[u8], field: &str) -> Result<u64, ParseError> {
    b.get(..8)
        .map(|v| u64::from_be_bytes(v.try_into().expect("8 bytes")))
        .ok_or_else(|| ParseError::new(n, field, format!("{} bytes, not 8", b.len())))
}

/// The chains of a GETCHAIN dump.
pub fn parse_chains(bytes: &[u8]) -> Result<Vec<Chain>, ParseError> {
    let mut out = Vec::new();
    for (n, family, a) in messages(bytes, MSG_NEWCHAIN)? {
        let mut chain = Chain {
            family,
            table: required(n, &a, 1, "NFTA_CHAIN_TABLE")?,
            name: required(n, &a, 3, "NFTA_CHAIN_NAME")?,
            ..Chain::default()
        };
        if let Some(h) = get(&a, 4) {
            let h = attrs(h);
            let num = be32(n, get(&h, 1).unwrap_or_default(), "NFTA_HOOK_HOOKNUM")?;
            let prio = get(&h, 2).map_or(Ok(0), |p| be32(n, p, "NFTA_HOOK_PRIORITY"))?;
            chain.hook = Some((hook_name(family, num), prio as i32));
        }
        if let Some(p) = get(&a, 5) {
            chain.policy = Some(Verdict::from_code(
                be32(n, p, "NFTA_CHAIN_POLICY")? as i32,
                None,
            ));
        }
        if let Some(c) = get(&a, 8) {
            let c = attrs(c);
            if let Some(p) = get(&c, 2) {
                chain.packets = Some(be64(n, p, "NFTA_COUNTER_PACKETS")?);
            }
        }
        out.push(chain);
    }
    Ok(out)
}

/// The rules of a GETRULE dump, rendered.
pub fn parse_rules(bytes: &[u8]) -> Result<Vec<Rule>, ParseError> {
    let mut out = Vec::new();
    for (n, family, a) in messages(bytes, MSG_NEWRULE)? {
        let handle = be64(n, get(&a, 3).unwrap_or_default(), "NFTA_RULE_HANDLE")?;
        let r = render(family, get(&a, 4).unwrap_or_default());
        out.push(Rule {
            family,
            table: required(n, &a, 1, "NFTA_RULE_TABLE")?,
            chain: required(n, &a, 2, "NFTA_RULE_CHAIN")?,
            id: handle.to_string(),
            text: r.text,
            verdict: r.verdict,
            packets: r.packets,
            comment: get(&a, 7).and_then(comment).or(r.comment),
            legacy: false,
        });
    }
    Ok(out)
}

/// The comment in a rule's user data: type-length-value entries, type 0 the comment (what
/// `nft ... comment "..."` and iptables-nft's `-m comment` store).
fn comment(udata: &[u8]) -> Option<String> {
    let mut off = 0;
    while off + 2 <= udata.len() {
        let (ty, len) = (udata[off], udata[off + 1] as usize);
        let v = udata.get(off + 2..off + 2 + len)?;
        if ty == 0 {
            return Some(text(v));
        }
        off += 2 + len;
    }
    None
}

/// Both dumps, read into one ruleset.
pub fn parse(chains: &[u8], rules: &[u8]) -> Result<Ruleset, ParseError> {
    Ok(Ruleset {
        chains: parse_chains(chains)?,
        rules: parse_rules(rules)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::testing::nla;

    fn msg(kind: u16, family: u8, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((20 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&msg_type(kind).to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[family, 0, 0, 0]);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn a_base_chain_with_a_drop_policy_and_counters() {
        let body = [
            nla(1, b"filter\0"),
            nla(3, b"INPUT\0"),
            nla(
                4,
                &[nla(1, &1u32.to_be_bytes()), nla(2, &0u32.to_be_bytes())].concat(),
            ),
            nla(5, &0u32.to_be_bytes()),
            nla(
                8,
                &[nla(1, &100u64.to_be_bytes()), nla(2, &9u64.to_be_bytes())].concat(),
            ),
        ]
        .concat();
        let c = parse_chains(&msg(MSG_NEWCHAIN, 2, &body)).unwrap();
        assert_eq!(c[0].family, "ip");
        assert_eq!(c[0].hook, Some(("input", 0)));
        assert_eq!(c[0].policy, Some(Verdict::Drop));
        assert_eq!(c[0].packets, Some(9));
    }

    #[test]
    fn malformed_dumps_name_the_message_and_the_field() {
        let no_name = msg(MSG_NEWCHAIN, 2, &nla(1, b"filter\0"));
        let e = parse_chains(&no_name).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "NFTA_CHAIN_NAME"));
        let short_policy = [nla(1, b"t\0"), nla(3, b"c\0"), nla(5, &[0, 0])].concat();
        let e = parse_chains(&msg(MSG_NEWCHAIN, 2, &short_policy)).unwrap_err();
        assert_eq!(e.field, "NFTA_CHAIN_POLICY");
        let no_handle = [nla(1, b"t\0"), nla(2, b"c\0")].concat();
        let e = parse_rules(&msg(MSG_NEWRULE, 1, &no_handle)).unwrap_err();
        assert_eq!(e.field, "NFTA_RULE_HANDLE");
        let whole = msg(MSG_NEWRULE, 1, &no_handle);
        assert!(parse_rules(&whole[..whole.len() - 3]).is_err(), "truncated");
        assert!(parse_rules(&whole[..18]).is_err(), "inside the header");
    }

    #[test]
    fn a_comment_comes_from_user_data() {
        assert_eq!(
            comment(&[0, 4, b'a', b'b', b'c', 0]).as_deref(),
            Some("abc")
        );
        assert_eq!(comment(&[1, 1, 0, 0, 2, b'x', 0]).as_deref(), Some("x"));
        assert_eq!(comment(&[0, 9, b'a']), None, "a length past the end");
    }
}
