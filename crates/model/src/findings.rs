//! Findings: what `diagnose` and `audit` conclude, as data. Rules produce them; renderers
//! format them; nothing here prints.

use serde::Serialize;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// One measured fact behind a finding, by its kernel name.
#[derive(Serialize, Clone, Debug, PartialEq, Default)]
pub struct Evidence {
    pub key: String,
    /// Where it belongs: `dev=eth0`, `cpu=3`, `socket=10.0.0.2:8080`, `netns=...`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl Evidence {
    pub fn moved(key: &str, scope: impl Into<String>, delta: u64, rate: f64) -> Evidence {
        Evidence {
            key: key.into(),
            scope: scope.into(),
            delta: Some(delta),
            rate: Some(rate),
            ..Evidence::default()
        }
    }

    pub fn value(key: &str, scope: impl Into<String>, value: impl ToString) -> Evidence {
        Evidence {
            key: key.into(),
            scope: scope.into(),
            value: Some(value.to_string()),
            ..Evidence::default()
        }
    }
}

/// What to run: to look closer, or to change something (with the current and proposed
/// value and why). pktmap never runs it.
#[derive(Serialize, Clone, Debug, PartialEq, Default)]
pub struct Action {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
    /// A sysctl key, when the action is setting one: `audit --format sysctl` collects these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysctl: Option<String>,
}

impl Action {
    pub fn inspect(command: impl Into<String>) -> Action {
        Action {
            command: command.into(),
            ..Action::default()
        }
    }

    /// `sysctl -w KEY=VALUE`, with the reason.
    pub fn sysctl(
        key: &str,
        current: &str,
        proposed: impl ToString,
        why: impl Into<String>,
    ) -> Action {
        let proposed = proposed.to_string();
        Action {
            command: format!("sysctl -w {key}='{proposed}'"),
            current: Some(current.to_string()),
            proposed: Some(proposed),
            why: why.into(),
            sysctl: Some(key.to_string()),
        }
    }

    pub fn change(
        command: impl Into<String>,
        current: impl ToString,
        proposed: impl ToString,
        why: impl Into<String>,
    ) -> Action {
        Action {
            command: command.into(),
            current: Some(current.to_string()),
            proposed: Some(proposed.to_string()),
            why: why.into(),
            sysctl: None,
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Finding {
    /// The rule that found it.
    pub rule: &'static str,
    pub stage: &'static str,
    pub severity: Severity,
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub cause: String,
    pub actions: Vec<Action>,
    pub confidence: Confidence,
    /// Packets lost (not only delayed or misconfigured): such findings lead the report.
    pub loss: bool,
}

/// Orders findings the way the report reads: losses first in path order (the first stage
/// where packets are lost leads), then the rest in path order, worst first within a stage.
pub fn order(findings: &mut [Finding]) {
    let pos = |id: &str| {
        crate::catalog::STAGES
            .iter()
            .position(|s| s.id == id)
            .unwrap_or(usize::MAX)
    };
    findings.sort_by(|a, b| {
        b.loss
            .cmp(&a.loss)
            .then(pos(a.stage).cmp(&pos(b.stage)))
            .then(b.severity.cmp(&a.severity))
    });
}

/// Scenario 2's answer: where delay comes from.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DelayPlace {
    /// Segments are lost on the way and sent again.
    Network,
    /// CPU, softirq or queueing delay on this host.
    Host,
    /// The application does not read what arrived.
    Application,
}

impl DelayPlace {
    /// The rules whose (non-loss) findings point at each place.
    const RULES: [(DelayPlace, &'static [&'static str]); 3] = [
        (DelayPlace::Network, &["retransmits"]),
        (
            DelayPlace::Host,
            &["cpu-pressure", "qdisc-backlog", "softirq-squeeze"],
        ),
        (DelayPlace::Application, &["slow-reader"]),
    ];
}

/// Where the latency findings point, in the order network, host, application; empty when
/// none does.
pub fn latency_verdict(findings: &[Finding]) -> Vec<DelayPlace> {
    DelayPlace::RULES
        .iter()
        .filter(|(_, rules)| findings.iter().any(|f| !f.loss && rules.contains(&f.rule)))
        .map(|(place, _)| *place)
        .collect()
}

/// The exit code scripts read: 0 nothing found, 1 warnings, 2 critical.
pub fn exit_code(findings: &[Finding]) -> u8 {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rule: &'static str, loss: bool) -> Finding {
        Finding {
            rule,
            stage: "rx.9",
            severity: Severity::Warning,
            title: String::new(),
            evidence: vec![],
            cause: String::new(),
            actions: vec![],
            confidence: Confidence::Medium,
            loss,
        }
    }

    #[test]
    fn the_latency_verdict_names_each_place_a_finding_points_at() {
        assert!(latency_verdict(&[]).is_empty());
        assert_eq!(
            latency_verdict(&[f("slow-reader", false), f("retransmits", false)]),
            [DelayPlace::Network, DelayPlace::Application]
        );
        assert!(latency_verdict(&[f("retransmits", true)]).is_empty());
    }
}
