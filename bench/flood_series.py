#!/usr/bin/env python3
"""The sender's rate of bench/trace.py's reading-socket flood, every 50 ms for 12 s, with a tracer
started 2 s in: where in time a tracer costs (its start, its windows), not only how much.
Root; traffic only inside the two namespaces bench/vethpair.py makes.

Usage: bench/flood_series.py [COMMAND...]   e.g. target/release/pktmap trace latency --interval 60s
Prints "SECONDS PACKETS" per 50 ms step."""
import signal, subprocess, sys, time
from vethpair import OPEN, Flood, veth_pair

STEP, SECS = 0.05, 12
with veth_pair() as (sender, _):
    fl = Flood(sender, OPEN)
    try:
        t0 = time.monotonic()
        time.sleep(2)
        tracer = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL) if len(sys.argv) > 1 else None
        time.sleep(SECS - 2)
        if tracer:
            tracer.send_signal(signal.SIGINT)
            tracer.wait()
        for i in range(int(SECS / STEP)):
            print(f"{(i + 1) * STEP:.2f}", round(fl.rate(t0 + i * STEP, t0 + (i + 1) * STEP) * STEP))
    finally:
        fl.close()
