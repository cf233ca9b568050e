//! Processes that matter to the receive path: each CPU's ksoftirqd (CPU time spent on
//! deferred softirq work) and irqbalance (whether it runs).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels, labels};
use std::time::{Duration, Instant};

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

/// How long `serve` goes on reading the processes it found before it looks at every process
/// again: how late a newly started irqbalance, or a CPU brought online, is seen.
const RESCAN: Duration = Duration::from_secs(30);

/// The processes worth reading, found by a scan of every process's name: each CPU's ksoftirqd
/// (by pid; a kernel thread keeps its pid for the kernel's life) and irqbalance.
struct Found {
    ksoftirqd: Vec<String>,
    irqbalance: Option<String>,
    at: Instant,
}

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
        // Between collections (serve) the processes found are remembered and read again while
        // each still answers as itself; a scan otherwise, and at least every RESCAN.
        let remembered = root
            .recall::<Found>(self.id())
            .filter(|f| f.at.elapsed() < RESCAN && f.still_there(root))
            .map(|f| (f.ticks(root), f))
            .filter(|((_, all), _)| *all);
        let (found, ticks) = match remembered {
            Some(((ticks, _), f)) => (f, ticks),
            None => {
                let f = Found::scan(root)?;
                // A thread that exits between the scan and its read is left out.
                let (ticks, _) = f.ticks(root);
                (f, ticks)
            }
        };
        for (cpu, ticks) in ticks {
            sink.metric(
                "ksoftirqd.cpu_ms",
                labels([("cpu", cpu.as_str())]),
                ticks * 1000 / TICKS_PER_S,
                Kind::Counter64,
            );
        }
        let running = if found.irqbalance.is_some() {
            "yes"
        } else {
            "no"
        };
        sink.setting("irqbalance.running", Labels::new(), running);
        root.remember(self.id(), found);
        Ok(())
    }
}

impl Found {
    /// Every process's short name: which are ksoftirqd threads and which is irqbalance.
    fn scan(root: &Root) -> Result<Found, SourceError> {
        let mut found = Found {
            ksoftirqd: Vec::new(),
            irqbalance: None,
            at: Instant::now(),
        };
        for pid in root.list_where(&root.proc(""), |p| p.bytes().all(|b| b.is_ascii_digit()))? {
            // Processes exit between listing and reading: skip them.
            let Ok(comm) = root.read_value(&root.proc(&format!("{pid}/comm"))) else {
                continue;
            };
            if comm == "irqbalance" {
                found.irqbalance = Some(pid);
            } else if comm.starts_with("ksoftirqd/") {
                found.ksoftirqd.push(pid);
            }
        }
        Ok(found)
    }

    /// Whether the irqbalance found still runs under its pid.
    fn still_there(&self, root: &Root) -> bool {
        self.irqbalance.as_ref().is_none_or(|pid| {
            root.read_value(&root.proc(&format!("{pid}/comm")))
                .is_ok_and(|c| c == "irqbalance")
        })
    }

    /// Each ksoftirqd's CPU and ticks, and whether every one still answers as a ksoftirqd.
    fn ticks(&self, root: &Root) -> (Vec<(String, u64)>, bool) {
        let read: Vec<(String, u64)> = self
            .ksoftirqd
            .iter()
            .filter_map(|pid| ksoftirqd(root, pid))
            .collect();
        let all = read.len() == self.ksoftirqd.len();
        (read, all)
    }
}

/// A ksoftirqd thread's CPU and ticks from its stat, if it is one.
fn ksoftirqd(root: &Root, pid: &str) -> Option<(String, u64)> {
    let text = root.read(&root.proc(&format!("{pid}/stat"))).ok()?;
    let (comm, ticks) = parse_stat(&text)?;
    Some((comm.strip_prefix("ksoftirqd/")?.to_string(), ticks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{Options, take_snapshot_with};
    use crate::kept::Kept;
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::Arc;

    fn ticks(s: &pktmap_model::snapshot::Snapshot) -> BTreeMap<String, u64> {
        s.metrics
            .iter()
            .filter(|m| m.name == "ksoftirqd.cpu_ms")
            .map(|m| (m.labels["cpu"].clone(), m.value))
            .collect()
    }

    fn serving(kept: &Arc<Kept>) -> Options {
        Options {
            only: vec!["procs".into()],
            keep: Some(kept.clone()),
            ..Options::default()
        }
    }

    /// Between collections serve reads only the processes it found: every CPU's ksoftirqd
    /// again (its ticks never go back), and no other process's name (the files the scan kept
    /// for them are closed at the end of the collection that did not read them).
    #[test]
    fn serve_reads_again_only_the_processes_it_found() {
        let kept = Arc::new(Kept::new(100_000));
        let root = Root::live();
        let first = take_snapshot_with(&root, &serving(&kept));
        let here = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
        let comms = |kept: &Kept| {
            kept.space(here)
                .paths()
                .into_iter()
                .filter(|p| p.ends_with("comm"))
                .count()
        };
        let scanned = comms(&kept);
        let second = take_snapshot_with(&root, &serving(&kept));
        let (a, b) = (ticks(&first), ticks(&second));
        assert!(!a.is_empty(), "{first:?}");
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert!(a.iter().all(|(cpu, t)| b[cpu] >= *t), "{a:?} then {b:?}");
        // The scan read every process's name; the next collection at most irqbalance's.
        assert!(scanned > a.len(), "{scanned} names read");
        assert!(comms(&kept) <= 1, "{:?}", kept.space(here).paths());
        let running = |s: &pktmap_model::snapshot::Snapshot| {
            s.settings
                .iter()
                .find(|s| s.name == "irqbalance.running")
                .map(|s| s.value.clone())
        };
        assert_eq!(running(&first), running(&second));
    }

    /// A remembered thread that no longer answers as a ksoftirqd (here, a pid no process has)
    /// sends the collection back to a scan, which finds every CPU's.
    #[test]
    fn a_thread_gone_sends_it_back_to_a_scan() {
        let kept = Arc::new(Kept::new(100_000));
        let root = Root::live();
        let scanned = ticks(&take_snapshot_with(&root, &serving(&kept)));
        let here = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
        let files = kept.space(here);
        // Taken out and replaced by a memo of a thread that is not there.
        assert!(files.recall::<Found>("procs").is_some());
        files.remember(
            "procs",
            Found {
                ksoftirqd: vec![u32::MAX.to_string()],
                irqbalance: None,
                at: Instant::now(),
            },
        );
        let again = ticks(&take_snapshot_with(&root, &serving(&kept)));
        assert_eq!(
            again.keys().collect::<Vec<_>>(),
            scanned.keys().collect::<Vec<_>>()
        );
    }

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
