//! ethtool through the SIOCETHTOOL ioctl, the interface every kernel and driver has (driver
//! statistics exist nowhere else). Each query's answer is rendered in the layout the
//! `ethtool` command prints, so one parser reads live answers, captures and the public
//! `ethtool` outputs alike.

use std::ffi::c_void;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GCOALESCE: u32 = 0x0e;
const ETHTOOL_GRINGPARAM: u32 = 0x10;
const ETHTOOL_GRXCSUM: u32 = 0x14;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETHTOOL_GRXFHINDIR: u32 = 0x38;
const ETHTOOL_GCHANNELS: u32 = 0x3c;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
const ETH_FLAG_LRO: u32 = 1 << 15;
const ETH_FLAG_NTUPLE: u32 = 1 << 27;
const ETH_FLAG_RXHASH: u32 = 1 << 28;

/// What can be asked of a device, and the `ethtool` option that prints the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `-i`
    DriverInfo,
    /// `-S`
    Stats,
    /// `-g`
    Rings,
    /// `-l`
    Channels,
    /// `-c`
    Coalesce,
    /// `-k` (the offloads pktmap reads)
    Features,
    /// `-x` (the RSS indirection table)
    Indirection,
}

impl Query {
    pub const ALL: [Query; 7] = [
        Query::DriverInfo,
        Query::Stats,
        Query::Rings,
        Query::Channels,
        Query::Coalesce,
        Query::Features,
        Query::Indirection,
    ];

    /// File name of the answer in a capture (`ethtool/DEV/FILE`).
    pub fn file(self) -> &'static str {
        match self {
            Query::DriverInfo => "i",
            Query::Stats => "S",
            Query::Rings => "g",
            Query::Channels => "l",
            Query::Coalesce => "c",
            Query::Features => "k",
            Query::Indirection => "x",
        }
    }
}

/// Asks the device `dev` in the calling thread's namespace, and renders the answer as
/// `ethtool` would print it. Rings, channels and coalescing go through the ethtool netlink
/// family (5.6+); the ioctl answers what netlink does not carry (driver statistics and strings,
/// offload flags, the RSS table) and stands in on older kernels. `Unsupported` errors mean the
/// driver does not offer it.
pub fn query_live(dev: &str, q: Query) -> std::io::Result<String> {
    if matches!(q, Query::Rings | Query::Channels | Query::Coalesce) {
        match genl::query(dev, q) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
    }
    query_ioctl(dev, q)
}

/// The same answers through SIOCETHTOOL.
pub fn query_ioctl(dev: &str, q: Query) -> std::io::Result<String> {
    let sock = Sock::kept()?;
    match q {
        Query::DriverInfo => {
            let mut b = buf(196, ETHTOOL_GDRVINFO);
            sock.ioctl(dev, &mut b)?;
            let s = |at: usize| cstr(&b[at..at + 32]);
            Ok(format!(
                "driver: {}\nversion: {}\nfirmware-version: {}\nbus-info: {}\n",
                s(4),
                s(36),
                s(68),
                s(100)
            ))
        }
        Query::Stats => {
            let mut info = buf(20, ETHTOOL_GSSET_INFO);
            info[8..16].copy_from_slice(&(1u64 << ETH_SS_STATS).to_ne_bytes());
            sock.ioctl(dev, &mut info)?;
            let n = u32_at(&info, 16) as usize;
            if u64::from_ne_bytes(info[8..16].try_into().expect("8")) == 0 || n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
            }
            let mut names = buf(12 + n * ETH_GSTRING_LEN, ETHTOOL_GSTRINGS);
            names[4..8].copy_from_slice(&ETH_SS_STATS.to_ne_bytes());
            names[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
            sock.ioctl(dev, &mut names)?;
            let mut stats = buf(8 + n * 8, ETHTOOL_GSTATS);
            stats[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
            sock.ioctl(dev, &mut stats)?;
            let mut out = String::from("NIC statistics:\n");
            for i in 0..n {
                let name = cstr(&names[12 + i * ETH_GSTRING_LEN..12 + (i + 1) * ETH_GSTRING_LEN]);
                let v = u64::from_ne_bytes(stats[8 + i * 8..16 + i * 8].try_into().expect("8"));
                out.push_str(&format!("     {name}: {v}\n"));
            }
            Ok(out)
        }
        Query::Rings => sections(
            &sock,
            dev,
            ETHTOOL_GRINGPARAM,
            "Ring",
            &["RX", "RX Mini", "RX Jumbo", "TX"],
        ),
        Query::Channels => sections(
            &sock,
            dev,
            ETHTOOL_GCHANNELS,
            "Channel",
            &["RX", "TX", "Other", "Combined"],
        ),
        Query::Coalesce => {
            let mut b = buf(92, ETHTOOL_GCOALESCE);
            sock.ioctl(dev, &mut b)?;
            let v = |i: usize| u32_at(&b, 4 + i * 4);
            Ok(render_coalesce(
                dev,
                [v(0), v(1), v(2), v(3), v(4), v(5)],
                v(9) != 0,
                v(10) != 0,
            ))
        }
        Query::Features => {
            let get = |cmd: u32| -> std::io::Result<u32> {
                let mut b = buf(8, cmd);
                sock.ioctl(dev, &mut b)?;
                Ok(u32_at(&b, 4))
            };
            let onoff = |r: std::io::Result<u32>, mask: u32| {
                r.map(|v| if v & mask != 0 { "on" } else { "off" })
            };
            let flags = get(ETHTOOL_GFLAGS);
            let mut out = format!("Features for {dev}:\n");
            for (name, value) in [
                ("rx-checksumming", onoff(get(ETHTOOL_GRXCSUM), u32::MAX)),
                (
                    "tcp-segmentation-offload",
                    onoff(get(ETHTOOL_GTSO), u32::MAX),
                ),
                (
                    "generic-segmentation-offload",
                    onoff(get(ETHTOOL_GGSO), u32::MAX),
                ),
                (
                    "generic-receive-offload",
                    onoff(get(ETHTOOL_GGRO), u32::MAX),
                ),
                (
                    "large-receive-offload",
                    onoff(flags.as_ref().map(|f| *f).map_err(clone_err), ETH_FLAG_LRO),
                ),
                (
                    "ntuple-filters",
                    onoff(
                        flags.as_ref().map(|f| *f).map_err(clone_err),
                        ETH_FLAG_NTUPLE,
                    ),
                ),
                (
                    "receive-hashing",
                    onoff(
                        flags.as_ref().map(|f| *f).map_err(clone_err),
                        ETH_FLAG_RXHASH,
                    ),
                ),
            ] {
                if let Ok(v) = value {
                    out.push_str(&format!("{name}: {v}\n"));
                }
            }
            Ok(out)
        }
        Query::Indirection => {
            let mut head = buf(8, ETHTOOL_GRXFHINDIR);
            sock.ioctl(dev, &mut head)?;
            let n = u32_at(&head, 4) as usize;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
            }
            let mut b = buf(8 + n * 4, ETHTOOL_GRXFHINDIR);
            b[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
            sock.ioctl(dev, &mut b)?;
            let table: Vec<String> = (0..n).map(|i| u32_at(&b, 8 + i * 4).to_string()).collect();
            Ok(format!(
                "RX flow hash indirection table for {dev}:\ntable: {}\n",
                table.join(" ")
            ))
        }
    }
}

/// `-g` and `-l` through the ioctl: four maximums then four current values.
fn sections(
    sock: &Sock,
    dev: &str,
    cmd: u32,
    what: &str,
    keys: &[&str; 4],
) -> std::io::Result<String> {
    let mut b = buf(36, cmd);
    sock.ioctl(dev, &mut b)?;
    Ok(render_sections(dev, what, keys, |i| u32_at(&b, 4 + i * 4)))
}

/// `-g` and `-l` as ethtool prints them; `value(i)` gives the maximums (0..4), then the
/// current values (4..8).
fn render_sections(
    dev: &str,
    what: &str,
    keys: &[&str; 4],
    value: impl Fn(usize) -> u32,
) -> String {
    let mut out = format!("{what} parameters for {dev}:\n");
    for (title, first) in [("Pre-set maximums", 0), ("Current hardware settings", 4)] {
        out.push_str(&format!("{title}:\n"));
        for (i, k) in keys.iter().enumerate() {
            out.push_str(&format!("{k}:\t\t{}\n", value(first + i)));
        }
    }
    out
}

/// `-c` as ethtool prints the part pktmap reads: rx-usecs, rx-frames, their irq variants,
/// tx-usecs, tx-frames, and the adaptive switches.
fn render_coalesce(dev: &str, v: [u32; 6], adaptive_rx: bool, adaptive_tx: bool) -> String {
    let on = |x: bool| if x { "on" } else { "off" };
    format!(
        "Coalesce parameters for {dev}:\nAdaptive RX: {}  TX: {}\nrx-usecs: {}\nrx-frames: {}\nrx-usecs-irq: {}\nrx-frames-irq: {}\ntx-usecs: {}\ntx-frames: {}\n",
        on(adaptive_rx),
        on(adaptive_tx),
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5]
    )
}

fn clone_err(e: &std::io::Error) -> std::io::Error {
    std::io::Error::from(e.kind())
}

fn buf(len: usize, cmd: u32) -> Vec<u8> {
    let mut b = vec![0u8; len];
    b[..4].copy_from_slice(&cmd.to_ne_bytes());
    b
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A datagram socket to issue SIOCETHTOOL on; closed on drop.
struct Sock(libc::c_int);

impl Sock {
    fn new() -> std::io::Result<Sock> {
        // SAFETY: a plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Sock(fd))
    }

    /// This thread's socket, made on first use. A thread reads one network namespace for its
    /// whole life (a namespace is read by a thread that enters it first), so the socket it
    /// asks through is kept for it rather than made for each query.
    fn kept() -> std::io::Result<std::rc::Rc<Sock>> {
        thread_local! {
            static SOCK: std::cell::OnceCell<std::rc::Rc<Sock>> = const { std::cell::OnceCell::new() };
        }
        SOCK.with(|cell| {
            if let Some(s) = cell.get() {
                return Ok(s.clone());
            }
            let s = std::rc::Rc::new(Sock::new()?);
            Ok(cell.get_or_init(|| s).clone())
        })
    }

    /// SIOCETHTOOL with `data` as the command buffer (its first u32 is the command).
    fn ioctl(&self, dev: &str, data: &mut [u8]) -> std::io::Result<()> {
        if dev.len() >= libc::IFNAMSIZ {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        let mut ifr = [0u8; 40];
        ifr[..dev.len()].copy_from_slice(dev.as_bytes());
        let ptr = data.as_mut_ptr() as *mut c_void as usize;
        ifr[16..16 + std::mem::size_of::<usize>()].copy_from_slice(&ptr.to_ne_bytes());
        // SAFETY: ifr is a struct ifreq whose ifr_data points at `data`, which is as large as
        // the command's structure; the kernel writes within it.
        let rc = unsafe { libc::ioctl(self.0, SIOCETHTOOL, ifr.as_mut_ptr()) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) => {
                    std::io::Error::from(std::io::ErrorKind::Unsupported)
                }
                _ => e,
            });
        }
        Ok(())
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

/// The ethtool generic netlink family: one GET request per query, attributes rendered in the
/// `ethtool` layout the ioctl path renders too.
pub mod genl {
    use super::Query;
    use crate::netlink::attrs;
    use netlink_sys::{Socket, protocols::NETLINK_GENERIC};
    use std::io::{Error, ErrorKind};

    const GENL_ID_CTRL: u16 = 0x10;
    const CTRL_CMD_GETFAMILY: u8 = 3;
    const CTRL_ATTR_FAMILY_ID: u16 = 1;
    const CTRL_ATTR_FAMILY_NAME: u16 = 2;
    const ETHTOOL_MSG_RINGS_GET: u8 = 15;
    const ETHTOOL_MSG_CHANNELS_GET: u8 = 17;
    const ETHTOOL_MSG_COALESCE_GET: u8 = 19;
    /// Every GET request's first attribute: a nest holding ETHTOOL_A_HEADER_DEV_NAME (2).
    const ATTR_HEADER: u16 = 1;
    const HEADER_DEV_NAME: u16 = 2;
    const NLA_F_NESTED: u16 = 1 << 15;

    fn attr(buf: &mut Vec<u8>, ty: u16, value: &[u8]) {
        let len = 4 + value.len();
        buf.extend_from_slice(&(len as u16).to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(value);
        buf.resize(buf.len() + ((4 - len % 4) % 4), 0);
    }

    /// What the kernel answered (inner), apart from a failure to ask or to read the answer
    /// (outer), which leaves the socket in doubt.
    type Answer<T> = std::io::Result<std::io::Result<T>>;

    /// Sends one request and returns the attributes of the reply (after nlmsghdr + genlmsghdr).
    fn request(sock: &Socket, family: u16, cmd: u8, attrs: &[u8]) -> Answer<Vec<u8>> {
        let mut msg = Vec::with_capacity(20 + attrs.len());
        msg.extend_from_slice(&((20 + attrs.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&family.to_ne_bytes());
        msg.extend_from_slice(&netlink_packet_core::NLM_F_REQUEST.to_ne_bytes());
        msg.extend_from_slice(&1u32.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&[cmd, 1, 0, 0]);
        msg.extend_from_slice(attrs);
        sock.send(&msg, 0)?;
        let mut buf = vec![0u8; 16 * 1024];
        let n = sock.recv(&mut &mut buf[..], 0)?;
        let reply = &buf[..n];
        if reply.len() < 20 {
            return Err(Error::other("short generic netlink reply"));
        }
        if u16::from_ne_bytes([reply[4], reply[5]]) == netlink_packet_core::NLMSG_ERROR {
            let code = i32::from_ne_bytes(reply[16..20].try_into().expect("4 bytes"));
            return Ok(Err(match -code {
                libc::EOPNOTSUPP => Error::from(ErrorKind::Unsupported),
                libc::ENOENT => Error::from(ErrorKind::NotFound),
                errno => Error::from_raw_os_error(errno),
            }));
        }
        let len =
            (u32::from_ne_bytes(reply[..4].try_into().expect("4 bytes")) as usize).min(reply.len());
        Ok(Ok(reply[20..len].to_vec()))
    }

    fn u32_of(a: &[(u16, &[u8])], ty: u16) -> u32 {
        a.iter()
            .find(|(t, _)| *t == ty)
            .and_then(|(_, v)| v.get(..4))
            .map_or(0, |v| u32::from_ne_bytes(v.try_into().expect("4 bytes")))
    }

    fn u8_of(a: &[(u16, &[u8])], ty: u16) -> u8 {
        a.iter()
            .find(|(t, _)| *t == ty)
            .and_then(|(_, v)| v.first().copied())
            .unwrap_or(0)
    }

    /// The family id, or NotFound on a kernel without ethtool netlink. Generic netlink ids
    /// are the kernel's for its lifetime and the same in every namespace: asked once.
    fn family(sock: &Socket) -> Answer<u16> {
        static ID: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
        if let Some(id) = ID.get() {
            return Ok(Ok(*id));
        }
        Ok(resolve(sock)?.map(|id| *ID.get_or_init(|| id)))
    }

    fn resolve(sock: &Socket) -> Answer<u16> {
        let mut a = Vec::new();
        attr(&mut a, CTRL_ATTR_FAMILY_NAME, b"ethtool\0");
        let reply = match request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, &a)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        Ok(attrs(&reply)
            .iter()
            .find(|(t, _)| *t == CTRL_ATTR_FAMILY_ID)
            .and_then(|(_, v)| v.get(..2))
            .map(|v| u16::from_ne_bytes([v[0], v[1]]))
            .ok_or_else(|| Error::from(ErrorKind::NotFound)))
    }

    pub fn query(dev: &str, q: Query) -> std::io::Result<String> {
        let sock = crate::netlink::socket(NETLINK_GENERIC)?;
        // The kernel's error answers leave the socket as it was; a failure to ask does not.
        ask(&sock, dev, q).unwrap_or_else(|e| {
            crate::netlink::forget_socket(NETLINK_GENERIC);
            Err(e)
        })
    }

    fn ask(sock: &Socket, dev: &str, q: Query) -> Answer<String> {
        let family = match family(sock)? {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        let mut name = dev.as_bytes().to_vec();
        name.push(0);
        let mut header = Vec::new();
        attr(&mut header, HEADER_DEV_NAME, &name);
        let mut a = Vec::new();
        attr(&mut a, ATTR_HEADER | NLA_F_NESTED, &header);
        let cmd = match q {
            Query::Rings => ETHTOOL_MSG_RINGS_GET,
            Query::Channels => ETHTOOL_MSG_CHANNELS_GET,
            _ => ETHTOOL_MSG_COALESCE_GET,
        };
        Ok(request(sock, family, cmd, &a)?.map(|reply| render(dev, q, &reply)))
    }

    /// A reply's attributes in the `ethtool` layout; absent attributes read as zero.
    pub fn render(dev: &str, q: Query, reply: &[u8]) -> String {
        let r = attrs(reply);
        let v = |ty: u16| u32_of(&r, ty);
        match q {
            // ETHTOOL_A_RINGS_*: RX_MAX 2, RX_MINI_MAX 3, RX_JUMBO_MAX 4, TX_MAX 5, RX 6.. TX 9.
            Query::Rings => {
                super::render_sections(dev, "Ring", &["RX", "RX Mini", "RX Jumbo", "TX"], |i| {
                    v(2 + i as u16)
                })
            }
            // ETHTOOL_A_CHANNELS_*: RX_MAX 2, TX_MAX 3, OTHER_MAX 4, COMBINED_MAX 5, counts 6..9.
            Query::Channels => {
                super::render_sections(dev, "Channel", &["RX", "TX", "Other", "Combined"], |i| {
                    v(2 + i as u16)
                })
            }
            // ETHTOOL_A_COALESCE_*: RX_USECS 2 .. TX_MAX_FRAMES 7, USE_ADAPTIVE_RX 11, TX 12.
            _ => super::render_coalesce(
                dev,
                [v(2), v(3), v(4), v(5), v(6), v(7)],
                u8_of(&r, 11) != 0,
                u8_of(&r, 12) != 0,
            ),
        }
    }
}
