//! `/proc/net/dev`: every device of the namespace with 16 counters. Readable through any
//! process's `/proc/PID/net`, so it works where sysfs shows another namespace.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError, dec};
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
/// large numbers to the colon (`eth0:123`), so the split is on the colon, not on spaces.
pub fn parse_net_dev(text: &str) -> Result<Vec<DevRow>, ParseError> {
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .skip(2)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        // Device names cannot contain ':' (dev_valid_name), so the first one ends the name.
        let (dev, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "device", format!("no \"name:\" in {line:?}")))?;
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
        rows.push(DevRow {
            dev: dev.trim().to_string(),
            values,
        });
    }
    Ok(rows)
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
        for row in parse_net_dev(&root.read(&path)?).map_err(|e| e.at(&path))? {
            for (name, value) in COLUMNS.iter().zip(row.values) {
                sink.metric(*name, labels([("dev", &row.dev)]), value, Kind::Counter64);
            }
        }
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
        let rows = parse_net_dev(SAMPLE).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].dev, "eth0");
        assert_eq!(rows[1].values[0], 18450631);
        assert_eq!(rows[1].values[3], 7);
    }

    #[test]
    fn short_row_and_garbage_are_named() {
        let text = SAMPLE.replace("       0          0\n  eth0", "\n  eth0");
        let e = parse_net_dev(&text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "lo"));
        let e = parse_net_dev(&SAMPLE.replace("18450631", "1845x631")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "netdev.rx_bytes"));
        assert!(parse_net_dev("").unwrap().is_empty());
    }
}
