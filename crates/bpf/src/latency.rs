//! The latency histograms: loads `latency.bpf.o`, attaches each program to its tracepoint (a
//! tracepoint this kernel lacks disables that histogram only), throughout or in sampling
//! windows, and reads the per-CPU buckets.

use aya::maps::{Array, PerCpuArray, PerCpuHashMap};
use aya::programs::Program;
use aya::programs::raw_trace_point::RawTracePointLinkId;
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::{Btf, Ebpf, EbpfLoader};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// Programs that open a measurement (or count on their own): in each sampling window they are
/// attached last and detached first, so that a start seen in the window can meet its end.
const OPENERS: [&str; 5] = [
    "softirq_raise",
    "napi_poll",
    "netif_receive_skb",
    "net_dev_queue",
    "sched_wakeup",
];

/// Time sampling. Being attached costs more than the programs do (every event pays the
/// kernel's dispatch), so they may be attached for `window` in every `period`; the programs
/// that end a measurement stay `grace` longer. A latency longer than the grace is not seen
/// then: it needs the programs attached throughout. With a `budget` (runs a second), each
/// window is sized from the rate the runs were last counted at: throughout while the traffic
/// stays under it, shorter in proportion above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    pub window: Duration,
    pub period: Duration,
    pub grace: Duration,
    pub budget: Option<u64>,
}

impl Duty {
    /// Each switch (about ten tracepoints attached, then detached) costs more than a second
    /// of the programs' steady running at the budget: a 2 s period cost 4.4% of a flood's pps
    /// against 5.4% for 1 s, alternated in one run; 4 s gained nothing more (README,
    /// Performance).
    pub const PERIOD: Duration = Duration::from_secs(2);
    pub const GRACE: Duration = Duration::from_millis(100);
    /// The runs a second an automatic duty allows: at the ~60-100 ns a run costs here
    /// (dispatch included), about 1% of one CPU.
    pub const BUDGET: u64 = 100_000;
    /// The shortest window an automatic duty opens.
    pub const MIN_WINDOW: Duration = Duration::from_millis(20);
    /// The stretch an automatic duty judges the rate over while attached: a burst whose runs
    /// fit one check's share of the budget does not close the window.
    pub const CHECK: Duration = Duration::from_millis(100);
    /// How often the runs are counted while attached: a flood that exhausts a check's share
    /// early closes the window then, not at the end of the check.
    pub const POLL: Duration = Duration::from_millis(20);

    /// Attached `percent` of the time (1..=99); 100 or more: all the time (None).
    pub fn percent(percent: u32) -> Option<Duty> {
        (percent < 100).then(|| Duty {
            window: Self::PERIOD * percent.max(1) / 100,
            period: Self::PERIOD,
            grace: Self::GRACE,
            budget: None,
        })
    }

    /// Sized to the traffic: attached throughout until the programs run more than
    /// [`Duty::BUDGET`] times a second.
    pub fn auto() -> Duty {
        Duty {
            window: Self::PERIOD,
            period: Self::PERIOD,
            grace: Self::GRACE,
            budget: Some(Self::BUDGET),
        }
    }

    /// The same share of a period no longer than `interval` (and no shorter than a
    /// [`Duty::CHECK`]): an interval shorter than the period still sees its share, not
    /// one window's worth of a longer period.
    pub fn within(self, interval: Duration) -> Duty {
        let period = interval.clamp(Self::CHECK, self.period);
        Duty {
            window: Duration::from_nanos(
                (self.window.as_nanos() * period.as_nanos() / self.period.as_nanos()) as u64,
            ),
            period,
            ..self
        }
    }

    /// The next window, the programs running `rate` times a second while all are attached
    /// and `grace_runs` times in a grace: the share of the period that keeps the runs of a
    /// whole period, grace included, to the budget (at least [`Duty::MIN_WINDOW`]), or the
    /// whole period while the rate stays under it. Without a budget, the fixed window.
    pub fn next_window(&self, rate: f64, grace_runs: u64) -> Duration {
        let Some(budget) = self.budget else {
            return self.window;
        };
        if rate <= budget as f64 {
            return self.period;
        }
        let left = (budget as f64 * self.period.as_secs_f64() - grace_runs as f64).max(0.0);
        Duration::from_secs_f64(left / rate).clamp(Self::MIN_WINDOW, self.period)
    }

    /// Whether `runs` counted over `elapsed` of a `window` outgrow it: the rate they make over
    /// `elapsed`, or over a whole [`Duty::CHECK`] if shorter, asks for a shorter window.
    pub fn outgrown(
        &self,
        runs: u64,
        elapsed: Duration,
        window: Duration,
        grace_runs: u64,
    ) -> bool {
        let rate = runs as f64 / elapsed.max(Self::CHECK).as_secs_f64();
        self.next_window(rate, grace_runs) < window
    }
}

pub struct LatencyTracer {
    state: State,
    stats: Option<Option<std::os::fd::OwnedFd>>,
    /// Tracepoints that could not be attached, with why.
    pub missing: Vec<(String, String)>,
}

enum State {
    Attached(Probes),
    Sampling {
        duty: Duty,
        stop: Arc<AtomicBool>,
        thread: JoinHandle<(Probes, Result<Duration, String>)>,
    },
}

/// The loaded object and the links of the programs attached now.
struct Probes {
    bpf: Ebpf,
    /// The programs that attached when tried at start, in attach order.
    usable: Vec<&'static str>,
    links: Vec<(&'static str, Link)>,
}

enum Link {
    Btf(BtfTracePointLinkId),
    Raw(RawTracePointLinkId),
}

impl Probes {
    fn attach(&mut self, name: &'static str) -> Result<(), String> {
        let link = match self.bpf.program_mut(name).ok_or("not in the object")? {
            Program::BtfTracePoint(p) => Link::Btf(p.attach().map_err(|e| format!("{e}"))?),
            Program::RawTracePoint(p) => Link::Raw(p.attach(name).map_err(|e| format!("{e}"))?),
            _ => return Err("not a tracepoint program".into()),
        };
        self.links.push((name, link));
        Ok(())
    }

    /// Detaches the attached programs `which` picks.
    fn detach(&mut self, which: impl Fn(&str) -> bool) -> Result<(), String> {
        let (go, keep) = std::mem::take(&mut self.links)
            .into_iter()
            .partition(|(n, _)| which(n));
        self.links = keep;
        for (name, link) in go {
            let p = self.bpf.program_mut(name).ok_or("not in the object")?;
            match (p, link) {
                (Program::BtfTracePoint(p), Link::Btf(l)) => p.detach(l),
                (Program::RawTracePoint(p), Link::Raw(l)) => p.detach(l),
                _ => return Err(format!("{name}: link of another kind")),
            }
            .map_err(|e| format!("detaching {name}: {e}"))?;
        }
        Ok(())
    }

    /// Opens a window: stamps it (older start times are never matched), then attaches the
    /// programs that end measurements before those that open them.
    fn open(&mut self) -> Result<(), String> {
        let mut window: Array<_, u64> =
            Array::try_from(self.bpf.map_mut("window").ok_or("no window map")?)
                .map_err(|e| e.to_string())?;
        window
            .set(0, crate::monotonic_ns(), 0)
            .map_err(|e| format!("stamping the window: {e}"))?;
        let usable = self.usable.clone();
        let (openers, enders): (Vec<_>, Vec<_>) =
            usable.into_iter().partition(|n| OPENERS.contains(n));
        enders
            .into_iter()
            .chain(openers)
            .try_for_each(|n| self.attach(n))
    }

    /// The program runs counted so far, over all CPUs.
    fn runs(&self) -> Result<u64, String> {
        let stats: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.bpf.map("lat_stats").ok_or("no lat_stats map")?)
                .map_err(|e| e.to_string())?;
        let per_cpu = stats
            .get(&crate::abi::LAT_STAT_RUNS, 0)
            .map_err(|e| format!("reading the run count: {e}"))?;
        Ok(per_cpu.iter().sum())
    }

    /// Runs windows until `stop`, the first on the programs attached at start; returns the
    /// time the opening programs were attached. A window as long as the period keeps
    /// everything attached into the next one.
    fn sample(&mut self, duty: Duty, stop: &AtomicBool) -> Result<Duration, String> {
        let mut observed = Duration::ZERO;
        let mut window = duty.window;
        let mut grace_runs = 0;
        while !stop.load(Ordering::Relaxed) {
            if self.links.is_empty() {
                self.open()?;
            }
            let opened = Instant::now();
            let rate = self.hold(duty, window, grace_runs, stop)?;
            observed += opened.elapsed();
            window = duty.next_window(rate, grace_runs);
            if window >= duty.period {
                continue;
            }
            self.detach(|n| OPENERS.contains(&n))?;
            let closed = Instant::now();
            let runs = self.runs()?;
            // Not cut short by a stop: the last window's ends get their grace too.
            std::thread::sleep(duty.grace);
            self.detach(|_| true)?;
            grace_runs = self.runs()? - runs;
            window = duty.next_window(rate, grace_runs);
            sleep_until(closed + (duty.period - window), stop);
        }
        Ok(observed)
    }

    /// Keeps the programs attached for `window`; returns the rate they ran at, runs a second.
    /// With a budget, the runs are counted every [`Duty::POLL`] and judged per
    /// [`Duty::CHECK`]: traffic that outgrows the window (a flood starting while attached
    /// throughout) closes it then, not a period later.
    fn hold(
        &mut self,
        duty: Duty,
        window: Duration,
        grace_runs: u64,
        stop: &AtomicBool,
    ) -> Result<f64, String> {
        let end = Instant::now() + window;
        let step = duty.budget.map_or(window, |_| Duty::POLL);
        let mut rate = 0.0;
        let (mut from, mut runs) = (Instant::now(), self.runs()?);
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            sleep_until(end.min(Instant::now() + step), stop);
            let (now, counted) = (Instant::now(), self.runs()?);
            let elapsed = now - from;
            rate = (counted - runs) as f64 / elapsed.as_secs_f64().max(1e-3);
            if duty.outgrown(counted - runs, elapsed, window, grace_runs) {
                break;
            }
            if elapsed >= Duty::CHECK {
                (from, runs) = (now, counted);
            }
        }
        Ok(rate)
    }
}

/// Sleeps until `t`, waking early when `stop` is set.
fn sleep_until(t: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let left = t.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
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
    /// Start times whose end came only after their window closed (`LAT_STAT_LATE`).
    pub late: u64,
    /// Program runs, all programs together (`LAT_STAT_RUNS`).
    pub runs: u64,
    /// With time sampling, the duty that ran and how long the opening programs were attached;
    /// None: attached throughout.
    pub sampled: Option<(Duty, Duration)>,
    /// `(device, cpu, polls)` of every device that polled, per CPU that polled it.
    pub napi_devices: Vec<(crate::abi::NapiKey, u32, crate::abi::NapiDev)>,
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
    /// `duty`: attach them in sampling windows (see [`Duty`]); None: throughout.
    pub fn start(
        pid: u32,
        comm: &str,
        cost: bool,
        only: &[String],
        duty: Option<Duty>,
    ) -> Result<LatencyTracer, String> {
        let target_comm = comm_filter(comm)?;
        let stats = cost.then(crate::enable_run_time_stats);
        let btf = Btf::from_sys_fs().map_err(|e| format!("reading the kernel's BTF: {e}"))?;
        let bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global("target_pid", &pid, true)
            .override_global("target_comm", &target_comm, true)
            .load(crate::LATENCY_OBJECT)
            .map_err(|e| format!("loading latency.bpf.o: {e}"))?;
        let mut probes = Probes {
            bpf,
            usable: Vec::new(),
            links: Vec::new(),
        };
        let mut missing = Vec::new();
        let mut loaded = Vec::new();
        let wanted_programs = HISTOGRAMS
            .iter()
            .filter(|(.., stage)| wanted(only, stage))
            .flat_map(|(_, _, _, programs, _)| programs.iter());
        for name in wanted_programs {
            if loaded.contains(name) || missing.iter().any(|(m, _)| m == name) {
                continue;
            }
            let load = match probes.bpf.program_mut(name) {
                Some(Program::BtfTracePoint(p)) => p.load(name, &btf).map_err(|e| format!("{e}")),
                Some(Program::RawTracePoint(p)) => p.load().map_err(|e| format!("{e}")),
                Some(_) => Err("not a tracepoint program".to_string()),
                None => Err("not in the object".to_string()),
            };
            match load {
                Ok(()) => loaded.push(*name),
                Err(e) => missing.push((name.to_string(), e)),
            }
        }
        // Attached to learn what this kernel allows, and left attached as the first window:
        // a tracepoint attached again right after its last detach can wait out an RCU grace
        // period (the kernel's 1-0-1 transition guard), while the programs already attached run. All are loaded first (under a
        // flood each attached program would run while the next is verified), and those that
        // end a measurement attach first, as in every window.
        let (openers, enders): (Vec<_>, Vec<_>) =
            loaded.into_iter().partition(|n| OPENERS.contains(n));
        for name in enders.into_iter().chain(openers) {
            match probes.attach(name) {
                Ok(()) => probes.usable.push(name),
                Err(e) => missing.push((name.to_string(), e)),
            }
        }
        let state = match duty {
            None => State::Attached(probes),
            Some(duty) => {
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let thread = std::thread::spawn(move || {
                    let observed = probes.sample(duty, &flag);
                    // Whatever happened, nothing stays attached.
                    let detached = probes.detach(|_| true);
                    (probes, observed.and_then(|o| detached.map(|()| o)))
                });
                State::Sampling { duty, stop, thread }
            }
        };
        Ok(LatencyTracer {
            state,
            stats,
            missing,
        })
    }

    /// Ends the sampling windows (the one open gets its grace) or detaches, then reads.
    pub fn finish(self) -> Result<Histograms, String> {
        let (probes, sampled) = match self.state {
            State::Attached(mut p) => {
                p.detach(|_| true)?;
                (p, None)
            }
            State::Sampling { duty, stop, thread } => {
                stop.store(true, Ordering::Relaxed);
                let (p, observed) = thread
                    .join()
                    .map_err(|_| "the sampling thread panicked".to_string())?;
                (p, Some((duty, observed?)))
            }
        };
        let mut out = read(&probes.bpf)?;
        out.sampled = sampled;
        out.cost_measured = self.stats.as_ref().map(Option::is_some);
        Ok(out)
    }
}

fn read(bpf: &Ebpf) -> Result<Histograms, String> {
    let hists: PerCpuArray<_, u64> = PerCpuArray::try_from(bpf.map("hists").ok_or("no hists map")?)
        .map_err(|e| e.to_string())?;
    let stats: PerCpuArray<_, u64> =
        PerCpuArray::try_from(bpf.map("lat_stats").ok_or("no lat_stats map")?)
            .map_err(|e| e.to_string())?;
    let sum = |m: &PerCpuArray<_, u64>, i: u32| m.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0);
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
    out.late = sum(&stats, crate::abi::LAT_STAT_LATE);
    out.runs = sum(&stats, crate::abi::LAT_STAT_RUNS);
    let devs: PerCpuHashMap<_, crate::abi::NapiKey, crate::abi::NapiDev> =
        PerCpuHashMap::try_from(bpf.map("napi_devs").ok_or("no napi_devs map")?)
            .map_err(|e| e.to_string())?;
    for entry in devs.iter() {
        let (key, per_cpu) = entry.map_err(|e| e.to_string())?;
        for (cpu, d) in per_cpu.iter().enumerate() {
            if d.polls > 0 {
                out.napi_devices.push((key, cpu as u32, *d));
            }
        }
    }
    out.napi_devices.sort_by_key(|(i, c, _)| (*i, *c));
    out.napi_polls = out.napi_devices.iter().map(|(.., d)| d.polls).sum();
    out.napi_full_budget = out.napi_devices.iter().map(|(.., d)| d.full_budget).sum();
    out.cost = crate::costs(bpf);
    Ok(out)
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
    fn duty_is_a_share_of_each_period_and_100_is_throughout() {
        let d = Duty::percent(20).unwrap();
        assert_eq!(d.window, Duty::PERIOD / 5);
        assert_eq!((d.period, d.grace), (Duty::PERIOD, Duty::GRACE));
        assert_eq!(Duty::percent(1).unwrap().window, Duty::PERIOD / 100);
        assert_eq!(Duty::percent(0).unwrap().window, Duty::PERIOD / 100);
        assert_eq!(Duty::percent(100), None);
        assert_eq!(d.next_window(1e9, 0), d.window);
    }

    #[test]
    fn an_interval_shorter_than_the_period_keeps_the_share() {
        let d = Duty::percent(20).unwrap();
        let short = d.within(Duty::PERIOD / 4);
        assert_eq!(
            (short.period, short.window),
            (Duty::PERIOD / 4, Duty::PERIOD / 20)
        );
        assert_eq!(short.grace, Duty::GRACE);
        // Longer intervals keep the period; a tiny one is held to a check.
        assert_eq!(d.within(Duty::PERIOD * 3), d);
        assert_eq!(d.within(Duration::from_millis(1)).period, Duty::CHECK);
        let auto = Duty::auto().within(Duty::PERIOD / 2);
        assert_eq!(auto.window, auto.period);
        assert_eq!(auto.budget, Some(Duty::BUDGET));
    }

    #[test]
    fn an_automatic_duty_keeps_the_runs_to_its_budget() {
        let d = Duty::auto();
        let budget = Duty::BUDGET as f64;
        assert_eq!(d.next_window(0.0, 0), d.period);
        assert_eq!(d.next_window(budget, 0), d.period);
        // Four times the budget: a quarter of the period, less what the grace will run (half
        // a second's budget: 125 ms at that rate).
        let quarter = d.period.as_millis() / 4;
        assert_eq!(d.next_window(4.0 * budget, 0).as_millis(), quarter);
        let w = d.next_window(4.0 * budget, Duty::BUDGET / 2);
        assert_eq!(w.as_millis(), quarter - 125, "{w:?}");
        assert_eq!(d.next_window(1e12, 0), Duty::MIN_WINDOW);
        // A grace that ran a whole period's budget leaves the shortest window.
        let spent = Duty::BUDGET * d.period.as_secs();
        assert_eq!(d.next_window(2.0 * budget, spent), Duty::MIN_WINDOW);
        // Back under the budget: throughout again.
        assert_eq!(d.next_window(budget / 2.0, Duty::BUDGET), d.period);
    }

    #[test]
    fn a_window_closes_once_a_checks_share_of_the_budget_is_spent() {
        let d = Duty::auto();
        let share = Duty::BUDGET / 10; // one CHECK of 100 ms
        let poll = Duty::POLL;
        // A flood: more than a check's share in the first poll closes it at once.
        assert!(d.outgrown(share + 1, poll, d.period, 0));
        // A burst within a check's share does not, however short.
        assert!(!d.outgrown(share, poll, d.period, 0));
        // Over a whole check, the rate decides as before.
        assert!(!d.outgrown(share, Duty::CHECK, d.period, 0));
        assert!(d.outgrown(2 * share, Duty::CHECK, d.period, 0));
        // A sized window closes early only if the rate outgrows that window.
        let w = d.next_window(4.0 * Duty::BUDGET as f64, 0);
        assert!(!d.outgrown(4 * share, Duty::CHECK, w, 0));
        assert!(d.outgrown(8 * share, Duty::CHECK, w, 0));
        // Without a budget nothing is outgrown.
        let fixed = Duty::percent(20).unwrap();
        assert!(!fixed.outgrown(u64::MAX / 2, poll, fixed.window, 0));
    }

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
        if !crate::test_as_root() {
            return;
        }
        let t = LatencyTracer::start(0, "", true, &[], None).unwrap();
        assert!(t.missing.is_empty(), "{:?}", t.missing);
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..200 {
            tx.send_to(b"ping", rx.local_addr().unwrap()).unwrap();
            rx.recv(&mut buf).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let h = t.finish().unwrap();
        let total = |i: usize| h.buckets[i].iter().sum::<u64>();
        assert!(total(1) > 0, "NET_RX run times");
        assert!(total(5) > 0, "run-queue latencies");
        // lo has no queue (noqueue): qdisc residence is tested through a real qdisc, in the
        // integration tests.
    }
}
