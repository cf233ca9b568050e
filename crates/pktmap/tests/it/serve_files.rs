//! The procfs and sysfs files `serve` keeps open between collections: read again they say
//! what the kernel says now, a device or namespace that went is let go, and the limit holds.

use crate::serve::{Killed, get, start_serve_with};
use crate::support::*;

/// `pktmap [GLOBAL] serve --interval 0 --cache 0 [EXTRA]` in `ns`: every scrape collects.
fn collecting(ns: &str, global: &[&str], extra: &[&str]) -> (Killed, u16) {
    let mut args = global.to_vec();
    args.extend(["serve", "--interval", "0", "--cache", "0"]);
    args.extend(extra);
    start_serve_with(ns, &args, false)
}

/// What each open descriptor of `server` names.
fn open_files(server: &Killed) -> Vec<String> {
    let dir = format!("/proc/{}/fd", server.0.id());
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// The value of setting `name` in the snapshot of the one namespace served.
fn setting(ns: &str, port: u16, name: &str) -> String {
    let (status, body) = get(ns, port, "/api/snapshot");
    assert_eq!(status, 200, "{body}");
    let snaps: serde_json::Value = serde_json::from_str(&body).unwrap();
    snaps[0]["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {body}"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn set_somaxconn(ns: &str, value: u32) {
    NetnsPair::within(ns, move || {
        std::fs::write("/proc/sys/net/core/somaxconn", value.to_string()).unwrap()
    });
}

/// A sysctl changed between two collections reads as its new value through the file kept
/// open; a device added is read, and one removed is let go (its kept files closed).
#[test]
fn kept_files_say_what_the_kernel_says_now() {
    if !root_or_skip("kept_files_say_what_the_kernel_says_now") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (server, port) = collecting(&pair.b, &[], &[]);
    set_somaxconn(&pair.b, 1234);
    assert_eq!(setting(&pair.b, port, "net.core.somaxconn"), "1234");
    let kept = open_files(&server);
    assert!(
        kept.iter().any(|f| f == "/proc/sys/net/core/somaxconn"),
        "{kept:?}"
    );
    set_somaxconn(&pair.b, 4321);
    assert_eq!(setting(&pair.b, port, "net.core.somaxconn"), "4321");
    // Still one file for it: read again, not opened again beside the first.
    let somaxconn = |files: &[String]| {
        files
            .iter()
            .filter(|f| *f == "/proc/sys/net/core/somaxconn")
            .count()
    };
    assert_eq!(somaxconn(&open_files(&server)), 1);

    // A device that comes is read; once removed, the files kept for it are closed.
    let dummy = format!("pmkd{}", std::process::id() % 100_000);
    let peer = format!("{dummy}p");
    sh(&[
        "ip", "-n", &pair.b, "link", "add", &dummy, "type", "veth", "peer", "name", &peer,
    ]);
    let (_, metrics) = get(&pair.b, port, "/metrics");
    assert!(
        metrics.contains(&format!("device=\"{dummy}\"")),
        "{metrics}"
    );
    let named = |files: &[String]| files.iter().filter(|f| f.contains(&dummy)).count();
    assert!(named(&open_files(&server)) > 0, "{:?}", open_files(&server));
    sh(&["ip", "-n", &pair.b, "link", "del", &dummy]);
    let (_, metrics) = get(&pair.b, port, "/metrics");
    assert!(
        !metrics.contains(&format!("device=\"{dummy}\"")),
        "{metrics}"
    );
    assert_eq!(named(&open_files(&server)), 0, "{:?}", open_files(&server));
}

/// With --all-netns, the files kept for a namespace are closed by the first collection after
/// it is gone, so pktmap does not hold a deleted namespace alive.
#[test]
fn a_namespace_gone_is_let_go() {
    if !root_or_skip("a_namespace_gone_is_let_go") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let other = NetnsPair::new();
    let (server, port) = collecting(&pair.b, &["--all-netns"], &["--keep-files", "100000"]);
    assert_eq!(get(&pair.b, port, "/metrics").0, 200);
    let device = other.veth_a.clone();
    let named = |files: Vec<String>| files.into_iter().filter(|f| f.contains(&device)).count();
    assert!(named(open_files(&server)) > 0, "{:?}", open_files(&server));
    drop(other);
    assert_eq!(get(&pair.b, port, "/metrics").0, 200);
    assert_eq!(named(open_files(&server)), 0, "{:?}", open_files(&server));
}

/// `--keep-files 0` keeps nothing open between collections.
#[test]
fn keep_files_0_keeps_none() {
    if !root_or_skip("keep_files_0_keeps_none") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let (server, port) = collecting(&pair.b, &[], &["--keep-files", "0"]);
    assert_eq!(get(&pair.b, port, "/metrics").0, 200);
    let files = open_files(&server);
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("/proc/") || f.starts_with("/sys/")),
        "{files:?}"
    );
}
