//! pktmap's BPF side: programs in C under `bpf/` (CO-RE, compiled by `bpf/build.sh`, the
//! objects committed so a plain `cargo build` needs no clang), the ABI shared with them, and
//! their loader. Tracepoints only: no kprobes.

pub mod abi;
pub mod btf;
pub mod drops;
pub mod kallsyms;
pub mod latency;
pub mod parsers;
pub mod probe;

/// What one program of ours cost while it ran: how often it ran and for how long in total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCost {
    pub name: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

/// Run counts and times of every loaded program of `bpf`. The kernel keeps them only while
/// run-time statistics are on, which `enable_run_time_stats` turns on for as long as its file
/// descriptor lives (BPF_ENABLE_STATS, 5.8+): no sysctl is changed.
pub fn costs(bpf: &aya::Ebpf) -> Vec<ProgramCost> {
    bpf.programs()
        .filter_map(|(name, p)| {
            let info = p.info().ok()?;
            Some(ProgramCost {
                name: name.to_string(),
                runs: info.run_count(),
                run_time_ns: info.run_time().as_nanos() as u64,
            })
        })
        .filter(|c| c.runs > 0 || c.run_time_ns > 0)
        .collect()
}

/// Turns the kernel's per-program run-time accounting on until the returned descriptor drops.
pub fn enable_run_time_stats() -> Option<std::os::fd::OwnedFd> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).ok()
}

/// The compiled drop counter (`bpf/drops.bpf.c`).
pub const DROPS_OBJECT: &[u8] = include_bytes!("../bpf/drops.bpf.o");
/// The compiled latency histograms (`bpf/latency.bpf.c`).
pub const LATENCY_OBJECT: &[u8] = include_bytes!("../bpf/latency.bpf.o");
/// A program that does nothing, to learn whether fentry is allowed (`bpf/probe.bpf.c`).
pub const PROBE_OBJECT: &[u8] = include_bytes!("../bpf/probe.bpf.o");

/// The clock `bpf_ktime_get_ns` reads (CLOCK_MONOTONIC), in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Whether a test may load programs: as root yes; otherwise it says it skips, except on CI,
/// which runs as root and fails instead.
#[cfg(test)]
pub(crate) fn test_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI runs as root"
    );
    eprintln!("skipping: needs root");
    false
}

#[cfg(test)]
mod tests {
    /// The committed objects are what their sources compile to. Needs clang and llvm-strip
    /// (CI installs them); without them the check says so and is left to a machine that has.
    #[test]
    fn committed_objects_match_their_sources() {
        let have = |tool: &str| {
            std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !have("clang") || !have("llvm-strip") {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI installs clang to check the BPF objects"
            );
            eprintln!("skipping: clang or llvm-strip is not installed");
            return;
        }
        let dir = std::env::temp_dir().join(format!("pktmap-bpf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/build.sh");
        let st = std::process::Command::new("bash")
            .arg(script)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "bpf/build.sh failed");
        // Every object the script makes, the fault rig's test programs too, against the
        // committed file beside its source.
        let committed = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bpf"));
        let mut built: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        built.sort();
        assert!(built.len() >= 4, "{built:?}");
        let stale: Vec<&String> = built
            .iter()
            .filter(|name| {
                std::fs::read(dir.join(name)).ok() != std::fs::read(committed.join(name)).ok()
            })
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            stale.is_empty(),
            "stale: {stale:?}: run crates/bpf/bpf/build.sh and commit the objects"
        );
    }
}
