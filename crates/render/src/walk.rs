//! `pktmap walk` as text: the verdict first, then every stage in path order with its traffic,
//! the loss counters that moved, its per-CPU or per-queue spread and its settings.

use crate::Style;
use crate::fmt::{grouped, labels, paragraph, short_setting, si, wrap};
use pktmap_model::catalog::{Class, Path};
use pktmap_model::delta::ChangeStatus;
use pktmap_model::snapshot::{CollectorStatus, Setting};
use pktmap_model::walk::{CounterView, StageView, Walk};
use std::collections::BTreeMap;

pub const WIDTH: usize = 100;
/// Loss lines shown per stage before folding the rest into a count.
const MAX_LOSS_LINES: usize = 8;
/// Entries of a per-CPU or per-queue spread shown before folding.
const MAX_SPREAD: usize = 8;

pub fn text(w: &Walk, style: Style) -> String {
    let mut out = Vec::new();
    let host = w.host.hostname.as_deref().unwrap_or("?");
    let kernel = w.host.kernel.as_deref().unwrap_or("?");
    let mut head = format!(
        "pktmap walk  {host}  Linux {kernel}  {} CPUs  interval {:.2} s",
        w.host.cpus, w.interval_s
    );
    if let Some(i) = &w.iface {
        head.push_str(&format!("  iface {i}"));
    }
    if let Some(ns) = &w.host.netns {
        head.push_str(&format!("\nnamespace {}", ns.display()));
        if let (Some(c), Some(_)) = (&ns.container, &ns.name) {
            head.push_str(&format!("  {c}"));
        }
    }
    out.push(style.bold(&head));
    if !w.same_boot {
        out.push(
            style.yellow(
                "the snapshots come from different boots: every counter restarted, no rates",
            ),
        );
    }
    out.extend(verdict(w, style));

    for (path, title) in [
        (Path::Rx, "RECEIVE PATH"),
        (Path::Tx, "TRANSMIT PATH"),
        (Path::Container, "CONTAINER LEGS"),
    ] {
        out.push(String::new());
        out.push(style.bold(&format!("{title:<68}{:>16}{:>16}", "traffic", "drops")));
        for s in w.stages.iter().filter(|s| s.path == path) {
            out.extend(stage(s, style));
        }
    }

    let unread: Vec<String> = w
        .collectors
        .iter()
        .filter(|c| c.status != CollectorStatus::Ok)
        .map(|c| {
            format!(
                "{} ({}): {}",
                c.id,
                status_word(c.status),
                c.notes.join("; ")
            )
        })
        .collect();
    if !unread.is_empty() {
        out.push(String::new());
        out.push(style.yellow("not read:"));
        for u in unread {
            let mut lines = paragraph("    ", &u, WIDTH);
            if let Some(first) = lines.first_mut() {
                first.replace_range(..4, "  ");
            }
            out.extend(lines);
        }
    }
    if !w.gone.is_empty() {
        let mut devs: Vec<String> = w.gone.iter().map(|m| labels(&m.labels)).collect();
        devs.dedup();
        out.push(format!("vanished during the interval: {}", devs.join(", ")));
    }
    out.join("\n") + "\n"
}

fn status_word(s: CollectorStatus) -> &'static str {
    match s {
        CollectorStatus::Ok => "ok",
        CollectorStatus::Partial => "partly",
        CollectorStatus::Unavailable => "unavailable",
        CollectorStatus::Error => "unreadable",
    }
}

fn verdict(w: &Walk, style: Style) -> Vec<String> {
    let losing: Vec<&StageView> = w.stages.iter().filter(|s| s.losing).collect();
    let Some(first) = losing.first() else {
        return vec![style.green(&format!(
            "OK: no loss counter moved past its floor in {:.2} s",
            w.interval_s
        ))];
    };
    let mut lines = vec![style.red(&format!(
        "LOSS: packets are dropped first at {} {}: {}",
        first.id,
        first.title,
        top_losses(first)
    ))];
    for s in &losing[1..] {
        lines.push(format!("  then at {} {}: {}", s.id, s.title, top_losses(s)));
    }
    lines
}

fn top_losses(s: &StageView) -> String {
    s.losses()
        .iter()
        .filter(|c| c.change.rate.is_some())
        .take(3)
        .map(|c| format!("{} {}/s", c.change.name, si(c.change.rate.unwrap_or(0.0))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stage(s: &StageView, style: Style) -> Vec<String> {
    let traffic = s
        .traffic_per_s
        .map(|t| format!("{} {}", si(t), s.unit))
        .unwrap_or_else(|| "-".into());
    // Red only where the stage loses: below every floor the figure is noise, shown plain.
    let drops = match (s.drops_per_s > 0.0, s.losing) {
        (true, true) => style.red(&format!("{:>14}", format!("{}/s", si(s.drops_per_s)))),
        (true, false) => format!("{:>14}", format!("{}/s", si(s.drops_per_s))),
        _ => format!("{:>14}", "0"),
    };
    let title = format!(" {:<10}{}", s.id, s.title);
    let mut out = vec![format!("{:<68}{:>16}  {}", title, traffic, drops)];

    let (resets, losses): (Vec<&CounterView>, Vec<&CounterView>) = s
        .moved_losses()
        .into_iter()
        .partition(|c| c.change.status == ChangeStatus::Reset);
    for c in losses.iter().take(MAX_LOSS_LINES) {
        out.push(loss_line(c, style));
    }
    if losses.len() > MAX_LOSS_LINES {
        out.push(format!(
            "         ... and {} more (see --json)",
            losses.len() - MAX_LOSS_LINES
        ));
    }
    out.extend(rules(s, style));
    out.extend(reset_lines(&resets, style));
    for r in &s.skipped {
        out.push(style.yellow(&format!(
            "         ? {} line {}, {}: {} (row not read; the figures lack it)",
            r.path, r.line, r.field, r.reason
        )));
    }
    out.extend(spread(s));
    out.extend(sockets(s, style));
    out.extend(settings(&s.settings));
    out
}

/// The firewall rules that drop here, by name and text; a rule without a counter is listed
/// as one whose drops cannot be told apart.
fn rules(s: &StageView, style: Style) -> Vec<String> {
    const SHOWN: usize = 5;
    let mut out: Vec<String> = s
        .rules
        .iter()
        .take(SHOWN)
        .map(|v| {
            let r = &v.rule;
            let comment = r
                .comment
                .as_ref()
                .map(|c| format!("  \"{c}\""))
                .unwrap_or_default();
            match v.rate {
                Some(rate) => style.red(&format!(
                    "         # {}: {}{comment}  {}/s",
                    r.place(),
                    r.text,
                    si(rate)
                )),
                None => style.yellow(&format!(
                    "         ? {}: {}{comment}  (no counter: its drops cannot be told apart)",
                    r.place(),
                    r.text
                )),
            }
        })
        .collect();
    if s.rules.len() > SHOWN {
        out.push(format!(
            "           ... and {} more rules (see --json)",
            s.rules.len() - SHOWN
        ));
    }
    out
}

/// Sockets showing the stage's trouble, worst first, folded after a few.
fn sockets(s: &StageView, style: Style) -> Vec<String> {
    const SHOWN: usize = 5;
    let mut out: Vec<String> = s
        .sockets
        .iter()
        .take(SHOWN)
        .map(|k| {
            let owner = k.owner();
            let what = if k.state == "LISTEN" {
                format!("accept queue {}/{}", k.recv_q, k.send_q)
            } else {
                let mut w = format!("Recv-Q {}", grouped(k.recv_q));
                if let Some(d) = k.skmem.get("drops").filter(|d| **d > 0) {
                    w.push_str(&format!(" drops {}", grouped(*d)));
                }
                if let Some(r) = k.tcp_info.get("total_retrans").filter(|r| **r > 0) {
                    w.push_str(&format!(" retrans {}", grouped(*r)));
                }
                w
            };
            style.yellow(&format!(
                "         @ {} {} {}{owner}: {what}",
                k.proto, k.state, k.local
            ))
        })
        .collect();
    if s.sockets.len() > SHOWN {
        out.push(format!(
            "           ... and {} more sockets (see --json)",
            s.sockets.len() - SHOWN
        ));
    }
    out
}

/// Counters that restarted, one line per device or CPU: a re-created interface resets them all.
fn reset_lines(resets: &[&CounterView], style: Style) -> Vec<String> {
    let mut by_owner: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in resets {
        by_owner
            .entry(labels(&c.change.labels))
            .or_default()
            .push(&c.change.name);
    }
    by_owner
        .into_iter()
        .map(|(owner, names)| {
            let owner = if owner.is_empty() {
                "host".to_string()
            } else {
                owner
            };
            let what = if names.len() <= 2 {
                names.join(", ")
            } else {
                format!("{} counters", names.len())
            };
            style.yellow(&format!(
                "         ~ {owner}: {what} restarted (re-created or reset), no rate"
            ))
        })
        .collect()
}

fn loss_line(c: &CounterView, style: Style) -> String {
    let what = format!("{} {}", c.change.name, labels(&c.change.labels));
    let rate = format!("{}/s", si(c.change.rate.unwrap_or(0.0)));
    // `!` a loss past its floor, `.` a loss below it (noise on any host), `*` strain.
    let mark = match (c.is_loss(), c.above_floor) {
        (true, true) => '!',
        (true, false) => '.',
        _ => '*',
    };
    let new = if c.change.status == ChangeStatus::New {
        "  new since the first snapshot"
    } else {
        ""
    };
    // A counter that also counts the counters beside it says how much is its own.
    let own = match c.own_delta() {
        Some(o) if c.included > 0 && !c.detail => format!(", +{} its own", grouped(o)),
        _ => String::new(),
    };
    let line = format!(
        "         {mark} {what:<52}{rate:>12}  +{}{own}{new}",
        grouped(c.change.delta.unwrap_or(0))
    );
    match (c.class, c.above_floor) {
        (Class::Drop, true) => style.red(&line),
        _ => style.yellow(&line),
    }
}

/// Where the stage's traffic went: per CPU, per queue or per device, busiest first.
fn spread(s: &StageView) -> Vec<String> {
    let mut parts: Vec<(f64, String)> = s
        .counters
        .iter()
        .filter(|c| c.class == Class::Traffic && !c.change.labels.is_empty())
        .filter_map(|c| c.change.rate.map(|r| (r, labels(&c.change.labels))))
        .collect();
    if parts.len() < 2 {
        return Vec::new();
    }
    let idle = parts.iter().filter(|(r, _)| *r == 0.0).count();
    parts.retain(|(r, _)| *r > 0.0);
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let shown = parts.len().min(MAX_SPREAD);
    let mut words: Vec<String> = parts[..shown]
        .iter()
        .map(|(r, l)| format!("{l} {}", si(*r)))
        .collect();
    if parts.len() > shown {
        words.push(format!("+{} more", parts.len() - shown));
    }
    if idle > 0 {
        words.push(format!("({idle} idle)"));
    }
    if parts.is_empty() {
        return Vec::new();
    }
    wrap("         by ", &words, WIDTH)
}

/// Raw identifiers the JSON keeps for tools; the text shows what they resolve to
/// (`link.peer`, `link.iflink`).
const JSON_ONLY: &[&str] = &["link.peer_index", "link.peer_netnsid"];

/// Settings folded: one word per global setting, per-device settings grouped by value.
fn settings(settings: &[Setting]) -> Vec<String> {
    let mut words = Vec::new();
    let mut by_name: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for s in settings
        .iter()
        .filter(|s| !JSON_ONLY.contains(&s.name.as_str()))
    {
        if s.labels.is_empty() {
            words.push(format!("{}={}", short_setting(&s.name), s.value));
        } else {
            // Two sources of one fact (the driver from sysfs and from ethtool) share a short
            // name: one word, each device once.
            let who = by_name
                .entry(short_setting(&s.name))
                .or_default()
                .entry(&s.value)
                .or_default();
            let l = labels(&s.labels);
            if !who.contains(&l) {
                who.push(l);
            }
        }
    }
    for (name, values) in by_name {
        if values.len() == 1 {
            let (value, who) = values.iter().next().expect("one entry");
            if who.len() == 1 {
                words.push(format!("{name}={value} ({})", who[0]));
            } else {
                words.push(format!("{name}={value} (all {})", who.len()));
            }
        } else {
            let listed: Vec<String> = values
                .iter()
                .take(4)
                .map(|(v, who)| format!("{v} ({})", fold_who(who)))
                .collect();
            let more = if values.len() > 4 {
                format!(", +{} values", values.len() - 4)
            } else {
                String::new()
            };
            words.push(format!("{name}: {}{more}", listed.join(", ")));
        }
    }
    if words.is_empty() {
        return Vec::new();
    }
    wrap("         set ", &words, WIDTH)
}

fn fold_who(who: &[String]) -> String {
    if who.len() <= 2 {
        who.join(", ")
    } else {
        format!("{}, +{}", who[0], who.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, dev: &str, value: &str) -> Setting {
        Setting {
            name: name.into(),
            labels: [("dev".to_string(), dev.to_string())].into_iter().collect(),
            value: value.into(),
        }
    }

    #[test]
    fn one_fact_from_two_sources_is_one_word() {
        let lines = settings(&[
            set("link.driver", "eth0", "virtio_net"),
            set("ethtool.driver", "eth0", "virtio_net"),
            set("ethtool.driver", "ifb0", "ifb"),
        ]);
        let text = lines.join("\n");
        assert_eq!(text.matches("driver").count(), 1, "{text}");
        assert!(
            text.contains("driver: ifb (ifb0), virtio_net (eth0)"),
            "{text}"
        );
    }
}
