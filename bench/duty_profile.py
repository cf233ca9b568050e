#!/usr/bin/env python3
"""Where `pktmap trace latency --duty auto` costs, in time: under bench/trace.py's reading-socket
flood, the tracer's BPF links are counted every 4 ms (from /proc/PID/fd) to find when each
sampling window opens and closes, and the sender's rate is averaged in 20 ms steps around those
moments over every period of a 40 s run. Prints the windows' median length and, for each step
from 200 ms before to 580 ms after an opening (and a closing), the rate against its mean over
those 780 ms.
The polling itself takes some CPU, the same in every step. Root; traffic only inside the two
namespaces bench/vethpair.py makes.

Usage: bench/duty_profile.py [PKTMAP ARGS...]   e.g. --duty 20 (after `cargo build --release`)"""
import os, signal, statistics, subprocess, sys, time
from vethpair import OPEN, Flood, links, veth_pair

BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
SECS, POLL, STEP = 40, 0.004, 0.02

with veth_pair() as (sender, _):
    fl = Flood(sender, OPEN)
    try:
        p = subprocess.Popen([BIN, "trace", "latency", "--interval", "600s", *sys.argv[1:]], stdout=subprocess.DEVNULL)
        time.sleep(1)
        changes, last, end = [], None, time.monotonic() + SECS
        while time.monotonic() < end:
            n = links(p.pid)
            if n != last:
                changes.append((time.monotonic(), n))
                last = n
            time.sleep(POLL)
        p.send_signal(signal.SIGINT)
        p.wait()
        pairs = list(zip(changes, changes[1:]))
        opens = [t for (_, was), (t, now) in pairs if was == 0 and now > 0]
        closes = [t for (_, was), (t, now) in pairs if was > 0 and now == 0]
        lengths = [min(c for c in closes if c > o) - o for o in opens if any(c > o for c in closes)]
        print(f"{len(opens)} windows in {SECS} s, median {1000 * statistics.median(lengths):.0f} ms attached")
        for name, moments in (("opening", opens[1:-1]), ("closing", closes[1:-1])):
            steps = range(-10, 30)
            prof = [statistics.mean(fl.rate(t + k * STEP, t + (k + 1) * STEP) for t in moments) for k in steps]
            mean = statistics.mean(prof)
            print(f"rate around each {name}, ms: % against the mean")
            print("  " + " ".join(f"{k * 20}:{100 * (x / mean - 1):+.0f}" for k, x in zip(steps, prof)))
    finally:
        fl.close()
