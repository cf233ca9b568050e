//! `pktmap trace drops` and `pktmap trace latency`: run the in-kernel drop counter or the
//! latency histograms for an interval (also for `diagnose --trace`), and place what they
//! counted on the map: reasons at their stages, devices and namespaces by name.

use anyhow::{Result, anyhow};
use pktmap_bpf::abi::NapiKey;
use pktmap_bpf::latency::{Duty, HISTOGRAMS, LatencyTracer, quantile};
use pktmap_bpf::{btf, drops::DropCounter, kallsyms::Symbols};
use pktmap_model::trace::{
    DropTrace, Histogram, LatencyTrace, NapiRow, ReasonRow, ethertype, flow, reason_stage,
};
use pktmap_sources::netns;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Top entries kept per reason for locations, namespaces, devices and protocols.
const TOP: usize = 5;

/// Counts drops for `interval`. `only_netns`: keep drops of this namespace inode only;
/// `iface`: of this device only (as named in pktmap's namespace, or the one `--netns` reads).
pub fn drops(
    interval: Duration,
    only_netns: Option<u64>,
    iface: Option<&str>,
    cost: bool,
    sample_per_sec: u32,
) -> Result<DropTrace> {
    let ifindex = match iface {
        None => None,
        Some(name) => {
            let path = format!("/sys/class/net/{name}/ifindex");
            let idx = match only_netns {
                // The device lives in the chosen namespace: look it up from inside it.
                Some(ns) => netns::list()
                    .remove(&ns)
                    .map(|n| {
                        netns::within(&n, &pktmap_sources::Root::live(), |r| {
                            r.read_value(&r.sys(&format!("class/net/{name}/ifindex")))
                                .ok()
                        })
                    })
                    .transpose()?
                    .flatten(),
                None => std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_string()),
            };
            Some(
                idx.and_then(|i| i.parse::<u32>().ok())
                    .ok_or_else(|| anyhow!("no interface {name:?} here"))?,
            )
        }
    };
    let mut tracer = DropTracer::start(only_netns, cost, sample_per_sec)?;
    tracer.only_ifindex = ifindex;
    let measured = crate::interrupt::wait(interval);
    tracer.finish(measured)
}

/// Dropped packets a second whose addresses `diagnose --trace` asks for: enough to name the
/// socket a reason hit, few enough to cost nothing.
pub const DIAGNOSE_SAMPLES: u32 = 10;

/// A running drop counter, for callers that measure their own interval (diagnose --trace).
pub struct DropTracer {
    counter: DropCounter,
    only_netns: Option<u64>,
    only_ifindex: Option<u32>,
}

impl DropTracer {
    pub fn start(only_netns: Option<u64>, cost: bool, sample_per_sec: u32) -> Result<DropTracer> {
        // Refused before anything is attached when the kernel cannot name a reason.
        btf::drop_reasons().map_err(|e| {
            anyhow!("{e}; walk and diagnose work from counters without it (pktmap doctor)")
        })?;
        let counter = DropCounter::start(cost, sample_per_sec)
            .map_err(|e| anyhow!("{e} (pktmap trace needs root, or CAP_BPF and CAP_PERFMON)"))?;
        Ok(DropTracer {
            counter,
            only_netns,
            only_ifindex: None,
        })
    }

    /// Reads, detaches, and places the counts; `interval` is what they were counted over.
    pub fn finish(self, interval: Duration) -> Result<DropTrace> {
        // Detached before the slow part: nothing keeps counting while names are resolved.
        let counts = self.counter.finish().map_err(|e| anyhow!(e))?;
        assemble(counts, interval, self.only_netns, self.only_ifindex)
    }
}

fn assemble(
    counts: pktmap_bpf::drops::DropCounts,
    interval: Duration,
    only_netns: Option<u64>,
    only_ifindex: Option<u32>,
) -> Result<DropTrace> {
    let names = btf::drop_reasons().map_err(|e| anyhow!("drop reason names: {e}"))?;
    let syms = Symbols::read();
    let namespaces = netns::list();
    let labels: HashMap<u64, String> = namespaces
        .iter()
        .map(|(i, n)| (*i, n.label.display()))
        .collect();
    let own = own_netns();
    let secs = interval.as_secs_f64();
    // Device names of every namespace a drop happened in, read from inside it once.
    let mut dev_names: HashMap<u64, HashMap<u32, String>> = HashMap::new();
    let mut device_name = |ns: u64, ifindex: u32| -> String {
        let table = dev_names.entry(ns).or_insert_with(|| {
            if Some(ns) == own {
                devices_under(std::path::Path::new("/sys/class/net"))
            } else {
                namespaces.get(&ns).map(devices_in).unwrap_or_default()
            }
        });
        table
            .get(&ifindex)
            .cloned()
            .unwrap_or_else(|| format!("ifindex {ifindex}"))
    };

    let mut rows: BTreeMap<u32, Acc> = BTreeMap::new();
    for (k, n) in counts
        .by_key
        .iter()
        .filter(|(k, _)| only_netns.is_none_or(|ns| u64::from(k.netns) == ns))
        .filter(|(k, _)| only_ifindex.is_none_or(|i| k.ifindex == i))
    {
        let a = rows.entry(k.reason).or_default();
        a.count += n;
        *a.locations.entry(syms.resolve(k.location)).or_default() += n;
        let ns = u64::from(k.netns);
        *a.by_netns.entry(ns).or_default() += n;
        *a.netns
            .entry(labels.get(&ns).cloned().unwrap_or_else(|| {
                if ns == 0 {
                    "none".into()
                } else {
                    format!("net:[{ns}]")
                }
            }))
            .or_default() += n;
        let dev = if k.ifindex == 0 {
            "none".to_string()
        } else {
            device_name(ns, k.ifindex)
        };
        *a.places.entry((ns, dev.clone())).or_default() += n;
        *a.devices.entry(dev).or_default() += n;
        *a.protocols.entry(ethertype(k.protocol)).or_default() += n;
    }
    for s in counts
        .samples
        .iter()
        .filter(|s| only_netns.is_none_or(|ns| u64::from(s.netns) == ns))
        .filter(|s| only_ifindex.is_none_or(|i| s.ifindex == i))
    {
        if let Some(a) = rows.get_mut(&s.reason) {
            *a.samples
                .entry(flow(
                    s.family, s.l4proto, s.saddr, s.daddr, s.sport, s.dport,
                ))
                .or_default() += 1;
        }
    }
    let mut reasons: Vec<ReasonRow> = rows
        .into_iter()
        .map(|(reason, a)| {
            let name = names.get(&reason).cloned().unwrap_or_else(|| {
                format!("subsystem {} reason {}", reason >> 16, reason & 0xffff)
            });
            ReasonRow {
                reason,
                stage: reason_stage(&name),
                name,
                count: a.count,
                rate: a.count as f64 / secs,
                locations: top(a.locations),
                netns: top(a.netns),
                by_netns: a.by_netns.into_iter().collect(),
                devices: top(a.devices),
                places: {
                    let mut v: Vec<(u64, String, u64)> = a
                        .places
                        .into_iter()
                        .map(|((ns, d), n)| (ns, d, n))
                        .collect();
                    v.sort_by_key(|p| std::cmp::Reverse(p.2));
                    v.truncate(20);
                    v
                },
                protocols: top(a.protocols),
                samples: top(a.samples),
            }
        })
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
    Ok(DropTrace {
        schema: "pktmap.trace.drops/1",
        interval_s: secs,
        events: counts.events,
        map_full: counts.map_full,
        samples_lost: counts.samples_lost,
        reasons,
        limits: limits(counts.cost_measured, Some(&syms)),
        cost: costs(&counts.cost),
    })
}

#[derive(Default)]
struct Acc {
    count: u64,
    locations: HashMap<String, u64>,
    netns: HashMap<String, u64>,
    by_netns: BTreeMap<u64, u64>,
    devices: HashMap<String, u64>,
    places: HashMap<(u64, String), u64>,
    protocols: HashMap<String, u64>,
    samples: HashMap<String, u64>,
}

fn top(m: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(TOP);
    v
}

/// The inode of pktmap's own network namespace.
pub fn own_netns() -> Option<u64> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .ok()
}

/// ifindex -> name of the devices of namespace `ns`, read from inside it.
fn devices_in(ns: &netns::Netns) -> HashMap<u32, String> {
    netns::within(ns, &pktmap_sources::Root::live(), |r| {
        devices_under(&r.sys("class/net"))
    })
    .unwrap_or_default()
}

/// ifindex -> name of the devices under a sysfs `class/net` directory.
fn devices_under(dir: &std::path::Path) -> HashMap<u32, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let idx = std::fs::read_to_string(e.path().join("ifindex"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((idx, e.file_name().to_string_lossy().into_owned()))
        })
        .collect()
}

/// What `trace latency` measures: run-queue latency only of process or thread `task` (0: all)
/// and of commands starting with `comm` (empty: all); histograms only of the stages `only`
/// (none: all); attached as `duty` says.
#[derive(Default)]
pub struct LatencyScope {
    pub task: u32,
    pub comm: String,
    pub only: Vec<String>,
    pub duty: DutyChoice,
}

/// How much of the time the latency programs are attached. Being attached costs every event
/// the kernel's dispatch: on this VM's floods of small packets, 10-14% of packets per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DutyChoice {
    /// Throughout while the programs run under [`Duty::BUDGET`] times a second; above it,
    /// windows sized to keep them there.
    #[default]
    Auto,
    /// This percentage of each period (100: throughout).
    Percent(u32),
}

impl DutyChoice {
    /// The duty over `interval`: periods no longer than the interval.
    fn duty(self, interval: Duration) -> Option<Duty> {
        match self {
            DutyChoice::Auto => Some(Duty::auto()),
            DutyChoice::Percent(p) => Duty::percent(p),
        }
        .map(|d| d.within(interval))
    }
}

/// Fills the latency histograms for `interval`.
pub fn latency(interval: Duration, scope: &LatencyScope, cost: bool) -> Result<LatencyTrace> {
    let tracer = start_latency(scope, cost, interval)?;
    let measured = crate::interrupt::wait(interval);
    finish_latency(tracer, scope, measured)
}

/// Starts the latency programs for a measurement of `interval`.
pub fn start_latency(
    scope: &LatencyScope,
    cost: bool,
    interval: Duration,
) -> Result<LatencyTracer> {
    LatencyTracer::start(
        scope.task,
        &scope.comm,
        cost,
        &scope.only,
        scope.duty.duty(interval),
    )
    .map_err(|e| anyhow!("{e} (pktmap trace needs root, or CAP_BPF and CAP_PERFMON)"))
}

/// Detaches, reads and summarises histograms filled over `interval` (those of the stages
/// `scope.only`; none: all).
pub fn finish_latency(
    tracer: LatencyTracer,
    scope: &LatencyScope,
    interval: Duration,
) -> Result<LatencyTrace> {
    let disabled = tracer.missing.clone();
    let h = tracer.finish().map_err(|e| anyhow!(e))?;
    let only = &scope.only;
    let histograms = HISTOGRAMS
        .iter()
        .zip(&h.buckets)
        .filter(|((.., stage), _)| pktmap_bpf::latency::wanted(only, stage))
        .map(|((_, name, unit, _, stage), b)| Histogram {
            name,
            stage,
            unit,
            count: b.iter().sum(),
            p50: quantile(b, 0.5),
            p90: quantile(b, 0.9),
            p99: quantile(b, 0.99),
            buckets: b
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (1u64 << i, *n))
                .collect(),
        })
        .collect();
    Ok(LatencyTrace {
        schema: "pktmap.trace.latency/1",
        interval_s: interval.as_secs_f64(),
        duty_percent: h.sampled.map(|(_, o)| match scope.duty {
            DutyChoice::Percent(p) => p,
            // The sampler starts before the interval does and stops after it.
            DutyChoice::Auto => (100.0 * o.as_secs_f64() / interval.as_secs_f64())
                .round()
                .min(100.0) as u32,
        }),
        duty_budget: h.sampled.and_then(|(d, _)| d.budget),
        runs: h.runs,
        observed_s: h.sampled.map(|(_, o)| o.as_secs_f64()),
        grace_ms: h.sampled.map(|(d, _)| d.grace.as_millis() as u64),
        period_ms: h.sampled.map(|(d, _)| d.period.as_millis() as u64),
        histograms,
        napi_polls: h.napi_polls,
        napi_full_budget: h.napi_full_budget,
        napi_full: h.napi_full,
        replaced: h.replaced,
        late: h.late,
        napi: napi_rows(&h.napi_devices),
        disabled,
        cost: costs(&h.cost),
        limits: limits(h.cost_measured, None),
    })
}

/// Each row's device named in its own namespace (an ifindex is unique only within one), and
/// the namespace named when it is not pktmap's.
fn napi_rows(devs: &[(NapiKey, u32, pktmap_bpf::abi::NapiDev)]) -> Vec<NapiRow> {
    let own = own_netns();
    let spaces = netns::list();
    let mut names: HashMap<u32, (Option<String>, HashMap<u32, String>)> = HashMap::new();
    for (key, ..) in devs.iter().filter(|(k, ..)| k.ifindex != 0) {
        let ns = u64::from(key.netns);
        names.entry(key.netns).or_insert_with(|| {
            if Some(ns) == own {
                (None, devices_under(std::path::Path::new("/sys/class/net")))
            } else {
                match spaces.get(&ns) {
                    Some(n) => (Some(n.label.display()), devices_in(n)),
                    None => (Some(format!("net:[{ns}]")), HashMap::new()),
                }
            }
        });
    }
    let mut rows: Vec<NapiRow> = devs
        .iter()
        .map(|(key, cpu, d)| {
            // The per-CPU backlog (loopback, veth, RPS) is a NAPI instance with no device.
            let (netns, device) = match names.get(&key.netns) {
                _ if key.ifindex == 0 => (None, "cpu backlog".to_string()),
                Some((label, devices)) => (
                    label.clone(),
                    devices
                        .get(&key.ifindex)
                        .cloned()
                        .unwrap_or_else(|| format!("ifindex {}", key.ifindex)),
                ),
                None => (None, format!("ifindex {}", key.ifindex)),
            };
            NapiRow {
                device,
                netns,
                cpu: *cpu,
                polls: d.polls,
                full_budget: d.full_budget,
                mean_work: d.work as f64 / d.polls as f64,
            }
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.polls));
    rows
}

/// What the running privileges withheld: both need more than CAP_BPF and CAP_PERFMON.
fn limits(cost_measured: Option<bool>, syms: Option<&Symbols>) -> Vec<String> {
    let mut out = Vec::new();
    if cost_measured == Some(false) {
        out.push(
            "pktmap's own cost is not measured: the kernel's BPF run-time statistics need \
             CAP_SYS_ADMIN"
                .to_string(),
        );
    }
    if syms.is_some_and(Symbols::is_empty) {
        out.push(
            "drop locations are raw addresses: /proc/kallsyms shows kernel addresses only \
             with CAP_SYSLOG"
                .to_string(),
        );
    }
    out
}

fn costs(c: &[pktmap_bpf::ProgramCost]) -> Vec<pktmap_model::trace::Cost> {
    c.iter()
        .map(|p| pktmap_model::trace::Cost {
            program: p.name.clone(),
            runs: p.runs,
            run_time_ns: p.run_time_ns,
        })
        .collect()
}
