//! `pktmap stages`: the catalog as a reader's table of contents.

use crate::Style;
use crate::fmt::{paragraph, wrap};
use pktmap_model::catalog::{ITEMS, STAGES};
use serde::Serialize;

#[derive(Serialize)]
struct StageJson<'a> {
    #[serde(flatten)]
    stage: &'a pktmap_model::Stage,
    items: Vec<&'a pktmap_model::Item>,
}

pub fn json() -> serde_json::Value {
    let stages: Vec<StageJson> = STAGES
        .iter()
        .map(|s| StageJson {
            stage: s,
            items: ITEMS.iter().filter(|i| i.stage == s.id).collect(),
        })
        .collect();
    serde_json::json!({ "schema": "pktmap.stages/1", "stages": stages })
}

pub fn text(style: Style) -> String {
    let mut out = Vec::new();
    for s in STAGES {
        out.push(style.bold(&format!("{:<10}{}", s.id, s.title)));
        out.extend(paragraph("          ", s.happens, 96));
        let keys: Vec<String> = ITEMS
            .iter()
            .filter(|i| i.stage == s.id)
            .map(|i| i.key.to_string())
            .collect();
        if !keys.is_empty() {
            out.extend(wrap("          knows: ", &keys, 96));
        }
    }
    out.push(String::new());
    out.push("pktmap explain KEY tells more about any stage id or key above.".into());
    out.join("\n") + "\n"
}
