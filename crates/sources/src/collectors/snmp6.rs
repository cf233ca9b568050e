//! `/proc/net/snmp6`: one `Name value` pair per line (IPv6, ICMPv6, UDP over IPv6).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, quoted};
use crate::root::Root;

/// Parses `Name<whitespace>value` lines, as `/proc/net/snmp6` has printed them since 2.6. A
/// line that does not read costs that counter only.
pub fn parse_snmp6(text: &str) -> Result<Rows<(String, i128)>, ParseError> {
    let mut out = Rows::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        out.take(pair(line, i + 1));
    }
    Ok(out)
}

fn pair(line: &str, n: usize) -> Result<(String, i128), ParseError> {
    let mut it = line.split_whitespace();
    let (Some(name), Some(value), None) = (it.next(), it.next(), it.next()) else {
        return Err(ParseError::new(
            n,
            "line",
            format!("expected \"Name value\", got {}", quoted(line)),
        ));
    };
    let v = value
        .parse()
        .map_err(|_| ParseError::new(n, name, format!("not a number: {}", quoted(value))))?;
    Ok((name.to_string(), v))
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
        let parsed = parse_snmp6(&root.read(&path)?).map_err(|e| e.at(&path))?;
        super::snmp::record(sink, parsed.rows);
        sink.skipped(&path, parsed.skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_value_lines() {
        let p = parse_snmp6("Ip6InReceives                   \t12\nUdp6RcvbufErrors\t3\n")
            .unwrap()
            .rows;
        assert_eq!(
            p,
            vec![("Ip6InReceives".into(), 12), ("Udp6RcvbufErrors".into(), 3)]
        );
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse_snmp6("Ip6InReceives\n").unwrap().skipped[0].line, 1);
        let r = parse_snmp6("a 1\nb x\n").unwrap();
        assert_eq!((r.rows.len(), r.skipped[0].field.as_str()), (1, "b"));
        assert_eq!(parse_snmp6("a 1 2\n").unwrap().skipped.len(), 1);
    }
}
