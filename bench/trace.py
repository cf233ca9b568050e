#!/usr/bin/env python3
"""Cost of tracing: packets per second of a UDP flood across a veth pair with no tracing, with
`pktmap trace drops` and `trace latency`, and with the equivalent bpftrace one-liners. Two floods:
into a closed port (every packet dropped, the worst case for a drop tracer) and into a socket
that reads every packet (the usual case: nothing dropped, every packet copied to the
application). One sender floods without a pause for the whole run and logs its count every 1,000
packets; tracers start and stop around it. Each traced window (2 s, timed from once the tracer
holds its links and has settled, so start-up is left out) sits between two untraced 1 s windows
and is compared with their mean, so the VM's drift cancels at the scale of seconds; the mode
order rotates round by round. Each cost is given as the median with the middle half of the
windows, and as the mean with its 95% interval. Afterwards each pktmap mode runs once more with
--cost, over the same flood: its own count of the programs' runs and their run time, which no
noise moves. Root; traffic only inside the two namespaces this script makes.

Usage: bench/trace.py [ROUNDS]   (after `cargo build --release`; needs bpftrace for its rows)
PKTMAP_TRACED=SECONDS sets the traced window (default 2). PKTMAP_BASELINE=path/to/another/pktmap adds that build's trace drops and trace latency.
PKTMAP_EXTRA="LABEL<TAB>COMMAND" lines add any other tracer (say, a scratch floor of empty
programs); PKTMAP_ONLY="WORD|WORD" keeps only the modes whose label is or (if no label is) has one of the words; PKTMAP_FLOODS="reading"
(or "closed") only that flood."""
import json, os, shlex, shutil, signal, statistics, subprocess, sys, time
from vethpair import OPEN, Flood, links, veth_pair

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
# Seconds a window. A traced window should cover whole --duty periods (2 s): PKTMAP_TRACED=4
# covers two, and dilutes whatever the tracer's first seconds cost.
TRACED, UNTRACED = float(os.environ.get("PKTMAP_TRACED", "2")), 1.0
SETTLE = 0.3  # after attaching (pktmap's duty windows begin), after exiting (links released)
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
CLOSED = 9
BPFTRACE = "tracepoint:skb:kfree_skb { @[args->reason, args->location] = count(); }"
# The latency one-liners a user would write for the same histograms (receive-to-copy, NET_RX run time).
BPFTRACE_LAT = ("tracepoint:net:netif_receive_skb { @start[args->skbaddr] = nsecs; } "
                "tracepoint:skb:skb_copy_datagram_iovec /@start[args->skbaddr]/ { @copy = hist(nsecs - @start[args->skbaddr]); delete(@start[args->skbaddr]); } "
                "tracepoint:irq:softirq_entry /args->vec == 3/ { @se[cpu] = nsecs; } "
                "tracepoint:irq:softirq_exit /args->vec == 3 && @se[cpu]/ { @run = hist(nsecs - @se[cpu]); }")

def untraced(fl):
    t0 = time.monotonic()
    time.sleep(UNTRACED)
    return fl.rate(t0, t0 + UNTRACED)

def traced(fl, cmd):
    # SIGINT back to its default: a shell's background job ignores it, and so would the tracer.
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20  # bpftrace takes seconds to compile
    # A tracer that failed would cost nothing: wait until it holds its programs' links.
    while cmd[0] != "sleep" and not (p.poll() is None and links(p.pid, ("bpf_link", "perf_event"))):
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"not attached: {shlex.join(cmd)}")
        time.sleep(0.005)
    time.sleep(SETTLE)
    t0 = time.monotonic()
    time.sleep(TRACED)
    pps = fl.rate(t0, t0 + TRACED)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait()
    time.sleep(SETTLE)
    return pps

modes = {
    # A process started and stopped around the window, tracing nothing: the harness's own bias.
    "control: no tracer (sleep)": ["sleep", "60"],
    "pktmap trace drops": [BIN, "trace", "drops", "--interval", "60s"],
    # The default (--duty auto: windows sized to the traffic), a fixed 20% of each 2 s, and throughout.
    "pktmap trace latency": [BIN, "trace", "latency", "--interval", "60s"],
    "pktmap trace latency --duty 20": [BIN, "trace", "latency", "--duty", "20", "--interval", "60s"],
    "pktmap trace latency --duty 100": [BIN, "trace", "latency", "--duty", "100", "--interval", "60s"],
    # What an application owner asks: receive-to-copy and run-queue latency (rx.11) only.
    "pktmap trace latency --stage rx.11": [BIN, "trace", "latency", "--stage", "rx.11", "--interval", "60s"],
}
# PKTMAP_BASELINE=path/to/another/pktmap compares a second build (say, the previous commit's).
if os.environ.get("PKTMAP_BASELINE"):
    other = os.environ["PKTMAP_BASELINE"]
    modes["baseline build: trace drops"] = [other, "trace", "drops", "--interval", "60s"]
    modes["baseline build: trace latency"] = [other, "trace", "latency", "--interval", "60s"]
if shutil.which("bpftrace"):
    # bpftrace finds tracepoints through tracefs: mount it in a private mount namespace.
    bt = lambda prog: ["unshare", "-m", "sh", "-c", f"mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace -e '{prog}'"]
    modes["bpftrace kfree_skb count"] = bt(BPFTRACE)
    modes["bpftrace latency one-liners"] = bt(BPFTRACE_LAT)
for line in filter(None, os.environ.get("PKTMAP_EXTRA", "").splitlines()):
    label, cmd = line.split("\t", 1)
    modes[label] = shlex.split(cmd)
# PKTMAP_ONLY="drops|bpftrace": only the modes labelled so or, for a word no label is, containing it.
if os.environ.get("PKTMAP_ONLY"):
    words = os.environ["PKTMAP_ONLY"].split("|")
    modes = {k: v for k, v in modes.items() if any(w == k or (w in k and w not in modes) for w in words)}
with veth_pair() as (SENDER, _):
    floods = {"closed port (every packet dropped)": CLOSED, "reading socket (every packet delivered)": OPEN}
    # PKTMAP_FLOODS="reading": only the floods whose name contains one of these words.
    if os.environ.get("PKTMAP_FLOODS"):
        floods = {k: v for k, v in floods.items() if any(w in k for w in os.environ["PKTMAP_FLOODS"].split("|"))}
    names = list(modes)
    for f, port in floods.items():
        results = {m: [] for m in modes}
        base = []
        fl = Flood(SENDER, port)
        try:
            before = untraced(fl)
            base.append(before)
            for r in range(ROUNDS):
                # Each round starts one mode later, so no mode always follows the same neighbour.
                for m in names[r % len(names):] + names[:r % len(names)]:
                    pps = traced(fl, modes[m])
                    after = untraced(fl)
                    base.append(after)
                    results[m].append(1 - pps / ((before + after) / 2))
                    before = after
            print(f"UDP flood into a {f} across a veth pair, {ROUNDS} rounds of {TRACED:g} s traced windows:")
            print(f"  {'no tracing':<40} median {statistics.median(base):9.0f} pps")
            for m, xs in results.items():
                q = statistics.quantiles(xs, n=4) if ROUNDS > 1 else [xs[0]] * 3
                # The mean's 95% interval, normal approximation.
                half = 1.96 * statistics.stdev(xs) / len(xs) ** 0.5 if ROUNDS > 1 else 0
                print(f"  {m:<40} cost {100 * q[1]:5.1f}%   (middle half {100 * q[0]:5.1f}% to {100 * q[2]:5.1f}%)"
                      f"   mean {100 * statistics.mean(xs):5.1f}% ± {100 * half:.1f}", flush=True)
            print(f"  pktmap's own account (--cost), {TRACED:g} s each:")
            for m, cmd in modes.items():
                if cmd[0] == "sleep" or "trace" not in cmd:
                    continue
                timed = [*cmd[:-1], f"{TRACED:g}s", "--cost", "--json"]
                out = json.loads(subprocess.run(timed, capture_output=True, text=True, check=True).stdout)
                secs = out["interval_s"]
                runs = sum(c["runs"] for c in out["cost"])
                ns = sum(c["run_time_ns"] for c in out["cost"])
                print(f"  {m:<40} {runs / secs:10.0f} runs/s, {ns / secs / 1e6:6.1f} ms of CPU a second"
                      f" ({ns / max(runs, 1):4.0f} ns a run)", flush=True)
        finally:
            fl.close()
