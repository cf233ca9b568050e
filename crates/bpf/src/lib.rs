//! pktmap's BPF side: programs in C under `bpf/` (CO-RE, compiled by `bpf/build.sh`, the
//! objects committed so a plain `cargo build` needs no clang), the ABI shared with them, and
//! their loader. Tracepoints only: no kprobes.

pub mod abi;
pub mod btf;
pub mod drops;
pub mod kallsyms;
pub mod latency;

/// The compiled drop counter (`bpf/drops.bpf.c`).
pub const DROPS_OBJECT: &[u8] = include_bytes!("../bpf/drops.bpf.o");
/// The compiled latency histograms (`bpf/latency.bpf.c`).
pub const LATENCY_OBJECT: &[u8] = include_bytes!("../bpf/latency.bpf.o");

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
        let fresh = std::fs::read(dir.join("drops.bpf.o")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            fresh == crate::DROPS_OBJECT,
            "bpf/drops.bpf.o is stale: run crates/bpf/bpf/build.sh and commit the object"
        );
    }
}
