//! The live map served at `/`, in a real browser (headless Chromium): every stage drawn, a
//! drop induced in the namespace turns its stage's box to the loss state with the counter in
//! its panel, and the page's script refreshes it. The script also passes `node --check`.

use crate::live::deaf_receiver;
use crate::serve::{flood, start_serve_with};
use crate::support::*;
use std::time::Duration;

const CHROMIUM: Tool = ("chromium", "chromium");
const NODE: Tool = ("node", "nodejs");

/// Chromium run inside namespace `ns` on `url`: the DOM after `budget_ms` of (virtual) time,
/// and a screenshot written to `png` if given.
fn chromium(ns: &str, url: &str, budget_ms: u32, png: Option<&str>) -> String {
    let profile = TempDir::new("chromium");
    let mut args = vec![
        "netns".to_string(),
        "exec".into(),
        ns.into(),
        "chromium".into(),
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--user-data-dir={}", profile.path("p")),
        "--window-size=1400,1000".into(),
        format!("--virtual-time-budget={budget_ms}"),
    ];
    match png {
        Some(p) => args.push(format!("--screenshot={p}")),
        None => args.push("--dump-dom".into()),
    }
    args.push(url.into());
    let out = std::process::Command::new("ip")
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The class of stage `id`'s box in a page or fragment.
fn box_class(html: &str, id: &str) -> String {
    let at = html
        .find(&format!(r#"data-stage="{id}""#))
        .unwrap_or_else(|| panic!("no box for {id}"));
    let rest = &html[at..];
    let start = rest.find(r#"class="stage "#).unwrap() + r#"class="stage "#.len();
    rest[start..start + rest[start..].find('"').unwrap()].to_string()
}

#[test]
fn the_page_draws_every_stage_and_turns_the_dropping_one_red() {
    if !root_with_tools_or_skip(
        "the_page_draws_every_stage_and_turns_the_dropping_one_red",
        &[CHROMIUM],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (_server, port) = start_serve_with(&pair.b, &["serve", "--interval", "1s"], true);
    let url = format!("http://127.0.0.1:{port}/?stage=rx.10");
    let quiet = chromium(&pair.b, &url, 3000, None);
    for s in pktmap_model::catalog::STAGES {
        assert!(
            quiet.contains(&format!(r#"data-stage="{}""#, s.id)),
            "{}",
            s.id
        );
    }
    assert_ne!(box_class(&quiet, "rx.10"), "loss", "quiet at first");

    let _rx = deaf_receiver(&pair.b, 9601);
    let _sender = flood(&pair, 9601);
    std::thread::sleep(Duration::from_millis(2500));
    let dom = chromium(&pair.b, &url, 5000, None);
    assert_eq!(box_class(&dom, "rx.10"), "loss", "{dom}");
    assert!(
        dom.contains("LOSING"),
        "the state in words, not only colour"
    );
    assert!(
        dom.contains("Udp.RcvbufErrors"),
        "the counter in the stage's panel"
    );
    assert!(dom.contains("ss -uamp"), "the command to run");
    // The script ran in the browser and swapped in a fresh map at least once.
    assert!(dom.contains(r#"data-refreshed=""#), "{dom}");
    // The artefact: what the page looked like.
    let png = repo().join("target/pktmap-map.png");
    chromium(&pair.b, &url, 3000, Some(png.to_str().unwrap()));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
}

#[test]
fn the_page_script_passes_node_check() {
    if !tools_or_skip("the_page_script_passes_node_check", &[NODE]) {
        return;
    }
    let out = std::process::Command::new("node")
        .arg("--check")
        .arg(repo().join("crates/render/assets/map.js"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
