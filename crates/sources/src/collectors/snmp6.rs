//! `/proc/net/snmp6`: one `Name value` pair per line (IPv6, ICMPv6, UDP over IPv6).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError};
use crate::root::Root;

/// Parses `Name<whitespace>value` lines, as `/proc/net/snmp6` has printed them since 2.6.
pub fn parse_snmp6(text: &str) -> Result<Vec<(String, i128)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut it = line.split_whitespace();
        let (Some(name), Some(value), None) = (it.next(), it.next(), it.next()) else {
            return Err(ParseError::new(
                i + 1,
                "line",
                format!("expected \"Name value\", got {line:?}"),
            ));
        };
        let v = value
            .parse()
            .map_err(|_| ParseError::new(i + 1, name, format!("not a number: {value:?}")))?;
        out.push((name.to_string(), v));
    }
    Ok(out)
}

pub struct Snmp6;

impl Collector for Snmp6 {
    fn id(&self) -> &'static str {
        "snmp6"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/snmp6"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("net/snmp6");
        let pairs = parse_snmp6(&root.read(&path)?).map_err(|e| e.at(&path))?;
        super::snmp::record(sink, pairs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_value_lines() {
        let p = parse_snmp6("Ip6InReceives                   \t12\nUdp6RcvbufErrors\t3\n").unwrap();
        assert_eq!(
            p,
            vec![("Ip6InReceives".into(), 12), ("Udp6RcvbufErrors".into(), 3)]
        );
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse_snmp6("Ip6InReceives\n").unwrap_err().line, 1);
        assert_eq!(parse_snmp6("a 1\nb x\n").unwrap_err().field, "b");
        assert!(parse_snmp6("a 1 2\n").is_err());
    }
}
