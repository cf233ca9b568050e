"""The bench scripts' flood path: two network namespaces joined by a veth pair (10.78.0.1 in the
first, 10.78.0.2 in the second) and, in the second, a reader that takes every datagram sent to
port 9999. Names carry the process id, so runs never collide; everything is removed on exit.
Also the sender (`Flood`: floods until closed, its rate between any two instants from its log)
and `links`, which tells when a tracer holds its programs."""
import bisect, contextlib, os, subprocess, sys, threading, time

DST = "10.78.0.2"
OPEN = 9999
READER = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("{DST}", {OPEN}))
buf = bytearray(64)
while True:
    s.recv_into(buf)
"""
# The sender: 18-byte datagrams without a pause, its count logged every 1,000.
FLOOD = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port, dst, n = int(sys.argv[1]), sys.argv[2], 0
while True:
    for _ in range(1000):
        s.sendto(b"x" * 18, (dst, port))
    n += 1000
    print(time.monotonic(), n, flush=True)
"""

def sh(*a):
    subprocess.run(a, check=True)

@contextlib.contextmanager
def veth_pair():
    """Yields the two namespaces' names, the reader running in the second."""
    a, b = f"pmtb-a{os.getpid()}", f"pmtb-b{os.getpid()}"
    reader = None
    try:
        sh("ip", "netns", "add", a); sh("ip", "netns", "add", b)
        sh("ip", "link", "add", "pmtba", "netns", a, "type", "veth", "peer", "name", "pmtbb", "netns", b)
        sh("ip", "-n", a, "addr", "add", "10.78.0.1/24", "dev", "pmtba"); sh("ip", "-n", b, "addr", "add", f"{DST}/24", "dev", "pmtbb")
        sh("ip", "-n", a, "link", "set", "pmtba", "up"); sh("ip", "-n", b, "link", "set", "pmtbb", "up")
        reader = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", READER])
        yield a, b
    finally:
        if reader:
            reader.kill()
        subprocess.run(["ip", "netns", "del", a], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", b], stderr=subprocess.DEVNULL)

class Flood:
    """The sender, flooding until closed; `rate(t0, t1)` is its packets a second between two
    CLOCK_MONOTONIC instants, from its log."""
    def __init__(self, sender, port):
        self.p = subprocess.Popen(["ip", "netns", "exec", sender, sys.executable, "-c", FLOOD, str(port), DST],
                                  stdout=subprocess.PIPE, text=True)
        self.t, self.n = [], []
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(1.0)  # past the interpreter's start

    def _read(self):
        for line in self.p.stdout:
            t, n = line.split()
            # n first: a reader of t finds its n there already.
            self.n.append(int(n)); self.t.append(float(t))

    def _count(self, t):
        i = max(1, min(bisect.bisect_left(self.t, t), len(self.t) - 1))
        (ta, tb), (na, nb) = self.t[i - 1:i + 1], self.n[i - 1:i + 1]
        return na + (nb - na) * (t - ta) / (tb - ta)

    def rate(self, t0, t1):
        while not self.t or self.t[-1] < t1:
            time.sleep(0.01)  # the log's line for t1 is at most 1,000 packets behind
        return (self._count(t1) - self._count(t0)) / (t1 - t0)

    def close(self):
        self.p.kill(); self.p.wait()

def links(pid, kinds=("bpf_link",)):
    """How many of process `pid`'s descriptors are of these kinds (a tracer's attached programs:
    BPF links, or perf events for bpftrace's tracepoints)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        n += any(k in target for k in kinds)
    return n
