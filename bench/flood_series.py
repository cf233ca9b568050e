#!/usr/bin/env python3
"""The sender's rate of bench/trace.py's reading-socket flood, every 50 ms for 12 s, with a tracer
started 2 s in: where in time a tracer costs (its start, its windows), not only how much.
Root; traffic only inside the two namespaces bench/vethpair.py makes.

Usage: bench/flood_series.py [COMMAND...]   e.g. target/release/pktmap trace latency --interval 60s
Prints "SECONDS PACKETS" per 50 ms step."""
import signal, subprocess, sys, time
from vethpair import DST, OPEN, veth_pair

FLOOD = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
secs, port, dst = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.time(); end = t0 + secs; last = t0; n = 0; out = []
while True:
    for _ in range(200):
        s.sendto(b"x" * 18, (dst, port))
    n += 200
    now = time.time()
    if now - last >= 0.05:
        out.append((round(now - t0, 3), n)); n = 0; last = now
        if now > end: break
for t, c in out: print(t, c)
"""

with veth_pair() as (sender, _):
    time.sleep(0.5)
    fl = subprocess.Popen(["ip", "netns", "exec", sender, sys.executable, "-c", FLOOD, "12", str(OPEN), DST], stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    tracer = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL) if len(sys.argv) > 1 else None
    out = fl.communicate()[0]
    if tracer:
        tracer.send_signal(signal.SIGINT)
        tracer.wait()
    print(out, end="")
