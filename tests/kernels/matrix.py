#!/usr/bin/env python3
"""The kernel matrix: pktmap run on the kernels people run, each booted under qemu.

For each kernel (a Debian series, `6.1` or `6.12`, fetched from the package registry; or a
`.deb` given by path) it extracts the package (nothing is installed), builds an initramfs of
static busybox, pktmap, the real `ip`, `tc` and `nft` with their libraries, a small traffic
helper (rig.c, built static) and the kernel's own modules the checks need, boots it under TCG
with user networking restricted to the guest, and reads the `CHECK` lines `init.sh` prints. It
prints a table of checks by kernel, writes each guest's capture to fixtures/kernels/NAME/ (with
--save-fixtures), and fails when a check that `expected.tsv` expects to pass did not.

Usage: tests/kernels/matrix.py [--cache DIR] [--save-fixtures] [--timeout S] KERNEL...
Needs root (dpkg-deb keeps ownership), qemu-system-x86, busybox-static, gcc, and
`cargo build --release` first."""
import argparse, base64, os, re, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(REPO, "target", "release", "pktmap")
# What the checks need of the kernel, where it is a module: veth, netfilter for the rule, the
# qdiscs, sock_diag for sockets, virtio for the guest's own NIC.
MODULES = ["virtio_net", "veth", "nf_tables", "nft_ct", "nft_reject_inet", "nft_counter",
           "nf_conntrack", "sch_tbf", "sch_ingress", "sch_fq_codel", "inet_diag", "tcp_diag",
           "udp_diag", "af_packet", "ip_tables", "iptable_filter", "cls_bpf"]
TOOLS = ["ip", "tc", "nft"]
RULES = """table inet pm {
  chain in {
    type filter hook input priority 0;
    udp dport 9103 counter drop
  }
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def package(series):
    """The newest cloud kernel package of a series the registry offers."""
    names = subprocess.run(["apt-cache", "pkgnames", "linux-image-"], capture_output=True,
                           text=True, check=True).stdout.split()
    pat = re.compile(rf"^linux-image-{re.escape(series)}[.-][0-9.+a-z-]*cloud-amd64-unsigned$")
    found = sorted((n for n in names if pat.match(n)),
                   key=lambda n: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", n)])
    if not found:
        sys.exit(f"no cloud kernel package of {series} in the registry (apt-get update?)")
    return found[-1]


def fetch(spec, cache):
    """A .deb for the kernel: a path as given, or downloaded once into the cache."""
    if spec.endswith(".deb"):
        return os.path.abspath(spec)
    name = package(spec)
    os.makedirs(cache, exist_ok=True)
    have = [f for f in os.listdir(cache) if f.startswith(name + "_") and f.endswith(".deb")]
    if not have:
        run(["apt-get", "download", "-o", "APT::Sandbox::User=root", name], cwd=cache,
            stdout=subprocess.DEVNULL)
        have = [f for f in os.listdir(cache) if f.startswith(name + "_")]
    return os.path.join(cache, sorted(have)[-1])


def libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = set(re.findall(r"=> (/\S+)", out)) | set(re.findall(r"^\s*(/\S+ld-linux\S*)", out, re.M))
    return sorted(libs)


def copy(src, root, dest=None):
    dest = os.path.join(root, (dest or src).lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(src, dest)


def initramfs(kernel_dir, work, rig):
    """The guest's root, archived: returns (path of vmlinuz, path of initrd)."""
    boot = os.path.join(kernel_dir, "boot")
    vmlinuz = os.path.join(boot, next(f for f in os.listdir(boot) if f.startswith("vmlinuz")))
    release = os.listdir(os.path.join(kernel_dir, "lib", "modules"))[0]
    root = os.path.join(work, "root")
    for d in ["bin", "sbin", "proc", "sys", "dev", "tmp", "run", "etc"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    copy("/bin/busybox", root, "/bin/busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        link = os.path.join(root, "bin", a)
        if not os.path.exists(link):
            os.symlink("busybox", link)
    for tool in TOOLS:
        path = shutil.which(tool)
        copy(path, root, "/usr/sbin/" + tool)
        for lib in libraries(path):
            copy(lib, root)
    copy(BIN, root, "/bin/pktmap")
    for lib in libraries(BIN):
        copy(lib, root)
    copy(rig, root, "/bin/rig")
    copy(os.path.join(HERE, "init.sh"), root, "/init")
    os.chmod(os.path.join(root, "init"), 0o755)
    with open(os.path.join(root, "rules.nft"), "w") as f:
        f.write(RULES)
    # The modules the checks need and what they depend on, uncompressed (busybox's modprobe
    # reads plain .ko), with a modules.dep of their own.
    mods = os.path.join(kernel_dir, "lib", "modules", release)
    run(["depmod", "-b", kernel_dir, release])
    deps = {}
    for line in open(os.path.join(mods, "modules.dep")):
        key, _, rest = line.partition(":")
        deps[key] = rest.split()
    by_name = {re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(k)).replace("-", "_"): k for k in deps}
    want, seen = [by_name[m] for m in MODULES if m in by_name], set()
    while want:
        k = want.pop()
        if k in seen:
            continue
        seen.add(k)
        want.extend(deps[k])
    dest_mods = os.path.join(root, "lib", "modules", release)
    for k in seen:
        src = os.path.join(mods, k)
        out = os.path.join(dest_mods, re.sub(r"\.(xz|zst|gz)$", "", k))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if k.endswith(".xz"):
            run(["sh", "-c", f"xz -dc '{src}' > '{out}'"])
        elif k.endswith(".zst"):
            run(["zstd", "-qdf", src, "-o", out])
        else:
            shutil.copy2(src, out)
    for f in ["modules.order", "modules.builtin", "modules.builtin.modinfo"]:
        if os.path.exists(os.path.join(mods, f)):
            shutil.copy2(os.path.join(mods, f), dest_mods)
    run(["depmod", "-b", root, release])
    with open(os.path.join(root, "modules.list"), "w") as f:
        f.write("\n".join(m for m in MODULES if m in by_name) + "\n")
    initrd = os.path.join(work, "initrd.gz")
    run(["sh", "-c", f"cd '{root}' && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > '{initrd}'"])
    return vmlinuz, initrd


def boot(vmlinuz, initrd, timeout):
    # One TCG thread for both vCPUs: with a thread each, attaching a tracepoint (the kernel
    # patches its own code through an int3) raced with the other vCPU and oopsed 6.12 in
    # sk_skb_reason_drop on "int3"; emulation, not the kernel or pktmap.
    cmd = ["qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "max", "-smp", "2",
           "-m", "1024", "-kernel", vmlinuz, "-initrd", initrd, "-nographic", "-no-reboot",
           "-append", "console=ttyS0 panic=-1 quiet",
           # The guest's own NIC, reaching nothing outside.
           "-nic", "user,model=virtio-net-pci,restrict=on"]
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    return p.stdout, time.time() - t


def expected():
    """{check: {series: 'pass'|'fail'}} from expected.tsv; a check not listed must pass."""
    out = {}
    lines = [l.rstrip("\n").split("\t") for l in open(os.path.join(HERE, "expected.tsv"))
             if l.strip() and not l.startswith("#")]
    head = lines[0]
    for row in lines[1:]:
        out[row[0]] = dict(zip(head[1:], row[1:]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernels", nargs="+")
    ap.add_argument("--cache", default="/var/cache/pktmap-kernels")
    ap.add_argument("--save-fixtures", action="store_true")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--logs", default="/tmp/pktmap-matrix-logs", help="each guest's console")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build pktmap first: cargo build --release")
    work_all = tempfile.mkdtemp(prefix="pktmap-matrix-")
    results, failures = {}, []
    try:
        rig = os.path.join(work_all, "rig")
        run(["gcc", "-static", "-O2", "-o", rig, os.path.join(HERE, "rig.c")])
        want = expected()
        for spec in args.kernels:
            deb = fetch(spec, args.cache)
            work = os.path.join(work_all, os.path.basename(deb))
            kernel_dir = os.path.join(work, "kernel")
            os.makedirs(kernel_dir)
            run(["dpkg-deb", "-x", deb, kernel_dir])
            vmlinuz, initrd = initramfs(kernel_dir, work, rig)
            log, secs = boot(vmlinuz, initrd, args.timeout)
            log = log.replace("\r", "")
            os.makedirs(args.logs, exist_ok=True)
            with open(os.path.join(args.logs, f"{spec.replace('/', '_')}.log"), "w") as f:
                f.write(log)
            release = (re.search(r"KERNEL (\S+)", log) or [None, "?"])[1]
            checks = dict(re.findall(r"^CHECK (\S+) (pass|fail)", log, re.M))
            results[spec] = (release, checks, secs)
            for line in re.findall(r"^DOCTOR (.*)$", log, re.M):
                print(f"{spec} ({release}) {line}")
            if "MATRIX-DONE" not in log:
                failures.append(f"{spec}: the guest did not finish (log: {f.name})")
                print(log[-3000:], file=sys.stderr)
            for name, status in checks.items():
                if status == "fail" and want.get(name, {}).get(spec, "pass") == "pass":
                    failures.append(f"{spec} ({release}): {name} failed")
                    block = re.search(rf"^CHECK {re.escape(name)} fail\n((?:  \|.*\n)*)", log, re.M)
                    print(f"--- {spec} {name}\n{block[1] if block else ''}", file=sys.stderr)
            for name, per in want.items():
                if per.get(spec) == "pass" and name not in checks:
                    failures.append(f"{spec}: {name} did not run")
            caps = re.findall(r"BEGIN-CAPTURE (\S+)\n(.*?)\nEND-CAPTURE", log, re.S)
            if args.save_fixtures and len(caps) == 2:
                dest = os.path.join(REPO, "fixtures", "kernels", f"debian-{spec}")
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(dest)
                for name, b64 in caps:
                    with open(os.path.join(dest, f"{name}.tar.gz"), "wb") as f:
                        f.write(base64.b64decode(b64))
                with open(os.path.join(dest, "PROVENANCE"), "w") as f:
                    f.write(f"Two `pktmap --netns b capture`s a second apart, in a qemu guest booted "
                            f"from {os.path.basename(deb)} (kernel {release}) by "
                            f"tests/kernels/matrix.py --save-fixtures, while an nft rule in b "
                            f"dropped a 2,000 datagrams/s flood from namespace a.\n")
        names = sorted({n for _, c, _ in results.values() for n in c})
        print(f"{'check':<26}" + "".join(f"{k + ' (' + r + ')':>34}" for k, (r, _, _) in results.items()))
        for n in names:
            print(f"{n:<26}" + "".join(f"{c.get(n, '-'):>34}" for _, c, _ in results.values()))
        print(f"{'boot and checks':<26}" + "".join(f"{s:>33.0f}s" for _, _, s in results.values()))
    finally:
        shutil.rmtree(work_all, ignore_errors=True)
    if failures:
        print("\n".join(["FAILED:"] + failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
