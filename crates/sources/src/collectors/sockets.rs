//! Sockets over sock_diag (inet_diag), not /proc/net/tcp: TCP with tcp_info, skmeminfo and
//! congestion control; listeners with their accept queue against its limit; UDP with drops.
//! Aggregates go into metrics; the sockets worth a look (with their owning process) into
//! the snapshot's `sockets`.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError};
use crate::netlink::{Dump, split_messages};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels, SocketInfo, labels};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The compat request's type, which its replies carry too: TCP of every family at once.
const TCPDIAG_GETSOCK: u16 = 18;
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SKMEMINFO: u16 = 7;
/// Sockets kept in the snapshot per reason, so a host with 100k sockets stays a small file.
const KEEP_PER_REASON: usize = 30;
const KEEP_LISTENERS: usize = 64;

const TCP_STATES: [&str; 13] = [
    "UNKNOWN",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];
const SKMEM: [&str; 9] = [
    "rmem_alloc",
    "rcvbuf",
    "wmem_alloc",
    "sndbuf",
    "fwd_alloc",
    "wmem_queued",
    "optmem",
    "backlog",
    "drops",
];

/// `struct tcp_info` fields by offset and width (include/uapi/linux/tcp.h). A kernel sends
/// the struct as long as it knows it: fields past the end of the reply are left out.
const TCP_INFO: &[(&str, usize, usize)] = &[
    ("retransmits", 2, 1),
    ("probes", 3, 1),
    ("backoff", 4, 1),
    ("rto", 8, 4),
    ("ato", 12, 4),
    ("snd_mss", 16, 4),
    ("rcv_mss", 20, 4),
    ("unacked", 24, 4),
    ("sacked", 28, 4),
    ("lost", 32, 4),
    ("retrans", 36, 4),
    ("pmtu", 60, 4),
    ("rcv_ssthresh", 64, 4),
    ("rtt", 68, 4),
    ("rttvar", 72, 4),
    ("snd_ssthresh", 76, 4),
    ("snd_cwnd", 80, 4),
    ("advmss", 84, 4),
    ("reordering", 88, 4),
    ("rcv_rtt", 92, 4),
    ("rcv_space", 96, 4),
    ("total_retrans", 100, 4),
    ("pacing_rate", 104, 8),
    ("max_pacing_rate", 112, 8),
    ("bytes_acked", 120, 8),
    ("bytes_received", 128, 8),
    ("segs_out", 136, 4),
    ("segs_in", 140, 4),
    ("notsent_bytes", 144, 4),
    ("min_rtt", 148, 4),
    ("data_segs_in", 152, 4),
    ("data_segs_out", 156, 4),
    ("delivery_rate", 160, 8),
    ("busy_time", 168, 8),
    ("rwnd_limited", 176, 8),
    ("sndbuf_limited", 184, 8),
    ("delivered", 192, 4),
    ("delivered_ce", 196, 4),
    ("bytes_sent", 200, 8),
    ("bytes_retrans", 208, 8),
    ("dsack_dups", 216, 4),
    ("reord_seen", 220, 4),
    ("rcv_ooopack", 224, 4),
    ("snd_wnd", 228, 4),
    ("rcv_wnd", 232, 4),
];

/// One socket as the kernel sent it, decoded only as far as counting and choosing need;
/// the rest (addresses, tcp_info fields) is decoded for the few sockets kept.
#[derive(Debug, Clone)]
pub struct RawSocket<'a> {
    family: u8,
    state: u8,
    /// `struct inet_diag_sockid`.
    id: &'a [u8],
    recv_q: u32,
    send_q: u32,
    inode: u32,
    info: Option<&'a [u8]>,
    cong: Option<&'a [u8]>,
    skmem: Option<[u32; 9]>,
    udp: bool,
}

/// What selection and summaries ask of a socket, raw or decoded.
pub trait Facts {
    fn state_name(&self) -> &str;
    fn recv_q(&self) -> u64;
    fn send_q(&self) -> u64;
    fn rcvbuf(&self) -> u64;
    fn drops(&self) -> u64;
    fn total_retrans(&self) -> u64;
    /// Share of its busy time the connection waited for the peer's receive window.
    fn rwnd_share(&self) -> f64;
    /// Smoothed RTT over the lowest RTT the connection has seen (0 when unknown).
    fn rtt_inflation(&self) -> f64;
    fn listening(&self) -> bool {
        self.state_name() == "LISTEN"
    }
}

impl Facts for RawSocket<'_> {
    fn state_name(&self) -> &str {
        // UDP reuses TCP's state numbers; ss calls an unconnected one UNCONN.
        if self.udp && self.state == 7 {
            return "UNCONN";
        }
        TCP_STATES.get(self.state as usize).unwrap_or(&"UNKNOWN")
    }
    fn recv_q(&self) -> u64 {
        self.recv_q.into()
    }
    fn send_q(&self) -> u64 {
        self.send_q.into()
    }
    fn rcvbuf(&self) -> u64 {
        self.skmem.map_or(0, |m| m[1].into())
    }
    fn drops(&self) -> u64 {
        self.skmem.map_or(0, |m| m[8].into())
    }
    fn total_retrans(&self) -> u64 {
        self.info
            .and_then(|i| i.get(100..104))
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4")).into())
    }
    fn rtt_inflation(&self) -> f64 {
        let at = |o: usize| {
            self.info
                .and_then(|i| i.get(o..o + 4))
                .map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4")))
        };
        let (rtt, min) = (at(68), at(148));
        if min == 0 || rtt < 1_000 {
            0.0
        } else {
            f64::from(rtt) / f64::from(min)
        }
    }
    fn rwnd_share(&self) -> f64 {
        let at = |o: usize| {
            self.info
                .and_then(|i| i.get(o..o + 8))
                .map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8")))
        };
        let busy = at(168);
        if busy == 0 {
            0.0
        } else {
            at(176) as f64 / busy as f64
        }
    }
}

impl Facts for SocketInfo {
    fn state_name(&self) -> &str {
        &self.state
    }
    fn recv_q(&self) -> u64 {
        self.recv_q
    }
    fn send_q(&self) -> u64 {
        self.send_q
    }
    fn rcvbuf(&self) -> u64 {
        self.skmem.get("rcvbuf").copied().unwrap_or(0)
    }
    fn drops(&self) -> u64 {
        self.skmem.get("drops").copied().unwrap_or(0)
    }
    fn total_retrans(&self) -> u64 {
        self.tcp_info.get("total_retrans").copied().unwrap_or(0)
    }
    fn rtt_inflation(&self) -> f64 {
        let rtt = self.tcp_info.get("rtt").copied().unwrap_or(0);
        let min = self.tcp_info.get("min_rtt").copied().unwrap_or(0);
        if min == 0 || rtt < 1_000 {
            0.0
        } else {
            rtt as f64 / min as f64
        }
    }
    fn rwnd_share(&self) -> f64 {
        let busy = self.tcp_info.get("busy_time").copied().unwrap_or(0);
        if busy == 0 {
            0.0
        } else {
            self.tcp_info.get("rwnd_limited").copied().unwrap_or(0) as f64 / busy as f64
        }
    }
}

impl RawSocket<'_> {
    /// The full decoding, for a socket that is kept.
    pub fn decode(&self, proto: &str) -> SocketInfo {
        let p = self.id;
        let addr = |at: usize, port_at: usize| {
            let port = u16::from_be_bytes([p[port_at], p[port_at + 1]]);
            match self.family {
                AF_INET6 => format!(
                    "[{}]:{port}",
                    Ipv6Addr::from(<[u8; 16]>::try_from(&p[at..at + 16]).expect("16 bytes"))
                ),
                _ => format!(
                    "{}:{port}",
                    Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3])
                ),
            }
        };
        SocketInfo {
            proto: if self.family == AF_INET6 {
                format!("{proto}6")
            } else {
                proto.to_string()
            },
            state: self.state_name().to_string(),
            local: addr(4, 0),
            remote: addr(20, 2),
            recv_q: self.recv_q.into(),
            send_q: self.send_q.into(),
            inode: self.inode.into(),
            skmem: self
                .skmem
                .map(|m| {
                    SKMEM
                        .iter()
                        .zip(m)
                        .map(|(k, v)| (k.to_string(), u64::from(v)))
                        .collect()
                })
                .unwrap_or_default(),
            // A listener's tcp_info describes no connection.
            tcp_info: self
                .info
                .filter(|_| !self.listening())
                .map(tcp_info)
                .unwrap_or_default(),
            congestion: self.cong.map(|c| {
                String::from_utf8_lossy(c)
                    .trim_end_matches('\0')
                    .to_string()
            }),
            ..SocketInfo::default()
        }
    }
}

/// Splits a SOCK_DIAG_BY_FAMILY reply into sockets (`struct inet_diag_msg` and its
/// attributes), without copying.
pub fn parse_raw<'a>(bytes: &'a [u8], udp: bool) -> Result<Vec<RawSocket<'a>>, ParseError> {
    let mut out = Vec::new();
    for (n, (kind, msg)) in split_messages(bytes)?.into_iter().enumerate() {
        if kind != SOCK_DIAG_BY_FAMILY && kind != TCPDIAG_GETSOCK {
            continue;
        }
        let p = &msg[16..];
        if p.len() < 72 {
            return Err(ParseError::new(
                n + 1,
                "inet_diag_msg",
                format!("{} bytes, need 72", p.len()),
            ));
        }
        let u32_at = |o: usize| u32::from_ne_bytes(p[o..o + 4].try_into().expect("4 bytes"));
        let mut s = RawSocket {
            family: p[0],
            state: p[1],
            id: &p[4..52],
            recv_q: u32_at(56),
            send_q: u32_at(60),
            inode: u32_at(68),
            info: None,
            cong: None,
            skmem: None,
            udp,
        };
        let mut off = 72;
        while off + 4 <= p.len() {
            let len = u16::from_ne_bytes([p[off], p[off + 1]]) as usize;
            let ty = u16::from_ne_bytes([p[off + 2], p[off + 3]]) & 0x3fff;
            if len < 4 || off + len > p.len() {
                return Err(ParseError::new(
                    n + 1,
                    "inet_diag attribute",
                    format!("length {len} at offset {off}"),
                ));
            }
            let v = &p[off + 4..off + len];
            match ty {
                INET_DIAG_INFO => s.info = Some(v),
                INET_DIAG_CONG => s.cong = Some(v),
                INET_DIAG_SKMEMINFO => {
                    let mut m = [0u32; 9];
                    for (slot, chunk) in m.iter_mut().zip(v.chunks_exact(4)) {
                        *slot = u32::from_ne_bytes(chunk.try_into().expect("4"));
                    }
                    s.skmem = Some(m);
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
        out.push(s);
    }
    Ok(out)
}

/// Decodes every socket of a reply; for tests and small dumps.
pub fn parse_inet_diag(bytes: &[u8], proto: &str) -> Result<Vec<SocketInfo>, ParseError> {
    Ok(parse_raw(bytes, proto == "udp")?
        .iter()
        .map(|r| r.decode(proto))
        .collect())
}

fn tcp_info(v: &[u8]) -> BTreeMap<String, u64> {
    TCP_INFO
        .iter()
        .filter_map(|&(name, at, width)| {
            let b = v.get(at..at + width)?;
            let value = match width {
                1 => u64::from(b[0]),
                4 => u64::from(u32::from_ne_bytes(b.try_into().ok()?)),
                _ => u64::from_ne_bytes(b.try_into().ok()?),
            };
            Some((name.to_string(), value))
        })
        .collect()
}

/// What the sockets add up to, for the stages.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub states: BTreeMap<String, u64>,
    pub listeners: u64,
    pub listeners_at_cap: u64,
    pub recvq_nonzero: u64,
    pub recvq_bytes: u64,
    pub sendq_bytes: u64,
    pub drops: u64,
}

pub fn summarize<T: Facts>(sockets: &[T]) -> Summary {
    let mut s = Summary::default();
    for k in sockets {
        *s.states.entry(k.state_name().to_string()).or_default() += 1;
        s.drops += k.drops();
        if k.listening() {
            s.listeners += 1;
            if k.send_q() > 0 && k.recv_q() >= k.send_q() {
                s.listeners_at_cap += 1;
            }
        } else {
            s.recvq_bytes += k.recv_q();
            s.sendq_bytes += k.send_q();
            s.recvq_nonzero += u64::from(k.recv_q() > 0);
        }
    }
    s
}

/// A reason to keep a socket: its name, its score (0 = not this reason), how many to keep.
type Reason<'a, T> = (&'a str, &'a dyn Fn(&T) -> f64, usize);

/// The sockets a reader should see: every listener (busiest first), and the worst few by
/// receive queue fill, drops and retransmissions, each with why it was kept.
pub fn select<T: Facts>(all: Vec<T>) -> Vec<(T, Vec<String>)> {
    let fill = |s: &T| s.recv_q() as f64 / s.rcvbuf().max(1) as f64;
    let reasons: [Reason<T>; 6] = [
        (
            "listener",
            &|s| {
                if s.listening() {
                    1.0 + s.recv_q() as f64
                } else {
                    0.0
                }
            },
            KEEP_LISTENERS,
        ),
        (
            "recvq",
            &|s| {
                if !s.listening() && s.recv_q() > 0 {
                    fill(s)
                } else {
                    0.0
                }
            },
            KEEP_PER_REASON,
        ),
        ("drops", &|s| s.drops() as f64, KEEP_PER_REASON),
        ("retrans", &|s| s.total_retrans() as f64, KEEP_PER_REASON),
        (
            "rwnd",
            &|s| {
                if s.rwnd_share() >= 0.5 {
                    s.rwnd_share()
                } else {
                    0.0
                }
            },
            KEEP_PER_REASON,
        ),
        (
            "rtt",
            &|s| {
                if s.rtt_inflation() >= 4.0 {
                    s.rtt_inflation()
                } else {
                    0.0
                }
            },
            KEEP_PER_REASON,
        ),
    ];
    let mut why: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (name, score, n) in reasons {
        let mut idx: Vec<(usize, f64)> = all
            .iter()
            .enumerate()
            .map(|(i, s)| (i, score(s)))
            .filter(|(_, v)| *v > 0.0)
            .collect();
        idx.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (i, _) in idx.into_iter().take(n) {
            why.entry(i).or_default().push(name.to_string());
        }
    }
    all.into_iter()
        .enumerate()
        .filter_map(|(i, s)| why.remove(&i).map(|w| (s, w)))
        .collect()
}

/// Whether a kept socket shows a problem (not merely a listener), worth naming its process.
fn troubled(s: &SocketInfo) -> bool {
    s.why.iter().any(|w| w != "listener") || (s.send_q > 0 && s.recv_q >= s.send_q)
}

/// Finds the process behind each troubled socket through `/proc/PID/fd` links
/// `socket:[INODE]`, stopping once all are found. Scanning every descriptor of every process
/// is what `ss -p` does and costs milliseconds, so a quiet host does not pay it.
fn owners(root: &Root, sockets: &mut [SocketInfo]) {
    let mut want: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, s) in sockets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.inode != 0 && troubled(s))
    {
        want.entry(s.inode).or_default().push(i);
    }
    if want.is_empty() {
        return;
    }
    let Ok(pids) = root.list_where(&root.proc(""), |p| p.bytes().all(|b| b.is_ascii_digit()))
    else {
        return;
    };
    for pid in pids {
        if want.is_empty() {
            return;
        }
        let dir = root.proc(&format!("{pid}/fd"));
        let Ok(fds) = root.list(&dir) else { continue };
        for fd in fds {
            let Ok(target) = root.link_name(&dir.join(&fd)) else {
                continue;
            };
            let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(found) = want.remove(&inode) {
                let comm = root.read_value(&root.proc(&format!("{pid}/comm"))).ok();
                for i in found {
                    sockets[i].pid = pid.parse().ok();
                    sockets[i].command = comm.clone();
                }
            }
        }
    }
}

pub struct Sockets;

impl Collector for Sockets {
    fn id(&self) -> &'static str {
        "sockets"
    }
    fn sources(&self) -> &'static [&'static str] {
        &[
            "sock_diag SOCK_DIAG_BY_FAMILY (tcp, udp; IPv4 and IPv6)",
            "proc/PID/fd",
        ]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let mut kept = Vec::new();
        let mut read = 0;
        for (proto, protocol) in [("tcp", IPPROTO_TCP), ("udp", IPPROTO_UDP)] {
            let mut replies = Vec::new();
            // TCP of both families in one dump (the compat request): the kernel walks its
            // established hash once, not once per family, and on a host with a large hash
            // that walk is most of the cost even with no socket in it. A kernel without it, or
            // a capture made before, reads the two families apart.
            if protocol == IPPROTO_TCP {
                let dump = Dump::Sockets {
                    family: AF_UNSPEC,
                    protocol,
                };
                let file = root.base().join("netlink").join(dump.file());
                if let Ok(bytes) = root.netlink(dump) {
                    read += 2;
                    replies.push((bytes, file));
                }
            }
            let families: &[u8] = if replies.is_empty() {
                &[AF_INET, AF_INET6]
            } else {
                &[]
            };
            for &family in families {
                let dump = Dump::Sockets { family, protocol };
                let file = root.base().join("netlink").join(dump.file());
                match root.netlink(dump) {
                    Ok(bytes) => {
                        read += 1;
                        replies.push((bytes, file));
                    }
                    // No IPv6 in this kernel: not an error.
                    Err(e) if family == AF_INET6 => sink.error(e),
                    Err(e) => return Err(e),
                }
            }
            let mut all = Vec::new();
            for (bytes, file) in &replies {
                all.extend(parse_raw(bytes, proto == "udp").map_err(|e| e.at(file))?);
            }
            let sum = summarize(&all);
            let l = |k: &str, v: &str| labels([(k, v)]);
            for (state, n) in &sum.states {
                sink.metric(
                    format!("sockets.{proto}.state"),
                    l("state", state),
                    *n,
                    Kind::Gauge,
                );
            }
            let none = Labels::new;
            sink.metric(
                format!("sockets.{proto}.recvq_nonzero"),
                none(),
                sum.recvq_nonzero,
                Kind::Gauge,
            );
            sink.metric(
                format!("sockets.{proto}.recvq_bytes"),
                none(),
                sum.recvq_bytes,
                Kind::Gauge,
            );
            sink.metric(
                format!("sockets.{proto}.sendq_bytes"),
                none(),
                sum.sendq_bytes,
                Kind::Gauge,
            );
            sink.metric(
                format!("sockets.{proto}.drops"),
                none(),
                sum.drops,
                Kind::Gauge,
            );
            if proto == "tcp" {
                sink.metric("sockets.tcp.listeners", none(), sum.listeners, Kind::Gauge);
                sink.metric(
                    "sockets.tcp.listeners_at_cap",
                    none(),
                    sum.listeners_at_cap,
                    Kind::Gauge,
                );
            }
            kept.extend(select(all).into_iter().map(|(raw, why)| SocketInfo {
                why,
                ..raw.decode(proto)
            }));
        }
        if read == 0 {
            return Ok(());
        }
        owners(root, &mut kept);
        sink.sockets(kept);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(file: &str) -> Vec<u8> {
        let p = format!(
            "{}/../../fixtures/hosts/vm-udp-flood/t1/netlink/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(p).unwrap()
    }

    #[test]
    fn decodes_the_flooded_udp_socket() {
        let socks = parse_inet_diag(&capture("sockdiag-2-17.bin"), "udp").unwrap();
        let s = socks
            .iter()
            .find(|s| s.local == "10.203.0.2:9000")
            .expect("the receiver");
        assert_eq!(s.state, "UNCONN");
        assert!(s.skmem["drops"] > 1000);
        assert!(s.recv_q > 0 && s.recv_q <= s.skmem["rcvbuf"] * 2);
    }

    #[test]
    fn selection_keeps_the_troubled_and_says_why() {
        let mut quiet = SocketInfo {
            state: "ESTABLISHED".into(),
            ..SocketInfo::default()
        };
        quiet.skmem.insert("rcvbuf".into(), 1000);
        let mut full = quiet.clone();
        full.recv_q = 900;
        let mut listener = SocketInfo {
            state: "LISTEN".into(),
            recv_q: 2,
            send_q: 1,
            ..SocketInfo::default()
        };
        listener.inode = 7;
        let kept = select(vec![quiet, full, listener]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].1, ["recvq"]);
        assert_eq!(kept[1].1, ["listener"]);
        let kept: Vec<SocketInfo> = kept.into_iter().map(|(s, _)| s).collect();
        let sum = summarize(&kept);
        assert_eq!(
            (sum.listeners, sum.listeners_at_cap, sum.recvq_nonzero),
            (1, 1, 1)
        );
    }

    #[test]
    fn truncated_replies_are_errors_not_panics() {
        let bytes = capture("sockdiag-2-17.bin");
        for cut in (1..bytes.len()).step_by(5) {
            let _ = parse_inet_diag(&bytes[..cut], "udp");
        }
        // A message whose payload is shorter than inet_diag_msg.
        let mut short = vec![0u8; 16 + 8];
        short[..4].copy_from_slice(&24u32.to_ne_bytes());
        short[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert_eq!(
            parse_inet_diag(&short, "udp").unwrap_err().field,
            "inet_diag_msg"
        );
    }
}
