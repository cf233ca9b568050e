//! `pktmap explain KEY`: what a stage or catalog key means, where pktmap reads it, the
//! commands around it, and its value on this host now.

use crate::Style;
use crate::fmt::{grouped, labels, paragraph};
use pktmap_model::catalog::{self, ITEMS, ItemKind};
use pktmap_model::snapshot::Snapshot;
use serde_json::{Value, json};

/// The explanation as data; `None` when nothing in the catalog matches.
pub fn json(key: &str, snap: &Snapshot) -> Option<Value> {
    if let Some(handle) = rule_handle(key) {
        return rules_json(handle, snap);
    }
    if let Some(stage) = catalog::stage(key) {
        let items: Vec<&str> = ITEMS
            .iter()
            .filter(|i| i.stage == stage.id)
            .map(|i| i.key)
            .collect();
        return Some(json!({ "stage": stage, "items": items }));
    }
    if catalog::find(key).is_none()
        && let Some(r) = catalog::reason(key.trim_start_matches("SKB_DROP_REASON_"))
    {
        return Some(reason_json(r));
    }
    let (item, group) = match catalog::find(key) {
        Some(i) => (Some(i), None),
        None => (None, Some(catalog::group(key)?)),
    };
    let names: Vec<&str> = match item {
        Some(i) => std::iter::once(i.key)
            .chain(i.values.iter().copied())
            .collect(),
        None => vec![key],
    };
    let values: Vec<Value> = snap
        .metrics
        .iter()
        .filter(|m| names.contains(&m.name.as_str()))
        .map(|m| json!({ "name": m.name, "labels": m.labels, "value": m.value, "kind": m.kind }))
        .chain(
            snap.settings
                .iter()
                .filter(|s| names.contains(&s.name.as_str()))
                .map(|s| json!({ "name": s.name, "labels": s.labels, "value": s.value })),
        )
        .collect();
    let stage_id = item.map(|i| i.stage).or(group.map(|g| g.stage))?;
    Some(json!({
        "key": item.map(|i| i.key).unwrap_or(key),
        "item": item,
        "group": group,
        "stage": catalog::stage(stage_id),
        "values": values,
        "not_collected": item.filter(|_| values.is_empty()).and_then(|i| not_collected(i.kind)),
        "reason": item
            .filter(|i| i.kind == ItemKind::DropReason)
            .and_then(|i| catalog::reason(i.key)),
    }))
}

/// `12` or `handle 12`: an nft rule handle, as diagnose's findings name them.
fn rule_handle(key: &str) -> Option<&str> {
    let n = key.trim().trim_start_matches("handle").trim();
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// The firewall rules with this handle (handles are per table, so there may be several) that
/// drop or reject: where they run, what they match, their counter and how to see them.
fn rules_json(handle: &str, snap: &Snapshot) -> Option<Value> {
    let rules: Vec<Value> = snap
        .firewall
        .iter()
        .filter(|r| !r.legacy && r.rule == handle)
        .map(|r| {
            let counter = r.counter();
            json!({
                "rule": r,
                "place": r.place(),
                "owner": r.owner(),
                "counter": counter,
                "stage": counter.and_then(catalog::place).and_then(|p| catalog::stage(p.stage)),
                "show": r.show_command(),
            })
        })
        .collect();
    if rules.is_empty() {
        return None;
    }
    Some(json!({ "key": format!("handle {handle}"), "rules": rules }))
}

fn rules_text(v: &Value, style: Style) -> String {
    let mut out = Vec::new();
    for r in v["rules"].as_array().into_iter().flatten() {
        let rule = &r["rule"];
        out.push(style.bold(r["place"].as_str().unwrap_or("")));
        out.push(format!("  {}", rule["text"].as_str().unwrap_or("")));
        if let Some(c) = rule["comment"].as_str() {
            out.push(format!("  comment: \"{c}\""));
        }
        if let Some(o) = r["owner"].as_str() {
            out.push(format!("  belongs to {o}"));
        }
        let hooks: Vec<&str> = rule["hooks"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push(if hooks.is_empty() {
            "  runs: no base chain reaches it".into()
        } else {
            format!(
                "  runs at: {}  (stage {} {})",
                hooks.join(", "),
                r["stage"]["id"].as_str().unwrap_or("?"),
                r["stage"]["title"].as_str().unwrap_or("")
            )
        });
        out.push(match (rule["packets"].as_u64(), r["counter"].as_str()) {
            (Some(p), Some(c)) => format!("  packets {}: counted as {c}", grouped(p)),
            (Some(p), None) => format!("  packets {}", grouped(p)),
            _ => "  no counter: its drops cannot be told from other rules' (add `counter`)".into(),
        });
        out.push(format!("  see it: {}", r["show"].as_str().unwrap_or("")));
    }
    out.join("\n") + "\n"
}

/// A drop reason of the kernel's that has no catalog notes of its own: its stage, what moves
/// when it fires, and how pktmap counts it.
fn reason_json(r: &catalog::Reason) -> Value {
    json!({
        "key": r.name,
        "item": null,
        "group": null,
        "stage": catalog::stage(r.stage),
        "values": [],
        "not_collected": not_collected(ItemKind::DropReason),
        "reason": r,
    })
}

/// Sources this version of pktmap does not read yet, said plainly instead of an empty value.
fn not_collected(kind: ItemKind) -> Option<&'static str> {
    match kind {
        ItemKind::Ethtool => {
            Some("no device here answered this through ethtool (virtual devices offer little)")
        }
        ItemKind::Socket => Some(
            "kept per socket: the sockets worth a look are in `pktmap snapshot` (\"sockets\") and on the walk's socket lines",
        ),
        ItemKind::DropReason => Some(
            "a drop reason has no value in a snapshot: `pktmap trace drops` counts it live (by \
             namespace, device and code location), and `pktmap diagnose --trace` places it in \
             the report (CAP_BPF and CAP_PERFMON)",
        ),
        _ => None,
    }
}

pub fn text(v: &Value, style: Style) -> String {
    let mut out = Vec::new();
    if v.get("rules").is_some() {
        return rules_text(v, style);
    }
    let para =
        |out: &mut Vec<String>, indent: &str, text: &str| out.extend(paragraph(indent, text, 96));
    if v.get("items").is_some() {
        let s = &v["stage"];
        out.push(style.bold(&format!(
            "{}  {}",
            s["id"].as_str().unwrap_or(""),
            s["title"].as_str().unwrap_or("")
        )));
        para(&mut out, "  ", s["happens"].as_str().unwrap_or(""));
        list(&mut out, "drops here", &s["drop_points"]);
        list(&mut out, "inspect", &s["inspect"]);
        list(&mut out, "keys", &v["items"]);
        return out.join("\n") + "\n";
    }
    let stage = &v["stage"];
    out.push(style.bold(&format!(
        "{}  (stage {} {})",
        v["key"].as_str().unwrap_or(""),
        stage["id"].as_str().unwrap_or(""),
        stage["title"].as_str().unwrap_or("")
    )));
    if let Some(item) = v["item"].as_object() {
        para(&mut out, "  ", item["about"].as_str().unwrap_or(""));
        out.push(format!(
            "  read from: {}",
            item["source"].as_str().unwrap_or("")
        ));
        list(&mut out, "commands", &item["commands"]);
    } else if let Some(r) = v["reason"].as_object() {
        para(
            &mut out,
            "  ",
            &format!(
                "A place where the kernel drops a packet (enum skb_drop_reason {}).",
                r["name"].as_str().unwrap_or("")
            ),
        );
    } else if let Some(g) = v["group"].as_object() {
        para(
            &mut out,
            "  ",
            &format!(
                "One of the {}; pktmap places the family at this stage but has no notes of its own on this counter.",
                g["about"].as_str().unwrap_or("")
            ),
        );
    }
    if let Some(r) = v["reason"].as_object() {
        let moved: Vec<&str> = r["counters"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push(if moved.is_empty() {
            "  counters: none that pktmap reads moves with it; only tracing sees it".into()
        } else {
            format!("  counters that move with it: {}", moved.join(", "))
        });
    }
    let values = v["values"].as_array().cloned().unwrap_or_default();
    if let Some(why) = v["not_collected"].as_str() {
        out.push(format!("  value here: {why}"));
    } else if values.is_empty() {
        out.push("  value here: not present on this host (see `pktmap snapshot` for what could not be read)".into());
    } else {
        out.push("  value here:".into());
        for val in values.iter().take(32) {
            let l = val["labels"].as_object().map(|m| {
                let map = m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                labels(&map)
            });
            let shown = match &val["value"] {
                Value::Number(n) => n.as_u64().map(grouped).unwrap_or_else(|| n.to_string()),
                other => other.as_str().unwrap_or("").to_string(),
            };
            out.push(format!(
                "    {:<44} {}",
                format!(
                    "{} {}",
                    val["name"].as_str().unwrap_or(""),
                    l.unwrap_or_default()
                )
                .trim_end(),
                shown
            ));
        }
        if values.len() > 32 {
            out.push(format!(
                "    ... and {} more (use --json)",
                values.len() - 32
            ));
        }
    }
    out.join("\n") + "\n"
}

fn list(out: &mut Vec<String>, title: &str, v: &Value) {
    let items: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        return;
    }
    out.push(format!("  {title}:"));
    for i in items {
        out.push(format!("    {i}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktmap_model::snapshot::Meta;

    /// Every stage, catalog key and drop reason is explained, and nothing says a feature
    /// pktmap has is missing.
    #[test]
    fn every_key_and_reason_is_explained_truthfully() {
        let snap = Snapshot::new(Meta::default());
        let keys = catalog::STAGES
            .iter()
            .map(|s| s.id)
            .chain(ITEMS.iter().map(|i| i.key))
            .chain(catalog::REASONS.iter().map(|r| r.name));
        let mut n = 0;
        for key in keys {
            let v = json(key, &snap).unwrap_or_else(|| panic!("{key} is not explained"));
            let t = text(&v, Style::default());
            for stale in [
                "does not do yet",
                "this version does not",
                "not implemented",
            ] {
                assert!(!t.contains(stale), "{key}: {t}");
            }
            n += 1;
        }
        assert!(n >= 400, "{n}");
    }
}
