//! Files as root: nothing another user of the host, or the author of a bundle, controls may
//! make pktmap write outside its destination, hang, fill its memory or read outside the
//! bundle. Each attack is run against the real binary, bounded in time and memory.

use crate::support::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);
/// Peak memory a hostile bundle may cost, in KiB: the bundle cap (128 MiB) and slack.
const RSS_KIB: u64 = 512 << 10;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A copy of a fixture host to turn hostile.
fn host_copy(dir: &TempDir) -> std::path::PathBuf {
    let root = dir.0.join("bundle");
    sh(&[
        "cp",
        "-a",
        &repo()
            .join("fixtures/hosts/vm-udp-flood/t1")
            .to_string_lossy(),
        &root.to_string_lossy(),
    ]);
    root
}

/// `snapshot --root` of a hostile bundle: it must finish, bounded, and print a snapshot.
fn replay(root: &Path) -> serde_json::Value {
    let (out, rss) = bounded(&["--root", &root.to_string_lossy(), "snapshot"], LIMIT);
    assert!(rss < RSS_KIB, "peak memory {rss} KiB");
    json_of(&out)
}

/// The notes of one collector in a snapshot, joined.
fn notes(snap: &serde_json::Value, id: &str) -> String {
    let c = snap["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no collector {id}"));
    format!("{} {}", c["status"], c["notes"])
}

#[test]
fn snapshot_writes_through_no_planted_link() {
    let dir = TempDir::new("plant-snapshot");
    let victim = dir.0.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // The name the earlier writer used (`.NAME.tmpPID`), planted for the PIDs to come.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0);
    for pid in last + 1..last + 300 {
        symlink(&victim, dir.0.join(format!(".out.json.tmp{pid}"))).unwrap();
    }
    let out = run(&["snapshot", "-o", &dir.path("out.json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let written = dir.0.join("out.json");
    assert!(std::fs::symlink_metadata(&written).unwrap().is_file());
    assert_eq!(mode(&written), 0o600);
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&written).unwrap()).unwrap();
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A destination that is itself a link is refused, naming it.
    let link = dir.0.join("link.json");
    symlink(&victim, &link).unwrap();
    let out = run(&["snapshot", "-o", &link.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn capture_writes_nothing_through_a_link_planted_in_its_directory() {
    let dir = TempDir::new("plant-capture");
    let elsewhere = dir.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out_dir = dir.0.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    symlink(&elsewhere, out_dir.join("proc")).unwrap();
    symlink(dir.0.join("victim"), out_dir.join("snapshot.json")).unwrap();

    let out = run(&["capture", "--out", &out_dir.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));

    let out = run(&["capture", "--out", &out_dir.to_string_lossy(), "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(!dir.0.join("victim").exists());
    let proc = std::fs::symlink_metadata(out_dir.join("proc")).unwrap();
    assert!(
        proc.is_dir(),
        "the planted link was replaced by a directory"
    );
    assert!(out_dir.join("proc/net/dev").is_file());

    // The output path itself a link: refused, nothing written there.
    let link = dir.0.join("link");
    symlink(&elsewhere, &link).unwrap();
    let out = run(&["capture", "--out", &link.to_string_lossy(), "--force"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn captures_and_snapshots_are_readable_by_their_owner_only() {
    let dir = TempDir::new("modes");
    let cap = dir.0.join("cap");
    let out = run(&["capture", "--out", &cap.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut seen = 0;
    let mut stack = vec![cap.clone()];
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 20, "{seen} files");
    for name in ["cap.tar", "cap.tar.gz", "cap.tar.zst"] {
        let out = run(&["capture", "--out", &dir.path(name)]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(mode(&dir.0.join(name)), 0o600, "{name}");
    }
    let out = run(&["snapshot", "-o", &dir.path("s.json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&dir.0.join("s.json")), 0o600);
}

/// What a snapshot read, by collector: its status and every metric name.
fn shape(snap: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = snap["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c["id"], c["status"]))
        .chain(
            snap["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| format!("{} {}", m["name"], m["labels"])),
        )
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn an_archive_replays_as_its_directory_does() {
    let dir = TempDir::new("archives");
    let host = repo().join("fixtures/hosts/vm-udp-flood/t1");
    let from_dir = json_of(&run(&["--root", &host.to_string_lossy(), "snapshot"]));
    for name in ["x.tar", "x.tar.gz", "x.tar.zst"] {
        let out = run(&[
            "--root",
            &host.to_string_lossy(),
            "capture",
            "--out",
            &dir.path(name),
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let replayed = json_of(&run(&["--root", &dir.path(name), "snapshot"]));
        assert_eq!(shape(&replayed), shape(&from_dir), "{name}");
        assert_eq!(replayed["metrics"], from_dir["metrics"], "{name}");
    }
}

#[test]
fn a_fifo_in_a_bundle_is_refused_not_waited_on() {
    let dir = TempDir::new("fifo");
    let root = host_copy(&dir);
    let snmp = root.join("proc/net/snmp");
    std::fs::remove_file(&snmp).unwrap();
    sh(&["mkfifo", &snmp.to_string_lossy()]);
    let snap = replay(&root);
    let n = notes(&snap, "snmp");
    assert!(n.contains("/proc/net/snmp") && n.contains("FIFO"), "{n}");
}

#[test]
fn links_in_a_bundle_are_not_followed_out_of_it() {
    let dir = TempDir::new("links");
    let root = host_copy(&dir);
    // A file of the analyst's machine, shaped like the file it stands in for.
    let outside = dir.0.join("outside-dev");
    std::fs::write(
        &outside,
        "Inter-| Receive | Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\nleak0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n",
    )
    .unwrap();
    let net = root.join("proc/net");
    std::fs::remove_file(net.join("dev")).unwrap();
    symlink(&outside, net.join("dev")).unwrap();
    std::fs::remove_file(net.join("netstat")).unwrap();
    symlink("/dev/zero", net.join("netstat")).unwrap();
    // A relative link climbing out, and a directory that is a link to the live host's.
    std::fs::remove_file(net.join("snmp6")).unwrap();
    symlink("../../../outside-dev", net.join("snmp6")).unwrap();
    std::fs::remove_dir_all(root.join("proc/pressure")).unwrap();
    symlink("/proc/pressure", root.join("proc/pressure")).unwrap();

    let snap = replay(&root);
    let text = snap.to_string();
    assert!(!text.contains("leak0"), "read a file outside the bundle");
    for (id, file) in [
        ("netdev", "/proc/net/dev"),
        ("netstat", "/proc/net/netstat"),
        ("snmp6", "/proc/net/snmp6"),
    ] {
        let n = notes(&snap, id);
        assert!(n.contains(file) && n.contains("symbolic link"), "{id}: {n}");
    }
    let n = notes(&snap, "pressure");
    assert!(n.contains("unavailable"), "{n}");
    assert!(
        !snap["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"].as_str().unwrap().starts_with("pressure.")),
        "read the live host's /proc/pressure"
    );
}

#[test]
fn a_ten_gigabyte_file_in_a_bundle_is_refused_in_bounded_time() {
    let dir = TempDir::new("sparse");
    let root = host_copy(&dir);
    std::fs::File::options()
        .write(true)
        .open(root.join("proc/net/dev"))
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    let snap = replay(&root);
    let n = notes(&snap, "netdev");
    assert!(
        n.contains("/proc/net/dev") && n.contains("cap of 64 MiB"),
        "{n}"
    );
}

#[test]
fn a_bundle_larger_than_its_cap_is_refused_past_it() {
    let dir = TempDir::new("bundle-cap");
    let root = host_copy(&dir);
    // Three files each under the per-file cap, together over the bundle's.
    for f in ["dev", "snmp", "netstat"] {
        std::fs::File::options()
            .write(true)
            .open(root.join("proc/net").join(f))
            .unwrap()
            .set_len(60 << 20)
            .unwrap();
    }
    let snap = replay(&root);
    let all = format!(
        "{} {} {}",
        notes(&snap, "netdev"),
        notes(&snap, "snmp"),
        notes(&snap, "netstat")
    );
    assert!(all.contains("cap of 128 MiB"), "{all}");
}

/// A tar header for `name`, written byte for byte: the tar crate refuses to build the names
/// an attacker would.
fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    h
}

fn archive(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        b.append(&header(name, *kind, data.len() as u64), *data)
            .unwrap();
    }
    b.into_inner().unwrap()
}

/// `snapshot --root ARCHIVE` must fail, bounded, with an error naming `says`.
fn refused(dir: &TempDir, name: &str, bytes: &[u8], says: &str) {
    let path = dir.path(name);
    std::fs::write(&path, bytes).unwrap();
    let (out, rss) = bounded(&["--root", &path, "snapshot"], LIMIT);
    assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
    assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
    assert!(rss < RSS_KIB, "{name}: peak memory {rss} KiB");
}

#[test]
fn archives_with_names_or_kinds_that_leave_the_bundle_are_refused() {
    use tar::EntryType::*;
    let dir = TempDir::new("tar-names");
    let net_dev = b"x\n".as_slice();
    refused(
        &dir,
        "dotdot.tar",
        &archive(&[("../escape", Regular, net_dev)]),
        "../escape: an absolute name or one with `..`",
    );
    refused(
        &dir,
        "absolute.tar",
        &archive(&[("/etc/cron.d/x", Regular, net_dev)]),
        "/etc/cron.d/x: an absolute name",
    );
    refused(
        &dir,
        "fifo.tar",
        &archive(&[("proc/net/snmp", Fifo, b"")]),
        "proc/net/snmp: a Fifo entry",
    );
    refused(
        &dir,
        "device.tar",
        &archive(&[("proc/net/snmp", Char, b"")]),
        "proc/net/snmp: a Char entry",
    );
    refused(
        &dir,
        "hardlink.tar",
        &archive(&[("proc/net/snmp", Link, b"")]),
        "proc/net/snmp: a Link entry",
    );
    // A link entry is kept as text and never followed: the file it names is simply absent.
    let path = dir.path("symlink.tar");
    std::fs::write(&path, archive(&[("proc/net/dev", Symlink, b"")])).unwrap();
    let snap = json_of(&run(&["--root", &path, "snapshot"]));
    assert!(notes(&snap, "netdev").contains("unavailable"));
}

#[test]
fn decompression_bombs_cost_bounded_time_and_memory() {
    let dir = TempDir::new("bomb");
    // One entry that claims ten gigabytes.
    let mut claim = header("proc/net/dev", tar::EntryType::Regular, 10 << 30)
        .as_bytes()
        .to_vec();
    claim.extend([0u8; 4096]);
    refused(
        &dir,
        "claim.tar",
        &claim,
        "proc/net/dev: the file is larger than pktmap's cap of 64 MiB",
    );

    // Four files of 60 MiB of zeros, gzip'd to well under a megabyte: 240 MiB unpacked.
    for n in 0..4 {
        let f = dir.0.join(format!("z{n}"));
        std::fs::File::create(&f)
            .unwrap()
            .set_len(60 << 20)
            .unwrap();
    }
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg("tar -cf - z0 z1 z2 z3 | gzip -9 > bomb.tar.gz")
        .current_dir(&dir.0)
        .status()
        .unwrap();
    assert!(st.success());
    let small = std::fs::metadata(dir.0.join("bomb.tar.gz")).unwrap().size();
    assert!(small < 2 << 20, "{small} bytes");
    let bomb = std::fs::read(dir.0.join("bomb.tar.gz")).unwrap();
    refused(&dir, "bomb2.tar.gz", &bomb, "cap of 128 MiB");
}
