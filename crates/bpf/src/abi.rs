//! Rust twins of `bpf/pktmap.h`.

/// `struct drop_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DropKey {
    pub reason: u32,
    pub netns: u32,
    pub location: u64,
    pub ifindex: u32,
    /// Network byte order, as the skb holds it.
    pub protocol: u16,
    pub pad: u16,
}

// SAFETY: a plain C struct of integers with no padding the kernel leaves uninitialised (the
// program zeroes the key before filling it).
unsafe impl aya::Pod for DropKey {}

/// `struct drop_run`: a CPU's latest run of drops at one key, not yet in the hash.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropRun {
    pub key: DropKey,
    pub count: u64,
}

// SAFETY: a DropKey and a u64, no padding.
unsafe impl aya::Pod for DropRun {}

/// `DROP_STAT_*` indexes of the `drop_stats` per-CPU array.
pub const DROP_STAT_EVENTS: u32 = 0;
pub const DROP_STAT_FULL: u32 = 1;
/// `DROPS_MAX_ENTRIES`.
pub const DROPS_MAX_ENTRIES: usize = 8192;

/// `struct drop_sample`: one dropped packet's addresses.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropSample {
    pub reason: u32,
    pub netns: u32,
    pub ifindex: u32,
    /// Network byte order.
    pub sport: u16,
    pub dport: u16,
    /// 4, 6, or 0 when the packet was neither.
    pub family: u8,
    pub l4proto: u8,
    pub pad: u16,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
}

/// `DROP_STAT_SAMPLE_LOST`.
pub const DROP_STAT_SAMPLE_LOST: u32 = 2;

/// `LAT_STAT_*` indexes of the `lat_stats` per-CPU array.
pub const LAT_STAT_NAPI_FULL: u32 = 0;
pub const LAT_STAT_REPLACED: u32 = 1;
pub const LAT_STAT_LATE: u32 = 2;
pub const LAT_STAT_RUNS: u32 = 3;

/// `struct napi_key`: a device as namespace inode and ifindex; both 0 for the per-CPU backlog.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NapiKey {
    pub netns: u32,
    pub ifindex: u32,
}

// SAFETY: two u32, no padding.
unsafe impl aya::Pod for NapiKey {}

/// `struct napi_dev`: one device's polls on one CPU.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NapiDev {
    pub polls: u64,
    pub full_budget: u64,
    pub work: u64,
}

// SAFETY: three u64, no padding.
unsafe impl aya::Pod for NapiDev {}

#[cfg(test)]
mod tests {
    #[test]
    fn key_layout_matches_the_c_header() {
        assert_eq!(std::mem::size_of::<super::DropKey>(), 24);
        let header = include_str!("../bpf/pktmap.h");
        assert!(header.contains("#define DROPS_MAX_ENTRIES 8192"));
        assert!(header.contains("#define DROP_STAT_FULL 1"));
        assert_eq!(std::mem::size_of::<super::NapiDev>(), 24);
        assert_eq!(std::mem::size_of::<super::NapiKey>(), 8);
        assert!(header.contains("__u32 netns;\n\t__u32 ifindex;\n};"));
        assert_eq!(std::mem::size_of::<super::DropRun>(), 32);
        assert!(header.contains("struct drop_key key;\n\t__u64 count;"));
        assert_eq!(std::mem::size_of::<super::DropSample>(), 52);
        assert!(header.contains("#define DROP_STAT_SAMPLE_LOST 2"));
        assert!(header.contains("__u64 full_budget;"));
        assert!(header.contains("#define LAT_STAT_NAPI_FULL 0"));
        assert!(header.contains("#define LAT_STAT_REPLACED 1"));
        assert!(header.contains("#define LAT_STAT_LATE 2"));
        assert!(header.contains("#define LAT_STAT_RUNS 3"));
    }
}
