//! Shared by the integration tests: running the binary, root gating, test namespaces.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pktmap"));
    c.env_remove("NO_COLOR");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("pktmap runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON a run printed, after asserting it succeeded (showing its stderr if not).
pub fn json_of<T: serde::de::DeserializeOwned>(out: &Output) -> T {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("pktmap prints JSON")
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("pktmap-{tag}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn unique() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Root tests that send traffic hold this shared; a test that changes a global setting (the
/// backlog length, the conntrack table size) holds it exclusively, so it runs alone.
static GLOBAL: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    GLOBAL.write().unwrap_or_else(|e| e.into_inner())
}

/// Sets a global sysctl and puts the old value back on drop, also when the test panics.
pub struct SysctlGuard {
    path: String,
    old: String,
}

impl SysctlGuard {
    pub fn set(key: &str, value: &str) -> SysctlGuard {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, value).unwrap();
        SysctlGuard { path, old }
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, self.old.trim());
    }
}

/// True when root tests can run. In CI (`CI=true`) they must: not being root fails the test
/// rather than skipping it.
pub fn root_or_skip(test: &str) -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root and CI=true: run the suite as root");
    }
    eprintln!("skipping {test}: needs root (network namespaces)");
    false
}

/// A system tool a test runs, with the Debian package that installs it.
pub type Tool = (&'static str, &'static str);
pub const IPTABLES: Tool = ("iptables", "iptables");
pub const ETHTOOL: Tool = ("ethtool", "ethtool");
pub const BPFTOOL: Tool = ("bpftool", "bpftool");

/// True when root tests can run and every tool is on PATH. A missing tool skips the test with
/// a line naming it and its package, except with `CI=true`, where it fails: CI installs them.
pub fn root_with_tools_or_skip(test: &str, tools: &[Tool]) -> bool {
    root_or_skip(test) && tools_or_skip(test, tools)
}

/// True when every tool is on PATH; otherwise as [`root_with_tools_or_skip`] says.
pub fn tools_or_skip(test: &str, tools: &[Tool]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for (tool, package) in tools {
        if std::env::split_paths(&path).any(|d| d.join(tool).is_file()) {
            continue;
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test} needs {tool} and CI=true: apt-get install {package}");
        }
        eprintln!("skipping {test}: needs {tool} (apt-get install {package})");
        return false;
    }
    true
}

/// Sets a per-namespace sysctl inside namespace `ns` (`key=value`).
pub fn sysctl_in(ns: &str, setting: &str) {
    sh_in(ns, &["sysctl", "-qw", setting]);
}

/// Runs a command inside namespace `ns`, as `ip netns exec` runs it; it must succeed.
pub fn sh_in(ns: &str, args: &[&str]) {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v);
}

/// The standard output of a command run inside namespace `ns`.
pub fn stdout_in(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip runs");
    stdout(&out)
}

/// Runs a command that must succeed.
pub fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("command runs");
    assert!(st.success(), "{args:?} failed");
}

/// Two network namespaces joined by a veth pair: `a` 10.77.0.1/24, `b` 10.77.0.2/24.
/// Deleted on drop, also when the test fails.
pub struct NetnsPair {
    pub a: String,
    pub b: String,
    pub veth_a: String,
    pub veth_b: String,
}

pub const ADDR_A: &str = "10.77.0.1";
pub const ADDR_B: &str = "10.77.0.2";

impl NetnsPair {
    /// A tbf as the root qdisc of `a`'s veth: `tbf_in_a(&["rate", "1mbit", ...])`.
    pub fn tbf_in_a(&self, spec: &[&str]) {
        let mut args = vec![
            "tc",
            "-n",
            &self.a,
            "qdisc",
            "add",
            "dev",
            &self.veth_a,
            "root",
            "tbf",
        ];
        args.extend_from_slice(spec);
        sh(&args);
    }

    /// A netfilter rule in `b` that drops UDP to `port`.
    pub fn drop_udp_in_b(&self, port: u16) {
        let port = port.to_string();
        sh_in(
            &self.b,
            &[
                "iptables", "-A", "INPUT", "-p", "udp", "--dport", &port, "-j", "DROP",
            ],
        );
    }

    pub fn new() -> NetnsPair {
        let id = format!("{}{}", std::process::id() % 100_000, unique());
        let pair = NetnsPair {
            a: format!("pmt-a{id}"),
            b: format!("pmt-b{id}"),
            veth_a: format!("pva{id}"),
            veth_b: format!("pvb{id}"),
        };
        sh(&["ip", "netns", "add", &pair.a]);
        sh(&["ip", "netns", "add", &pair.b]);
        // IPv6 neighbour discovery on a new link drops a few packets (no route yet): quiet
        // namespaces should be quiet.
        for ns in [&pair.a, &pair.b] {
            for scope in ["all", "default"] {
                sysctl_in(ns, &format!("net.ipv6.conf.{scope}.disable_ipv6=1"));
            }
        }
        sh(&[
            "ip",
            "link",
            "add",
            &pair.veth_a,
            "netns",
            &pair.a,
            "type",
            "veth",
            "peer",
            "name",
            &pair.veth_b,
            "netns",
            &pair.b,
        ]);
        for (ns, dev, addr) in [
            (&pair.a, &pair.veth_a, ADDR_A),
            (&pair.b, &pair.veth_b, ADDR_B),
        ] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// Runs `f` on a thread that has entered namespace `ns`; sockets it creates live there.
    pub fn within<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("netns file");
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// `pktmap ARGS` run inside namespace `ns`, as `ip netns exec` runs it (sysfs remounted).
    pub fn pktmap_in(ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_pktmap")])
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .expect("ip netns exec runs")
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A TCP stream from a to b whose reader in b trickles (1 KiB every 50 ms) behind a small
/// tcp_rmem (per namespace, b's only): flow control, not loss (kernel-notes). Runs about 3 s;
/// join both handles.
pub fn slow_tcp_reader(
    pair: &NetnsPair,
    port: u16,
) -> (std::thread::JoinHandle<()>, std::thread::JoinHandle<()>) {
    sysctl_in(&pair.b, "net.ipv4.tcp_rmem=4096 16384 65536");
    let listener = NetnsPair::within(&pair.b, move || {
        std::net::TcpListener::bind((ADDR_B, port)).unwrap()
    });
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        for _ in 0..70 {
            if s.read(&mut buf).unwrap_or(0) == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let writer = NetnsPair::within(&pair.a, move || {
        std::net::TcpStream::connect((ADDR_B, port)).unwrap()
    });
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut writer = writer;
        writer
            .set_write_timeout(Some(std::time::Duration::from_secs(4)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(3)
            && writer.write_all(&chunk).is_ok()
        {}
    });
    (reader, writer)
}

/// A thread that runs `step` over and over until this is dropped (which stops and joins it).
pub struct Repeat {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a [`Repeat`] on a thread named `name` (the name is its `comm`).
pub fn repeat(name: &str, mut step: impl FnMut() + Send + 'static) -> Repeat {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                step();
            }
        })
        .unwrap();
    Repeat {
        stop,
        thread: Some(thread),
    }
}

impl Drop for Repeat {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `pktmap --netns NS diagnose --trace --json --interval 1s`.
pub fn diagnose_traced_in(ns: &str) -> Output {
    run(&[
        "--netns",
        ns,
        "diagnose",
        "--trace",
        "--json",
        "--interval",
        "1s",
    ])
}

/// Two snapshot files of namespace `ns` taken 800 ms apart, in a directory removed on drop.
pub fn snapshot_pair(ns: &str) -> (TempDir, String, String) {
    let dir = TempDir::new("pair");
    let (a, b) = (dir.path("a.json"), dir.path("b.json"));
    for f in [&a, &b] {
        let out = NetnsPair::pktmap_in(ns, &["snapshot", "-o", f]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::thread::sleep(std::time::Duration::from_millis(800));
    }
    (dir, a, b)
}

/// A run of pktmap that must end within `limit`, with its peak memory in KiB (from `wait4`,
/// for this child alone). A run still going at the limit is killed and fails the test: that
/// is the hang the bounds exist to prevent.
pub fn bounded(args: &[&str], limit: std::time::Duration) -> (Output, u64) {
    use std::io::Read;
    #[allow(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which reports its memory"
    )]
    let mut child = bin()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pktmap runs");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as i32;
    let start = std::time::Instant::now();
    let (status, rss) = loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 fills it for the child we name.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            break (status, usage.ru_maxrss as u64);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("pktmap {args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let status = std::os::unix::process::ExitStatusExt::from_raw(status);
    (
        Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
        rss,
    )
}
