// The one libFuzzer target, compiled once per parser: each `fuzz_targets/NAME.rs` includes this
// file, and the binary's name picks the parser from the lists the crates share with their
// stable tests.

use pktmap_model::fuzz::{Parser, seed_files};

/// Looked up once, not on every one of the millions of inputs.
fn parser() -> &'static Parser {
    static PARSER: std::sync::OnceLock<&'static Parser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        let name = env!("CARGO_BIN_NAME");
        [
            pktmap_model::fuzz::PARSERS,
            pktmap_sources::parsers::PARSERS,
            pktmap_bpf::parsers::PARSERS,
        ]
        .into_iter()
        .flatten()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parser named {name}"))
    })
}

libfuzzer_sys::fuzz_target!(
    init: {
        // `fuzz/run.sh` asks each target for its seed files (for -seed_inputs), so the list
        // lives in one place, beside the parser.
        if std::env::var_os("PKTMAP_FUZZ_LIST_SEEDS").is_some() {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            match seed_files(parser(), &root) {
                Ok(files) => {
                    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                    println!("{}", files.join(","));
                    std::process::exit(0);
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(2);
                }
            }
        }
    },
    |data: &[u8]| (parser().parse)(data)
);
