//! Number and label formatting shared by the text renderers.

use pktmap_model::Labels;

/// A rate or count for a narrow column: `0`, `3.25`, `812`, `12.3k`, `4.56M`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a < 10.0 {
        format!("{v:.2}")
    } else if a < 1000.0 {
        format!("{v:.0}")
    } else if a < 1e6 {
        format!("{:.1}k", v / 1e3)
    } else if a < 1e9 {
        format!("{:.2}M", v / 1e6)
    } else {
        format!("{:.2}G", v / 1e9)
    }
}

/// An integer with thousands separators: `1,234,567`.
pub fn grouped(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Labels as a reader scans them: `eth0`, `cpu1`, `eth0 q3 irq 38 cpu1`.
pub fn labels(l: &Labels) -> String {
    let mut parts = Vec::new();
    for key in ["dev", "queue", "dir", "irq", "cpu", "state"] {
        if let Some(v) = l.get(key) {
            parts.push(match key {
                "cpu" => format!("cpu{v}"),
                "queue" if v == "-" => continue,
                "queue" if v.starts_with("rx-") || v.starts_with("tx-") => v.clone(),
                "queue" => format!("q{v}"),
                "irq" => format!("irq {v}"),
                "dir" => continue,
                _ => v.clone(),
            });
        }
    }
    for (k, v) in l {
        if !["dev", "queue", "dir", "irq", "cpu", "state"].contains(&k.as_str()) {
            parts.push(format!("{k}={v}"));
        }
    }
    parts.join(" ")
}

/// Sysctl names without the prefixes every one of them shares.
pub fn short_setting(name: &str) -> &str {
    [
        "net.core.",
        "net.ipv4.",
        "net.netfilter.",
        "link.",
        "ethtool.features.",
        "ethtool.",
    ]
    .iter()
    .find_map(|p| name.strip_prefix(p))
    .unwrap_or(name)
}

/// Greedy word wrap of `words` joined by two spaces: the first line starts with `first`,
/// the others with spaces as wide.
pub fn wrap(first: &str, words: &[String], width: usize) -> Vec<String> {
    let indent = " ".repeat(first.len());
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for w in words {
        if !empty && line.len() + 2 + w.len() > width {
            lines.push(std::mem::replace(&mut line, indent.clone()));
            empty = true;
        }
        if !empty {
            line.push_str("  ");
        }
        line.push_str(w);
        empty = false;
    }
    if !empty {
        lines.push(line);
    }
    lines
}

/// Prose wrapped at `width`, every line prefixed with `indent`.
pub fn paragraph(indent: &str, text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = indent.to_string();
    for w in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + w.len() > width {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if line.len() > indent.len() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktmap_model::snapshot::labels as l;

    #[test]
    fn numbers() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(3.254), "3.25");
        assert_eq!(si(812.4), "812");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(4_560_000.0), "4.56M");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn label_text() {
        assert_eq!(labels(&l([("cpu", "1")])), "cpu1");
        assert_eq!(
            labels(&l([
                ("dev", "eth0"),
                ("queue", "3"),
                ("irq", "38"),
                ("cpu", "1"),
                ("dir", "rx")
            ])),
            "eth0 q3 irq 38 cpu1"
        );
        assert_eq!(
            labels(&l([("dev", "eth0"), ("queue", "rx-0")])),
            "eth0 rx-0"
        );
    }

    #[test]
    fn wrapping() {
        let words: Vec<String> = ["aaaa", "bbbb", "cccc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(wrap("> ", &words, 12), vec!["> aaaa  bbbb", "  cccc"]);
        assert!(wrap("> ", &[], 12).is_empty());
    }
}
