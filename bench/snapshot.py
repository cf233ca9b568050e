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
devs = sorted(os.listdir("/sys/class/net"))
# What a practitioner types to read the same sources pktmap reads: the procfs counters of the
# map (issue 2's set), then also qdiscs, sockets and ethtool (what pktmap reads since).
COUNTERS = f"""nstat -az; cat /proc/net/softnet_stat; ip -s -s link; cat /proc/interrupts;
cat /proc/softirqs; cat /proc/net/sockstat /proc/net/sockstat6; cat /proc/net/stat/nf_conntrack;
sysctl {' '.join(sysctls)}; cat /proc/pressure/cpu; cat {rps}; pgrep -l 'ksoftirqd|irqbalance'"""
EVERYTHING = COUNTERS + "; tc -s qdisc; ss -tinm; ss -uamp; " + "; ".join(
    f"ethtool -i {d}; ethtool -S {d}; ethtool -g {d}; ethtool -l {d}; ethtool -c {d}; ethtool -k {d}; ethtool -x {d}" for d in devs)

def run(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start

# The collectors that read what COUNTERS reads (no qdisc, ethtool or socket dumps).
SAME = [BIN, "snapshot", "-o", "/dev/null"] + [a for c in ["link", "netdev", "netclass", "queues", "softnet", "snmp", "netstat", "snmp6", "sockstat", "conntrack", "sysctl", "interrupts", "softirqs", "pressure", "cpuidle", "procs"] for a in ("--collector", c)]
pk, same, cl, full = [], [], [], []
for _ in range(5):
    run([BIN, "snapshot", "-o", "/dev/null"]); run(SAME); run(["bash", "-c", COUNTERS]); run(["bash", "-c", EVERYTHING])
for _ in range(RUNS):
    pk.append(run([BIN, "snapshot", "-o", "/dev/null"]))
    same.append(run(SAME))
    cl.append(run(["bash", "-c", COUNTERS]))
    full.append(run(["bash", "-c", EVERYTHING]))
rss = max(int(subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "snapshot", "-o", "/dev/null"],
                             capture_output=True, text=True).stderr.split()[-1]) for _ in range(5))

def ms(v): return f"{v * 1000:.2f} ms"
mp, ms_, mc, mf = (statistics.median(v) for v in (pk, same, cl, full))
p90 = lambda v: ms(statistics.quantiles(v, n=10)[8])
print(f"runs: {RUNS} each, alternating")
print(f"procfs/sysfs counters: pktmap snapshot --collector (those)  median {ms(ms_)}  p90 {p90(same)}")
print(f"                       the classic commands                 median {ms(mc)}  p90 {p90(cl)}  ratio {mc / ms_:.1f}x")
print(f"everything:            pktmap snapshot                      median {ms(mp)}  p90 {p90(pk)}")
print(f"                       + tc -s qdisc, ss -tinm, ethtool x7  median {ms(mf)}  p90 {p90(full)}  ratio {mf / mp:.1f}x")
print(f"pktmap peak RSS        {rss / 1024:.1f} MiB")
