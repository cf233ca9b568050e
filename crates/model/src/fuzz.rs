//! The parsers of kernel text, kernel binary replies and pktmap's own files, listed by name so
//! that one list feeds both the coverage-guided fuzz targets (`fuzz/`, libFuzzer) and the stable
//! test each crate runs: every seed, every input of the committed fuzz corpus, and mutants of
//! the seeds, each of which must return (an error is fine), never panic.

use std::path::{Path, PathBuf};

/// One parser: its fuzz target name, where its real seeds live (files or folders, relative to
/// the repository root) and an entry point that parses and uses the result.
pub struct Parser {
    pub name: &'static str,
    pub seeds: &'static [&'static str],
    pub parse: fn(&[u8]),
}

/// The repository root, from a crate's manifest directory (`crates/NAME`).
pub fn repo_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../..")
}

fn files_in(path: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(dir) => dir.filter_map(|e| Some(e.ok()?.path())).collect(),
        Err(_) => vec![path.to_path_buf()],
    };
    paths.sort();
    paths
}

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// The files of the parser's seeds (a missing seed path is an error: the list and the
/// fixtures must agree).
pub fn seed_files(p: &Parser, root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for s in p.seeds {
        let path = root.join(s);
        if !path.exists() {
            return Err(format!(
                "{}: seed {} does not exist",
                p.name,
                path.display()
            ));
        }
        out.extend(files_in(&path));
    }
    Ok(out)
}

/// The parser's seeds, read.
pub fn seeds(p: &Parser, root: &Path) -> Result<Vec<Vec<u8>>, String> {
    Ok(read_all(&seed_files(p, root)?))
}

/// The inputs libFuzzer kept for this parser (`fuzz/corpus/NAME`) and the inputs that once
/// crashed it (`fuzz/regressions/NAME`).
pub fn corpus(p: &Parser, root: &Path) -> Vec<Vec<u8>> {
    ["fuzz/corpus", "fuzz/regressions"]
        .iter()
        .map(|d| root.join(d).join(p.name))
        .filter(|d| d.is_dir())
        .flat_map(|d| read_all(&files_in(&d)))
        .collect()
}

/// xorshift64: deterministic, so a failing mutant is found again by the same test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One mutant of `seed`: bit flips, inserted and deleted bytes, cuts, repeated slices (a
/// duplicated line or message), digits turned huge, separators in odd places.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len().max(1));
        let last = v.len().saturating_sub(1);
        match rng.below(8) {
            0 if !v.is_empty() => v[at.min(last)] ^= 1 << rng.below(8),
            1 => v.insert(at.min(v.len()), rng.next() as u8),
            2 if !v.is_empty() => {
                v.remove(at.min(last));
            }
            3 => v.truncate(at),
            4 => {
                let len = rng.below(64).min(v.len().saturating_sub(at));
                let piece = v[at..at + len].to_vec();
                v.splice(at..at, piece);
            }
            5 => {
                let at = at.min(v.len());
                v.splice(at..at, b"99999999999999999999999".iter().copied());
            }
            6 if !v.is_empty() => {
                v[at.min(last)] = [b' ', b'\n', b':', b'\t', 0, 0xff][rng.below(6)]
            }
            _ => v.extend_from_slice(&seed[..rng.below(seed.len())]),
        }
    }
    v
}

/// Runs every parser of `list` over its seeds, its committed corpus and `mutants` mutants of
/// each seed; returns how many inputs ran. A panic fails the calling test with the input's
/// parser named by the panic message's backtrace.
pub fn exercise(list: &[Parser], root: &Path, mutants: usize) -> Result<usize, String> {
    let mut n = 0;
    for p in list {
        let mut rng = Rng(0x5eed ^ (p.name.len() as u64).wrapping_mul(0x9e37_79b9));
        let seeds = seeds(p, root)?;
        for input in seeds.iter().chain(&corpus(p, root)) {
            (p.parse)(input);
            n += 1;
        }
        for s in &seeds {
            for _ in 0..mutants {
                (p.parse)(&mutate(&mut rng, s));
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Mutants per seed in the stable test: `PKTMAP_FUZZ_ITERS`, 100 unless set.
pub fn mutants_per_seed() -> usize {
    std::env::var("PKTMAP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// The stable test of a crate's list: [`exercise`] from the repository root found from the
/// crate's manifest directory; panics on a missing seed, as any panicking parser does.
pub fn check(list: &[Parser], manifest_dir: &str) {
    let n = exercise(list, &repo_root(manifest_dir), mutants_per_seed()).unwrap();
    assert!(n > list.len() * mutants_per_seed(), "{n} inputs");
}

/// pktmap's own parser: snapshot files (one snapshot or a set), read back and used.
pub const PARSERS: &[Parser] = &[Parser {
    name: "snapshot_json",
    seeds: &["fuzz/seeds/snapshot_json"],
    parse: |b| {
        let Ok(snaps) = crate::snapshot::load_snapshots(&String::from_utf8_lossy(b)) else {
            return;
        };
        // A loaded file is used as `walk`, `diagnose` (`--from A --to B`) and `audit --from`
        // would: each snapshot audited once, the delta of each with itself and its neighbour.
        for s in &snaps {
            drop(crate::audit::audit(s, crate::audit::PathHint::default()));
        }
        for pair in snaps.windows(2).chain(snaps.chunks(1)) {
            let (a, b) = (&pair[0], pair.last().expect("non-empty"));
            if let Ok(d) = crate::delta::Delta::between(a, b) {
                drop(crate::walk::build(&d, None));
                drop(crate::diagnose::diagnose(&d));
            }
        }
    },
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_files_survive_fuzz_corpus_and_mutants() {
        check(PARSERS, env!("CARGO_MANIFEST_DIR"));
    }

    #[test]
    fn a_missing_seed_is_an_error_naming_it() {
        let p = Parser {
            name: "x",
            seeds: &["no/such/seed"],
            parse: |_| {},
        };
        let e = exercise(std::slice::from_ref(&p), Path::new("/nonexistent"), 1).unwrap_err();
        assert!(e.contains("no/such/seed"), "{e}");
    }

    #[test]
    fn mutants_differ_from_their_seed_and_are_deterministic() {
        let seed = b"cpu0 1 2 3\ncpu1 4 5 6\n";
        let (mut a, mut b) = (Rng(7), Rng(7));
        let ma: Vec<_> = (0..50).map(|_| mutate(&mut a, seed)).collect();
        let mb: Vec<_> = (0..50).map(|_| mutate(&mut b, seed)).collect();
        assert_eq!(ma, mb);
        assert!(ma.iter().filter(|m| m.as_slice() != seed).count() > 40);
    }
}
