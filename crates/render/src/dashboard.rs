//! The Grafana dashboard for `pktmap serve` (`pktmap dashboard`): the stage pipeline of a
//! node, receive and transmit, the top losses by stage and namespace, the findings with their
//! actions and a link to the node's own `/api/diagnose`, the limits, and what pktmap cannot
//! see. Every query is over the series [`crate::metrics`] writes, and a test runs each one
//! against a real Prometheus.

use serde_json::{Value, json};

/// One panel: its title, its kind and its queries (`$instance` is the node chosen at the top).
pub struct Panel {
    pub title: &'static str,
    pub kind: &'static str,
    pub description: &'static str,
    pub queries: &'static [(&'static str, &'static str)],
}

/// The panels, in the order they are laid out.
pub const PANELS: &[Panel] = &[
    Panel {
        title: "Receive path: drops per stage",
        kind: "timeseries",
        description: "Packets per second lost at each receive stage, counted once (walk's drops column).",
        queries: &[(
            r#"sum by (stage) (pktmap_stage_drops_per_second{instance=~"$instance",stage=~"rx.*"})"#,
            "{{stage}}",
        )],
    },
    Panel {
        title: "Transmit path: drops per stage",
        kind: "timeseries",
        description: "Packets per second lost at each transmit stage, the deepest stage that dropped.",
        queries: &[(
            r#"sum by (stage) (pktmap_stage_drops_per_second{instance=~"$instance",stage=~"tx.*|ct.*"})"#,
            "{{stage}}",
        )],
    },
    Panel {
        title: "Stages losing packets",
        kind: "state-timeline",
        description: "1 while a loss counter of the stage is past its floor, in any namespace.",
        queries: &[(
            r#"max by (stage) (pktmap_stage_losing{instance=~"$instance"})"#,
            "{{stage}}",
        )],
    },
    Panel {
        title: "Traffic per stage",
        kind: "timeseries",
        description: "Packets per second through each stage (IRQs per second at rx.4).",
        queries: &[(
            r#"sum by (stage) (pktmap_stage_traffic_per_second{instance=~"$instance"})"#,
            "{{stage}}",
        )],
    },
    Panel {
        title: "Top losses by stage and namespace",
        kind: "table",
        description: "The ten stage and namespace pairs losing the most; names in the namespaces table.",
        queries: &[(
            r#"topk(10, sum by (stage, netns) (pktmap_stage_drops_per_second{instance=~"$instance"}) > 0)"#,
            "",
        )],
    },
    Panel {
        title: "Kernel loss counters",
        kind: "timeseries",
        description: "Each kernel counter that discards packets, under its own name, per second.",
        queries: &[(
            r#"topk(10, rate(pktmap_kernel_loss_total{instance=~"$instance"}[1m]) > 0)"#,
            "{{counter}} {{device}} {{netns}}",
        )],
    },
    Panel {
        title: "Findings and what to do",
        kind: "table",
        description: "The background diagnosis: each finding's title and first action. The link opens the node's /api/diagnose.",
        queries: &[(
            r#"max by (instance, netns, stage, rule, subject, title, action) (pktmap_finding_info{instance=~"$instance"})"#,
            "",
        )],
    },
    Panel {
        title: "Limits",
        kind: "table",
        description: "Settings that are limits (backlog, rings, conntrack table, somaxconn), to read usage against.",
        queries: &[(
            r#"max by (name, device, netns) (pktmap_limit{instance=~"$instance"})"#,
            "",
        )],
    },
    Panel {
        title: "Namespaces",
        kind: "table",
        description: "Each network namespace read, with its name and container.",
        queries: &[(
            r#"pktmap_netns_info{instance=~"$instance"} or on () vector(0)"#,
            "",
        )],
    },
    Panel {
        title: "What pktmap cannot see",
        kind: "table",
        description: "Collectors that could not read everything, and why (0 when they all could).",
        queries: &[(
            r#"pktmap_unseen{instance=~"$instance"} or on () vector(0)"#,
            "",
        )],
    },
    Panel {
        title: "pktmap's own cost",
        kind: "timeseries",
        description: "Seconds each snapshot's collectors took, the age of the socket census it \
                      kept, and series the page left out.",
        queries: &[
            (
                r#"sum by (instance) (pktmap_collector_duration_seconds{instance=~"$instance"})"#,
                "collect {{instance}}",
            ),
            (
                r#"max by (instance) (pktmap_census_age_seconds{instance=~"$instance"})"#,
                "socket census age {{instance}}",
            ),
            (
                r#"max by (instance) (pktmap_series_left_out{instance=~"$instance"})"#,
                "series left out {{instance}}",
            ),
        ],
    },
];

/// Every query of the dashboard with `$instance` replaced, for running outside Grafana.
pub fn queries(instance: &str) -> Vec<(&'static str, String)> {
    PANELS
        .iter()
        .flat_map(|p| {
            p.queries
                .iter()
                .map(move |(q, _)| (p.title, q.replace("$instance", instance)))
        })
        .collect()
}

/// The dashboard, as Grafana imports it.
pub fn json() -> Value {
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
    let panels: Vec<Value> = PANELS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (w, h) = if p.kind == "table" { (12, 8) } else { (12, 7) };
            let targets: Vec<Value> = p
                .queries
                .iter()
                .enumerate()
                .map(|(j, (expr, legend))| {
                    let mut t = json!({
                        "datasource": datasource,
                        "expr": expr,
                        "refId": ((b'A' + j as u8) as char).to_string(),
                    });
                    if p.kind == "table" {
                        t["instant"] = json!(true);
                        t["format"] = json!("table");
                    } else {
                        t["legendFormat"] = json!(legend);
                    }
                    t
                })
                .collect();
            let mut panel = json!({
                "id": i + 1,
                "type": p.kind,
                "title": p.title,
                "description": p.description,
                "datasource": datasource,
                "gridPos": {"h": h, "w": w, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "targets": targets,
            });
            if p.title.starts_with("Findings") {
                panel["fieldConfig"] = json!({"defaults": {"links": [{
                    "title": "This node's diagnosis",
                    "url": "http://${__data.fields.instance}/api/diagnose",
                    "targetBlank": true
                }]}, "overrides": []});
            }
            panel
        })
        .collect();
    json!({
        "title": "pktmap: where packets are lost",
        "uid": "pktmap-node",
        "tags": ["pktmap", "network"],
        "schemaVersion": 39,
        "editable": true,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "links": [{
            "title": "pktmap diagnose (this node)",
            "type": "link",
            "url": "http://${instance}/api/diagnose",
            "targetBlank": true
        }],
        "templating": {"list": [
            {
                "name": "datasource",
                "type": "datasource",
                "query": "prometheus",
                "label": "Prometheus"
            },
            {
                "name": "instance",
                "type": "query",
                "label": "Node",
                "datasource": datasource,
                "query": {"query": "label_values(pktmap_stage_drops_per_second, instance)", "refId": "instance"},
                "definition": "label_values(pktmap_stage_drops_per_second, instance)",
                "refresh": 2,
                "includeAll": true,
                "multi": true,
                "allValue": ".*"
            }
        ]},
        "panels": panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_reads_only_series_the_page_writes() {
        let written = [
            "pktmap_stage_drops_per_second",
            "pktmap_stage_traffic_per_second",
            "pktmap_stage_losing",
            "pktmap_kernel_loss_total",
            "pktmap_finding_info",
            "pktmap_limit",
            "pktmap_netns_info",
            "pktmap_unseen",
            "pktmap_collector_duration_seconds",
            "pktmap_census_age_seconds",
            "pktmap_series_left_out",
        ];
        for (title, q) in queries(".*") {
            let names: Vec<&str> = q
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("pktmap_"))
                .collect();
            assert!(!names.is_empty(), "{title}: {q}");
            for n in names {
                assert!(written.contains(&n), "{title}: {n}");
            }
            assert!(!q.contains('$'), "{title}: {q}");
        }
    }

    #[test]
    fn panels_have_unique_ids_and_places() {
        let d = json();
        let panels = d["panels"].as_array().unwrap();
        assert_eq!(panels.len(), PANELS.len());
        let mut places: Vec<(u64, u64)> = panels
            .iter()
            .map(|p| {
                (
                    p["gridPos"]["x"].as_u64().unwrap(),
                    p["gridPos"]["y"].as_u64().unwrap(),
                )
            })
            .collect();
        places.sort();
        places.dedup();
        assert_eq!(places.len(), panels.len());
    }
}
