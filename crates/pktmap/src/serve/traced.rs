//! `serve --trace`: the drop counter and the latency histograms run over each interval, as
//! under `diagnose --trace`, and their counts are kept as totals since serve started, so the
//! page exports counters a scraper takes rates of.

use crate::trace::{self, DropTracer, LatencyScope};
use anyhow::Result;
use pktmap_bpf::latency::LatencyTracer;
use pktmap_model::trace::{DropTrace, LatencyTrace};
use pktmap_render::metrics::TraceTotals;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The tracers of one interval.
pub struct Running {
    drops: DropTracer,
    latency: LatencyTracer,
    scope: LatencyScope,
    started: Instant,
}

/// What they counted over it.
pub struct Interval {
    pub drops: DropTrace,
    pub latency: LatencyTrace,
}

pub fn start(interval: Duration) -> Result<Running> {
    let scope = LatencyScope::default();
    Ok(Running {
        drops: DropTracer::start(None, true, trace::DIAGNOSE_SAMPLES)?,
        latency: trace::start_latency(&scope, true, interval)?,
        scope,
        started: Instant::now(),
    })
}

impl Running {
    pub fn finish(self) -> Result<Interval> {
        let took = self.started.elapsed();
        Ok(Interval {
            drops: self.drops.finish(took)?,
            latency: trace::finish_latency(self.latency, &self.scope, took)?,
        })
    }
}

/// Running totals, keyed so each interval adds to the same series.
#[derive(Default)]
pub struct Totals {
    reasons: BTreeMap<(String, &'static str, String), u64>,
    latency: BTreeMap<(&'static str, &'static str), Vec<u64>>,
    cost: BTreeMap<String, (u64, u64)>,
    limits: Vec<String>,
}

impl Totals {
    /// Adds an interval; `label` names a namespace by inode as the page does (None: a
    /// namespace the page does not show, whose drops are left out).
    pub fn add(&mut self, t: &Interval, label: impl Fn(u64) -> Option<String>) {
        for r in &t.drops.reasons {
            let stage = r.stage.unwrap_or("rx.7");
            for (ns, n) in &r.by_netns {
                if let Some(l) = label(*ns) {
                    *self.reasons.entry((r.name.clone(), stage, l)).or_default() += n;
                }
            }
        }
        for h in t.latency.histograms.iter().filter(|h| h.unit == "ns") {
            let b = self.latency.entry((h.name, h.stage)).or_default();
            for (low, n) in &h.buckets {
                let i = low.trailing_zeros() as usize;
                if b.len() <= i {
                    b.resize(i + 1, 0);
                }
                b[i] += n;
            }
        }
        self.limits = t.drops.limits.clone();
        for l in &t.latency.limits {
            if !self.limits.contains(l) {
                self.limits.push(l.clone());
            }
        }
        for c in t.drops.cost.iter().chain(&t.latency.cost) {
            let e = self.cost.entry(c.program.clone()).or_default();
            e.0 += c.runs;
            e.1 += c.run_time_ns;
        }
    }

    pub fn page(&self) -> TraceTotals {
        TraceTotals {
            reasons: self
                .reasons
                .iter()
                .map(|((r, s, ns), n)| (r.clone(), *s, ns.clone(), *n))
                .collect(),
            latency: self
                .latency
                .iter()
                .map(|((name, stage), b)| (*name, *stage, b.clone()))
                .collect(),
            cost: self
                .cost
                .iter()
                .map(|(p, (runs, ns))| (p.clone(), *runs, (*ns > 0).then_some(*ns)))
                .collect(),
            limits: self.limits.clone(),
        }
    }
}
