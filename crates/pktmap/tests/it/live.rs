//! On the real kernel, as root: namespaces, veth pairs and real traffic.

use crate::cli::WalkDoc;
use crate::support::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Sends UDP from namespace `a` to `b` at about `pps` for `secs`; returns packets sent.
pub fn udp_flood(ns: &str, port: u16, pps: u64, secs: f64) -> std::thread::JoinHandle<u64> {
    let sock = NetnsPair::within(ns, || UdpSocket::bind((ADDR_A, 0)).unwrap());
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            // Paced in batches so the rate is steady enough to compare against.
            let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
            while sent < due {
                if sock.send_to(&[0u8; 64], (ADDR_B, port)).is_ok() {
                    sent += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        sent
    })
}

/// A receiver with the smallest buffer the kernel allows, never read.
pub fn deaf_receiver(ns: &str, port: u16) -> UdpSocket {
    NetnsPair::within(ns, move || {
        let s = UdpSocket::bind((ADDR_B, port)).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
        let size: libc::c_int = 1;
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                4,
            )
        };
        assert_eq!(rc, 0);
        s
    })
}

#[test]
fn walk_in_the_receiving_namespace_sees_the_flood_at_each_stage() {
    if !root_or_skip("walk_in_the_receiving_namespace_sees_the_flood_at_each_stage") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _rx = deaf_receiver(&pair.b, 9000);
    let pps = 20_000;
    let sender = udp_flood(&pair.a, 9000, pps, 3.0);
    std::thread::sleep(Duration::from_millis(500));
    let out = NetnsPair::pktmap_in(&pair.b, &["walk", "--json", "--interval", "1s"]);
    let sent = sender.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sent > pps, "the sender sent only {sent}");
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();

    let plausible = |what: &str, rate: f64| {
        assert!(
            rate > pps as f64 * 0.5 && rate < pps as f64 * 1.5,
            "{what}: {rate:.0}/s against {pps}/s sent"
        );
    };
    let rx_packets = w
        .counter("rx.1", "rx_packets", Some(&pair.veth_b))
        .expect("veth counter");
    plausible("rx_packets at rx.1", rx_packets.rate.unwrap());
    plausible(
        "softnet processed at rx.5",
        w.stage("rx.5").traffic_per_s.unwrap(),
    );
    plausible(
        "Ip.InReceives at rx.8",
        w.counter("rx.8", "Ip.InReceives", None)
            .unwrap()
            .rate
            .unwrap(),
    );
    plausible("UDP at rx.9", w.stage("rx.9").traffic_per_s.unwrap());
    // The receiver never reads and its buffer is tiny: nearly everything dies at rx.10.
    plausible(
        "Udp.RcvbufErrors at rx.10",
        w.counter("rx.10", "Udp.RcvbufErrors", None)
            .unwrap()
            .rate
            .unwrap(),
    );
    assert_eq!(w.first_loss.as_deref(), Some("rx.10"));
    // Nothing was lost earlier on the path.
    for id in ["rx.1", "rx.3", "rx.5", "rx.8"] {
        assert_eq!(w.stage(id).drops_per_s, 0.0, "{id}");
    }

    let text = NetnsPair::pktmap_in(&pair.b, &["walk", "--interval", "200ms"]);
    assert!(text.status.success());
    assert!(stdout(&text).contains("rx.10"));
}

#[test]
fn a_quiet_namespace_reports_no_loss() {
    if !root_or_skip("a_quiet_namespace_reports_no_loss") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let out = NetnsPair::pktmap_in(&pair.b, &["walk", "--json", "--interval", "300ms"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();
    let moved: Vec<_> = w
        .stages
        .iter()
        .flat_map(|s| &s.counters)
        .filter(|c| c.class == "drop" && c.delta.unwrap_or(0) > 0)
        .collect();
    assert_eq!(w.first_loss, None, "{moved:?}");
    let text = stdout(&NetnsPair::pktmap_in(
        &pair.b,
        &["walk", "--interval", "200ms"],
    ));
    assert!(
        text.contains("OK: no loss counter moved past its floor"),
        "{text}"
    );
}

#[test]
fn capture_replays_the_same_values() {
    if !root_or_skip("capture_replays_the_same_values") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let dir = TempDir::new("capture");
    let out = NetnsPair::pktmap_in(&pair.b, &["capture", "--out", &dir.path("cap")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let captured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("cap/snapshot.json")).unwrap())
            .unwrap();
    let replay = run(&["--root", &dir.path("cap"), "snapshot"]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let replayed: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    for key in ["metrics", "settings", "identities"] {
        assert_eq!(captured[key], replayed[key], "{key} differ after replay");
    }
    assert!(captured["metrics"].as_array().unwrap().len() > 100);
    assert_eq!(captured["meta"]["kernel"], replayed["meta"]["kernel"]);
}

#[test]
fn a_recreated_interface_reads_as_a_reset() {
    if !root_or_skip("a_recreated_interface_reads_as_a_reset") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let dir = TempDir::new("reset");
    let a = NetnsPair::pktmap_in(&pair.b, &["snapshot", "-o", &dir.path("a.json")]);
    assert!(a.status.success());
    // Re-create b's end of the cable under the same name.
    let st = std::process::Command::new("ip")
        .args(["-n", &pair.b, "link", "del", &pair.veth_b])
        .status()
        .unwrap();
    assert!(st.success());
    let st = std::process::Command::new("ip")
        .args([
            "link",
            "add",
            &pair.veth_b,
            "netns",
            &pair.b,
            "type",
            "veth",
            "peer",
            "name",
            &pair.veth_a,
            "netns",
            &pair.a,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(50));
    let b = NetnsPair::pktmap_in(&pair.b, &["snapshot", "-o", &dir.path("b.json")]);
    assert!(b.status.success());
    let out = run(&[
        "walk",
        "--json",
        "--from",
        &dir.path("a.json"),
        "--to",
        &dir.path("b.json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();
    let c = w.counter("rx.1", "rx_packets", Some(&pair.veth_b)).unwrap();
    assert_eq!(c.status, "reset");
    assert_eq!(c.rate, None);
}

#[test]
fn non_root_walks_and_says_what_it_could_not_read() {
    if !root_or_skip("non_root_walks_and_says_what_it_could_not_read") {
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_pktmap"),
            "walk",
            "--json",
            "--interval",
            "100ms",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        w.stage("rx.5").traffic_per_s.is_some(),
        "softnet_stat is world-readable"
    );
    // Whatever could not be read is listed with its reason, never silently empty.
    for c in w.collectors.iter().filter(|c| c.status != "ok") {
        assert!(
            !c.notes.is_empty(),
            "{} is {} without a reason",
            c.id,
            c.status
        );
    }
}

/// Regression: `snapshot -o /dev/null` once renamed a regular file over the device.
#[test]
fn snapshot_to_a_device_writes_into_it_and_leaves_it_a_device() {
    if !root_or_skip("snapshot_to_a_device_writes_into_it_and_leaves_it_a_device") {
        return;
    }
    use std::os::unix::fs::FileTypeExt;
    let dir = TempDir::new("devnull");
    let null = dir.path("null");
    let st = std::process::Command::new("mknod")
        .args(["-m", "666", &null, "c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success());
    let out = run(&[
        "--root",
        &repo()
            .join("fixtures/hosts/vm-udp-flood/t0")
            .to_string_lossy(),
        "snapshot",
        "-o",
        &null,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn a_tbf_qdisc_that_drops_shows_at_tx3_in_the_senders_namespace() {
    if !root_or_skip("a_tbf_qdisc_that_drops_shows_at_tx3_in_the_senders_namespace") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    pair.tbf_in_a(&["rate", "1mbit", "burst", "4kb", "limit", "8kb"]);
    let _rx = deaf_receiver(&pair.b, 9001);
    let sender = udp_flood(&pair.a, 9001, 20_000, 3.0);
    std::thread::sleep(Duration::from_millis(500));
    let out = NetnsPair::pktmap_in(&pair.a, &["walk", "--json", "--interval", "1s"]);
    let text = stdout(&NetnsPair::pktmap_in(
        &pair.a,
        &["walk", "--interval", "300ms"],
    ));
    sender.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("qdisc.drops"), "{text}");
    let w: WalkDoc = serde_json::from_slice(&out.stdout).unwrap();
    let drops = w
        .stage("tx.3")
        .counters
        .iter()
        .find(|c| c.name == "qdisc.drops" && c.labels.get("dev") == Some(&pair.veth_a))
        .expect("the tbf qdisc's drops");
    assert_eq!(drops.labels["kind"], "tbf");
    // 1 mbit/s of 92-byte frames is ~1.4k pps; the rest of 20k pps is dropped.
    assert!(drops.rate.unwrap() > 10_000.0, "{drops:?}");
    assert_eq!(
        w.first_loss.as_deref(),
        Some("tx.3"),
        "Ip.OutDiscards at tx.2 is the same loss"
    );
}

/// A TCP listener with the given backlog that never accepts, in namespace `ns`.
pub fn stubborn_listener(ns: &str, port: u16, backlog: i32) -> std::os::fd::OwnedFd {
    NetnsPair::within(ns, move || unsafe {
        use std::os::fd::FromRawFd;
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(ADDR_B.parse::<std::net::Ipv4Addr>().unwrap().octets()),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(libc::listen(fd, backlog), 0);
        std::os::fd::OwnedFd::from_raw_fd(fd)
    })
}

#[test]
fn a_listener_that_never_accepts_is_shown_at_its_cap() {
    if !root_or_skip("a_listener_that_never_accepts_is_shown_at_its_cap") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _listener = stubborn_listener(&pair.b, 8080, 1);
    let clients: Vec<_> = (0..6)
        .map(|_| {
            NetnsPair::within(&pair.a, || {
                std::net::TcpStream::connect_timeout(
                    &format!("{ADDR_B}:8080").parse().unwrap(),
                    Duration::from_millis(300),
                )
                .ok()
            })
        })
        .collect();
    assert!(clients.iter().filter(|c| c.is_some()).count() >= 1);
    let out = NetnsPair::pktmap_in(&pair.b, &["snapshot"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listener = v["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "LISTEN" && s["local"] == format!("{ADDR_B}:8080"))
        .expect("the listener is kept");
    assert_eq!(listener["send_q"], 1, "backlog 1");
    assert!(listener["recv_q"].as_u64().unwrap() >= 1);
    let metric = |name: &str| {
        v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["value"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(metric("sockets.tcp.listeners_at_cap"), 1);
    assert!(
        metric("TcpExt.ListenOverflows") > 0,
        "the SYNs beyond the cap were dropped"
    );
    // The walk shows it at the socket queue stage, with the process that owns it.
    let w: WalkDoc = serde_json::from_slice(
        &NetnsPair::pktmap_in(&pair.b, &["walk", "--json", "--interval", "200ms"]).stdout,
    )
    .unwrap();
    let _ = w.stage("rx.10");
    let text = stdout(&NetnsPair::pktmap_in(
        &pair.b,
        &["walk", "--interval", "200ms"],
    ));
    let line = text
        .lines()
        .find(|l| l.contains("accept queue"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!("{ADDR_B}:8080")) && line.contains(" pid "),
        "{line}"
    );
}

#[test]
fn a_thousand_sockets_are_counted_as_ss_counts_them() {
    if !root_or_skip("a_thousand_sockets_are_counted_as_ss_counts_them") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let _socks: Vec<UdpSocket> = NetnsPair::within(&pair.b, || {
        (0..1000)
            .map(|_| UdpSocket::bind((ADDR_B, 0)).unwrap())
            .collect()
    });
    let ss = std::process::Command::new("ip")
        .args(["netns", "exec", &pair.b, "ss", "-Huan"])
        .output()
        .unwrap();
    let ss_count = stdout(&ss).lines().count() as u64;
    assert!(ss_count >= 1000);
    let out = NetnsPair::pktmap_in(&pair.b, &["snapshot"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: u64 = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "sockets.udp.state")
        .map(|m| m["value"].as_u64().unwrap())
        .sum();
    assert_eq!(ours, ss_count);
}

fn setting<'a>(snap: &'a serde_json::Value, name: &str, dev: &str) -> Option<&'a str> {
    snap["settings"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name && s["labels"]["dev"] == dev)?["value"]
        .as_str()
}

#[test]
fn all_netns_finds_the_test_namespaces_by_name_and_links_their_veth() {
    if !root_or_skip("all_netns_finds_the_test_namespaces_by_name_and_links_their_veth") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let out = run(&["--all-netns", "snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let set: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(set["format"], "pktmap-snapshots");
    let snaps = set["snapshots"].as_array().unwrap();
    let find = |name: &str| {
        snaps
            .iter()
            .find(|s| s["meta"]["netns"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} not found"))
    };
    let (a, b) = (find(&pair.a), find(&pair.b));
    assert_ne!(a["meta"]["netns"]["inode"], b["meta"]["netns"]["inode"]);
    assert_eq!(setting(b, "link.kind", &pair.veth_b), Some("veth"));
    let peer = setting(b, "link.peer", &pair.veth_b).expect("the veth's far end is named");
    assert!(
        peer.starts_with(&pair.veth_a) && peer.contains(&pair.a),
        "{peer}"
    );
    // Host-wide tables are read once, in pktmap's own namespace.
    assert!(
        b["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "procs")
    );
    assert!(snaps.iter().any(|s| s["meta"]["netns"]["own"] == true));
    // The walk shows one map per namespace.
    let text = stdout(&run(&["--all-netns", "walk", "--interval", "100ms"]));
    assert!(text.contains(&format!("namespace {}", pair.b)), "{text}");
}

#[test]
fn netns_and_pid_read_the_chosen_namespace() {
    if !root_or_skip("netns_and_pid_read_the_chosen_namespace") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let by_name: serde_json::Value =
        serde_json::from_slice(&run(&["--netns", &pair.b, "snapshot"]).stdout).unwrap();
    assert_eq!(setting(&by_name, "link.kind", &pair.veth_b), Some("veth"));
    assert!(
        setting(&by_name, "link.kind", &pair.veth_a).is_none(),
        "the other end lives elsewhere"
    );
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &pair.b, "sleep", "10"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = run(&["--pid", &sleeper.id().to_string(), "snapshot"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let by_pid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        by_pid["meta"]["netns"]["inode"],
        by_name["meta"]["netns"]["inode"]
    );
    // sysfs as the namespace sees it: its veth's queues.
    assert!(
        by_pid["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "rps_cpus" && s["labels"]["dev"] == pair.veth_b.as_str())
    );
    let bad = run(&["--netns", "no-such-namespace-here", "walk"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(stderr(&bad).contains("no-such-namespace-here"));
}

#[test]
fn capture_of_a_namespace_replays() {
    if !root_or_skip("capture_of_a_namespace_replays") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let dir = TempDir::new("nscap");
    let out = run(&["--netns", &pair.b, "capture", "--out", &dir.path("cap")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let replay: serde_json::Value =
        serde_json::from_slice(&run(&["--root", &dir.path("cap"), "snapshot"]).stdout).unwrap();
    assert_eq!(setting(&replay, "link.kind", &pair.veth_b), Some("veth"));
    assert!(
        replay["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "Ip.InReceives")
    );
}

/// This kernel has no tc classifier modules, so only the hook itself and an empty filter list
/// can be checked live; the ingress qdisc's drops land at rx.7.
#[test]
fn a_clsact_hook_is_read_with_its_filters() {
    if !root_or_skip("a_clsact_hook_is_read_with_its_filters") {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let st = std::process::Command::new("tc")
        .args(["-n", &pair.b, "qdisc", "add", "dev", &pair.veth_b, "clsact"])
        .status()
        .unwrap();
    assert!(st.success());
    let snap: serde_json::Value =
        serde_json::from_slice(&run(&["--netns", &pair.b, "snapshot"]).stdout).unwrap();
    assert_eq!(
        setting(&snap, "tc.ingress.filters", &pair.veth_b),
        Some("none")
    );
    assert!(
        snap["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "qdisc.ingress.drops" && m["labels"]["kind"] == "clsact")
    );
    let w: WalkDoc = serde_json::from_slice(
        &run(&["--netns", &pair.b, "walk", "--json", "--interval", "100ms"]).stdout,
    )
    .unwrap();
    assert!(
        w.stage("rx.7")
            .counters
            .iter()
            .any(|c| c.name == "qdisc.ingress.drops")
    );
}

/// Rings, channels and coalescing come over the ethtool netlink family: what pktmap reports
/// must be what the `ethtool` command prints for the same device.
#[test]
fn ethtool_answers_match_the_ethtool_command() {
    if !root_with_tools_or_skip("ethtool_answers_match_the_ethtool_command", &[ETHTOOL]) {
        return;
    }
    let _g = shared();
    let pair = NetnsPair::new();
    let snap: serde_json::Value =
        serde_json::from_slice(&run(&["--netns", &pair.b, "snapshot"]).stdout).unwrap();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &pair.b, "ethtool", "-l", &pair.veth_b])
        .output()
        .expect("ethtool is installed (.ci/run installs it)");
    let text = stdout(&out);
    // "Combined" is n/a on veth; RX and TX carry the queue counts.
    let current = text.split("Current hardware settings:").nth(1).unwrap();
    let rx = current
        .lines()
        .find(|l| l.starts_with("RX:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    let max = text
        .lines()
        .find(|l| l.starts_with("RX:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    assert_eq!(
        setting(&snap, "ethtool.channels.rx", &pair.veth_b),
        Some(format!("{rx} (max {max})").as_str()),
        "{text}"
    );
    assert_eq!(setting(&snap, "ethtool.driver", &pair.veth_b), Some("veth"));
}

/// Everything a reader could change: sysctls, links, qdiscs, IRQ affinities, firewall rules
/// (the host's and namespace `ns`'s, nftables and legacy), namespaces and the mount table.
fn system_state(ns: &str) -> String {
    let sh = |cmd: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", cmd])
            .output()
            .unwrap();
        format!("== {cmd}\n{}", String::from_utf8_lossy(&out.stdout))
    };
    [
        // Counts move on their own; settings do not.
        "sysctl -a 2>/dev/null | grep -E '^net\\.' | grep -vE '_count|conntrack_(buckets_|)count|\\.stat'",
        "ip -d link show",
        "tc qdisc show",
        "for f in /proc/irq/*/smp_affinity_list; do echo \"$f $(cat $f)\"; done",
        "iptables-save 2>/dev/null | grep -v '^#'",
        "nft list ruleset",
        &format!("ip netns exec {ns} nft list ruleset"),
        &format!("ip netns exec {ns} iptables-legacy-save | grep -v '^#'"),
        // Reading a legacy table must not create one where none was loaded.
        "cat /proc/net/ip_tables_names /proc/net/ip6_tables_names",
        "ip netns list",
        "cut -d' ' -f5,9 /proc/self/mountinfo | sort",
        "for f in /sys/class/net/*/queues/*/*_cpus; do echo \"$f $(cat $f 2>/dev/null)\"; done",
    ]
    .iter()
    .map(|c| sh(c))
    .collect()
}

#[test]
fn read_only_commands_change_nothing() {
    if !root_or_skip("read_only_commands_change_nothing") {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    let dir = TempDir::new("readonly");
    // Rules of both kinds, with counters, for the readers to read.
    sh_in(
        &pair.b,
        &[
            "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP",
        ],
    );
    sh_in(
        &pair.b,
        &[
            "iptables-legacy",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            "7",
            "-j",
            "DROP",
        ],
    );
    let before = system_state(&pair.b);
    let cap = dir.path("cap");
    for args in [
        vec!["walk", "--interval", "100ms"],
        vec!["walk", "--json", "--interval", "100ms"],
        vec!["--all-netns", "walk", "--interval", "100ms"],
        vec!["--netns", pair.b.as_str(), "walk", "--interval", "100ms"],
        vec!["snapshot", "-o", "/dev/null"],
        vec!["--all-netns", "snapshot", "-o", "/dev/null"],
        vec!["diagnose", "--interval", "100ms"],
        vec!["--all-netns", "diagnose", "--interval", "100ms"],
        vec!["diagnose", "--since-boot"],
        vec!["audit"],
        vec![
            "audit",
            "--format",
            "sysctl",
            "--bandwidth",
            "10gbit",
            "--rtt",
            "100ms",
        ],
        vec!["--netns", pair.b.as_str(), "capture", "--out", cap.as_str()],
        vec!["stages"],
        vec!["explain", "net.core.somaxconn"],
        vec!["trace", "drops", "--interval", "200ms"],
        vec![
            "--netns",
            pair.b.as_str(),
            "tune",
            "plan",
            "--interval",
            "100ms",
        ],
    ] {
        let out = run(&args);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let after = system_state(&pair.b);
    if before != after {
        let diff: Vec<_> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .collect();
        panic!("state changed: {diff:#?}");
    }
}
