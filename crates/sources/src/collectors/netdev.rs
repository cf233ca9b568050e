//! `/proc/net/dev`: every device of the namespace with 16 counters. Readable through any
//! process's `/proc/PID/net`, so it works where sysfs shows another namespace.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, dec, quoted};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};

/// Column names, from the header's `Receive` and `Transmit` halves (unchanged since 2.2).
const COLUMNS: [&str; 16] = [
    "netdev.rx_bytes",
    "netdev.rx_packets",
    "netdev.rx_errs",
    "netdev.rx_drop",
    "netdev.rx_fifo",
    "netdev.rx_frame",
    "netdev.rx_compressed",
    "netdev.rx_multicast",
    "netdev.tx_bytes",
    "netdev.tx_packets",
    "netdev.tx_errs",
    "netdev.tx_drop",
    "netdev.tx_fifo",
    "netdev.tx_colls",
    "netdev.tx_carrier",
    "netdev.tx_compressed",
];

#[derive(Debug, PartialEq)]
pub struct DevRow {
    pub dev: String,
    pub values: [u64; 16],
}

/// Parses `/proc/net/dev`: two header lines, then `name: 16 numbers`. Old kernels glued
/// large numbers to the colon (`eth0:123`), so the split is on the colon, not on spaces; the
/// last colon, as procfs readers do, so a name printed with one (`ibr10:30`) keeps it. A row
/// that does not read costs that device only.
pub fn parse_net_dev(text: &str) -> Result<Rows<DevRow>, ParseError> {
    let mut rows = Rows::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .skip(2)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        rows.take(dev_row(line, i + 1));
    }
    Ok(rows)
}

fn dev_row(line: &str, n: usize) -> Result<DevRow, ParseError> {
    let (dev, rest) = line
        .rsplit_once(':')
        .ok_or_else(|| ParseError::new(n, "device", format!("no \"name:\" in {}", quoted(line))))?;
    let nums: Vec<&str> = rest.split_whitespace().collect();
    if nums.len() != 16 {
        return Err(ParseError::new(
            n,
            dev.trim(),
            format!("{} values, expected 16", nums.len()),
        ));
    }
    let mut values = [0u64; 16];
    for (k, num) in nums.iter().enumerate() {
        values[k] = dec(num, n, COLUMNS[k])?;
    }
    Ok(DevRow {
        dev: dev.trim().to_string(),
        values,
    })
}

pub struct NetDev;

impl Collector for NetDev {
    fn id(&self) -> &'static str {
        "netdev"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/dev"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("net/dev");
        let parsed = parse_net_dev(&root.read(&path)?).map_err(|e| e.at(&path))?;
        for row in parsed.rows {
            for (name, value) in COLUMNS.iter().zip(row.values) {
                sink.metric(*name, labels([("dev", &row.dev)]), value, Kind::Counter64);
            }
        }
        sink.skipped(&path, parsed.skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0:18450631     426    0    7    0     0          0         0    22804     276    0    0    0     0       0          0
";

    #[test]
    fn parses_rows_including_glued_numbers() {
        let rows = parse_net_dev(SAMPLE).unwrap().rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].dev, "eth0");
        assert_eq!(rows[1].values[0], 18450631);
        assert_eq!(rows[1].values[3], 7);
        // A name printed with a colon keeps it (procfs's own readers split at the last one).
        let odd = SAMPLE.replace("  eth0:", "ibr10:30:");
        assert_eq!(parse_net_dev(&odd).unwrap().rows[1].dev, "ibr10:30");
    }

    #[test]
    fn a_bad_row_costs_that_row_and_is_named() {
        let text = SAMPLE.replace("       0          0\n  eth0", "\n  eth0");
        let r = parse_net_dev(&text).unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].dev, "eth0");
        assert_eq!((r.skipped[0].line, r.skipped[0].field.as_str()), (3, "lo"));
        let r = parse_net_dev(&SAMPLE.replace("18450631", "1845x631")).unwrap();
        assert_eq!(
            r.rows.iter().map(|d| d.dev.as_str()).collect::<Vec<_>>(),
            ["lo"]
        );
        let e = &r.skipped[0];
        assert_eq!((e.line, e.field.as_str()), (4, "netdev.rx_bytes"));
        assert!(parse_net_dev("").unwrap().rows.is_empty());
    }
}
