//! The kernel data this crate parses itself (the BTF blob, `/proc/kallsyms`), listed for the
//! fuzz targets (`fuzz/`) and the stable corpus-and-mutants test.

use pktmap_model::fuzz::Parser;

pub const PARSERS: &[Parser] = &[
    Parser {
        name: "btf",
        seeds: &["fuzz/seeds/btf"],
        parse: |b| {
            drop(crate::btf::enum_values(b, "skb_drop_reason"));
            let _ = crate::btf::has_type(b, "btf_trace_kfree_skb");
        },
    },
    Parser {
        name: "kallsyms",
        seeds: &["fuzz/seeds/kallsyms"],
        parse: |b| {
            let s = crate::kallsyms::Symbols::parse(&String::from_utf8_lossy(b));
            for addr in [0, 1, 0xffff_ffff_8203_31c5, u64::MAX] {
                drop(s.resolve(addr));
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use pktmap_model::fuzz::{check, repo_root, seeds};

    #[test]
    fn btf_and_kallsyms_survive_seeds_fuzz_corpus_and_mutants() {
        check(PARSERS, env!("CARGO_MANIFEST_DIR"));
    }

    #[test]
    fn the_btf_seed_holds_the_enum_it_stands_for() {
        let root = repo_root(env!("CARGO_MANIFEST_DIR"));
        let btf = &seeds(&PARSERS[0], &root).unwrap()[1];
        let reasons = crate::btf::enum_values(btf, "skb_drop_reason").unwrap();
        assert_eq!(
            reasons.get(&11).map(String::as_str),
            Some("SKB_DROP_REASON_NETFILTER_DROP")
        );
        assert!(crate::btf::has_type(btf, "btf_trace_kfree_skb"));
    }
}
