"""The bench scripts' flood path: two network namespaces joined by a veth pair (10.78.0.1 in the
first, 10.78.0.2 in the second) and, in the second, a reader that takes every datagram sent to
port 9999. Names carry the process id, so runs never collide; everything is removed on exit."""
import contextlib, os, subprocess, sys

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
