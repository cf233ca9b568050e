//! `/proc/net/snmp` and `/proc/net/netstat`: the same format, a header line of names and a
//! value line for each group (`Ip:`, `Tcp:`, `TcpExt:`...). Parsed into a key map, never a
//! struct per counter, so counters a newer kernel adds arrive without a code change.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError, quoted};
use crate::root::Root;
use pktmap_model::catalog::{self, ItemKind};
use pktmap_model::snapshot::{Kind, Labels};

/// Parses header/value line pairs into `("Group.Name", value)`. Values are signed because
/// the kernel prints `Tcp.MaxConn` as -1.
pub fn parse_snmp_pairs(text: &str) -> Result<Vec<(String, i128)>, ParseError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let (hn, header) = pair[0];
        let Some(&(vn, values)) = pair.get(1) else {
            return Err(ParseError::new(
                hn,
                "value line",
                "header line without a value line",
            ));
        };
        let (hgroup, names) = split_group(header, hn)?;
        let (vgroup, nums) = split_group(values, vn)?;
        if hgroup != vgroup {
            return Err(ParseError::new(
                vn,
                "group",
                format!("value line is {vgroup:?} but its header is {hgroup:?}"),
            ));
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let nums: Vec<&str> = nums.split_whitespace().collect();
        if names.len() != nums.len() {
            return Err(ParseError::new(
                vn,
                hgroup,
                format!("{} names but {} values", names.len(), nums.len()),
            ));
        }
        for (name, num) in names.iter().zip(nums) {
            let v: i128 = num.parse().map_err(|_| {
                ParseError::new(
                    vn,
                    format!("{hgroup}.{name}"),
                    format!("not a number: {num:?}"),
                )
            })?;
            out.push((format!("{hgroup}.{name}"), v));
        }
    }
    Ok(out)
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
    let pairs = parse_snmp_pairs(&root.read(&path)?).map_err(|e| e.at(&path))?;
    record(sink, pairs);
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
        parse_snmp_pairs(text).unwrap().into_iter().collect()
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
            assert!(pairs.len() > 10, "{}", path.display());
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
        let e = parse_snmp_pairs("Ip: A B\nIp: 1\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "Ip"));
        let e = parse_snmp_pairs("Ip: A B\nTcp: 1 2\n").unwrap_err();
        assert_eq!(e.field, "group");
        let e = parse_snmp_pairs("Ip: A B\nIp: 1 x\n").unwrap_err();
        assert_eq!(e.field, "Ip.B");
        let e = parse_snmp_pairs("Ip: A B\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_snmp_pairs("garbage\nmore\n").unwrap_err();
        assert_eq!(e.field, "group");
        assert!(parse_snmp_pairs("").unwrap().is_empty());
    }

    #[test]
    fn truncated_capture_is_an_error_not_a_panic() {
        let text = fixture("tcpmon.netstat.txt");
        for cut in (0..text.len()).step_by(97) {
            let _ = parse_snmp_pairs(&text[..cut]);
        }
        let cut = &text[..text.len() / 2];
        assert!(parse_snmp_pairs(cut).is_err());
    }
}
