#!/usr/bin/env python3
"""The drop counter's cost, measured finely: one UDP flood into a closed port across a veth pair
(every packet dropped, so the program runs once a packet), while the drop counter is attached
and detached in turn every MS milliseconds (crates/bpf/examples/drops_toggle.rs: the program
pktmap trace drops loads). Each attached stretch's rate is compared with the mean of the
detached stretches on either side; the first SKIP_MS of every stretch is left out, because on
the reading flood the rate dipped for tens of milliseconds after each detach. On this VM the
flood's rate swings by several percent from one 100 ms to the next and from one second to the
next; switching thousands of times narrows the interval to under a percent, where start-and-stop
runs of seconds (bench/trace.py) leave it at several. In blocks of SECONDS/10 it alternates
with a control that keeps the same times and attaches nothing. Root; traffic only inside the
namespaces it makes.

Usage: bench/drop_cost.py [SECONDS] [MS] [FLOOD]   (300, 100 and `closed` by default; `reading`:
into a socket that reads every packet, where nothing is dropped. SKIP_MS=40 by default.
Builds the example first.)
"""
import os, statistics, subprocess, sys, time
from vethpair import OPEN, Flood, veth_pair

SECS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
MS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
FLOOD = sys.argv[3] if len(sys.argv) > 3 else "closed"
SKIP = float(os.environ.get("SKIP_MS", "40")) / 1000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "-q", "--release", "--example", "drops_toggle", "-p", "pktmap-bpf"], cwd=ROOT, check=True)
TOGGLE = os.path.join(ROOT, "target/release/examples/drops_toggle")
CLOSED = 9

def block(fl, mode):
    """One toggler run: the costs of its attached stretches against their neighbours, its drops."""
    out = subprocess.run([TOGGLE, str(MS), str(SECS // 10), mode], capture_output=True, text=True, check=True).stdout.split("\n")
    switches = [(w, float(t)) for w, t in (l.split() for l in out if l.startswith(("on", "off")))]
    # Stretches between switches: (attached?, packets a second).
    stretches = [(w == "on", fl.rate(t0 + SKIP, t1)) for (w, t0), (_, t1) in zip(switches, switches[1:])]
    costs = [1 - on / ((a + b) / 2) for (_, a), (was_on, on), (_, b) in zip(stretches, stretches[1:], stretches[2:]) if was_on]
    return costs, [r for on, r in stretches if not on], [int(next(l for l in out if l.startswith("drops")).split()[1])]

arms = {"drop counter": "switch", "control: nothing attached": "none"}
res = {label: ([], [], []) for label in arms}  # costs, detached rates, drops per block
with veth_pair() as (sender, _):
    fl = Flood(sender, {"closed": CLOSED, "reading": OPEN}[FLOOD])
    try:
        for _ in range(10 // len(arms)):
            for label, mode in arms.items():
                for into, got in zip(res[label], block(fl, mode)):
                    into.extend(got)
    finally:
        fl.close()
print(f"UDP flood into a {FLOOD} {'port' if FLOOD == 'closed' else 'socket'} across a veth pair, switched every {MS} ms for {SECS} s in all, each stretch but its first {SKIP * 1000:g} ms:")
for label, (costs, base, drops) in res.items():
    half = 1.96 * statistics.stdev(costs) / len(costs) ** 0.5
    print(f"  {label:<26} mean {100 * statistics.mean(costs):5.2f}% ± {100 * half:.2f} (95%), median {100 * statistics.median(costs):5.2f}%,"
          f" {len(costs)} stretches; detached {statistics.median(base):.0f} pps; {sum(drops)} drops counted")
