//! What `pktmap top` draws, from the same JSON documents `serve` answers with (`/api/walk`,
//! `/api/diagnose`), so a local run and a remote one look the same. Pure: a model in, a
//! frame out, tested on ratatui's test backend.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Wrap};
use serde_json::Value;

/// The views, in the order the number keys and Tab reach them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum View {
    Map,
    Findings,
    Cpus,
    Queues,
    Reasons,
    Sockets,
}

pub const VIEWS: [(View, &str); 6] = [
    (View::Map, "map"),
    (View::Findings, "findings"),
    (View::Cpus, "cpus"),
    (View::Queues, "queues"),
    (View::Reasons, "reasons"),
    (View::Sockets, "sockets"),
];

/// Everything on screen: the documents of the last interval and the user's choices.
pub struct Model {
    /// One walk document per namespace, and its diagnosis (same order).
    pub walks: Vec<Value>,
    pub diagnoses: Vec<Value>,
    pub ns: usize,
    pub view: View,
    /// The selected stage, as an index into the walk's stages.
    pub stage: usize,
    /// Only this device's rows in the queue view.
    pub device: Option<String>,
    pub paused: bool,
    pub help: bool,
    pub explain: bool,
    /// Where the data comes from, and how old it is.
    pub source: String,
    pub age_s: u64,
}

impl Model {
    /// Nothing measured yet, on the map view.
    pub fn new(source: String) -> Model {
        Model {
            walks: Vec::new(),
            diagnoses: Vec::new(),
            ns: 0,
            view: View::Map,
            stage: 0,
            device: None,
            paused: false,
            help: false,
            explain: false,
            source,
            age_s: 0,
        }
    }

    pub fn walk(&self) -> &Value {
        self.walks.get(self.ns).unwrap_or(&Value::Null)
    }

    pub fn findings(&self) -> &[Value] {
        self.diagnoses
            .get(self.ns)
            .and_then(|d| d["findings"].as_array())
            .map_or(&[], Vec::as_slice)
    }

    pub fn stages(&self) -> &[Value] {
        self.walk()["stages"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The devices named by the walk's counters, for the device key to cycle through.
    pub fn devices(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .stages()
            .iter()
            .flat_map(|s| s["counters"].as_array().into_iter().flatten())
            .filter_map(|c| c["labels"]["dev"].as_str().map(str::to_string))
            .collect();
        d.sort();
        d.dedup();
        d
    }

    fn netns_name(&self) -> String {
        match &self.walk()["host"]["netns"] {
            Value::Null => "this namespace".into(),
            n => {
                let name = n["name"]
                    .as_str()
                    .or(n["container"].as_str())
                    .unwrap_or("unnamed");
                format!("{name} (net:[{}])", n["inode"])
            }
        }
    }
}

fn rate(v: &Value) -> String {
    v.as_f64().map_or("-".into(), pktmap_render::fmt::si)
}

/// The state of a stage, in a word (colour is never the only signal).
fn state(stage: &Value, findings: &[Value]) -> (&'static str, Style) {
    let id = &stage["id"];
    if stage["losing"] == true {
        ("LOSING", Style::new().red().add_modifier(Modifier::BOLD))
    } else if findings
        .iter()
        .any(|f| &f["stage"] == id && f["severity"] != "info")
    {
        (
            "WARNING",
            Style::new().yellow().add_modifier(Modifier::BOLD),
        )
    } else if stage["traffic_per_s"].is_null()
        && stage["counters"].as_array().is_none_or(Vec::is_empty)
    {
        ("-", Style::new().dark_gray())
    } else {
        ("ok", Style::new().green())
    }
}

pub fn draw(f: &mut Frame, m: &Model) {
    let [head, verdict, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let host = m.walk()["host"]["hostname"].as_str().unwrap_or("?");
    let mut title = vec![
        Span::styled("pktmap top ", Style::new().bold()),
        Span::raw(format!(
            "{host} · {} ({}/{}) · {} · {}",
            m.netns_name(),
            m.ns + 1,
            m.walks.len().max(1),
            m.source,
            if m.age_s < 3 {
                "live".to_string()
            } else {
                format!("data {} s old", m.age_s)
            }
        )),
    ];
    if m.paused {
        title.push(Span::styled("  PAUSED", Style::new().reversed()));
    }
    f.render_widget(Line::from(title), head);
    let v = match m.walk()["first_loss"].as_str() {
        Some(id) => {
            let name = pktmap_model::catalog::stage(id).map_or("", |s| s.title);
            Line::styled(
                format!("LOSS: packets are dropped first at {id} {name}"),
                Style::new().red().bold(),
            )
        }
        None if m.walks.is_empty() => Line::raw("measuring the first interval..."),
        None => Line::styled(
            "OK: no loss counter moved past its floor",
            Style::new().green(),
        ),
    };
    f.render_widget(v, verdict);
    match m.view {
        View::Map => map(f, m, body),
        View::Findings => findings(f, m, body),
        View::Cpus => cpus(f, m, body),
        View::Queues => queues(f, m, body),
        View::Reasons => reasons(f, m, body),
        View::Sockets => sockets(f, m, body),
    }
    let tabs: Vec<Span> = VIEWS
        .iter()
        .enumerate()
        .flat_map(|(i, (view, name))| {
            let s = format!("{}:{name}", i + 1);
            let style = if *view == m.view {
                Style::new().reversed()
            } else {
                Style::new()
            };
            [Span::styled(s, style), Span::raw(" ")]
        })
        .chain([Span::raw("?:help q:quit")])
        .collect();
    f.render_widget(Line::from(tabs), foot);
    if m.explain {
        overlay(f, "explain", &explain(m));
    }
    if m.help {
        overlay(f, "help", HELP);
    }
}

const HELP: &str = "1-6 or Tab: the views (map, findings, CPUs, queues, drop reasons, sockets)\n\
Up/Down: choose a stage on the map\n\
e: explain the chosen stage and its counters that moved\n\
n / N: next / previous namespace\n\
d: cycle the device shown in the queue view\n\
p or space: pause (keep this interval on screen)\n\
?: this help    q, Esc or Ctrl-C: quit";

fn overlay(f: &mut Frame, title: &str, text: &str) {
    let a = f.area();
    let area = Rect {
        x: a.width / 10,
        y: a.height / 6,
        width: a.width - a.width / 5,
        height: (a.height * 2 / 3).max(5),
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" {title} (any key closes) "))),
        area,
    );
}

fn explain(m: &Model) -> String {
    let Some(s) = m.stages().get(m.stage) else {
        return "no stage chosen".into();
    };
    let id = s["id"].as_str().unwrap_or("?");
    let mut out = match pktmap_model::catalog::stage(id) {
        Some(c) => format!("{id} {}: {}\n", c.title, c.happens),
        None => format!("{id}\n"),
    };
    for c in s["counters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["delta"].as_u64().is_some_and(|d| d > 0))
        .take(12)
    {
        let name = c["name"].as_str().unwrap_or("?");
        let about = pktmap_model::catalog::item(name).map_or("", |i| i.about);
        out.push_str(&format!("\n{name} {}/s: {about}", rate(&c["rate"])));
    }
    out
}

fn map(f: &mut Frame, m: &Model, area: Rect) {
    let found = m.findings();
    let rows: Vec<Row> = m
        .stages()
        .iter()
        .enumerate()
        .filter(|(_, s)| s["path"] != "container")
        .map(|(i, s)| {
            let (word, style) = state(s, found);
            let n = found.iter().filter(|f| f["stage"] == s["id"]).count();
            let lane = if s["path"] == "rx" { "RX" } else { "TX" };
            let row = Row::new(vec![
                lane.to_string(),
                s["id"].as_str().unwrap_or("").to_string(),
                s["title"].as_str().unwrap_or("").to_string(),
                rate(&s["traffic_per_s"]),
                rate(&s["drops_per_s"]),
                word.to_string(),
                if n > 0 { format!("{n}") } else { String::new() },
            ])
            .style(style);
            if i == m.stage {
                row.add_modifier(Modifier::REVERSED)
            } else {
                row
            }
        })
        .collect();
    let t = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Min(18),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(4),
        ],
    )
    .header(Row::new(["", "stage", "", "traffic/s", "drops/s", "state", "find"]).bold());
    f.render_widget(t, area);
}

fn findings(f: &mut Frame, m: &Model, area: Rect) {
    let mut lines = Vec::new();
    for x in m.findings() {
        let sev = x["severity"].as_str().unwrap_or("").to_uppercase();
        let style = match sev.as_str() {
            "CRITICAL" => Style::new().red().bold(),
            "WARNING" => Style::new().yellow().bold(),
            _ => Style::new(),
        };
        lines.push(Line::styled(
            format!(
                "{sev} {} {}",
                x["stage"].as_str().unwrap_or(""),
                x["title"].as_str().unwrap_or("")
            ),
            style,
        ));
        for a in x["actions"].as_array().into_iter().flatten().take(3) {
            lines.push(Line::raw(format!(
                "    $ {}",
                a["command"].as_str().unwrap_or("")
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::raw("nothing found in the last interval"));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// `(label, [rates by counter name])` of the stage's counters grouped by one label.
fn grouped(m: &Model, stages: &[&str], key: &str, names: &[&str]) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for s in m
        .stages()
        .iter()
        .filter(|s| stages.iter().any(|id| s["id"] == *id))
    {
        for c in s["counters"].as_array().into_iter().flatten() {
            let Some(v) = c["labels"][key].as_str() else {
                continue;
            };
            let dev = c["labels"]["dev"].as_str();
            if key == "queue" && m.device.as_deref().is_some_and(|d| Some(d) != dev) {
                continue;
            }
            let label = match dev {
                Some(d) if key == "queue" => format!("{d} q{v}"),
                _ => format!("{key}{v}"),
            };
            let name = c["name"].as_str().unwrap_or("");
            let Some(col) = names.iter().position(|n| name.ends_with(n)) else {
                continue;
            };
            let i = match out.iter().position(|r| r.0 == label) {
                Some(i) => i,
                None => {
                    out.push((label, vec![0.0; names.len()]));
                    out.len() - 1
                }
            };
            out[i].1[col] += c["rate"].as_f64().unwrap_or(0.0);
        }
    }
    out
}

fn table_of(f: &mut Frame, area: Rect, head: &[&str], rows: Vec<(String, Vec<f64>)>, empty: &str) {
    if rows.is_empty() {
        f.render_widget(Paragraph::new(empty.to_string()), area);
        return;
    }
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(18))
        .chain(head.iter().map(|_| Constraint::Length(14)))
        .collect();
    let body: Vec<Row> = rows
        .into_iter()
        .map(|(l, v)| {
            let lost = v.iter().skip(1).any(|x| *x > 0.0);
            let r =
                Row::new(std::iter::once(l).chain(v.iter().map(|x| pktmap_render::fmt::si(*x))));
            if lost { r.red() } else { r }
        })
        .collect();
    let header = Row::new(std::iter::once("").chain(head.iter().copied())).bold();
    f.render_widget(Table::new(body, widths).header(header), area);
}

fn cpus(f: &mut Frame, m: &Model, area: Rect) {
    let rows = grouped(
        m,
        &["rx.5", "rx.7"],
        "cpu",
        &["processed", "dropped", "time_squeeze"],
    );
    table_of(
        f,
        area,
        &["packets/s", "dropped/s", "squeezed/s"],
        rows,
        "no per-CPU softnet counters here",
    );
}

fn queues(f: &mut Frame, m: &Model, area: Rect) {
    let rows = grouped(
        m,
        &["rx.1", "rx.3", "tx.4", "tx.5"],
        "queue",
        &["packets", "drops", "errors"],
    );
    let shown = m.device.as_deref().unwrap_or("every device");
    table_of(
        f,
        area,
        &["packets/s", "drops/s", "errors/s"],
        rows,
        &format!("no per-queue counters for {shown} (a veth has one queue and few counters)"),
    );
}

fn reasons(f: &mut Frame, m: &Model, area: Rect) {
    let lines: Vec<Line> = m
        .findings()
        .iter()
        .flat_map(|x| x["evidence"].as_array().into_iter().flatten())
        .filter(|e| {
            e["key"]
                .as_str()
                .is_some_and(|k| k.starts_with("drop reason"))
        })
        .map(|e| {
            Line::raw(format!(
                "{:<40} {:>10}  {}",
                e["key"].as_str().unwrap_or(""),
                e["delta"].as_u64().unwrap_or(0),
                e["scope"].as_str().unwrap_or("")
            ))
        })
        .collect();
    let text = if lines.is_empty() {
        vec![Line::raw(
            "no drop reasons: they come from the kernel's tracer (`pktmap serve --trace`, then \
             `pktmap top --from http://HOST:9977`)",
        )]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
}

fn sockets(f: &mut Frame, m: &Model, area: Rect) {
    let rows: Vec<Row> = m
        .stages()
        .iter()
        .flat_map(|s| s["sockets"].as_array().into_iter().flatten())
        .map(|s| {
            let why: Vec<&str> = s["why"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            Row::new(vec![
                s["proto"].as_str().unwrap_or("").to_string(),
                s["state"].as_str().unwrap_or("").to_string(),
                s["local"].as_str().unwrap_or("").to_string(),
                s["remote"].as_str().unwrap_or("").to_string(),
                s["recv_q"].to_string(),
                s["send_q"].to_string(),
                s["command"].as_str().unwrap_or("").to_string(),
                why.join(","),
            ])
        })
        .collect();
    if rows.is_empty() {
        f.render_widget(Paragraph::new("no socket in trouble"), area);
        return;
    }
    let widths = [
        Constraint::Length(4),
        Constraint::Length(10),
        Constraint::Length(22),
        Constraint::Length(22),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Min(10),
    ];
    let header = Row::new([
        "", "state", "local", "peer", "Recv-Q", "Send-Q", "process", "why",
    ])
    .bold();
    f.render_widget(Table::new(rows, widths).header(header), area);
}
