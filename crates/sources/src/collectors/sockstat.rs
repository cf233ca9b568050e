//! `/proc/net/sockstat` and `/proc/net/sockstat6`: socket counts and memory per protocol.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError, dec};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels};

/// Parses `PROTO: key value key value...` lines into `("PROTO.key", value)`.
pub fn parse_sockstat(text: &str) -> Result<Vec<(String, u64)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let (proto, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "protocol", format!("no \"PROTO:\" in {line:?}")))?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err(ParseError::new(n, proto, "a key without a value"));
        }
        for kv in words.chunks(2) {
            let name = format!("{proto}.{}", kv[0]);
            let v = dec(kv[1], n, &name)?;
            out.push((name, v));
        }
    }
    Ok(out)
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
            for (name, v) in parse_sockstat(&text).map_err(|e| e.at(&path))? {
                sink.metric(format!("{prefix}.{name}"), Labels::new(), v, Kind::Gauge);
            }
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
        let p = parse_sockstat(text).unwrap();
        assert!(p.contains(&("sockets.used".into(), 8)));
        assert!(p.contains(&("TCP.mem".into(), 257)));
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_sockstat("TCP: inuse\n").unwrap_err().field, "TCP");
        assert_eq!(parse_sockstat("x\n").unwrap_err().field, "protocol");
        assert_eq!(
            parse_sockstat("TCP: inuse -1\n").unwrap_err().field,
            "TCP.inuse"
        );
    }
}
