//! Whether this kernel lets pktmap attach fentry programs: the only sure test is to try.

use aya::programs::FEntry;
use aya::{Btf, EbpfLoader};

/// Loads and attaches a program that does nothing to `tcp_v4_rcv` (in every kernel), then drops it.
pub fn fentry() -> Result<(), String> {
    let btf = Btf::from_sys_fs().map_err(|e| format!("reading the kernel's BTF: {e}"))?;
    let mut bpf = EbpfLoader::new()
        .btf(Some(&btf))
        .load(crate::PROBE_OBJECT)
        .map_err(|e| format!("loading probe.bpf.o: {e}"))?;
    let prog: &mut FEntry = bpf
        .program_mut("probe_fentry")
        .ok_or("probe.bpf.o has no probe_fentry program")?
        .try_into()
        .map_err(|e| format!("probe_fentry: {e}"))?;
    prog.load("tcp_v4_rcv", &btf).map_err(|e| {
        // aya appends the verifier's log, empty when the kernel refused before verifying.
        let text = e.to_string();
        let text = text
            .trim_end()
            .trim_end_matches("Verifier output:")
            .trim_end();
        format!("loading an fentry program: {}", text.trim_end_matches('.'))
    })?;
    prog.attach()
        .map_err(|e| format!("attaching an fentry program: {e}"))?;
    Ok(())
}
