#!/usr/bin/env python3
"""The sender's rate of bench/trace.py's reading-socket flood, every 50 ms for 12 s, with a tracer
started 2 s in: where in time a tracer costs (its start, its windows), not only how much.
Root; traffic only inside the two namespaces this script makes.

Usage: bench/flood_series.py [COMMAND...]   e.g. target/release/pktmap trace latency --interval 60s
Prints "SECONDS PACKETS" per 50 ms step."""
import os, subprocess, sys, time, signal
A, B = f"pmxa{os.getpid()}", f"pmxb{os.getpid()}"
FLOOD = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
secs, port = float(sys.argv[1]), int(sys.argv[2])
t0 = time.time(); end = t0 + secs; last = t0; n = 0; out = []
while True:
    for _ in range(200):
        s.sendto(b"x" * 18, ("10.79.0.2", port))
    n += 200
    now = time.time()
    if now - last >= 0.05:
        out.append((round(now - t0, 3), n)); n = 0; last = now
        if now > end: break
for t, c in out: print(t, c)
"""
READER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("10.79.0.2", 9999))
buf = bytearray(64)
while True:
    s.recv_into(buf)
"""
def sh(*a):
    subprocess.run(a, check=True)
cmd = sys.argv[1:]
reader = None
try:
    sh("ip", "netns", "add", A); sh("ip", "netns", "add", B)
    sh("ip", "link", "add", "pmxva", "netns", A, "type", "veth", "peer", "name", "pmxvb", "netns", B)
    sh("ip", "-n", A, "addr", "add", "10.79.0.1/24", "dev", "pmxva"); sh("ip", "-n", B, "addr", "add", "10.79.0.2/24", "dev", "pmxvb")
    sh("ip", "-n", A, "link", "set", "pmxva", "up"); sh("ip", "-n", B, "link", "set", "pmxvb", "up")
    reader = subprocess.Popen(["ip", "netns", "exec", B, sys.executable, "-c", READER])
    time.sleep(0.5)
    fl = subprocess.Popen(["ip", "netns", "exec", A, sys.executable, "-c", FLOOD, "12", "9999"], stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    tr = subprocess.Popen(cmd, stdout=subprocess.DEVNULL) if cmd else None
    out = fl.communicate()[0]
    if tr: tr.send_signal(signal.SIGINT); tr.wait()
    print(out)
finally:
    if reader:
        reader.kill()
    subprocess.run(["ip", "netns", "del", A], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "del", B], stderr=subprocess.DEVNULL)
