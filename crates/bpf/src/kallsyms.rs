//! Code addresses to kernel symbols, from `/proc/kallsyms` (root sees the addresses).

/// Text symbols sorted by address.
pub struct Symbols(Vec<(u64, String)>);

impl Symbols {
    pub fn parse(text: &str) -> Symbols {
        let mut v: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let addr = u64::from_str_radix(w.next()?, 16).ok()?;
                let kind = w.next()?;
                let name = w.next()?;
                (addr != 0 && matches!(kind, "t" | "T")).then(|| (addr, name.to_string()))
            })
            .collect();
        v.sort_unstable();
        Symbols(v)
    }

    pub fn read() -> Symbols {
        Symbols::parse(&std::fs::read_to_string("/proc/kallsyms").unwrap_or_default())
    }

    /// No address visible: /proc/kallsyms shows zeros to a reader without CAP_SYSLOG.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `nft_do_chain+0x4a1`, or the raw address when unknown (addresses hidden from non-root).
    pub fn resolve(&self, addr: u64) -> String {
        match self.0.partition_point(|(a, _)| *a <= addr) {
            0 => format!("{addr:#x}"),
            i => {
                let (base, name) = &self.0[i - 1];
                format!("{name}+{:#x}", addr - base)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolves_to_the_nearest_symbol_below() {
        let s = super::Symbols::parse(
            "ffffffff81000000 T _text\nffffffff81000100 t tcp_v4_rcv\n0000000000000000 T hidden\nffffffff81000200 D data\n",
        );
        assert_eq!(s.resolve(0xffffffff81000142), "tcp_v4_rcv+0x42");
        assert_eq!(s.resolve(0x10), "0x10");
        assert!(super::Symbols::parse("0000000000000000 T hidden\n").is_empty());
    }
}
