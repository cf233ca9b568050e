//! The drop counter: loads `drops.bpf.o`, attaches it to skb:kfree_skb (BTF-typed tracepoint)
//! and reads the per-CPU counts. Dropping the value detaches and unloads: the program and its
//! maps belong to file descriptors of this process, nothing is pinned, so even SIGKILL leaves
//! nothing behind.

use crate::abi::{DROP_STAT_EVENTS, DROP_STAT_FULL, DropKey, DropSample};
use aya::maps::{PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

pub struct DropCounter {
    bpf: Ebpf,
    /// Keeps run-time accounting on while the counter runs.
    stats: Option<Option<std::os::fd::OwnedFd>>,
}

/// Counts read so far: per key, and the program's own tallies.
#[derive(Debug, Default)]
pub struct DropCounts {
    pub by_key: Vec<(DropKey, u64)>,
    /// Drops the program saw.
    pub events: u64,
    /// Drops not counted by key because the map was full.
    pub map_full: u64,
    /// Dropped packets' addresses, at most the rate asked for.
    pub samples: Vec<DropSample>,
    /// Samples not sent because the ring buffer was full.
    pub samples_lost: u64,
    /// What the program itself cost.
    pub cost: Vec<crate::ProgramCost>,
    /// None: not asked for; else whether the kernel kept run-time statistics
    /// (BPF_ENABLE_STATS needs CAP_SYS_ADMIN).
    pub cost_measured: Option<bool>,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    // An unresolvable CO-RE relocation surfaces as a call to an unknown helper.
    if text.contains("unknown#") || text.contains("invalid func") {
        return format!(
            "{what}: the kernel lacks a field or type the program reads (CO-RE relocation failed): {text}"
        );
    }
    format!("{what}: {text}")
}

impl DropCounter {
    /// Loads and attaches. Needs CAP_BPF and CAP_PERFMON (or root) and kernel BTF.
    /// `cost`: have the kernel time every run of the program, for [`DropCounts::cost`]. That
    /// timing costs tens of nanoseconds per run, so it is asked for, not assumed.
    /// `sample_per_sec`: at most this many dropped packets' addresses a second (0: none).
    pub fn start(cost: bool, sample_per_sec: u32) -> Result<DropCounter, String> {
        let stats = cost.then(crate::enable_run_time_stats);
        let btf = Btf::from_sys_fs().map_err(|e| err("reading the kernel's BTF", e))?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global("sample_per_sec", &sample_per_sec, true)
            .load(crate::DROPS_OBJECT)
            .map_err(|e| err("loading drops.bpf.o", e))?;
        let prog: &mut BtfTracePoint = bpf
            .program_mut("count_drop")
            .ok_or("drops.bpf.o has no count_drop program")?
            .try_into()
            .map_err(|e| err("count_drop", e))?;
        prog.load("kfree_skb", &btf)
            .map_err(|e| err("verifying count_drop", e))?;
        prog.attach()
            .map_err(|e| err("attaching to skb:kfree_skb", e))?;
        Ok(DropCounter { bpf, stats })
    }

    /// Sums every CPU's counts and takes the samples sent so far.
    pub fn read(&mut self) -> Result<DropCounts, String> {
        let map: PerCpuHashMap<_, DropKey, u64> =
            PerCpuHashMap::try_from(self.bpf.map("drops").ok_or("no drops map")?)
                .map_err(|e| err("drops map", e))?;
        let mut out = DropCounts::default();
        for item in map.iter() {
            let (k, per_cpu) = item.map_err(|e| err("reading drops", e))?;
            out.by_key.push((k, per_cpu.iter().sum()));
        }
        let stats: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.bpf.map("drop_stats").ok_or("no drop_stats map")?)
                .map_err(|e| err("drop_stats map", e))?;
        let sum = |i: u32| stats.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0);
        out.events = sum(DROP_STAT_EVENTS);
        out.map_full = sum(DROP_STAT_FULL);
        out.samples_lost = sum(crate::abi::DROP_STAT_SAMPLE_LOST);
        let mut ring = RingBuf::try_from(self.bpf.map_mut("samples").ok_or("no samples map")?)
            .map_err(|e| err("samples ring buffer", e))?;
        while let Some(item) = ring.next() {
            if item.len() >= std::mem::size_of::<DropSample>() {
                // SAFETY: the program wrote a whole struct drop_sample; read_unaligned copies it.
                out.samples
                    .push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<DropSample>()) });
            }
        }
        out.cost = crate::costs(&self.bpf);
        out.cost_measured = self.stats.as_ref().map(Option::is_some);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the real kernel, as root: a datagram to a closed loopback port is counted with the
    /// kernel's NO_SOCKET reason.
    #[test]
    fn counts_a_closed_port_drop_by_reason() {
        if unsafe { libc_geteuid() } != 0 {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI runs as root"
            );
            eprintln!("skipping: needs root");
            return;
        }
        let mut counter = DropCounter::start(true, 0).unwrap();
        let reasons = crate::btf::drop_reasons().unwrap();
        let no_socket = *reasons
            .iter()
            .find(|(_, n)| n.as_str() == "NO_SOCKET")
            .unwrap()
            .0;
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        for _ in 0..50 {
            let _ = s.send_to(b"x", ("127.0.0.1", port));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let counts = counter.read().unwrap();
        let n: u64 = counts
            .by_key
            .iter()
            .filter(|(k, _)| k.reason == no_socket)
            .map(|(_, c)| c)
            .sum();
        assert!(n >= 50, "{counts:?}");
        assert!(counts.events >= n);
    }

    unsafe extern "C" {
        #[link_name = "geteuid"]
        fn libc_geteuid() -> u32;
    }
}
