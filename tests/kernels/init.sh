#!/bin/sh
# /init of the kernel matrix's guest (tests/kernels/matrix.py builds the initramfs around it):
# every pktmap command, and five faults in two namespaces joined by a veth, each found by
# `diagnose` from counters and by `diagnose --trace`. Prints one `CHECK NAME pass|fail` line per
# check on the console, then two captures of a namespace under a fault in base64, then powers
# off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# busybox's shell runs its own applets before looking at PATH: the real tools by their path.
# (Background jobs name /usr/sbin/ip itself, so `kill $!` reaches it and not a subshell.)
ip() { /usr/sbin/ip "$@"; }
tc() { /usr/sbin/tc "$@"; }
nft() { /usr/sbin/nft "$@"; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns /var /sys/fs/bpf
ln -s /run /var/run
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
for m in $(cat /modules.list); do modprobe "$m" 2>/dev/null; done
ip link set lo up
echo "KERNEL $(uname -r)"
# What this kernel offers, as pktmap sees it: for the matrix's table.
pktmap doctor 2>&1 | grep -E "^[a-z-]+ +(kernel BTF|drop reasons|fentry) " | sed "s/^/DOCTOR /"

# check NAME CMD...: the command's status decides; its output is shown when it fails.
check() {
    name=$1
    shift
    if "$@" >/tmp/check.out 2>&1; then
        echo "CHECK $name pass"
    else
        echo "CHECK $name fail"
        tail -n 15 /tmp/check.out | sed 's/^/  | /'
    fi
}

# JSON on one line, without spaces, so a field sequence can be grepped.
flat() { tr -d ' \n' <"$1"; }

# found NS RULE STAGE: `diagnose` in namespace NS names RULE at STAGE.
found() {
    ip netns exec "$1" pktmap diagnose --json --interval 2s >/tmp/d.json
    cat /tmp/d.json
    flat /tmp/d.json | grep -q "\"rule\":\"$2\",\"severity\":\"[a-z]*\",\"stage\":\"$3\""
}

# traced NS RULE STAGE [REASON]: the same with --trace, and the kernel's reason as evidence.
traced() {
    pktmap --netns "$1" diagnose --trace --json --interval 2s >/tmp/t.json
    cat /tmp/t.json
    flat /tmp/t.json | grep -q "\"rule\":\"$2\",\"severity\":\"[a-z]*\",\"stage\":\"$3\"" || return 1
    [ -z "$4" ] || flat /tmp/t.json | grep -q "\"key\":\"dropreason$4\""
}

check doctor pktmap doctor
check walk pktmap walk --interval 1s
check snapshot pktmap snapshot -o /tmp/snap.json
check audit sh -c 'pktmap audit; [ $? -le 2 ]'

ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 10.77.0.1/24 dev va
ip -n b addr add 10.77.0.2/24 dev vb
for ns in a b; do ip -n $ns link set lo up; done
ip -n a link set va up
ip -n b link set vb up

# 1. A closed port: rx.9, NO_SOCKET; `trace drops` names the reason on this kernel's enum.
/usr/sbin/ip netns exec a rig send 10.77.0.2 9101 2000 600 &
sleep 1
check closed-port found b closed-port rx.9
check closed-port-traced traced b closed-port rx.9 NO_SOCKET
check trace-drops sh -c 'pktmap trace drops --interval 2s --json >/tmp/td.json; grep -q NO_SOCKET /tmp/td.json'
check trace-latency sh -c 'pktmap trace latency --interval 2s --json >/tmp/tl.json; tr -d " \n" </tmp/tl.json | grep -q "\"count\":[1-9]"'
kill $!

# 2. A UDP socket that never reads: rx.10, SOCKET_RCVBUFF.
/usr/sbin/ip netns exec b rig deaf 9102 &
deaf=$!
/usr/sbin/ip netns exec a rig send 10.77.0.2 9102 2000 600 &
sleep 1
check udp-never-reads found b udp-receive-buffer rx.10
check udp-never-reads-traced traced b udp-receive-buffer rx.10 SOCKET_RCVBUFF
kill $! $deaf

# 3. An nft rule that drops, with a counter: rx.8, named; NETFILTER_DROP.
ip netns exec b nft -f /rules.nft
/usr/sbin/ip netns exec a rig send 10.77.0.2 9103 2000 600 &
sleep 1
check drop-rule found b firewall-rule rx.8
check drop-rule-traced traced b firewall-rule rx.8 NETFILTER_DROP
# Two captures of b a second apart, under the flood: this kernel's layouts as a fixture.
check capture sh -c 'pktmap --netns b capture --out /tmp/t1.tar.gz && sleep 1 &&
    pktmap --netns b capture --out /tmp/t2.tar.gz'
kill $!

# 4. A tbf with a tiny limit on the sender: tx.3, QDISC_DROP.
tc -n a qdisc add dev va root tbf rate 1mbit burst 2kb limit 3000
/usr/sbin/ip netns exec a rig send 10.77.0.2 9104 5000 600 &
sleep 1
check tbf found a qdisc-drops tx.3
check tbf-traced traced a qdisc-drops tx.3 QDISC_DROP
kill $!
tc -n a qdisc del dev va root

# 5. A listener with backlog 1 that never accepts: rx.10 (no reason: the SYN is consumed).
/usr/sbin/ip netns exec b rig listen 9105 &
listener=$!
/usr/sbin/ip netns exec a rig connect 10.77.0.2 9105 100 &
sleep 1
check listen-overflow found b listen-overflow rx.10
check listen-overflow-traced traced b listen-overflow rx.10
kill $! $listener

for t in t1 t2; do
    echo "BEGIN-CAPTURE $t"
    base64 /tmp/$t.tar.gz
    echo END-CAPTURE
done
echo MATRIX-DONE
poweroff -f
