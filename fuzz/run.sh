#!/usr/bin/env bash
# Coverage-guided fuzzing on stable Rust. Builds every target with the SanitizerCoverage flags
# cargo-fuzz uses for `-s none` (safe Rust needs no sanitizer to show a panic), plus debug
# assertions and overflow checks, so an arithmetic overflow counts as a crash too.
#
#   fuzz/run.sh fuzz SECONDS [TARGET...]  fuzz each target from its seeds and corpus, then merge
#                                          what it found into fuzz/corpus/TARGET (minimised)
#   fuzz/run.sh replay [TARGET...]        run every seed, corpus input and past crash once
#   fuzz/run.sh smoke RUNS [TARGET...]    RUNS fresh inputs per target from a fixed random
#                                          seed, so the same commit always tries the same ones
#                                          (CI runs replay, then smoke)
#
# A crash leaves its input in fuzz/artifacts/TARGET/; once fixed, copy it into
# fuzz/regressions/TARGET/ (never trimmed), and every replay and stable test runs it from then on.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:?usage: fuzz/run.sh fuzz SECONDS [TARGET...] | replay [TARGET...] | smoke RUNS [TARGET...]}
shift
secs=0
runs=0
case $mode in
    fuzz) secs=${1:?seconds}; shift ;;
    smoke) runs=${1:?runs}; shift ;;
    replay) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
all=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^pktmap-fuzz$')
targets=${*:-$all}
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# --target keeps these flags off build scripts and proc macros.
cargo build --locked --release --target "$triple" --bins
status=0
for t in $targets; do
    bin=target/$triple/release/$t
    seeds=$(PKTMAP_FUZZ_LIST_SEEDS=1 "$bin" 2>/dev/null)
    mkdir -p "corpus/$t" "regressions/$t" "artifacts/$t"
    log=artifacts/$t/last.log
    # Inputs up to twice the smallest real sample (at least 1 KiB): room for a whole table or
    # document and its mutations, without the fuzzer spending its time on megabytes.
    smallest=$(tr , '\n' <<<"$seeds" | xargs stat -c %s | sort -n | head -1)
    max_len=$((2 * smallest > 1024 ? 2 * smallest : 1024))
    # New inputs go to the first folder: a scratch one, so replay and smoke change nothing.
    rm -rf "new/$t" && mkdir -p "new/$t"
    dirs=("new/$t" "corpus/$t" "regressions/$t")
    case $mode in
        replay) args=(-runs=0) ;;
        smoke) args=(-runs="$runs" -seed=1 -max_len="$max_len" -print_final_stats=1) ;;
        fuzz) args=(-max_total_time="$secs" -max_len="$max_len" -print_final_stats=1) ;;
    esac
    if "$bin" "${args[@]}" -seed_inputs="$seeds" -artifact_prefix="artifacts/$t/" "${dirs[@]}" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        inputs=$(sed -n 's/.*INITED.* corp: \([0-9]*\)\/.*/\1/p' "$log" | head -1)
        case $mode in
            replay) echo "$t: ok ($inputs inputs)" ;;
            smoke) echo "$t: ok ($execs executions)" ;;
            fuzz) echo "$t: ok ($execs executions in $secs s)" ;;
        esac
    else
        echo "$t: CRASH, see fuzz/$log and fuzz/artifacts/$t/"
        tail -30 "$log"
        status=1
    fi
    if [ "$mode" = fuzz ]; then
        # Keep only inputs that add coverage (seeds stay in fixtures/): the committed corpus stays
        # small.
        rm -rf "min/$t" && mkdir -p "min/$t"
        "$bin" -merge=1 "min/$t" "corpus/$t" "new/$t" >/dev/null 2>&1
        rm -rf "corpus/$t" "new/$t"
        # Commit-sized: the smallest inputs first, up to 128 KiB per target. A later run starts
        # from the seeds and these, and finds the rest again in seconds.
        mkdir -p "corpus/$t"
        budget=131072
        for f in $(ls -Sr "min/$t"); do
            size=$(stat -c %s "min/$t/$f")
            [ "$size" -le "$budget" ] || break
            budget=$((budget - size))
            mv "min/$t/$f" "corpus/$t/"
        done
    fi
done
rm -rf new min
exit $status
