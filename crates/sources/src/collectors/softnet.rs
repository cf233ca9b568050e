//! `/proc/net/softnet_stat`: one row per online CPU, hexadecimal 32-bit columns.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, hex};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};

/// Column names in the order the kernel prints them (`net/core/net-procfs.c`). Columns 4-8
/// have been constant zeros since 2.6 and are skipped. Kernels print 10 columns up to 3.10,
/// 11 from 3.11 (flow_limit_count), 13 from 5.10 (backlog_len, cpu index) and 15 from 6.9
/// (input_qlen, process_qlen).
const COLUMNS: &[(usize, &str, Kind)] = &[
    (0, "softnet.processed", Kind::Counter32),
    (1, "softnet.dropped", Kind::Counter32),
    (2, "softnet.time_squeeze", Kind::Counter32),
    (8, "softnet.cpu_collision", Kind::Counter32),
    (9, "softnet.received_rps", Kind::Counter32),
    (10, "softnet.flow_limit_count", Kind::Counter32),
    (11, "softnet.backlog_len", Kind::Gauge),
    (13, "softnet.input_qlen", Kind::Gauge),
    (14, "softnet.process_qlen", Kind::Gauge),
];
const CPU_COLUMN: usize = 12;
const KNOWN_WIDTHS: &[usize] = &[10, 11, 13, 15];

#[derive(Debug, PartialEq)]
pub struct SoftnetRow {
    /// The CPU the row belongs to: the kernel's own column where it prints one, else the row's
    /// position (exact only when no CPU below it is offline).
    pub cpu: u32,
    pub values: Vec<(&'static str, u64, Kind)>,
}

/// Parses `/proc/net/softnet_stat` of any kernel from 2.6.35 on. A row of another width or
/// with a field that does not read costs that CPU only.
pub fn parse_softnet_stat(text: &str) -> Result<Rows<SoftnetRow>, ParseError> {
    let mut rows = Rows::default();
    for (position, (i, line)) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .enumerate()
    {
        rows.take(softnet_row(line, i + 1, position as u32));
    }
    Ok(rows)
}

/// One CPU's row; `position` is its CPU where the kernel prints no CPU column (before 5.10).
fn softnet_row(line: &str, n: usize, position: u32) -> Result<SoftnetRow, ParseError> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    // A future kernel may append columns; read those we know. Fewer than any kernel prints
    // means a truncated or foreign row.
    if cols.len() < 10 || (cols.len() < 15 && !KNOWN_WIDTHS.contains(&cols.len())) {
        return Err(ParseError::new(
            n,
            "row",
            format!("{} columns; kernels print 10, 11, 13 or 15", cols.len()),
        ));
    }
    let cpu = match cols.get(CPU_COLUMN) {
        Some(c) => {
            let v = hex(c, n, "column 13 (cpu)")?;
            u32::try_from(v).map_err(|_| ParseError::new(n, "column 13 (cpu)", "out of range"))?
        }
        None => position,
    };
    let mut values = Vec::new();
    for &(idx, name, kind) in COLUMNS {
        if let Some(c) = cols.get(idx) {
            let v = hex(c, n, &format!("column {} ({name})", idx + 1))?;
            values.push((name, v, kind));
        }
    }
    Ok(SoftnetRow { cpu, values })
}

pub struct Softnet;

impl Collector for Softnet {
    fn id(&self) -> &'static str {
        "softnet"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/softnet_stat"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("net/softnet_stat");
        let parsed = parse_softnet_stat(&root.read(&path)?).map_err(|e| e.at(&path))?;
        sink.skipped(&path, parsed.skipped);
        for row in parsed.rows {
            let cpu = row.cpu.to_string();
            for (name, value, kind) in row.values {
                sink.metric(name, labels([("cpu", &cpu)]), value, kind);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../fixtures/public/softnet_stat/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn value(row: &SoftnetRow, name: &str) -> Option<u64> {
        row.values.iter().find(|v| v.0 == name).map(|v| v.1)
    }

    #[test]
    fn ten_columns_of_old_kernels_with_480_cpus() {
        let rows = parse_softnet_stat(&fixture("480cpu-k2.6.35-3.10-10col-pcp-hpbl920gen8.txt"))
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 480);
        assert_eq!(value(&rows[0], "softnet.processed"), Some(0x8ac));
        assert_eq!(value(&rows[0], "softnet.flow_limit_count"), None);
        assert_eq!(rows[479].cpu, 479);
    }

    #[test]
    fn eleven_columns_carry_drops_and_flow_limit() {
        let rows = parse_softnet_stat(&fixture("4cpu-k3.11-5.9-11col-node_exporter.txt"))
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 4);
        assert_eq!(value(&rows[1], "softnet.dropped"), Some(0x29));
        assert_eq!(value(&rows[1], "softnet.time_squeeze"), Some(0xa));
        assert_eq!(value(&rows[1], "softnet.flow_limit_count"), Some(0));
    }

    #[test]
    fn thirteen_columns_name_their_cpu() {
        let rows = parse_softnet_stat(&fixture("8cpu-k5.10plus-13col-pcp-scsi-map-root-001.txt"))
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[2].cpu, 2);
        assert_eq!(value(&rows[0], "softnet.backlog_len"), Some(0));
    }

    #[test]
    fn fifteen_columns_of_this_kernel() {
        let text = "00000009 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000007 00000006 00000008\n";
        let rows = parse_softnet_stat(text).unwrap().rows;
        assert_eq!(rows[0].cpu, 7);
        assert_eq!(value(&rows[0], "softnet.input_qlen"), Some(6));
        assert_eq!(value(&rows[0], "softnet.process_qlen"), Some(8));
        assert_eq!(value(&rows[0], "softnet.received_rps"), Some(3));
    }

    #[test]
    fn a_truncated_row_costs_that_cpu_and_names_the_line() {
        let mut text = fixture("4cpu-k3.11-5.9-11col-node_exporter.txt");
        text.truncate(text.len() - 30);
        let r = parse_softnet_stat(&text).unwrap();
        assert_eq!(r.rows.len(), 3, "the other CPUs are kept");
        assert_eq!(r.skipped[0].line, 4);
        assert!(r.skipped[0].msg.contains("columns"), "{}", r.skipped[0]);
    }

    #[test]
    fn garbage_names_the_field_and_keeps_the_position_of_the_others() {
        let good = "00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
        let bad = "0000000g 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
        let r = parse_softnet_stat(&format!("{bad}{good}")).unwrap();
        let e = &r.skipped[0];
        assert_eq!(
            (e.line, e.field.as_str()),
            (1, "column 1 (softnet.processed)")
        );
        // Without a CPU column the row's position is its CPU: the skipped row keeps its place.
        assert_eq!(r.rows[0].cpu, 1);
        assert!(parse_softnet_stat("").unwrap().rows.is_empty());
    }
}
