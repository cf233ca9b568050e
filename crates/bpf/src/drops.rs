//! The drop counter: loads `drops.bpf.o`, attaches it to skb:kfree_skb (BTF-typed tracepoint)
//! and, when done, detaches and reads the per-CPU counts. The program and its maps belong to
//! file descriptors of this process, nothing is pinned, so even SIGKILL leaves nothing behind.

use crate::abi::{DROP_STAT_EVENTS, DROP_STAT_FULL, DropKey, DropRun, DropSample};
use aya::maps::{PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::BtfTracePoint;
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::{Btf, Ebpf, EbpfLoader};
use std::collections::HashMap;

/// The program for kernels whose kfree_skb names the receiving socket (6.11 and later), and
/// the one for older kernels; only the one this kernel's tracepoint fits is loaded.
const PROGRAMS: [&str; 2] = ["count_drop", "count_drop_3"];

pub struct DropCounter {
    bpf: Ebpf,
    /// Which of [`PROGRAMS`] runs.
    program: &'static str,
    /// None while paused.
    link: Option<BtfTracePointLinkId>,
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
        let raw = std::fs::read("/sys/kernel/btf/vmlinux")
            .map_err(|e| err("reading the kernel's BTF", e))?;
        let name = match crate::btf::tracepoint_args(&raw, "kfree_skb") {
            Some(n) if n >= 4 => PROGRAMS[0],
            _ => PROGRAMS[1],
        };
        program(&mut bpf, name)?
            .load("kfree_skb", &btf)
            .map_err(|e| err(&format!("verifying {name}"), e))?;
        let mut counter = DropCounter {
            bpf,
            program: name,
            link: None,
            stats,
        };
        counter.resume()?;
        Ok(counter)
    }

    /// Detaches the program until [`DropCounter::resume`]; counts so far are kept. For
    /// measuring the program's cost against the same traffic without it (`bench/`).
    pub fn pause(&mut self) -> Result<(), String> {
        match self.link.take() {
            Some(link) => program(&mut self.bpf, self.program)?
                .detach(link)
                .map_err(|e| err("detaching the drop counter", e)),
            None => Ok(()),
        }
    }

    /// Attaches the program (again, after [`DropCounter::pause`]).
    pub fn resume(&mut self) -> Result<(), String> {
        if self.link.is_none() {
            let link = program(&mut self.bpf, self.program)?
                .attach()
                .map_err(|e| err("attaching to skb:kfree_skb", e))?;
            self.link = Some(link);
        }
        Ok(())
    }

    /// Detaches, then sums every CPU's counts (those in the hash and each CPU's current run,
    /// which is final only once nothing runs) and takes the samples sent.
    pub fn finish(mut self) -> Result<DropCounts, String> {
        self.pause()?;
        let map: PerCpuHashMap<_, DropKey, u64> =
            PerCpuHashMap::try_from(self.bpf.map("drops").ok_or("no drops map")?)
                .map_err(|e| err("drops map", e))?;
        let mut totals: HashMap<DropKey, u64> = HashMap::new();
        for item in map.iter() {
            let (k, per_cpu) = item.map_err(|e| err("reading drops", e))?;
            *totals.entry(k).or_default() += per_cpu.iter().sum::<u64>();
        }
        let runs: PerCpuArray<_, DropRun> =
            PerCpuArray::try_from(self.bpf.map("last_run").ok_or("no last_run map")?)
                .map_err(|e| err("last_run map", e))?;
        for run in runs
            .get(&0, 0)
            .map_err(|e| err("reading last_run", e))?
            .iter()
            .filter(|r| r.count > 0)
        {
            *totals.entry(run.key).or_default() += run.count;
        }
        let mut out = DropCounts {
            by_key: totals.into_iter().collect(),
            ..DropCounts::default()
        };
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

fn program<'a>(bpf: &'a mut Ebpf, name: &str) -> Result<&'a mut BtfTracePoint, String> {
    bpf.program_mut(name)
        .ok_or_else(|| format!("drops.bpf.o has no {name} program"))?
        .try_into()
        .map_err(|e| err(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the real kernel, as root: datagrams to closed loopback ports, v4 and v6 in turn (two
    /// keys, so every drop ends a run and starts another), are each counted with the kernel's
    /// NO_SOCKET reason, and no drop the program saw is lost between run and hash.
    #[test]
    fn counts_closed_port_drops_by_reason_and_protocol() {
        if !crate::test_as_root() {
            return;
        }
        let counter = DropCounter::start(true, 0).unwrap();
        let reasons = crate::btf::drop_reasons().unwrap();
        let no_socket = *reasons
            .iter()
            .find(|(_, n)| n.as_str() == "NO_SOCKET")
            .unwrap()
            .0;
        let closed = |addr: &str| {
            let s = std::net::UdpSocket::bind(addr).unwrap();
            let closed = std::net::UdpSocket::bind(addr).unwrap();
            let to = closed.local_addr().unwrap();
            drop(closed);
            (s, to)
        };
        let (s4, to4) = closed("127.0.0.1:0");
        let (s6, to6) = closed("[::1]:0");
        for _ in 0..50 {
            let _ = s4.send_to(b"x", to4);
            let _ = s6.send_to(b"x", to6);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let counts = counter.finish().unwrap();
        let of = |ethertype: u16| -> u64 {
            counts
                .by_key
                .iter()
                .filter(|(k, _)| k.reason == no_socket && k.protocol == ethertype.to_be())
                .map(|(_, c)| c)
                .sum()
        };
        assert!(of(0x0800) >= 50, "{counts:?}");
        assert!(of(0x86dd) >= 50, "{counts:?}");
        let counted: u64 = counts.by_key.iter().map(|(_, c)| c).sum();
        assert_eq!(counted + counts.map_full, counts.events, "{counts:?}");
    }

    /// Paused, the counter misses what is dropped meanwhile; resumed, it counts again. Other
    /// tests may drop a few hundred packets at the same time, so the bounds leave room for them
    /// but not for the 3,000 sent while paused.
    #[test]
    fn a_paused_counter_counts_nothing_until_resumed() {
        if !crate::test_as_root() {
            return;
        }
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = closed.local_addr().unwrap();
        drop(closed);
        let send = |n: usize| {
            for _ in 0..n {
                let _ = s.send_to(b"x", to);
            }
        };
        let mut counter = DropCounter::start(false, 0).unwrap();
        counter.pause().unwrap();
        counter.pause().unwrap(); // twice is harmless
        send(3000);
        counter.resume().unwrap();
        send(500);
        let counts = counter.finish().unwrap();
        assert!(
            (500..2000).contains(&counts.events),
            "{} drops counted",
            counts.events
        );
    }
}
