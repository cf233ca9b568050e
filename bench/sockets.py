#!/usr/bin/env python3
"""The socket dump against `ss -tinm`, and `--all-netns` against per-namespace commands,
alternating run by run. Root; traffic only on loopback and in namespaces this script makes.

Usage: bench/sockets.py [CONNECTIONS] [NAMESPACES] [RUNS]   (after `cargo build --release`)"""
import os, resource, socket, statistics, subprocess, sys, time

CONNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
NSES = int(sys.argv[2]) if len(sys.argv) > 2 else 50
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")

def timed(cmd, shell=False):
    t = time.perf_counter()
    subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t

def compare(name_a, cmd_a, name_b, cmd_b, shell_b=False):
    a, b = [], []
    for _ in range(2):
        timed(cmd_a); timed(cmd_b, shell_b)
    for _ in range(RUNS):
        a.append(timed(cmd_a)); b.append(timed(cmd_b, shell_b))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"  {name_a:<44} median {ma * 1000:8.1f} ms")
    print(f"  {name_b:<44} median {mb * 1000:8.1f} ms")
    print(f"  ratio ({name_b} / {name_a}): {mb / ma:.2f}x")

# --- namespaces: NSES namespaces with a veth pair each ---
names = [f"pmbench{os.getpid()}-{i}" for i in range(NSES)]
try:
    for i, n in enumerate(names):
        subprocess.run(["ip", "netns", "add", n], check=True)
        subprocess.run(["ip", "link", "add", f"pmb{i}a", "type", "veth", "peer", "name", f"pmb{i}b", "netns", n], check=True)
    classic = "for n in " + " ".join(names) + "; do ip netns exec $n sh -c 'nstat -az; ip -s -s link; cat /proc/net/softnet_stat; tc -s qdisc; ss -s' ; done"
    print(f"{NSES} network namespaces, {RUNS} alternating runs:")
    compare("pktmap --all-netns snapshot", [BIN, "--all-netns", "snapshot", "-o", "/dev/null"],
            "per-namespace nstat, ip, tc, ss", classic, shell_b=True)
finally:
    for i, n in enumerate(names):
        subprocess.run(["ip", "link", "del", f"pmb{i}a"], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)

# Sockets last: the TIME_WAIT sockets they leave slow every sock_diag dump for a minute.
# --- sockets: CONNS established loopback connections (2 sockets each) ---
# A process may hold at most 20,000 descriptors here, so the client ends live in a child.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
CONNS = min(CONNS, hard - 100)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(4096)
port = listener.getsockname()[1]
client = subprocess.Popen([sys.executable, "-c", f"""
import resource, socket, sys
s, h = resource.getrlimit(resource.RLIMIT_NOFILE); resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
held = [socket.create_connection(("127.0.0.1", {port})) for _ in range({CONNS})]
print("ready", flush=True); sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
held = []
while len(held) < CONNS:
    held.append(listener.accept()[0])
assert client.stdout.readline().strip() == "ready"
print(f"{CONNS} established loopback connections ({2 * CONNS} sockets), {RUNS} alternating runs:")
compare("pktmap snapshot --collector sockets", [BIN, "snapshot", "--collector", "sockets", "-o", "/dev/null"],
        "ss -tinm", ["ss", "-tinm"])
client.stdin.close()
client.wait()
for s in held:
    s.close()
listener.close()

