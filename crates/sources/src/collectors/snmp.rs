//! `/proc/net/snmp` and `/proc/net/netstat`: the same format, a header line of names and a
//! value line for each group (`Ip:`, `Tcp:`, `TcpExt:`...). Parsed into a key map, never a
//! struct per counter, so counters a newer kernel adds arrive without a code change.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, quoted};
use crate::root::Root;
use pktmap_model::catalog::{self, ItemKind};
use pktmap_model::snapshot::{Kind, Labels};

/// Parses header/value line pairs into `("Group.Name", value)`. Values are signed because
/// the kernel prints `Tcp.MaxConn` as -1. A pair that does not read costs that group only; a
/// line whose partner is missing is skipped and the pairing picks up at the next line.
pub fn parse_snmp_pairs(text: &str) -> Result<Rows<(String, i128)>, ParseError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut out = Rows::default();
    let mut i = 0;
    while i < lines.len() {
        let (hn, header) = lines[i];
        let Some(&(vn, values)) = lines.get(i + 1) else {
            out.take(Err(ParseError::new(
                hn,
                "value line",
                "header line without a value line",
            )));
            break;
        };
        let groups = split_group(header, hn).and_then(|h| Ok((h, split_group(values, vn)?)));
        match groups {
            Ok(((hgroup, names), (vgroup, nums))) if hgroup == vgroup => {
                out.take_all(pair_values(hgroup, names, vn, nums));
                i += 2;
            }
            // Not a pair: skip the first line and pair again from the next.
            Ok(((hgroup, _), (vgroup, _))) => {
                out.take(Err(ParseError::new(
                    hn,
                    "group",
                    format!("header {hgroup:?} is followed by {vgroup:?}"),
                )));
                i += 1;
            }
            Err(e) => {
                out.take(Err(e));
                i += 1;
            }
        }
    }
    Ok(out)
}

fn pair_values(
    group: &str,
    names: &str,
    vn: usize,
    nums: &str,
) -> Result<Vec<(String, i128)>, ParseError> {
    let names: Vec<&str> = names.split_whitespace().collect();
    let nums: Vec<&str> = nums.split_whitespace().collect();
    if names.len() != nums.len() {
        return Err(ParseError::new(
            vn,
            group,
            format!("{} names but {} values", names.len(), nums.len()),
        ));
    }
    names
        .iter()
        .zip(nums)
        .map(|(name, num)| {
            let v: i128 = num.parse().map_err(|_| {
                ParseError::new(
                    vn,
                    format!("{group}.{name}"),
                    format!("not a number: {}", quoted(num)),
                )
            })?;
            Ok((format!("{group}.{name}"), v))
        })
        .collect()
}

fn split_group(line: &str, n: usize) -> Result<(&str, &str), ParseError> {
    line.split_once(':')
        .filter(|(g, _)| !g.is_empty() && !g.contains(char::is_whitespace))
        .ok_or_else(|| {
            ParseError::new(
                n,
                "group",
                format!("no \"Group:\" prefix in {}", quoted(line)),
            )
        })
}

/// Records parsed pairs: counters as 64-bit counters, levels the catalog marks as gauges as
/// gauges, and constants that can be negative (MaxConn, RtoAlgorithm) as settings.
pub fn record(sink: &mut Sink, pairs: Vec<(String, i128)>) {
    for (name, v) in pairs {
        let gauge = catalog::item(&name).is_some_and(|i| i.kind == ItemKind::Gauge);
        match u64::try_from(v) {
            Ok(v) if gauge => sink.metric(name, Labels::new(), v, Kind::Gauge),
            Ok(v) if !is_constant(&name) => sink.metric(name, Labels::new(), v, Kind::Counter64),
            _ => sink.setting(name, Labels::new(), v.to_string()),
        }
    }
}

/// Fields of the MIB that are configuration, not counts.
fn is_constant(name: &str) -> bool {
    matches!(
        name,
        "Ip.Forwarding"
            | "Ip.DefaultTTL"
            | "Tcp.RtoAlgorithm"
            | "Tcp.RtoMin"
            | "Tcp.RtoMax"
            | "Tcp.MaxConn"
    )
}

fn collect_file(root: &Root, rel: &str, sink: &mut Sink) -> Result<(), SourceError> {
    let path = root.proc(rel);
    let parsed = parse_snmp_pairs(&root.read(&path)?).map_err(|e| e.at(&path))?;
    record(sink, parsed.rows);
    sink.skipped(&path, parsed.skipped);
    Ok(())
}

pub struct Snmp;

impl Collector for Snmp {
    fn id(&self) -> &'static str {
        "snmp"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/snmp"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        collect_file(root, "net/snmp", sink)
    }
}

pub struct Netstat;

impl Collector for Netstat {
    fn id(&self) -> &'static str {
        "netstat"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/netstat"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        collect_file(root, "net/netstat", sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../fixtures/public/netstat-snmp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn map(text: &str) -> HashMap<String, i128> {
        let r = parse_snmp_pairs(text).unwrap();
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        r.rows.into_iter().collect()
    }

    #[test]
    fn every_public_capture_parses() {
        let dir = format!(
            "{}/../../fixtures/public/netstat-snmp",
            env!("CARGO_MANIFEST_DIR")
        );
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let pairs =
                parse_snmp_pairs(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(pairs.rows.len() > 10, "{}", path.display());
            assert!(
                pairs.skipped.is_empty(),
                "{}: {:?}",
                path.display(),
                pairs.skipped
            );
        }
    }

    #[test]
    fn snmp_groups_and_negative_maxconn() {
        let m = map(&fixture("node_exporter.snmp.txt"));
        assert_eq!(m["Ip.InReceives"], 57740232);
        assert_eq!(m["Tcp.MaxConn"], -1);
        assert!(m.contains_key("Udp.RcvbufErrors"));
    }

    #[test]
    fn listen_overflows_host() {
        let m = map(&fixture("pcp-k4.15.14-listenoverflows.netstat.txt"));
        assert!(m["TcpExt.ListenOverflows"] > 0);
        assert!(m["TcpExt.ListenDrops"] >= m["TcpExt.ListenOverflows"]);
    }

    #[test]
    fn old_kernel_has_fewer_counters_but_parses() {
        let m = map(&fixture("pcp-procnet-snmp-2.6.32.snmp.txt"));
        assert!(m.contains_key("Udp.InDatagrams"));
        assert!(!m.contains_key("Udp.IgnoredMulti"));
    }

    #[test]
    fn malformed_inputs_name_line_and_field() {
        let first = |t: &str| parse_snmp_pairs(t).unwrap().skipped[0].clone();
        let e = first("Ip: A B\nIp: 1\n");
        assert_eq!((e.line, e.field.as_str()), (2, "Ip"));
        assert_eq!(first("Ip: A B\nTcp: 1 2\n").field, "group");
        assert_eq!(first("Ip: A B\nIp: 1 x\n").field, "Ip.B");
        assert_eq!(first("Ip: A B\n").line, 1);
        assert_eq!(first("garbage\nmore\n").field, "group");
        assert!(parse_snmp_pairs("").unwrap().rows.is_empty());
        // A group whose value line is lost costs that group: the next pair still reads.
        let r = parse_snmp_pairs("Ip: A B\nTcp: C\nTcp: 7\n").unwrap();
        assert_eq!(r.rows, [("Tcp.C".to_string(), 7)]);
        assert_eq!(r.skipped.len(), 1);
    }

    #[test]
    fn truncated_capture_is_an_error_not_a_panic() {
        let text = fixture("tcpmon.netstat.txt");
        for cut in (0..text.len()).step_by(97) {
            let _ = parse_snmp_pairs(&text[..cut]);
        }
        let cut = &text[..text.len() / 2];
        assert!(!parse_snmp_pairs(cut).unwrap().skipped.is_empty());
    }
}
