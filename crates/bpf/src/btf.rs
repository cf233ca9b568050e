//! Reads the running kernel's BTF (`/sys/kernel/btf/vmlinux`): enum names, so drop reason
//! names come from the kernel itself and a newer kernel's new reasons just work; and type
//! names, to tell which tracepoints exist.

use std::collections::BTreeMap;

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_ENUM: u32 = 6;
const KIND_ENUM64: u32 = 19;

fn u32_at(btf: &[u8], o: usize) -> Option<u32> {
    btf.get(o..o + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
}

/// The string at `off` of the string section starting at `strings`.
fn string(btf: &[u8], strings: usize, off: usize) -> Option<&str> {
    let start = strings + off;
    let end = btf
        .get(start..)?
        .iter()
        .position(|&c| c == 0)
        .map(|p| start + p)?;
    std::str::from_utf8(&btf[start..end]).ok()
}

/// Visits every type until `f` (kind, name, vlen, body offset, strings offset) returns
/// `Some`. `None` when the BTF is malformed or nothing matched.
fn walk<T>(
    btf: &[u8],
    mut f: impl FnMut(u32, &str, usize, usize, usize) -> Option<T>,
) -> Option<T> {
    if btf.get(0..2) != Some(&BTF_MAGIC.to_le_bytes()[..]) {
        return None;
    }
    let hdr_len = u32_at(btf, 4)? as usize;
    let (type_off, type_len, str_off) = (
        u32_at(btf, 8)? as usize,
        u32_at(btf, 12)? as usize,
        u32_at(btf, 16)? as usize,
    );
    let (types, strings) = (hdr_len + type_off, hdr_len + str_off);
    let mut off = types;
    while off + 12 <= types + type_len {
        let name = string(btf, strings, u32_at(btf, off)? as usize).unwrap_or("");
        let info = u32_at(btf, off + 4)?;
        let (vlen, kind) = ((info & 0xffff) as usize, (info >> 24) & 0x1f);
        if let Some(found) = f(kind, name, vlen, off + 12, strings) {
            return Some(found);
        }
        // Bytes of kind-specific data after the 12-byte common part (include/uapi/linux/btf.h).
        off += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => vlen * 12,
                6 | 13 => vlen * 8,
                _ => 0,
            };
    }
    None
}

/// The enumerators of the enum named `name`: value -> name.
pub fn enum_values(btf: &[u8], name: &str) -> Result<BTreeMap<i64, String>, String> {
    if btf.get(0..2) != Some(&BTF_MAGIC.to_le_bytes()[..]) {
        return Err("not BTF (bad magic)".into());
    }
    walk(btf, |kind, n, vlen, body, strings| {
        if !(kind == KIND_ENUM || kind == KIND_ENUM64) || n != name {
            return None;
        }
        let step = if kind == KIND_ENUM { 8 } else { 12 };
        let mut out = BTreeMap::new();
        for i in 0..vlen {
            let e = body + i * step;
            let label = string(btf, strings, u32_at(btf, e)? as usize)?.to_string();
            let lo = u32_at(btf, e + 4)?;
            let v = if kind == KIND_ENUM {
                i64::from(lo as i32)
            } else {
                (u64::from(lo) | (u64::from(u32_at(btf, e + 8)?) << 32)) as i64
            };
            out.insert(v, label);
        }
        Some(out)
    })
    .ok_or_else(|| format!("no enum {name} in the kernel's BTF (or the BTF is malformed)"))
}

/// Whether the kernel's BTF names a type of this name (a `btf_trace_NAME` typedef means the
/// tracepoint exists and a tp_btf program can attach to it).
pub fn has_type(btf: &[u8], name: &str) -> bool {
    walk(btf, |_, n, _, _, _| (n == name).then_some(())).is_some()
}

/// How many arguments the tracepoint `name` passes a tp_btf program (`kfree_skb`: 3 before
/// 6.11, 4 since, with the receiving socket), from the prototype behind its `btf_trace_NAME`
/// typedef (typedef -> pointer -> function prototype, whose first parameter is the context).
pub fn tracepoint_args(btf: &[u8], name: &str) -> Option<usize> {
    const KIND_PTR: u32 = 2;
    const KIND_TYPEDEF: u32 = 8;
    const KIND_FUNC_PROTO: u32 = 13;
    // Type ids count from 1 in order; each entry: kind, vlen and its `type` field.
    let mut types = vec![(0u32, 0usize, 0u32)];
    let mut typedef = None;
    let want = format!("btf_trace_{name}");
    walk(btf, |kind, n, vlen, body, _| {
        types.push((kind, vlen, u32_at(btf, body - 4)?));
        if kind == KIND_TYPEDEF && n == want {
            typedef = Some(types.len() - 1);
        }
        None::<()>
    });
    let (_, _, ptr) = *types.get(typedef?)?;
    let (kind, _, proto) = *types.get(ptr as usize)?;
    let (kind2, vlen, _) = *types.get(proto as usize).filter(|_| kind == KIND_PTR)?;
    (kind2 == KIND_FUNC_PROTO).then(|| vlen.saturating_sub(1))
}

/// Members of `enum skb_drop_reason` that name no drop: the enum's bounds and the values
/// `kfree_skb` never reports as a drop.
const NOT_DROPS: &[&str] = &["MAX", "SUBSYS_MASK", "SKB_NOT_DROPPED_YET", "SKB_CONSUMED"];

/// Reasons of the running kernel that the catalog does not map yet (a kernel newer than it),
/// leaving out the enum's sentinels.
pub fn unmapped_reasons(reasons: &BTreeMap<u32, String>) -> Vec<String> {
    reasons
        .values()
        .filter(|n| !NOT_DROPS.contains(&n.as_str()))
        .filter(|n| pktmap_model::catalog::reason(n).is_none())
        .cloned()
        .collect()
}

/// Drop reason names of the running kernel: `2 -> "NOT_SPECIFIED"`.
pub fn drop_reasons() -> Result<BTreeMap<u32, String>, String> {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").map_err(|e| {
        format!(
            "/sys/kernel/btf/vmlinux: {e} (a kernel without BTF: drop reasons cannot be named \
             and the CO-RE programs cannot load)"
        )
    })?;
    reasons_in(&btf)
}

/// Drop reason names in a kernel's BTF; an error that says what is missing when the kernel
/// has none (before Linux 5.17, kfree_skb had no reason).
pub fn reasons_in(btf: &[u8]) -> Result<BTreeMap<u32, String>, String> {
    if !has_type(btf, "skb_drop_reason") {
        return Err(
            "this kernel has no enum skb_drop_reason in its BTF: drop reasons came with \
                    Linux 5.17, so there is nothing to count by reason"
                .into(),
        );
    }
    Ok(enum_values(btf, "skb_drop_reason")?
        .into_iter()
        .filter_map(|(v, n)| {
            Some((
                u32::try_from(v).ok()?,
                n.trim_start_matches("SKB_DROP_REASON_").to_string(),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_btf() {
        assert!(enum_values(b"nope", "x").is_err());
        assert!(enum_values(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0], "x").is_err());
        assert!(!has_type(b"", "x"));
    }

    #[test]
    fn a_btf_without_drop_reasons_says_what_is_missing() {
        let root = pktmap_model::fuzz::repo_root(env!("CARGO_MANIFEST_DIR"));
        // A BPF object's BTF: real, well formed, and without the kernel's enum.
        let without = std::fs::read(root.join("fuzz/seeds/btf/drops-object.btf")).unwrap();
        let e = reasons_in(&without).unwrap_err();
        assert!(
            e.contains("no enum skb_drop_reason") && e.contains("5.17"),
            "{e}"
        );
        let with = std::fs::read(root.join("fuzz/seeds/btf/skb_drop_reason.btf")).unwrap();
        let r = reasons_in(&with).unwrap();
        assert_eq!(r.get(&2).map(String::as_str), Some("NOT_SPECIFIED"));
    }

    /// The running kernel's own reasons and tracepoints, where it has BTF.
    #[test]
    fn this_kernels_drop_reasons_and_tracepoints() {
        let Ok(btf) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI's kernel has BTF"
            );
            eprintln!("skipping: no /sys/kernel/btf/vmlinux");
            return;
        };
        let r = enum_values(&btf, "skb_drop_reason").unwrap();
        assert_eq!(
            r.get(&2).map(String::as_str),
            Some("SKB_DROP_REASON_NOT_SPECIFIED")
        );
        assert!(r.values().any(|n| n == "SKB_DROP_REASON_NO_SOCKET"));
        // Every place this kernel drops a packet is mapped to a stage and its counters.
        let named = drop_reasons().unwrap();
        let unmapped = unmapped_reasons(&named);
        assert!(unmapped.is_empty(), "unmapped reasons: {unmapped:?}");
        let mut newer = named.clone();
        newer.insert(9999, "FROM_A_NEWER_KERNEL".into());
        assert_eq!(unmapped_reasons(&newer), ["FROM_A_NEWER_KERNEL"]);
        assert!(has_type(&btf, "btf_trace_kfree_skb"));
        // 6.11 added the receiving socket to kfree_skb; napi_poll has had three all along.
        assert_eq!(tracepoint_args(&btf, "kfree_skb"), Some(4));
        assert_eq!(tracepoint_args(&btf, "napi_poll"), Some(3));
        assert_eq!(tracepoint_args(&btf, "no_such_tracepoint"), None);
        assert!(!has_type(&btf, "btf_trace_no_such_tracepoint"));
        // Truncated or corrupted BTF is an error, not a panic.
        for cut in [3, 20, btf.len() / 2] {
            let _ = enum_values(&btf[..cut], "skb_drop_reason");
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let head = &btf[..btf.len().min(256 * 1024)];
        for _ in 0..200 {
            let mut m = head.to_vec();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % m.len();
                m[i] = (x >> 32) as u8;
            }
            let _ = enum_values(&m, "skb_drop_reason");
            let _ = has_type(&m, "btf_trace_kfree_skb");
        }
    }
}
