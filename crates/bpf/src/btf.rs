//! Reads enum names from the running kernel's BTF (`/sys/kernel/btf/vmlinux`), so drop reason
//! names come from the kernel itself and a newer kernel's new reasons just work.

use std::collections::BTreeMap;

const BTF_MAGIC: u16 = 0xeb9f;

/// The enumerators of the enum named `name`: value -> name.
pub fn enum_values(btf: &[u8], name: &str) -> Result<BTreeMap<i64, String>, String> {
    let u16_at = |o: usize| btf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        btf.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    };
    if u16_at(0) != Some(BTF_MAGIC) {
        return Err("not BTF (bad magic)".into());
    }
    let hdr_len = u32_at(4).ok_or("truncated header")? as usize;
    let (type_off, type_len) = (
        u32_at(8).ok_or("truncated header")? as usize,
        u32_at(12).ok_or("truncated header")? as usize,
    );
    let str_off = u32_at(16).ok_or("truncated header")? as usize;
    let types = hdr_len + type_off;
    let strings = hdr_len + str_off;
    let string = |off: u32| -> String {
        let start = strings + off as usize;
        let end = btf[start.min(btf.len())..]
            .iter()
            .position(|&c| c == 0)
            .map_or(btf.len(), |p| start + p);
        String::from_utf8_lossy(&btf[start.min(btf.len())..end]).into_owned()
    };
    let mut off = types;
    while off + 12 <= types + type_len {
        let name_off = u32_at(off).ok_or("truncated type")?;
        let info = u32_at(off + 4).ok_or("truncated type")?;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let body = off + 12;
        // Bytes of kind-specific data after the 12-byte common part (btf.h).
        let extra = match kind {
            1 | 14 | 17 => 4,
            3 => 12,
            4 | 5 | 15 => vlen * 12,
            6 | 13 => vlen * 8,
            19 => vlen * 12,
            2 | 7..=12 | 16 | 18 => 0,
            k => return Err(format!("unknown BTF kind {k}")),
        };
        if (kind == 6 || kind == 19) && string(name_off) == name {
            let mut out = BTreeMap::new();
            let step = if kind == 6 { 8 } else { 12 };
            for i in 0..vlen {
                let e = body + i * step;
                let n = string(u32_at(e).ok_or("truncated enum")?);
                let v = if kind == 6 {
                    i64::from(u32_at(e + 4).ok_or("truncated enum")? as i32)
                } else {
                    (u64::from(u32_at(e + 4).ok_or("truncated enum")?)
                        | (u64::from(u32_at(e + 8).ok_or("truncated enum")?) << 32))
                        as i64
                };
                out.insert(v, n);
            }
            return Ok(out);
        }
        off = body + extra;
    }
    Err(format!("no enum {name} in the kernel's BTF"))
}

/// Drop reason names of the running kernel: `2 -> "NOT_SPECIFIED"`.
pub fn drop_reasons() -> Result<BTreeMap<u32, String>, String> {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| format!("/sys/kernel/btf/vmlinux: {e}"))?;
    Ok(enum_values(&btf, "skb_drop_reason")?
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
    }

    /// The running kernel's own reasons, where it has BTF.
    #[test]
    fn this_kernels_drop_reasons() {
        let Ok(btf) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("skipping: no /sys/kernel/btf/vmlinux");
            return;
        };
        let r = enum_values(&btf, "skb_drop_reason").unwrap();
        assert_eq!(
            r.get(&2).map(String::as_str),
            Some("SKB_DROP_REASON_NOT_SPECIFIED")
        );
        assert!(r.values().any(|n| n == "SKB_DROP_REASON_NO_SOCKET"));
        assert!(r.values().any(|n| n == "SKB_DROP_REASON_NETFILTER_DROP"));
    }
}

/// Whether the kernel's BTF names a type of this name (a `btf_trace_NAME` typedef means the
/// tracepoint exists and a tp_btf program can attach to it).
pub fn has_type(btf: &[u8], name: &str) -> bool {
    walk(btf, |_, n, _, _| n == name).is_some()
}

/// Visits every type until `f` (kind, name, vlen, body offset) returns true.
fn walk(btf: &[u8], mut f: impl FnMut(u32, &str, usize, usize) -> bool) -> Option<()> {
    let u32_at = |o: usize| {
        btf.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    };
    if btf.get(0..2) != Some(&BTF_MAGIC.to_le_bytes()[..]) {
        return None;
    }
    let hdr_len = u32_at(4)? as usize;
    let (type_off, type_len, str_off) = (
        u32_at(8)? as usize,
        u32_at(12)? as usize,
        u32_at(16)? as usize,
    );
    let (types, strings) = (hdr_len + type_off, hdr_len + str_off);
    let mut off = types;
    while off + 12 <= types + type_len {
        let name_off = u32_at(off)? as usize;
        let info = u32_at(off + 4)?;
        let (vlen, kind) = ((info & 0xffff) as usize, (info >> 24) & 0x1f);
        let start = strings + name_off;
        let end = btf
            .get(start..)?
            .iter()
            .position(|&c| c == 0)
            .map(|p| start + p)?;
        let name = std::str::from_utf8(&btf[start..end]).unwrap_or("");
        if f(kind, name, vlen, off + 12) {
            return Some(());
        }
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
