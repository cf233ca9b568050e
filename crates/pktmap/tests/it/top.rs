//! `pktmap top` driven in tmux, as a user at a terminal drives it: the lanes appear, an
//! induced drop shows at its stage, every view and key works, it reads a running `serve`,
//! and after `q`, Ctrl-C and a panic the terminal is back (tmux's `alternate_on` is 0).

use crate::live::deaf_receiver;
use crate::serve::{flood, start_serve_with};
use crate::support::*;
use std::time::{Duration, Instant};

const TMUX: Tool = ("tmux", "tmux");

/// A tmux server of its own (its own socket), with one 160x48 shell; killed on drop.
struct Tmux(String);

impl Tmux {
    fn new() -> Tmux {
        let t = Tmux(format!("pmt-top-{}-{}", std::process::id(), unique()));
        t.run(&["new-session", "-d", "-x", "160", "-y", "48", "sh"]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    fn alternate(&self) -> bool {
        self.run(&["display", "-p", "-t", "0", "#{alternate_on}"])
            .trim()
            == "1"
    }

    /// Waits up to 10 s for the screen to contain `text`.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {text:?} in:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits for the program to leave the alternate screen.
    fn wait_restored(&self) {
        let start = Instant::now();
        while self.alternate() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

fn top_in(ns: &str, extra: &str) -> String {
    format!(
        "{extra} ip netns exec {ns} {} top --interval 1s",
        env!("CARGO_BIN_EXE_pktmap")
    )
}

#[test]
fn top_shows_an_induced_drop_and_every_view_and_key_works() {
    if !root_with_tools_or_skip(
        "top_shows_an_induced_drop_and_every_view_and_key_works",
        &[TMUX],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9701);
    let _sender = flood(&pair, 9701);
    let t = Tmux::new();
    t.keys(&[&top_in(&pair.b, ""), "Enter"]);
    let s = t.wait_for("dropped first at rx.10");
    assert!(t.alternate());
    assert!(s.contains("tx.5"), "both lanes:\n{s}");
    let row = s.lines().find(|l| l.starts_with("RX  rx.10")).unwrap();
    assert!(row.contains("LOSING"), "{row}");
    for (key, shows) in [
        ("2", "CRITICAL rx.10"),
        ("3", "cpu"),
        ("4", " q0 "),
        ("5", "no drop reasons"),
        ("6", "9701"),
        ("1", "socket queue"),
        ("p", "PAUSED"),
        ("Down", "q:quit"),
        // The explanation is of the stage the cursor moved to.
        ("e", "rx.2 RSS:"),
        ("Escape", "socket queue"),
        ("?", "Ctrl-C: quit"),
        ("Escape", "q:quit"),
        ("n", "(1/1)"),
        ("d", "q:quit"),
        // The queue view now shows the first device only.
        ("4", "for lo"),
    ] {
        t.keys(&[key]);
        t.wait_for(shows);
    }
    t.keys(&["q"]);
    t.wait_restored();
}

#[test]
fn top_restores_the_terminal_after_ctrl_c_and_after_a_panic() {
    if !root_with_tools_or_skip(
        "top_restores_the_terminal_after_ctrl_c_and_after_a_panic",
        &[TMUX],
    ) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let t = Tmux::new();
    t.keys(&[&top_in(&pair.b, ""), "Enter"]);
    // The keys line: on screen only once top draws (the command line names `top` too).
    t.wait_for("q:quit");
    assert!(t.alternate());
    t.keys(&["C-c"]);
    t.wait_restored();
    // A test build panics after its first frame when asked to.
    t.keys(&["clear", "Enter"]);
    t.keys(&[&top_in(&pair.b, "PKTMAP_TOP_PANIC=1"), "Enter"]);
    let s = t.wait_for("PKTMAP_TOP_PANIC is set");
    t.wait_restored();
    assert!(s.contains("panicked"), "{s}");
}

#[test]
fn top_reads_a_running_serve() {
    if !root_with_tools_or_skip("top_reads_a_running_serve", &[TMUX]) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9702);
    let _sender = flood(&pair, 9702);
    let (_server, port) = start_serve_with(&pair.b, &["serve", "--interval", "1s"], true);
    let t = Tmux::new();
    t.keys(&[
        &format!(
            "ip netns exec {} {} top --interval 1s --from http://127.0.0.1:{port}",
            pair.b,
            env!("CARGO_BIN_EXE_pktmap")
        ),
        "Enter",
    ]);
    let s = t.wait_for("dropped first at rx.10");
    assert!(s.contains(&format!("serve at 127.0.0.1:{port}")), "{s}");
    t.keys(&["q"]);
    t.wait_restored();
}
