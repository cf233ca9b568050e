#!/usr/bin/env python3
"""pktmap snapshot against the classic commands a user runs for the same information,
alternating run by run in one process so both see the same machine state.

Usage: bench/snapshot.py [RUNS]   (after `cargo build --release`; needs iproute2, procps)
Prints medians, the ratio, and pktmap's peak RSS (GNU time, since a child of Python
reports Python's own size before exec)."""
import json, os, statistics, subprocess, sys, time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/pktmap")

stages = json.loads(subprocess.check_output([BIN, "stages", "--json"]))
sysctls = [i["key"] for s in stages["stages"] for i in s["items"] if i["kind"] == "sysctl"]
rps = " ".join(f"{d}/{q}/rps_cpus" for d in (f"/sys/class/net/{n}/queues" for n in os.listdir("/sys/class/net"))
               for q in os.listdir(d) if q.startswith("rx-"))
# What a practitioner types to read the same sources pktmap reads.
CLASSIC = f"""nstat -az; cat /proc/net/softnet_stat; ip -s -s link; cat /proc/interrupts;
cat /proc/softirqs; cat /proc/net/sockstat /proc/net/sockstat6; cat /proc/net/stat/nf_conntrack;
sysctl {' '.join(sysctls)}; cat /proc/pressure/cpu; cat {rps}; pgrep -l 'ksoftirqd|irqbalance'"""

def run(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start

pk, cl = [], []
for _ in range(5):
    run([BIN, "snapshot", "-o", "/dev/null"]); run(["bash", "-c", CLASSIC])
for _ in range(RUNS):
    pk.append(run([BIN, "snapshot", "-o", "/dev/null"]))
    cl.append(run(["bash", "-c", CLASSIC]))
rss = max(int(subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "snapshot", "-o", "/dev/null"],
                             capture_output=True, text=True).stderr.split()[-1]) for _ in range(5))

def ms(v): return f"{v * 1000:.2f} ms"
mp, mc = statistics.median(pk), statistics.median(cl)
print(f"runs: {RUNS} each, alternating")
print(f"pktmap snapshot        median {ms(mp)}  p90 {ms(statistics.quantiles(pk, n=10)[8])}")
print(f"classic commands       median {ms(mc)}  p90 {ms(statistics.quantiles(cl, n=10)[8])}")
print(f"ratio (classic/pktmap) {mc / mp:.1f}x")
print(f"pktmap peak RSS        {rss / 1024:.1f} MiB")
