#!/usr/bin/env python3
"""A scrape of `pktmap serve --interval 0 --cache 0` (every scrape collects; the socket census
retaken only when a socket-stage counter moved or it is 30 s old, files kept open between
collections: the defaults), of the same with `--census 0 --keep-files 0` (a census on every
scrape, every file opened at every read) and of node_exporter with its network collectors,
alternating in one run, with no sockets and with CONNECTIONS loopback connections; then
serve's steady CPU and memory with `--all-netns` and NAMESPACES namespaces, scraped every 15 s.
With BASELINE=PATH, an older pktmap binary's default serve alternates with them too. Root;
traffic only on loopback and in namespaces this script makes.

Usage: [BASELINE=OLD_PKTMAP] bench/serve.py [CONNECTIONS] [NAMESPACES] [SCRAPES] [STEADY_SECONDS]
       (after `cargo build --release`; Debian: prometheus-node-exporter)"""
import os, resource, socket, statistics, subprocess, sys, time, urllib.request

CONNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
NSES = int(sys.argv[2]) if len(sys.argv) > 2 else 50
SCRAPES = int(sys.argv[3]) if len(sys.argv) > 3 else 30
STEADY = int(sys.argv[4]) if len(sys.argv) > 4 else 60
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
NODE = "/usr/bin/prometheus-node-exporter"
COLLECTORS = ["netdev", "netstat", "softnet", "sockstat", "conntrack", "netclass", "interrupts", "qdisc"]


def wait_up(url):
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def scrape(url):
    t = time.perf_counter()
    body = urllib.request.urlopen(url, timeout=30).read()
    return time.perf_counter() - t, body


def series(body):
    return sum(1 for l in body.decode().splitlines() if l and not l.startswith("#"))


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid, key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key):
            return int(l.split()[1])


BASELINE = os.environ.get("BASELINE")
TARGETS = [("pktmap serve (collects each scrape)", "http://127.0.0.1:19977/metrics"),
           ("... --census 0 --keep-files 0", "http://127.0.0.1:19978/metrics")]
if BASELINE:
    TARGETS.append(("BASELINE pktmap serve", "http://127.0.0.1:19979/metrics"))
TARGETS.append(("node_exporter, network collectors", "http://127.0.0.1:19100/metrics"))


def compare(label):
    times = [[] for _ in TARGETS]
    bodies = [b""] * len(TARGETS)
    for i in range(SCRAPES + 2):
        for k, (_, url) in enumerate(TARGETS):
            t, bodies[k] = scrape(url)
            if i >= 2:  # two warm-up rounds
                times[k].append(t)
    q = lambda xs: sorted(xs)[int(len(xs) * 0.9) - 1]
    print(f"{label}: {SCRAPES} alternating scrapes")
    for (name, _), ts, body in zip(TARGETS, times, bodies):
        print(f"  {name:<37} median {statistics.median(ts) * 1000:7.2f} ms  p90 {q(ts) * 1000:7.2f} ms  {series(body):6} series")
    node = statistics.median(times[-1])
    for (name, _), ts in zip(TARGETS[:-1], times):
        print(f"  ratio (node_exporter / {name}): {node / statistics.median(ts):.2f}x")


procs = []
try:
    procs.append(subprocess.Popen([BIN, "serve", "--interval", "0", "--cache", "0", "--listen", "127.0.0.1:19977"],
                                  stderr=subprocess.DEVNULL))
    procs.append(subprocess.Popen([BIN, "serve", "--interval", "0", "--cache", "0", "--census", "0",
                                   "--keep-files", "0", "--listen", "127.0.0.1:19978"],
                                  stderr=subprocess.DEVNULL))
    if BASELINE:
        procs.append(subprocess.Popen([BASELINE, "serve", "--interval", "0", "--cache", "0",
                                       "--listen", "127.0.0.1:19979"], stderr=subprocess.DEVNULL))
    procs.append(subprocess.Popen([NODE, "--web.listen-address=127.0.0.1:19100", "--collector.disable-defaults"]
                                  + [f"--collector.{c}" for c in COLLECTORS], stderr=subprocess.DEVNULL))
    wait_up("http://127.0.0.1:19977/readyz")
    wait_up("http://127.0.0.1:19978/readyz")
    if BASELINE:
        wait_up("http://127.0.0.1:19979/readyz")
    wait_up("http://127.0.0.1:19100/metrics")
    compare("no sockets beyond the host's own")

    # CONNS established loopback connections (2 sockets each); the client ends live in a child,
    # as a process may hold at most 20,000 descriptors here.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conns = min(CONNS, hard - 100)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    client = subprocess.Popen([sys.executable, "-c", f"""
import resource, socket, sys
s, h = resource.getrlimit(resource.RLIMIT_NOFILE); resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
held = [socket.create_connection(("127.0.0.1", {port})) for _ in range({conns})]
print("ready", flush=True); sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    accepted = [listener.accept()[0] for _ in range(conns)]
    client.stdout.readline()
    compare(f"{conns} established loopback connections")
    client.stdin.close(); client.wait()
    for s in accepted:
        s.close()
finally:
    for p in procs:
        p.terminate(); p.wait()

# Steady state, the host alone: what each costs the node scraped every 15 s, pktmap in its
# default mode (a 15 s interval in the background; a scrape reads the last page).
procs = []
try:
    serve = subprocess.Popen([BIN, "serve", "--interval", "15s", "--listen", "127.0.0.1:19977"],
                             stderr=subprocess.DEVNULL)
    node = subprocess.Popen([NODE, "--web.listen-address=127.0.0.1:19100", "--collector.disable-defaults"]
                            + [f"--collector.{c}" for c in COLLECTORS], stderr=subprocess.DEVNULL)
    procs = [serve, node]
    time.sleep(16)
    wait_up("http://127.0.0.1:19977/readyz")
    wait_up("http://127.0.0.1:19100/metrics")
    cached = [scrape("http://127.0.0.1:19977/metrics")[0] for _ in range(SCRAPES)]
    c0 = {p.pid: cpu_seconds(p.pid) for p in procs}
    t0 = time.time()
    while time.time() - t0 < STEADY:
        scrape("http://127.0.0.1:19977/metrics"); scrape("http://127.0.0.1:19100/metrics")
        time.sleep(15)
    took = time.time() - t0
    print(f"the host alone, each scraped every 15 s for {STEADY} s (pktmap: --interval 15s):")
    print(f"  pktmap serve: a scrape of the last page, median {statistics.median(cached) * 1000:.2f} ms")
    for name, p in (("pktmap serve", serve), ("node_exporter", node)):
        print(f"  {name:<14} CPU {(cpu_seconds(p.pid) - c0[p.pid]) / took * 100:.3f}% of one core, "
              f"RSS {rss_kib(p.pid, 'VmRSS:') / 1024:.1f} MiB")
finally:
    for p in procs:
        p.terminate(); p.wait()

# Steady state: --all-netns with NSES namespaces, a scrape every 15 s.
names = [f"pmserve{os.getpid()}-{i}" for i in range(NSES)]
try:
    for i, n in enumerate(names):
        subprocess.run(["ip", "netns", "add", n], check=True)
        subprocess.run(["ip", "link", "add", f"pms{i}a", "type", "veth", "peer", "name", f"pms{i}b", "netns", n], check=True)
    serve = subprocess.Popen([BIN, "--all-netns", "serve", "--interval", "15s", "--listen", "127.0.0.1:19977"],
                             stderr=subprocess.DEVNULL)
    time.sleep(16)
    wait_up("http://127.0.0.1:19977/readyz")
    c0, t0 = cpu_seconds(serve.pid), time.time()
    while time.time() - t0 < STEADY:
        _, body = scrape("http://127.0.0.1:19977/metrics")
        time.sleep(15)
    cpu = (cpu_seconds(serve.pid) - c0) / (time.time() - t0)
    print(f"--all-netns, {NSES + 1} namespaces, 15 s interval, scraped every 15 s for {STEADY} s:")
    print(f"  CPU {cpu * 100:.2f}% of one core, RSS {rss_kib(serve.pid, 'VmRSS:') / 1024:.1f} MiB "
          f"(peak {rss_kib(serve.pid, 'VmHWM:') / 1024:.1f} MiB), {series(body)} series, "
          f"{len(os.listdir(f'/proc/{serve.pid}/fd'))} open files")
    serve.terminate(); serve.wait()
finally:
    for i, n in enumerate(names):
        subprocess.run(["ip", "link", "del", f"pms{i}a"], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)
