//! The walk: the loss ledger of a delta laid out stage by stage, in the order a packet meets
//! the stages, with each stage's settings and the sockets that show its trouble.

use crate::catalog;
use crate::delta::{Change, Delta};
use crate::firewall::FwRule;
use crate::ledger::{self, Ledger, StageLedger};
use crate::snapshot::{
    CollectorRun, Labels, Metric, NetnsLabel, Setting, SkippedRow, Snapshot, SocketInfo,
};
use serde::Serialize;

pub use crate::ledger::CounterView;

/// Names the JSON document; bumped when a field changes meaning.
pub const WALK_SCHEMA: &str = "pktmap.walk/1";

#[derive(Serialize, Debug)]
pub struct Walk {
    pub schema: &'static str,
    pub host: Host,
    pub interval_s: f64,
    /// False when the two snapshots come from different boots (every counter restarted).
    pub same_boot: bool,
    pub iface: Option<String>,
    /// The first stage, in path order, that loses packets (the ledger's).
    pub first_loss: Option<&'static str>,
    pub stages: Vec<StageView>,
    /// Counters that no stage claims (a kernel newer than the catalog).
    pub unmapped: Vec<Change>,
    /// Series present in the first snapshot only (interface deleted, CPU offlined).
    pub gone: Vec<Metric>,
    pub collectors: Vec<CollectorRun>,
}

#[derive(Serialize, Debug)]
pub struct Host {
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsLabel>,
    pub kernel: Option<String>,
    pub cpus: usize,
    pub time_from_unix_ms: u64,
    pub time_to_unix_ms: u64,
}

#[derive(Serialize, Debug)]
pub struct StageView {
    /// The stage's account, as the ledger keeps it.
    #[serde(flatten)]
    pub ledger: StageLedger,
    pub settings: Vec<Setting>,
    /// Sockets showing this stage's trouble (a listener at its cap, a queue building).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sockets: Vec<SocketInfo>,
    /// Rows of this stage's files that could not be read in the later snapshot: its figures
    /// lack them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedRow>,
    /// Firewall rules that discard here: the ones whose counter moved, and, where the stage
    /// loses, the ones without a counter (their drops cannot be told apart).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleView>,
}

/// A discarding firewall rule with what its counter did in the interval.
#[derive(Serialize, Debug, Clone)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: FwRule,
    pub delta: Option<u64>,
    pub rate: Option<f64>,
}

impl std::ops::Deref for StageView {
    type Target = StageLedger;
    fn deref(&self) -> &StageLedger {
        &self.ledger
    }
}

pub fn build(delta: &Delta, iface: Option<&str>) -> Walk {
    from_ledger(delta, ledger::build(delta, iface), iface)
}

/// The walk laid out from a ledger already built for `iface` (diagnose reads the same one).
pub fn from_ledger(delta: &Delta, ledger: Ledger, iface: Option<&str>) -> Walk {
    let to = delta.to;
    let keep = |labels: &Labels| match (iface, labels.get("dev")) {
        (Some(want), Some(dev)) => dev == want,
        _ => true,
    };
    let stages: Vec<StageView> = ledger
        .stages
        .into_iter()
        .map(|stage| StageView {
            settings: stage_settings(to, stage.id, &keep),
            rules: stage_rules(to, &stage),
            sockets: stage_sockets(to, stage.id),
            skipped: to
                .collectors
                .iter()
                .filter(|c| catalog::collector_stage(&c.id) == Some(stage.id))
                .flat_map(|c| c.skipped.iter().cloned())
                .collect(),
            ledger: stage,
        })
        .collect();
    Walk {
        schema: WALK_SCHEMA,
        host: Host {
            hostname: to.meta.hostname.clone(),
            netns: to.meta.netns.clone(),
            kernel: to.meta.kernel.clone(),
            cpus: to.meta.cpus_online.len(),
            time_from_unix_ms: delta.from.meta.time_unix_ms,
            time_to_unix_ms: to.meta.time_unix_ms,
        },
        interval_s: delta.interval_s,
        same_boot: delta.same_boot,
        iface: iface.map(str::to_string),
        first_loss: ledger.first_loss,
        stages,
        unmapped: ledger.unmapped,
        gone: delta.gone.clone(),
        collectors: to.collectors.clone(),
    }
}

fn stage_rules(to: &Snapshot, stage: &StageLedger) -> Vec<RuleView> {
    // Thousands of rules on a kube-proxy node: look their lines up, not through; the index is
    // made for a stage only once a rule with a counter is there.
    let mut lines: Option<foldhash::HashMap<(&str, &Labels), &CounterView>> = None;
    let mut v: Vec<RuleView> = to
        .firewall
        .iter()
        .filter_map(|r| {
            let name = r.counter()?;
            if catalog::place(name)?.stage != stage.id {
                return None;
            }
            if r.packets.is_none() {
                return stage.losing.then(|| RuleView {
                    rule: r.clone(),
                    delta: None,
                    rate: None,
                });
            }
            let labels = r.labels();
            let lines = lines.get_or_insert_with(|| {
                stage
                    .counters
                    .iter()
                    .map(|c| ((c.change.name.as_str(), &c.change.labels), c))
                    .collect()
            });
            let line = *lines.get(&(name, &labels)).filter(|c| c.moved())?;
            Some(RuleView {
                rule: r.clone(),
                delta: line.change.delta,
                rate: line.change.rate,
            })
        })
        .collect();
    v.sort_by(|a, b| b.rate.unwrap_or(-1.0).total_cmp(&a.rate.unwrap_or(-1.0)));
    v
}

/// Which kept sockets tell about a stage: rx.10 the ones losing (a full accept queue,
/// drops), rx.11 the ones whose reader lags (Recv-Q), rx.9 the ones retransmitting.
fn stage_sockets(to: &Snapshot, stage: &str) -> Vec<SocketInfo> {
    let show = |s: &SocketInfo| match stage {
        "rx.10" => {
            (s.state == "LISTEN" && s.send_q > 0 && s.recv_q >= s.send_q)
                || s.skmem.get("drops").is_some_and(|d| *d > 0)
        }
        "rx.11" => s.state != "LISTEN" && s.recv_q > 0,
        "rx.9" => s.why.iter().any(|w| w == "retrans"),
        _ => false,
    };
    to.sockets.iter().filter(|s| show(s)).cloned().collect()
}

fn stage_settings(to: &Snapshot, stage: &str, keep: &dyn Fn(&Labels) -> bool) -> Vec<Setting> {
    to.settings
        .iter()
        .filter(|s| keep(&s.labels))
        .filter(|s| catalog::item(&s.name).is_some_and(|i| i.stage == stage))
        .cloned()
        .collect()
}
