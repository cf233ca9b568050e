#!/usr/bin/env python3
"""What the live map costs the node at its default refresh: `pktmap serve` (5 s interval)
while a page asks for its fragment every 2 s, as the page's script does, and `pktmap top`
(2 s) running in a tmux terminal; each over SECONDS, CPU from /proc/PID/stat. Then how long
`pktmap top` takes to draw its first screen, over RUNS starts. Root; no traffic is sent.

Usage: bench/live.py [SECONDS] [RUNS]   (after `cargo build --release`; needs tmux)"""
import os, statistics, subprocess, sys, time, urllib.request

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
TMUX = ["tmux", "-L", f"pmbench{os.getpid()}"]


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:19977"], stderr=subprocess.DEVNULL)
try:
    time.sleep(6)
    c0, t0 = cpu_seconds(serve.pid), time.time()
    while time.time() - t0 < SECONDS:
        urllib.request.urlopen("http://127.0.0.1:19977/?fragment=1&stage=rx.5", timeout=5).read()
        time.sleep(2)
    cpu = (cpu_seconds(serve.pid) - c0) / (time.time() - t0)
    print(f"serve (5 s interval) with the page refreshing every 2 s, {SECONDS} s: "
          f"{cpu * 100:.2f}% of one CPU")
finally:
    serve.terminate(); serve.wait()

try:
    subprocess.run(TMUX + ["new-session", "-d", "-x", "160", "-y", "48", BIN, "top"], check=True)
    time.sleep(3)
    pid = int(subprocess.run(TMUX + ["display", "-p", "#{pane_pid}"], capture_output=True, text=True).stdout)
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(SECONDS)
    cpu = (cpu_seconds(pid) - c0) / (time.time() - t0)
    print(f"top (2 s refresh) in a 160x48 terminal, {SECONDS} s: {cpu * 100:.2f}% of one CPU")
finally:
    subprocess.run(TMUX + ["kill-server"], stderr=subprocess.DEVNULL)

# Start to first screen: tmux starts top, the clock stops when the keys line is on screen.
starts = []
for i in range(RUNS):
    tmux = TMUX[:2] + [f"{TMUX[2]}-{i}"]  # a server of its own each time
    try:
        t = time.perf_counter()
        subprocess.run(tmux + ["new-session", "-d", "-x", "120", "-y", "40", BIN, "top"], check=True)
        while "q:quit" not in subprocess.run(tmux + ["capture-pane", "-p"], capture_output=True,
                                             text=True).stdout:
            time.sleep(0.002)
        starts.append(time.perf_counter() - t)
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
starts.sort()
print(f"top: start to first screen over {RUNS} starts: median {statistics.median(starts) * 1000:.0f} ms, "
      f"max {starts[-1] * 1000:.0f} ms (includes starting tmux, each time)")
