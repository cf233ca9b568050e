//! rtnetlink dumps. A live root asks the kernel; a captured root replays the reply bytes that
//! `capture` saved under `netlink/`, so the same parser serves both and fixtures test it.

use crate::error::ParseError;
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::tc::TcMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A dump pktmap asks rtnetlink for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// RTM_GETLINK: every link with its 64-bit statistics, kind, XDP and qdisc name.
    Links,
    /// RTM_GETQDISC: every qdisc with its statistics.
    Qdiscs,
}

impl Dump {
    /// File name of the replies in a capture.
    pub fn file(self) -> &'static str {
        match self {
            Dump::Links => "rtnl-links.bin",
            Dump::Qdiscs => "rtnl-qdiscs.bin",
        }
    }

    fn request(self) -> RouteNetlinkMessage {
        match self {
            Dump::Links => RouteNetlinkMessage::GetLink(LinkMessage::default()),
            Dump::Qdiscs => RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()),
        }
    }
}

/// Sends the dump request on a socket of the calling thread's network namespace and returns
/// the reply messages' bytes, up to and without the final DONE.
pub fn dump_live(dump: Dump) -> std::io::Result<Vec<u8>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut req = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::from(dump.request()),
    );
    req.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    req.header.sequence_number = 1;
    req.finalize();
    let mut buf = vec![0; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;

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

/// Splits reply bytes into route messages. Message `n` (1-based) is the "line" of an error.
pub fn parse_messages(bytes: &[u8]) -> Result<Vec<RouteNetlinkMessage>, ParseError> {
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
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len])
            .map_err(|e| ParseError::new(n, "netlink message", e.to_string()))?;
        if let NetlinkPayload::InnerMessage(m) = msg.payload {
            out.push(m);
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}
