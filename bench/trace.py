#!/usr/bin/env python3
"""Cost of tracing: packets per second of a UDP flood across a veth pair with no tracing, with
`pktmap trace drops` and `trace latency`, and with the equivalent bpftrace one-liners. Two floods:
into a closed port (every packet dropped, the worst case for a drop tracer) and into a socket
that reads every packet (the usual case: nothing dropped, every packet copied to the
application). Every traced run sits between two untraced runs and is compared with their mean,
so the VM's drift over a run cancels; the mode order rotates round by round. Each cost is
given as the median with the middle half of the rounds, and as the mean with its 95% interval:
on this VM two back-to-back 2 s floods differ by about 5%, so only many rounds narrow it.
Afterwards each pktmap mode runs once more with --cost, over one flood: its own count of the
programs' runs and their run time, which no noise moves. Root; traffic only inside the two
namespaces this script makes.

Usage: bench/trace.py [ROUNDS] [SECONDS]   (seconds per flood, 2 by default; after `cargo build --release`; needs bpftrace for its rows)
PKTMAP_BASELINE=path/to/another/pktmap adds that build's trace drops and trace latency.
PKTMAP_EXTRA="LABEL<TAB>COMMAND" lines add any other tracer (say, a scratch floor of empty
programs); PKTMAP_ONLY="WORD|WORD" keeps only the modes whose label is or (if no label is) has one of the words; PKTMAP_FLOODS="reading"
(or "closed") only that flood."""
import json, os, shlex, shutil, signal, statistics, subprocess, sys, time
from vethpair import DST, OPEN, veth_pair

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
FLOOD = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, end, port = 0, time.time() + float(sys.argv[1]), int(sys.argv[2])
while time.time() < end:
    for _ in range(1000):
        s.sendto(b"x" * 18, (sys.argv[3], port))
    n += 1000
print(n)
"""
CLOSED = 9
BPFTRACE = "tracepoint:skb:kfree_skb { @[args->reason, args->location] = count(); }"
# The latency one-liners a user would write for the same histograms (receive-to-copy, NET_RX run time).
BPFTRACE_LAT = ("tracepoint:net:netif_receive_skb { @start[args->skbaddr] = nsecs; } "
                "tracepoint:skb:skb_copy_datagram_iovec /@start[args->skbaddr]/ { @copy = hist(nsecs - @start[args->skbaddr]); delete(@start[args->skbaddr]); } "
                "tracepoint:irq:softirq_entry /args->vec == 3/ { @se[cpu] = nsecs; } "
                "tracepoint:irq:softirq_exit /args->vec == 3 && @se[cpu]/ { @run = hist(nsecs - @se[cpu]); }")

def flood_cmd(port, secs):
    return ["ip", "netns", "exec", SENDER, sys.executable, "-c", FLOOD, str(secs), str(port), DST]

def flood(port, secs=SECS):
    out = subprocess.run(flood_cmd(port, secs), capture_output=True, text=True, check=True)
    return int(out.stdout) / secs

def attached(pid):
    """Whether process `pid` holds a BPF link or perf event: a tracer's attached programs."""
    def target(fd):
        try:
            return os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            return ""
    return any(k in target(fd) for fd in os.listdir(f"/proc/{pid}/fd") for k in ("bpf_link", "perf_event"))

def with_tracer(cmd, port):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached (pktmap takes about 0.1 s; bpftrace longer)
    # A tracer that failed would cost nothing: check it holds its programs' links.
    if cmd[0] != "sleep" and (p.poll() is not None or not attached(p.pid)):
        sys.exit(f"not attached after 1 s: {shlex.join(cmd)}")
    pps = flood(port)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
    return pps

modes = {
    # A process started and stopped around the flood, tracing nothing: the harness's own bias.
    "control: no tracer (sleep)": ["sleep", "60"],
    "pktmap trace drops": [BIN, "trace", "drops", "--interval", "60s"],
    # The default (--duty auto: windows sized to the traffic), a fixed 20% of each second, and throughout.
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
    if "--duty" in subprocess.run([other, "trace", "latency", "--help"], capture_output=True, text=True).stdout:
        modes["baseline build: trace latency"].insert(3, "--duty=100")
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
    results = {(f, m): [] for f in floods for m in modes}
    base = {f: [] for f in floods}
    names = list(modes)
    for r in range(ROUNDS):
        # Each round starts one mode later, so no mode always follows the same neighbour.
        order = names[r % len(names):] + names[:r % len(names)]
        for f, port in floods.items():
            before = flood(port)
            base[f].append(before)
            for m in order:
                pps = with_tracer(modes[m], port)
                after = flood(port)
                base[f].append(after)
                results[(f, m)].append(1 - pps / ((before + after) / 2))
                before = after
    for f in floods:
        print(f"UDP flood into a {f} across a veth pair, {ROUNDS} rounds of {SECS:g} s floods:")
        print(f"  {'no tracing':<40} median {statistics.median(base[f]):9.0f} pps")
        for m in modes:
            xs = results[(f, m)]
            q = statistics.quantiles(xs, n=4) if ROUNDS > 1 else [xs[0]] * 3
            # The mean's 95% interval, normal approximation.
            half = 1.96 * statistics.stdev(xs) / len(xs) ** 0.5 if ROUNDS > 1 else 0
            print(f"  {m:<40} cost {100 * q[1]:5.1f}%   (middle half {100 * q[0]:5.1f}% to {100 * q[2]:5.1f}%)"
                  f"   mean {100 * statistics.mean(xs):5.1f}% ± {100 * half:.1f}")
    print(f"pktmap's own account (--cost) over one {SECS + 1:g} s flood, tracer started 0.5 s in:")
    for f, port in floods.items():
        for m, cmd in modes.items():
            if cmd[0] == "sleep" or "trace" not in cmd:
                continue
            fl = subprocess.Popen(flood_cmd(port, SECS + 1), stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            timed = [*cmd[:-1], f"{SECS:g}s", "--cost", "--json"]
            out = json.loads(subprocess.run(timed, capture_output=True, text=True, check=True).stdout)
            fl.wait()
            secs = out["interval_s"]
            runs = sum(c["runs"] for c in out["cost"])
            ns = sum(c["run_time_ns"] for c in out["cost"])
            print(f"  {f.split(' (')[0]:<16} {m:<40} {runs / secs:10.0f} runs/s, {ns / secs / 1e6:6.1f} ms of CPU a second"
                  f" ({ns / max(runs, 1):4.0f} ns a run)")
