//! `/proc/net/sockstat` and `/proc/net/sockstat6`: socket counts and memory per protocol.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, dec, quoted};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels};

/// Parses `PROTO: key value key value...` lines into `("PROTO.key", value)`. A line that
/// does not read costs that protocol only.
pub fn parse_sockstat(text: &str) -> Result<Rows<(String, u64)>, ParseError> {
    let mut out = Rows::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        out.take_all(protocol_line(line, i + 1));
    }
    Ok(out)
}

fn protocol_line(line: &str, n: usize) -> Result<Vec<(String, u64)>, ParseError> {
    let (proto, rest) = line.split_once(':').ok_or_else(|| {
        ParseError::new(n, "protocol", format!("no \"PROTO:\" in {}", quoted(line)))
    })?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err(ParseError::new(n, proto, "a key without a value"));
    }
    words
        .chunks(2)
        .map(|kv| {
            let name = format!("{proto}.{}", kv[0]);
            let v = dec(kv[1], n, &name)?;
            Ok((name, v))
        })
        .collect()
}

pub struct Sockstat;

impl Collector for Sockstat {
    fn id(&self) -> &'static str {
        "sockstat"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/sockstat", "proc/net/sockstat6"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        for (rel, prefix) in [("net/sockstat", "sockstat"), ("net/sockstat6", "sockstat6")] {
            let path = root.proc(rel);
            let text = match root.read(&path) {
                // A kernel without IPv6 has no sockstat6; that is not an error.
                Err(e) if e.is_not_found() && prefix == "sockstat6" => continue,
                r => r?,
            };
            let parsed = parse_sockstat(&text).map_err(|e| e.at(&path))?;
            for (name, v) in parsed.rows {
                sink.metric(format!("{prefix}.{name}"), Labels::new(), v, Kind::Gauge);
            }
            sink.skipped(&path, parsed.skipped);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_this_kernels_sockstat() {
        let text = "sockets: used 8\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 257\nUDP: inuse 0 mem 0\nFRAG: inuse 0 memory 0\n";
        let p = parse_sockstat(text).unwrap().rows;
        assert!(p.contains(&("sockets.used".into(), 8)));
        assert!(p.contains(&("TCP.mem".into(), 257)));
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn malformed() {
        let field = |t: &str| parse_sockstat(t).unwrap().skipped[0].field.clone();
        assert_eq!(field("TCP: inuse\n"), "TCP");
        assert_eq!(field("x\n"), "protocol");
        assert_eq!(field("TCP: inuse -1\n"), "TCP.inuse");
        // The other protocols are kept.
        let r = parse_sockstat("TCP: inuse x\nUDP: inuse 3\n").unwrap();
        assert_eq!(r.rows, [("UDP.inuse".to_string(), 3)]);
    }
}
