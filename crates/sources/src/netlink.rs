//! Netlink dumps (rtnetlink, sock_diag, nftables). A live root asks the kernel; a captured root replays
//! the reply bytes that `capture` saved under `netlink/`, so the same parser serves both and
//! fixtures test it.

use crate::error::ParseError;
use crate::firewall::nft;
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::tc::{TcHandle, TcMessage};
use netlink_sys::protocols::{NETLINK_NETFILTER, NETLINK_ROUTE, NETLINK_SOCK_DIAG};
use netlink_sys::{Socket, SocketAddr};
use std::cell::RefCell;
use std::rc::Rc;

/// A netlink dump pktmap asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// RTM_GETLINK: every link with its 64-bit statistics, kind, XDP and qdisc name.
    Links,
    /// RTM_GETQDISC: every qdisc with its statistics.
    Qdiscs,
    /// SOCK_DIAG_BY_FAMILY for inet sockets of one family and protocol; family 0 is TCP of
    /// both families in one dump (TCPDIAG_GETSOCK).
    Sockets { family: u8, protocol: u8 },
    /// RTM_GETTFILTER: the tc filters of one device's ingress hook (ingress or clsact).
    IngressFilters { ifindex: i32, parent: u32 },
    /// NFT_MSG_GETCHAIN of every family: chains with hooks, policies and their counters.
    NftChains,
    /// NFT_MSG_GETRULE of every family: rules with their expressions and counters.
    NftRules,
}

/// inet_diag attributes asked for: tcp_info (2), congestion control (4), skmeminfo (7).
const INET_DIAG_EXT: u8 = (1 << (2 - 1)) | (1 << (4 - 1)) | (1 << (7 - 1));
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCPDIAG_GETSOCK: u16 = 18;

impl Dump {
    /// File name of the replies in a capture.
    pub fn file(self) -> String {
        match self {
            Dump::Links => "rtnl-links.bin".into(),
            Dump::Qdiscs => "rtnl-qdiscs.bin".into(),
            Dump::Sockets { family, protocol } => format!("sockdiag-{family}-{protocol}.bin"),
            Dump::IngressFilters { ifindex, parent } => {
                format!("rtnl-filters-{ifindex}-{parent:x}.bin")
            }
            Dump::NftChains => "nft-chains.bin".into(),
            Dump::NftRules => "nft-rules.bin".into(),
        }
    }

    fn protocol(self) -> isize {
        match self {
            Dump::Sockets { .. } => NETLINK_SOCK_DIAG,
            Dump::NftChains | Dump::NftRules => NETLINK_NETFILTER,
            _ => NETLINK_ROUTE,
        }
    }

    fn request(self) -> Vec<u8> {
        let route = match self {
            Dump::Links => RouteNetlinkMessage::GetLink(LinkMessage::default()),
            Dump::Qdiscs => RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()),
            Dump::Sockets { family, protocol } => return inet_diag_request(family, protocol),
            Dump::NftChains => return nft_request(nft::MSG_GETCHAIN),
            Dump::NftRules => return nft_request(nft::MSG_GETRULE),
            Dump::IngressFilters { ifindex, parent } => {
                let mut m = TcMessage::default();
                m.header.index = ifindex;
                m.header.parent = TcHandle::from(parent);
                RouteNetlinkMessage::GetTrafficFilter(m)
            }
        };
        let mut req = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(route));
        req.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
        req.header.sequence_number = 1;
        req.finalize();
        let mut buf = vec![0; req.buffer_len()];
        req.serialize(&mut buf);
        buf
    }
}

/// nlmsghdr + struct inet_diag_req_v2 asking for every socket in every state; for family 0
/// (TCP only), the older TCPDIAG_GETSOCK request, whose dump covers both families in one walk.
fn inet_diag_request(family: u8, protocol: u8) -> Vec<u8> {
    if family == 0 {
        // struct inet_diag_req: family, src_len, dst_len, ext, the socket id (48 bytes),
        // states, dbs.
        let mut b = Vec::with_capacity(16 + 60);
        b.extend_from_slice(&(16u32 + 60).to_ne_bytes());
        b.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        b.extend_from_slice(&1u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&[0, 0, 0, INET_DIAG_EXT]);
        b.extend_from_slice(&[0u8; 48]);
        b.extend_from_slice(&u32::MAX.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        return b;
    }
    let mut b = Vec::with_capacity(16 + 56);
    b.extend_from_slice(&(16u32 + 56).to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&1u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&[family, protocol, INET_DIAG_EXT, 0]);
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b.extend_from_slice(&[0u8; 48]);
    b
}

/// nlmsghdr + nfgenmsg asking for one kind of nftables object of every family.
fn nft_request(msg: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&20u32.to_ne_bytes());
    b.extend_from_slice(&nft::msg_type(msg).to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&1u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // NFPROTO_UNSPEC, NFNETLINK_V0, resource id 0.
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

/// Sends the dump request on a socket of the calling thread's network namespace and returns
/// the reply messages' bytes, up to and without the final DONE.
pub fn dump_live(dump: Dump) -> std::io::Result<Vec<u8>> {
    let protocol = dump.protocol();
    let socket = socket(protocol)?;
    let reply = dump_on(&socket, dump);
    if reply.is_err() {
        forget_socket(protocol);
    }
    reply
}

thread_local! {
    /// One socket per protocol, kept for the thread: a thread reads one network namespace for
    /// its whole life (a namespace is read by a thread that enters it first).
    static SOCKETS: RefCell<Vec<(isize, Rc<Socket>)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's netlink socket for `protocol`, bound and connected to the kernel on first use.
pub(crate) fn socket(protocol: isize) -> std::io::Result<Rc<Socket>> {
    let kept = SOCKETS.with_borrow(|all| {
        all.iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, s)| s.clone())
    });
    if let Some(s) = kept {
        return Ok(s);
    }
    let mut socket = Socket::new(protocol)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let socket = Rc::new(socket);
    SOCKETS.with_borrow_mut(|all| all.push((protocol, socket.clone())));
    Ok(socket)
}

/// Drops this thread's socket for `protocol` after asking or reading through it failed, so a
/// socket that may hold the rest of a reply is never asked again.
pub(crate) fn forget_socket(protocol: isize) {
    SOCKETS.with_borrow_mut(|all| all.retain(|(p, _)| *p != protocol));
}

fn dump_on(socket: &Socket, dump: Dump) -> std::io::Result<Vec<u8>> {
    socket.send(&dump.request(), 0)?;

    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = socket.recv(&mut &mut chunk[..], 0)?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(chunk[off..off + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(chunk[off + 4..off + 6].try_into().expect("2 bytes"));
            if len < 16 || off + len > n {
                return Err(std::io::Error::other("truncated netlink reply"));
            }
            match kind {
                netlink_packet_core::NLMSG_DONE => return Ok(out),
                netlink_packet_core::NLMSG_ERROR => {
                    let code =
                        i32::from_ne_bytes(chunk[off + 16..off + 20].try_into().expect("4 bytes"));
                    return Err(std::io::Error::from_raw_os_error(-code));
                }
                _ => out.extend_from_slice(&chunk[off..off + len]),
            }
            // Messages are aligned to 4 bytes.
            off += (len + 3) & !3;
        }
        if n == 0 {
            return Ok(out);
        }
    }
}

/// Splits reply bytes into `(type, payload)` per message. Message `n` (1-based) is the
/// "line" of an error.
pub fn split_messages(bytes: &[u8]) -> Result<Vec<(u16, &[u8])>, ParseError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let n = out.len() + 1;
        let rest = &bytes[off..];
        if rest.len() < 16 {
            return Err(ParseError::new(
                n,
                "netlink header",
                format!("{} trailing bytes", rest.len()),
            ));
        }
        let len = u32::from_ne_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if len < 16 || len > rest.len() {
            return Err(ParseError::new(
                n,
                "netlink header",
                format!("length {len} with {} bytes left", rest.len()),
            ));
        }
        let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        out.push((kind, &rest[..len]));
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// `(type, value)` of each netlink attribute in `b` (type without the nested and byte-order
/// flags); stops at the first malformed one.
pub fn attrs(b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= b.len() {
        let len = u16::from_ne_bytes([b[off], b[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([b[off + 2], b[off + 3]]) & 0x3fff;
        if len < 4 || off + len > b.len() {
            break;
        }
        out.push((ty, &b[off + 4..off + len]));
        off += (len + 3) & !3;
    }
    out
}

/// Decodes reply bytes into route messages.
pub fn parse_messages(bytes: &[u8]) -> Result<Vec<RouteNetlinkMessage>, ParseError> {
    let mut out = Vec::new();
    for (i, (_, msg)) in split_messages(bytes)?.into_iter().enumerate() {
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg)
            .map_err(|e| ParseError::new(i + 1, "netlink message", e.to_string()))?;
        if let NetlinkPayload::InnerMessage(m) = msg.payload {
            out.push(m);
        }
    }
    Ok(out)
}
