//! Conntrack: entries in use against the table size, and `/proc/net/stat/nf_conntrack`, a
//! header of column names then one hexadecimal row per possible CPU.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, hex, quoted};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels, labels};

/// One CPU's row of `/proc/net/stat/nf_conntrack`: its position (the CPU) and its values.
pub type CpuRow = (usize, Vec<(String, u64)>);

/// Parses a per-CPU statistics table of `/proc/net/stat/` (nf_conntrack, arp_cache,
/// ndisc_cache, rt_cache: the same layout). Column sets differ by kernel (`searched`,
/// `delete_list` before 5.x; `clashres`, `chainlength` after), so names come from the header.
/// A header that is not one is an error; a row that does not read costs that CPU only.
pub fn parse_nf_conntrack_stat(text: &str) -> Result<Rows<CpuRow>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let mut rows = Rows::default();
    let Some((_, header)) = lines.next() else {
        return Ok(rows);
    };
    let names: Vec<&str> = header.split_whitespace().collect();
    if names.first() != Some(&"entries") {
        return Err(ParseError::new(
            1,
            "header",
            "does not start with \"entries\"",
        ));
    }
    for (cpu, (i, line)) in lines.enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != names.len() {
            rows.take(Err(ParseError::new(
                i + 1,
                format!("row {cpu}"),
                format!("{} values for {} columns", cols.len(), names.len()),
            )));
            continue;
        }
        let row = names
            .iter()
            .zip(cols)
            .map(|(name, c)| Ok((name.to_string(), hex(c, i + 1, name)?)))
            .collect::<Result<Vec<_>, ParseError>>();
        rows.take(row.map(|r| (cpu, r)));
    }
    Ok(rows)
}

pub struct Conntrack;

impl Collector for Conntrack {
    fn id(&self) -> &'static str {
        "conntrack"
    }
    fn sources(&self) -> &'static [&'static str] {
        &[
            "proc/sys/net/netfilter/nf_conntrack_count",
            "proc/net/stat/nf_conntrack",
        ]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let count_path = root.proc("sys/net/netfilter/nf_conntrack_count");
        let count = root.read_value(&count_path)?;
        let count: u64 = count.parse().map_err(|_| {
            ParseError::new(
                1,
                "nf_conntrack_count",
                format!("not a number: {}", quoted(&count)),
            )
            .at(&count_path)
        })?;
        sink.metric(
            "net.netfilter.nf_conntrack_count",
            Labels::new(),
            count,
            Kind::Gauge,
        );

        let path = root.proc("net/stat/nf_conntrack");
        let text = match root.read(&path) {
            Ok(t) => t,
            Err(e) => {
                sink.error(e);
                return Ok(());
            }
        };
        let parsed = parse_nf_conntrack_stat(&text).map_err(|e| e.at(&path))?;
        sink.skipped(&path, parsed.skipped);
        record_cpu_table(sink, "nf_conntrack", &parsed.rows);
        Ok(())
    }
}

/// Records a per-CPU statistics table (`/proc/net/stat/*`) as `PREFIX.column` counters per
/// CPU; `entries`, the same count repeated on every row, once, as a gauge.
pub(crate) fn record_cpu_table(sink: &mut Sink, prefix: &str, rows: &[CpuRow]) {
    let first = rows.first().map(|r| r.0);
    for (cpu, row) in rows {
        for (name, v) in row {
            if name == "entries" {
                if Some(*cpu) == first {
                    sink.metric(format!("{prefix}.entries"), Labels::new(), *v, Kind::Gauge);
                }
                continue;
            }
            let cpu = cpu.to_string();
            // Printed from unsigned ints: they wrap at 2^32.
            sink.metric(
                format!("{prefix}.{name}"),
                labels([("cpu", &cpu)]),
                *v,
                Kind::Counter32,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_capture_old_columns() {
        let path = format!(
            "{}/../../fixtures/public/nf_conntrack/4cpu-node_exporter.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let rows = parse_nf_conntrack_stat(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3].1[0], ("entries".into(), 0x21));
        let ignore = rows[0].1.iter().find(|(n, _)| n == "ignore").unwrap().1;
        assert_eq!(ignore, 0x588a);
        assert!(rows[0].1.iter().any(|(n, _)| n == "searched"));
    }

    #[test]
    fn this_kernels_columns() {
        let text = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000002  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let rows = parse_nf_conntrack_stat(text).unwrap().rows;
        assert!(rows[0].1.contains(&("drop".into(), 10)));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse_nf_conntrack_stat("foo bar\n1 2\n").unwrap_err().field,
            "header"
        );
        let r = parse_nf_conntrack_stat("entries drop\n1\n2 3\n").unwrap();
        assert_eq!(r.skipped[0].line, 2);
        // The row that reads keeps its CPU (its position).
        assert_eq!(
            r.rows,
            [(1, vec![("entries".into(), 2), ("drop".into(), 3)])]
        );
        let r = parse_nf_conntrack_stat("entries drop\n1 zz\n").unwrap();
        assert_eq!(r.skipped[0].field, "drop");
        assert!(parse_nf_conntrack_stat("").unwrap().rows.is_empty());
    }
}
