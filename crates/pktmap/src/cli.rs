//! Command line: every command and flag in one place.

use clap::{Args, Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "pktmap",
    version,
    about = "Walks the Linux packet path from NIC to socket and says where packets are dropped or delayed.",
    long_about = None
)]
pub struct Cli {
    /// Read a capture (a directory, or a .tar/.tar.gz/.tar.zst archive) instead of the
    /// running host. It is read as untrusted: nothing outside it, no links followed, bounded.
    #[arg(long, global = true, value_name = "DIR|FILE")]
    pub root: Option<String>,
    /// Read the network namespace NAME (as `ip netns` names it, under /run/netns).
    #[arg(long, global = true, value_name = "NAME")]
    pub netns: Option<String>,
    /// Read the network namespace of process PID (a container's).
    #[arg(long, global = true, value_name = "PID")]
    pub pid: Option<u32>,
    /// Read every network namespace on the host, one map each.
    #[arg(long, global = true)]
    pub all_netns: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every stage of the receive and transmit paths with its rates, drops and settings.
    Walk(WalkArgs),
    /// Write every collected value, with metadata, as one JSON document.
    Snapshot(SnapshotArgs),
    /// Find where packets are lost or delayed, why, and what to change (exit 0 nothing, 1
    /// warnings, 2 critical, 3 pktmap failed).
    Diagnose(DiagnoseArgs),
    /// Check the operations checklist and the pitfalls against this host (exit 0 pass, 1
    /// warnings, 2 failures, 3 pktmap failed).
    Audit(AuditArgs),
    /// What this kernel and these privileges offer, and which features therefore work.
    Doctor(JsonArg),
    /// Trace the kernel with eBPF on tracepoints (no kprobes): `trace drops`.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Record every file the collectors read into DIR (or one archive), replayable with `--root`.
    Capture(CaptureArgs),
    /// List the stages and everything pktmap knows about each.
    Stages(JsonArg),
    /// Explain a stage id, counter, sysctl, drop reason or firewall rule handle, with its
    /// value on this host.
    Explain(ExplainArgs),
    /// Keep measuring and answer HTTP: /metrics (Prometheus), /api/walk, /api/diagnose,
    /// /api/snapshot, /healthz, /readyz.
    Serve(ServeArgs),
    /// Print Prometheus alerting rules for `serve`: one alert per kind of finding.
    Rules,
    /// Print the Grafana dashboard for `serve` (JSON, to import).
    Dashboard,
    /// The map in the terminal, live: lanes, findings, CPUs, queues, drop reasons, sockets.
    Top(TopArgs),
    /// Change one setting at a time, measured against its own baseline, journaled, reverted.
    #[command(subcommand)]
    Tune(TuneCommand),
}

#[derive(Args)]
pub struct TopArgs {
    /// How often to refresh.
    #[arg(long, short, default_value = "2s", value_parser = parse_duration)]
    pub interval: Interval,
    /// Read a running `pktmap serve` instead of this host (http://HOST:PORT).
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (the default keeps it to this host).
    #[arg(long, default_value = "127.0.0.1:9977")]
    pub listen: std::net::SocketAddr,
    /// How often to take a snapshot; every answer is about the last interval. 0: collect
    /// when scraped instead, rates over the time since the last collection.
    #[arg(long, short, default_value = "5s", value_parser = parse_duration_or_zero)]
    pub interval: Interval,
    /// With --interval 0: how long one collection serves every scrape (0: collect on each).
    #[arg(long, default_value = "1s", value_parser = parse_duration_or_zero)]
    pub cache: Interval,
    /// The longest a socket census may be kept: between censuses a collection reads the
    /// counters and keeps the last census, unless a socket-stage drop, error or strain
    /// counter (retransmits, pruning) moved (0: a census on every collection). Dumping every socket is the costliest
    /// read on a host with many connections.
    #[arg(long, default_value = "30s", value_parser = parse_duration_or_zero)]
    pub census: Interval,
    /// How many procfs and sysfs files to keep open between collections, read again from
    /// their start each time (they answer with the value of now); at most half the open-file
    /// limit, which serve raises to its hard limit (up to 65,536). Each holds about a page of
    /// kernel memory. 0: open every file at every read.
    #[arg(long, default_value_t = pktmap_sources::kept::DEFAULT_LIMIT)]
    pub keep_files: usize,
    /// At most this many namespaces besides the host's on /metrics: the ones losing packets
    /// first; the rest are counted in pktmap_netns_left_out.
    #[arg(long, default_value_t = 100)]
    pub netns_limit: usize,
    /// At most this many series on /metrics: namespaces' per-counter detail goes first, then
    /// their summaries; what went is counted and is a finding.
    #[arg(long, default_value_t = 20_000)]
    pub series_limit: usize,
    /// Also count drops by the kernel's reason and fill the latency histograms over every
    /// interval (needs CAP_BPF and CAP_PERFMON; not with --interval 0).
    #[arg(long)]
    pub trace: bool,
}

#[derive(Args)]
pub struct WalkArgs {
    /// How long to measure (e.g. 1s, 500ms, 2m).
    #[arg(long, short, default_value = "1s", value_parser = parse_duration)]
    pub interval: Interval,
    /// Only this interface's counters (per-CPU and global counters stay).
    #[arg(long)]
    pub iface: Option<String>,
    #[command(flatten)]
    pub offline: Offline,
    /// Keep walking, one map per interval (each measured from the end of the last).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub watch: bool,
    /// With --watch: stop after this many maps (0: until interrupted).
    #[arg(long, default_value_t = 0, requires = "watch")]
    pub count: u64,
    /// JSON output; with --watch, one document per line.
    #[arg(long)]
    pub json: bool,
    /// The map as an SVG diagram (the one `serve` draws at /), of the first namespace.
    #[arg(long, conflicts_with_all = ["json", "watch"])]
    pub svg: bool,
}

/// Two snapshot files instead of measuring now.
#[derive(Args)]
pub struct Offline {
    /// Work offline: the earlier snapshot file.
    #[arg(long, value_name = "FILE", requires = "to")]
    pub from: Option<String>,
    /// Work offline: the later snapshot file.
    #[arg(long, value_name = "FILE", requires = "from")]
    pub to: Option<String>,
}

#[derive(Args)]
pub struct DiagnoseArgs {
    /// How long to measure.
    #[arg(long, short, default_value = "5s", value_parser = parse_duration)]
    pub interval: Interval,
    /// Judge the counters accumulated since boot instead of measuring an interval.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub since_boot: bool,
    /// Also count drops by the kernel's reason during the interval (eBPF, needs CAP_BPF and
    /// CAP_PERFMON) and add them to the findings' evidence.
    #[arg(long, conflicts_with_all = ["from", "to", "since_boot"])]
    pub trace: bool,
    /// How much of the time the latency programs are attached: `auto` (throughout while they
    /// run under 100,000 times a second, above that in one window every 2 s sized to keep them
    /// there) or a percentage of each 2 s (1-100; `100`: throughout). Being attached costs
    /// every event the kernel's dispatch; the programs that end a measurement stay 100 ms past
    /// each window, so in windows latencies up to 100 ms are all seen, longer ones only with
    /// `100`.
    #[arg(long, requires = "trace", value_name = "auto|PERCENT", default_value = "auto", value_parser = parse_duty)]
    pub duty: crate::trace::DutyChoice,
    #[command(flatten)]
    pub offline: Offline,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct AuditArgs {
    /// The path's bandwidth, for the bandwidth-delay product (e.g. 10gbit, 100mbit).
    #[arg(long, value_parser = parse_rate)]
    pub bandwidth: Option<f64>,
    /// The path's round-trip time (e.g. 100ms).
    #[arg(long, value_parser = parse_duration)]
    pub rtt: Option<Interval>,
    /// Audit a snapshot file instead of the host.
    #[arg(long, value_name = "FILE")]
    pub from: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// `sysctl`: print the suggested sysctl changes as an /etc/sysctl.d snippet.
    #[arg(long, value_parser = ["text", "sysctl"], default_value = "text")]
    pub format: String,
}

/// `10gbit`, `100mbit`, `1g`, `25Gbps`, or bits per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a rate like 10gbit"))?;
    let unit = unit
        .trim_end_matches("ps")
        .trim_end_matches("bit")
        .trim_end_matches("b");
    let scale = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        _ => {
            return Err(format!(
                "unknown rate unit in {text:?}: use kbit, mbit, gbit"
            ));
        }
    };
    Ok(n * scale)
}

#[derive(Subcommand)]
pub enum TuneCommand {
    /// Candidate changes from the findings and the audit, one setting each (read-only).
    Plan(TunePlanArgs),
    /// Make one change and measure it: baseline and changed periods alternate, then the
    /// change is reverted (unless --keep) and its effect reported stage by stage.
    Try(TuneTryArgs),
    /// Undo every change the journal says may still be in place (after a crash or kill -9).
    Revert(JournalArg),
    /// Past experiments and their results.
    History(JournalArg),
}

#[derive(Args)]
pub struct JournalArg {
    /// Where experiments are journaled.
    #[arg(long, default_value = crate::tune::journal::DEFAULT)]
    pub journal: std::path::PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TunePlanArgs {
    /// How long to measure the findings the plan is made from.
    #[arg(long, short, default_value = "2s", value_parser = parse_duration)]
    pub interval: Interval,
    /// The path's bandwidth, for the bandwidth-delay product (e.g. 10gbit).
    #[arg(long, value_parser = parse_rate)]
    pub bandwidth: Option<f64>,
    /// The path's round-trip time (e.g. 100ms).
    #[arg(long, value_parser = parse_duration)]
    pub rtt: Option<Interval>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TuneTryArgs {
    /// The change: a sysctl and its value (`net.core.somaxconn=4096`).
    pub change: String,
    /// How long each baseline and each changed period lasts.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Interval,
    /// Baseline and changed periods of each (A B A B ...).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// A command run (with `sh -c`, in the namespace) during every period, ended after it.
    #[arg(long)]
    pub workload: Option<String>,
    /// Leave the change in place afterwards (journaled as kept).
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub journal: JournalArg,
}

#[derive(Subcommand)]
pub enum TraceCommand {
    /// Count dropped packets by the kernel's reason, code location, namespace and device, in
    /// the kernel, and place each reason on the map.
    Drops(TraceDropsArgs),
    /// Latency histograms along the path: softirq wait and run time, NAPI work per poll,
    /// receive-to-copy, qdisc residence, run-queue latency; p50/p90/p99 of each.
    Latency(TraceLatencyArgs),
}

#[derive(Args)]
pub struct TraceLatencyArgs {
    /// How long to measure.
    #[arg(long, short, default_value = "5s", value_parser = parse_duration)]
    pub interval: Interval,
    /// Run-queue latency of this process (or thread) only; all tasks by default.
    #[arg(long, value_name = "PID", default_value_t = 0)]
    pub task: u32,
    /// Run-queue latency only of tasks whose command (comm) starts with NAME.
    #[arg(long, value_name = "NAME", default_value = "", value_parser = parse_comm)]
    pub comm: String,
    /// Only the histograms of this stage (repeatable; rx.5, rx.6, rx.11, tx.3). Fewer
    /// tracepoints are attached, so tracing costs less.
    #[arg(long, value_name = "STAGE", value_parser = parse_latency_stage)]
    pub stage: Vec<String>,
    /// How much of the time the latency programs are attached: `auto` (throughout while they
    /// run under 100,000 times a second, above that in one window every 2 s sized to keep them
    /// there) or a percentage of each 2 s (1-100; `100`: throughout). Being attached costs
    /// every event the kernel's dispatch; the programs that end a measurement stay 100 ms past
    /// each window, so in windows latencies up to 100 ms are all seen, longer ones only with
    /// `100`.
    #[arg(long, value_name = "auto|PERCENT", default_value = "auto", value_parser = parse_duty)]
    pub duty: crate::trace::DutyChoice,
    /// Also measure pktmap's own cost per program. The kernel then times every run, which
    /// itself adds tens of nanoseconds per run: off unless asked.
    #[arg(long)]
    pub cost: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TraceDropsArgs {
    /// How long to count.
    #[arg(long, short, default_value = "5s", value_parser = parse_duration)]
    pub interval: Interval,
    /// Only drops of packets on this device (of the namespace read).
    #[arg(long)]
    pub iface: Option<String>,
    /// Also show the addresses and ports of up to N dropped packets a second (all reasons
    /// together), up to five per reason.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sample: u32,
    /// Also measure pktmap's own cost per program. The kernel then times every run, which
    /// itself adds tens of nanoseconds per run: off unless asked.
    #[arg(long)]
    pub cost: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct SnapshotArgs {
    /// Output file, written atomically with mode 0600 (never through a link); `-` or nothing
    /// for standard output.
    #[arg(long, short)]
    pub output: Option<String>,
    /// Run only this collector (repeatable); `pktmap snapshot` lists their ids.
    #[arg(long, value_name = "ID")]
    pub collector: Vec<String>,
}

#[derive(Args)]
pub struct CaptureArgs {
    /// Where to write: a new directory (mode 0700) holding proc/, sys/ and snapshot.json, or
    /// one archive when the name ends in .tar, .tar.gz or .tar.zst (mode 0600).
    #[arg(long, value_name = "DIR|FILE")]
    pub out: String,
    /// Write into an existing, non-empty directory; links inside it are replaced, never
    /// followed.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct JsonArg {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// A stage id (rx.5), counter (TcpExt.ListenOverflows), sysctl, drop reason, or the
    /// handle of an nft rule that drops (12).
    pub key: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Interval(pub Duration);

/// A command name the run-queue filter can hold: checked here so a long one is a usage error.
fn parse_comm(s: &str) -> Result<String, String> {
    pktmap_bpf::latency::comm_filter(s).map(|_| s.to_string())
}

fn parse_latency_stage(s: &str) -> Result<String, String> {
    let stages = pktmap_bpf::latency::stages();
    if stages.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "no latency histogram at {s}; these stages have one: {}",
            stages.join(", ")
        ))
    }
}

/// `auto`, or a percentage (`20`, `20%`).
fn parse_duty(s: &str) -> Result<crate::trace::DutyChoice, String> {
    if s.trim() == "auto" {
        return Ok(crate::trace::DutyChoice::Auto);
    }
    parse_percent(s)
        .map(crate::trace::DutyChoice::Percent)
        .map_err(|e| format!("{e}, or auto"))
}

/// `20` or `20%`, from 1 to 100.
fn parse_percent(s: &str) -> Result<u32, String> {
    s.strip_suffix('%')
        .unwrap_or(s)
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| (1..=100).contains(p))
        .ok_or_else(|| format!("{s:?} is not a percentage from 1 to 100"))
}

/// `1s`, `500ms`, `2m`, or a bare number of seconds.
/// A duration as [`parse_duration`] reads it, or 0.
pub fn parse_duration_or_zero(text: &str) -> Result<Interval, String> {
    if text.trim().trim_end_matches(['s', 'm']) == "0" {
        return Ok(Interval(Duration::ZERO));
    }
    parse_duration(text)
}

pub fn parse_duration(text: &str) -> Result<Interval, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 1s or 500ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    if !(0.01..=86_400.0).contains(&secs) {
        return Err("the interval must be between 10ms and 24h".into());
    }
    Ok(Interval(Duration::from_secs_f64(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10gbit").unwrap(), 1e10);
        assert_eq!(parse_rate("100mbit").unwrap(), 1e8);
        assert_eq!(parse_rate("25Gbps").unwrap(), 2.5e10);
        assert_eq!(parse_rate("1g").unwrap(), 1e9);
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10xbit").is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("20").unwrap(), 20);
        assert_eq!(parse_percent("100%").unwrap(), 100);
        assert!(parse_percent("0").is_err());
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("half").is_err());
        assert_eq!(parse_duty("auto").unwrap(), crate::trace::DutyChoice::Auto);
        assert_eq!(
            parse_duty("20%").unwrap(),
            crate::trace::DutyChoice::Percent(20)
        );
        assert!(parse_duty("0").unwrap_err().contains("or auto"));
    }

    /// The help states the duty period and grace in numbers; they must be the sampler's.
    #[test]
    fn the_duty_help_names_the_samplers_period_and_grace() {
        use pktmap_bpf::latency::Duty;
        let help = |path: &[&str]| {
            let mut cmd = Cli::command();
            for name in path {
                cmd = cmd.find_subcommand(name).unwrap().clone();
            }
            let arg = cmd.get_arguments().find(|a| a.get_id() == "duty").unwrap();
            arg.get_help().unwrap().to_string()
        };
        for path in [&["diagnose"][..], &["trace", "latency"]] {
            let text = help(path);
            let period = format!("every {} s", Duty::PERIOD.as_secs());
            assert!(text.contains(&period), "{path:?}: {text}");
            let grace = format!("{} ms past each window", Duty::GRACE.as_millis());
            assert!(text.contains(&grace), "{path:?}: {text}");
            let budget = pktmap_render::fmt::grouped(Duty::BUDGET);
            assert!(text.contains(&budget), "{path:?}: {text}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").unwrap().0, Duration::from_secs(1));
        assert_eq!(
            parse_duration("500ms").unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("2").unwrap().0, Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap().0, Duration::from_secs(60));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("0").is_err());
    }
}
