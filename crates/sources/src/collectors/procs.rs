//! Processes that matter to the receive path: each CPU's ksoftirqd (CPU time spent on
//! deferred softirq work) and irqbalance (whether it runs).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels, labels};

/// The kernel's USER_HZ: utime and stime in `/proc/PID/stat` count in these ticks on every
/// architecture's user ABI.
const TICKS_PER_S: u64 = 100;

/// From `/proc/PID/stat`: the command name and utime + stime in ticks. The name is in
/// parentheses and may itself contain spaces and parentheses, so fields are counted from the
/// last `)`.
pub fn parse_stat(text: &str) -> Option<(&str, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?;
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Ticks near 2^64 are no real process's: garbage, not a sum that wraps.
    Some((comm, utime.checked_add(stime)?))
}

pub struct Procs;

impl Collector for Procs {
    fn id(&self) -> &'static str {
        "procs"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/PID/comm", "proc/PID/stat"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let mut irqbalance = false;
        for pid in root.list_where(&root.proc(""), |p| p.bytes().all(|b| b.is_ascii_digit()))? {
            // Processes exit between listing and reading: skip them. The short comm file
            // first, so only the few interesting processes cost a stat read.
            let Ok(comm) = root.read_value(&root.proc(&format!("{pid}/comm"))) else {
                continue;
            };
            if comm == "irqbalance" {
                irqbalance = true;
            } else if comm.starts_with("ksoftirqd/") {
                let Ok(text) = root.read(&root.proc(&format!("{pid}/stat"))) else {
                    continue;
                };
                let Some((comm, ticks)) = parse_stat(&text) else {
                    continue;
                };
                if let Some(cpu) = comm.strip_prefix("ksoftirqd/") {
                    sink.metric(
                        "ksoftirqd.cpu_ms",
                        labels([("cpu", cpu)]),
                        ticks * 1000 / TICKS_PER_S,
                        Kind::Counter64,
                    );
                }
            }
        }
        sink.setting(
            "irqbalance.running",
            Labels::new(),
            if irqbalance { "yes" } else { "no" },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_names() {
        let line = "14 (ksoftirqd/1) S 2 0 0 0 -1 69238848 0 0 0 0 7 31 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat(line), Some(("ksoftirqd/1", 38)));
        let odd = "99 (a) b (c) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 3 0 0\n";
        assert_eq!(parse_stat(odd), Some(("a) b (c", 11)));
        assert_eq!(parse_stat("12 (x"), None);
        assert_eq!(parse_stat("12 (x) S 1"), None);
    }

    /// Found by the fuzzer (fuzz/regressions/proc_stat): utime + stime past 2^64 overflowed.
    #[test]
    fn ticks_that_would_overflow_are_refused() {
        let max = u64::MAX;
        let line = format!("1 (k) S 2 0 0 0 -1 0 0 0 0 0 {max} {max} 0 0 20 0 1 0 3\n");
        assert_eq!(parse_stat(&line), None);
    }
}
