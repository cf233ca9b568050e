//! `/proc/softirqs`: softirq runs per CPU; pktmap keeps NET_RX and NET_TX.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, dec, quoted};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};

/// A `CPU0 CPU1 ...` header: the CPU ids of the columns (offline CPUs are absent).
fn parse_cpu_header(line: &str, n: usize) -> Result<Vec<u32>, ParseError> {
    line.split_whitespace()
        .map(|w| {
            w.strip_prefix("CPU")
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| ParseError::new(n, "header", format!("{} is not CPUn", quoted(w))))
        })
        .collect()
}

/// A per-CPU table (`/proc/softirqs`, `/proc/interrupts`): the header's CPU ids, then each
/// row as `(line number, name before the colon, the rest)`, and the lines with no name.
pub type CpuTable<'a> = (Vec<u32>, Rows<(usize, &'a str, &'a str)>);

/// Splits a per-CPU table. A header that is not one is an error; a line with no `NAME:` is
/// skipped, named.
pub fn split_cpu_table(text: &str) -> Result<CpuTable<'_>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let mut rows = Rows::default();
    let Some((_, header)) = lines.next() else {
        return Ok((Vec::new(), rows));
    };
    let cpus = parse_cpu_header(header, 1)?;
    for (i, line) in lines {
        rows.take(
            line.split_once(':')
                .map(|(name, rest)| (i + 1, name.trim(), rest))
                .ok_or_else(|| {
                    ParseError::new(i + 1, "name", format!("no \"NAME:\" in {}", quoted(line)))
                }),
        );
    }
    Ok((cpus, rows))
}

/// One softirq's runs: `(cpu, count)` per CPU column.
pub type SoftirqRow = (String, Vec<(u32, u64)>);

/// Parses `/proc/softirqs` into `(name, [(cpu, count)])`; a row that does not read costs that
/// softirq only.
pub fn parse_softirqs(text: &str) -> Result<Rows<SoftirqRow>, ParseError> {
    let (cpus, table) = split_cpu_table(text)?;
    let mut out = Rows {
        rows: Vec::new(),
        skipped: table.skipped,
    };
    for (n, name, rest) in table.rows {
        out.take(softirq_row(&cpus, n, name, rest));
    }
    Ok(out)
}

fn softirq_row(cpus: &[u32], n: usize, name: &str, rest: &str) -> Result<SoftirqRow, ParseError> {
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
    Ok((name.to_string(), row))
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
        let parsed = parse_softirqs(&root.read(&path)?).map_err(|e| e.at(&path))?;
        sink.skipped(&path, parsed.skipped);
        for (name, row) in parsed.rows {
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
        let p = parse_softirqs(SAMPLE).unwrap().rows;
        assert_eq!(p[2], ("NET_RX".into(), vec![(0, 610), (1, 488)]));
    }

    #[test]
    fn offline_cpus_keep_their_ids() {
        let p = parse_softirqs("    CPU0 CPU3\nNET_RX: 1 2\n").unwrap().rows;
        assert_eq!(p[0].1, vec![(0, 1), (3, 2)]);
    }

    #[test]
    fn malformed() {
        let r = parse_softirqs("CPU0 CPU1\nNET_RX: 1\nNET_TX: 1 2\n").unwrap();
        assert_eq!(r.skipped[0].field, "NET_RX");
        assert_eq!(r.rows[0].0, "NET_TX", "the other row is kept");
        assert_eq!(parse_softirqs("CPUx\n").unwrap_err().field, "header");
        assert_eq!(
            parse_softirqs("CPU0\nNET_RX 1\n").unwrap().skipped[0].field,
            "name"
        );
    }
}
