//! `/proc/softirqs`: softirq runs per CPU; pktmap keeps NET_RX and NET_TX.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError, dec};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};

/// A `CPU0 CPU1 ...` header: the CPU ids of the columns (offline CPUs are absent).
fn parse_cpu_header(line: &str, n: usize) -> Result<Vec<u32>, ParseError> {
    line.split_whitespace()
        .map(|w| {
            w.strip_prefix("CPU")
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| ParseError::new(n, "header", format!("{w:?} is not CPUn")))
        })
        .collect()
}

/// A per-CPU table (`/proc/softirqs`, `/proc/interrupts`): the header's CPU ids, then each
/// row as `(line number, name before the colon, the rest)`.
pub type CpuTable<'a> = (Vec<u32>, Vec<(usize, &'a str, &'a str)>);

pub fn split_cpu_table(text: &str) -> Result<CpuTable<'_>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let cpus = parse_cpu_header(header, 1)?;
    let rows = lines
        .map(|(i, line)| {
            let (name, rest) = line.split_once(':').ok_or_else(|| {
                ParseError::new(i + 1, "name", format!("no \"NAME:\" in {line:?}"))
            })?;
            Ok((i + 1, name.trim(), rest))
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    Ok((cpus, rows))
}

/// One softirq's runs: `(cpu, count)` per CPU column.
pub type SoftirqRow = (String, Vec<(u32, u64)>);

/// Parses `/proc/softirqs` into `(name, [(cpu, count)])`.
pub fn parse_softirqs(text: &str) -> Result<Vec<SoftirqRow>, ParseError> {
    let (cpus, rows) = split_cpu_table(text)?;
    let mut out = Vec::new();
    for (n, name, rest) in rows {
        let counts: Vec<&str> = rest.split_whitespace().collect();
        if counts.len() != cpus.len() {
            return Err(ParseError::new(
                n,
                name,
                format!("{} values for {} CPUs", counts.len(), cpus.len()),
            ));
        }
        let row = cpus
            .iter()
            .zip(counts)
            .map(|(cpu, c)| Ok((*cpu, dec(c, n, &format!("{name} CPU{cpu}"))?)))
            .collect::<Result<Vec<_>, ParseError>>()?;
        out.push((name.to_string(), row));
    }
    Ok(out)
}

pub struct Softirqs;

impl Collector for Softirqs {
    fn id(&self) -> &'static str {
        "softirqs"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/softirqs"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("softirqs");
        for (name, row) in parse_softirqs(&root.read(&path)?).map_err(|e| e.at(&path))? {
            if name != "NET_RX" && name != "NET_TX" {
                continue;
            }
            for (cpu, count) in row {
                // Printed with %u from an unsigned int: wraps at 2^32.
                sink.metric(
                    format!("softirqs.{name}"),
                    labels([("cpu", &cpu.to_string())]),
                    count,
                    Kind::Counter32,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "                    CPU0       CPU1\n          HI:          0          0\n      NET_TX:          5          1\n      NET_RX:        610        488\n";

    #[test]
    fn parses_rows() {
        let p = parse_softirqs(SAMPLE).unwrap();
        assert_eq!(p[2], ("NET_RX".into(), vec![(0, 610), (1, 488)]));
    }

    #[test]
    fn offline_cpus_keep_their_ids() {
        let p = parse_softirqs("    CPU0 CPU3\nNET_RX: 1 2\n").unwrap();
        assert_eq!(p[0].1, vec![(0, 1), (3, 2)]);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse_softirqs("CPU0 CPU1\nNET_RX: 1\n").unwrap_err().field,
            "NET_RX"
        );
        assert_eq!(parse_softirqs("CPUx\n").unwrap_err().field, "header");
        assert_eq!(
            parse_softirqs("CPU0\nNET_RX 1\n").unwrap_err().field,
            "name"
        );
    }
}
