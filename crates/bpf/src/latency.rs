//! The latency histograms: loads `latency.bpf.o`, attaches each program to its tracepoint (a
//! tracepoint this kernel lacks disables that histogram only), reads the per-CPU buckets.

use aya::maps::{PerCpuArray, PerCpuHashMap};
use aya::programs::Program;
use aya::{Btf, Ebpf, EbpfLoader};

pub const HIST_BUCKETS: usize = 64;

/// Each histogram: its index in the map, name, unit, the tracepoints it needs (program name =
/// tracepoint name) and the stage it measures.
pub const HISTOGRAMS: [(u32, &str, &str, &[&str], &str); 6] = [
    (
        0,
        "NET_RX softirq: raised to running",
        "ns",
        &["softirq_raise", "softirq_entry"],
        "rx.5",
    ),
    (
        1,
        "NET_RX softirq: run time",
        "ns",
        &["softirq_entry", "softirq_exit"],
        "rx.5",
    ),
    (
        2,
        "napi_poll: packets per poll",
        "packets",
        &["napi_poll"],
        "rx.6",
    ),
    (
        3,
        "received to copied into the application (TCP)",
        "ns",
        &["netif_receive_skb", "skb_copy_datagram_iovec"],
        "rx.11",
    ),
    (
        4,
        "qdisc residence: queued to handed to the driver",
        "ns",
        &["net_dev_queue", "net_dev_start_xmit"],
        "tx.3",
    ),
    (
        5,
        "run-queue latency: woken to running",
        "ns",
        &["sched_wakeup", "sched_switch"],
        "rx.11",
    ),
];

/// The stages the histograms measure, each once, in map order: what `--stage` may pick.
pub fn stages() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for (.., stage) in HISTOGRAMS {
        if !out.contains(&stage) {
            out.push(stage);
        }
    }
    out
}

/// Whether a histogram of `stage` is wanted when only `only` were asked for (none: all).
pub fn wanted(only: &[String], stage: &str) -> bool {
    only.is_empty() || only.iter().any(|s| s == stage)
}

pub struct LatencyTracer {
    bpf: Ebpf,
    stats: Option<Option<std::os::fd::OwnedFd>>,
    /// Tracepoints that could not be attached, with why.
    pub missing: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Histograms {
    /// `[histogram][bucket]` counts, bucket b holding values in [2^b, 2^(b+1)).
    pub buckets: Vec<[u64; HIST_BUCKETS]>,
    pub napi_polls: u64,
    pub napi_full_budget: u64,
    /// Device rows not kept: the NAPI device map was full.
    pub napi_full: u64,
    /// Start times overwritten before their end was seen (`LAT_STAT_REPLACED`).
    pub replaced: u64,
    /// `(ifindex, cpu, polls)` of every device that polled, per CPU that polled it.
    pub napi_devices: Vec<(u32, u32, crate::abi::NapiDev)>,
    pub cost: Vec<crate::ProgramCost>,
    /// None: not asked for; else whether the kernel kept run-time statistics
    /// (BPF_ENABLE_STATS needs CAP_SYS_ADMIN).
    pub cost_measured: Option<bool>,
}

/// `comm` as the program compares it: NUL-padded to the 16 bytes of `task_struct.comm`, of
/// which the kernel keeps at most 15.
pub fn comm_filter(comm: &str) -> Result<[u8; 16], String> {
    let bytes = comm.as_bytes();
    if bytes.len() > 15 {
        return Err(format!(
            "{comm:?} is longer than the 15 bytes the kernel keeps of a command name"
        ));
    }
    let mut out = [0u8; 16];
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(out)
}

impl LatencyTracer {
    /// Run-queue latency only of the process or thread `pid` (0: all) and of tasks whose
    /// command starts with `comm` (empty: any; at most 15 bytes, as the kernel keeps it).
    /// `cost`: as for [`crate::drops::DropCounter::start`]. Only the programs of histograms at
    /// the stages `only` are attached (none: every one): fewer tracepoints, less cost.
    pub fn start(
        pid: u32,
        comm: &str,
        cost: bool,
        only: &[String],
    ) -> Result<LatencyTracer, String> {
        let target_comm = comm_filter(comm)?;
        let stats = cost.then(crate::enable_run_time_stats);
        let btf = Btf::from_sys_fs().map_err(|e| format!("reading the kernel's BTF: {e}"))?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global("target_pid", &pid, true)
            .override_global("target_comm", &target_comm, true)
            .load(crate::LATENCY_OBJECT)
            .map_err(|e| format!("loading latency.bpf.o: {e}"))?;
        let mut missing = Vec::new();
        let attach = HISTOGRAMS
            .iter()
            .filter(|(.., stage)| wanted(only, stage))
            .flat_map(|(_, _, _, programs, _)| programs.iter());
        let mut attached: Vec<&str> = Vec::new();
        for name in attach {
            if attached.contains(name) {
                continue;
            }
            attached.push(name);
            let result = (|| -> Result<(), String> {
                match bpf.program_mut(name).ok_or("not in the object")? {
                    Program::BtfTracePoint(p) => {
                        p.load(name, &btf).map_err(|e| format!("{e}"))?;
                        p.attach().map_err(|e| format!("{e}"))?;
                    }
                    Program::RawTracePoint(p) => {
                        p.load().map_err(|e| format!("{e}"))?;
                        p.attach(name).map_err(|e| format!("{e}"))?;
                    }
                    _ => return Err("not a tracepoint program".into()),
                }
                Ok(())
            })();
            if let Err(e) = result {
                missing.push((name.to_string(), e));
            }
        }
        Ok(LatencyTracer {
            bpf,
            stats,
            missing,
        })
    }

    pub fn read(&self) -> Result<Histograms, String> {
        let hists: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.bpf.map("hists").ok_or("no hists map")?)
                .map_err(|e| e.to_string())?;
        let stats: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.bpf.map("lat_stats").ok_or("no lat_stats map")?)
                .map_err(|e| e.to_string())?;
        let sum =
            |m: &PerCpuArray<_, u64>, i: u32| m.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0);
        let mut out = Histograms::default();
        for (h, ..) in HISTOGRAMS {
            let mut b = [0u64; HIST_BUCKETS];
            for (i, slot) in b.iter_mut().enumerate() {
                *slot = sum(&hists, h * HIST_BUCKETS as u32 + i as u32);
            }
            out.buckets.push(b);
        }
        out.napi_full = sum(&stats, crate::abi::LAT_STAT_NAPI_FULL);
        out.replaced = sum(&stats, crate::abi::LAT_STAT_REPLACED);
        let devs: PerCpuHashMap<_, u32, crate::abi::NapiDev> =
            PerCpuHashMap::try_from(self.bpf.map("napi_devs").ok_or("no napi_devs map")?)
                .map_err(|e| e.to_string())?;
        for entry in devs.iter() {
            let (ifindex, per_cpu) = entry.map_err(|e| e.to_string())?;
            for (cpu, d) in per_cpu.iter().enumerate() {
                if d.polls > 0 {
                    out.napi_devices.push((ifindex, cpu as u32, *d));
                }
            }
        }
        out.napi_devices.sort_by_key(|(i, c, _)| (*i, *c));
        out.napi_polls = out.napi_devices.iter().map(|(.., d)| d.polls).sum();
        out.napi_full_budget = out.napi_devices.iter().map(|(.., d)| d.full_budget).sum();
        out.cost = crate::costs(&self.bpf);
        out.cost_measured = self.stats.as_ref().map(Option::is_some);
        Ok(out)
    }
}

/// The value at `q` (0..1) of a log2 histogram: the upper bound of the bucket holding it.
pub fn quantile(buckets: &[u64; HIST_BUCKETS], q: f64) -> Option<u64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let want = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= want {
            return Some(if b >= 63 {
                u64::MAX
            } else {
                (1u64 << (b + 1)) - 1
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_log2_buckets() {
        let mut b = [0u64; HIST_BUCKETS];
        b[3] = 90; // 8..15
        b[10] = 10; // 1024..2047
        assert_eq!(quantile(&b, 0.5), Some(15));
        assert_eq!(quantile(&b, 0.9), Some(15));
        assert_eq!(quantile(&b, 0.99), Some(2047));
        assert_eq!(quantile(&[0; HIST_BUCKETS], 0.5), None);
    }

    /// On the real kernel, as root: every histogram's programs load and attach, and NET_RX
    /// softirqs and context switches are seen within a second of loopback traffic.
    #[test]
    fn histograms_fill_on_this_kernel() {
        if unsafe { geteuid() } != 0 {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI runs as root"
            );
            eprintln!("skipping: needs root");
            return;
        }
        let t = LatencyTracer::start(0, "", true, &[]).unwrap();
        assert!(t.missing.is_empty(), "{:?}", t.missing);
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..200 {
            tx.send_to(b"ping", rx.local_addr().unwrap()).unwrap();
            rx.recv(&mut buf).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let h = t.read().unwrap();
        let total = |i: usize| h.buckets[i].iter().sum::<u64>();
        assert!(total(1) > 0, "NET_RX run times");
        assert!(total(5) > 0, "run-queue latencies");
        assert!(total(4) > 0, "qdisc residence on lo");
    }

    unsafe extern "C" {
        fn geteuid() -> u32;
    }
}
