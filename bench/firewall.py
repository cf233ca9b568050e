#!/usr/bin/env python3
"""What reading a big firewall costs: a test namespace holding RULES iptables (nftables
backend) rules shaped like kube-proxy's (a KUBE-SERVICES chain of jumps, each service chain
with a comment, REJECTs for services without endpoints, a marked-drop firewall chain), plus
the same number as a legacy ip_tables table. Each reader runs RUNS times in that namespace; the
median wall time is printed beside what a user would run instead, in the same run:

  pktmap snapshot --collector firewall   (nftables and legacy read, rendered, hooks resolved)
  nft list ruleset                        (nftables only, text)
  iptables-save -c                        (nftables-backed rules, with counters)
  iptables-legacy-save -c                 (the legacy table, with counters)

Then what `pktmap serve` (5 s interval) costs over SECONDS in that namespace, against the same
in an empty namespace, in the same run.

Root. Usage: bench/firewall.py [RULES] [RUNS] [SECONDS]   (after `cargo build --release`)"""
import json, os, statistics, subprocess, sys, time

RULES = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 15
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target/release/pktmap")
NS = f"pmbench-fw{os.getpid()}"


def ruleset(n):
    """iptables-restore input: n rules in the shape kube-proxy writes."""
    services = n // 4
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":KUBE-SERVICES - [0:0]", ":KUBE-FIREWALL - [0:0]"]
    lines += [f":KUBE-SVC-{i:06d} - [0:0]" for i in range(services)]
    lines += ["-A INPUT -j KUBE-FIREWALL", "-A INPUT -j KUBE-SERVICES",
              '-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -m comment --comment '
              '"kubernetes firewall for dropping marked packets" -j DROP']
    for i in range(services):
        ip = f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}"
        lines.append(f'-A KUBE-SERVICES -d {ip}/32 -p tcp --dport 80 -m comment --comment '
                     f'"default/svc-{i}:http cluster IP" -j KUBE-SVC-{i:06d}')
        lines.append(f'-A KUBE-SVC-{i:06d} -s 10.244.{i // 256 % 256}.{i % 256}/32 -j ACCEPT')
        lines.append(f'-A KUBE-SVC-{i:06d} -p tcp --dport 8080 -j ACCEPT')
        lines.append(f'-A KUBE-SVC-{i:06d} -p tcp -m comment --comment '
                     f'"default/svc-{i}:http has no endpoints" -j REJECT')
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def median_ms(cmd):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", NS] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def serve_cpu(ns):
    """Share of one CPU `pktmap serve` uses in namespace ns (`ip netns exec` execs in place)."""
    def cpu(pid):
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    p = subprocess.Popen(["ip", "netns", "exec", ns, BIN, "serve", "--listen", "127.0.0.1:19978",
                          "--interval", "5s"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(6)
        c0, t0 = cpu(p.pid), time.time()
        time.sleep(SECONDS)
        return (cpu(p.pid) - c0) / (time.time() - t0) * 100
    finally:
        p.terminate()
        p.wait()


EMPTY = NS + "e"
subprocess.run(["ip", "netns", "add", NS], check=True)
subprocess.run(["ip", "netns", "add", EMPTY], check=True)
try:
    text = ruleset(RULES)
    for tool in ["iptables-restore", "iptables-legacy-restore"]:
        subprocess.run(["ip", "netns", "exec", NS, tool], input=text, text=True, check=True)
    snap = subprocess.run(["ip", "netns", "exec", NS, BIN, "snapshot", "--collector", "firewall",
                           "-o", "-"], capture_output=True, text=True, check=True).stdout
    s = json.loads(snap)
    rules = next(m["value"] for m in s["metrics"] if m["name"] == "netfilter.rules")
    inner = next(c["duration_us"] for c in s["collectors"] if c["id"] == "firewall") / 1000
    print(f"{rules} rules read ({RULES} nftables + {RULES} legacy), "
          f"{len(s['firewall'])} discard; the collector itself: {inner:.1f} ms")
    base = median_ms(["nft", "list", "ruleset"])
    rows = [
        ("pktmap snapshot --collector firewall (both)", [BIN, "snapshot", "--collector", "firewall", "-o", "/dev/null"]),
        ("nft list ruleset (nftables only)", None),
        ("iptables-save -c (nftables only)", ["iptables-save", "-c"]),
        ("iptables-legacy-save -c (legacy only)", ["iptables-legacy-save", "-c"]),
    ]
    for name, cmd in rows:
        ms = base if cmd is None else median_ms(cmd)
        print(f"  {name:<46} {ms:8.1f} ms  {ms / base:5.2f}x nft list ruleset")
    empty, full = serve_cpu(EMPTY), serve_cpu(NS)
    print(f"serve --interval 5s over {SECONDS} s: {full:.2f}% of a CPU with these rules, "
          f"{empty:.2f}% in an empty namespace ({full / max(empty, 0.01):.1f}x)")
finally:
    subprocess.run(["ip", "netns", "del", NS])
    subprocess.run(["ip", "netns", "del", EMPTY])
