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
/// `ethtool` would print it. `Unsupported` errors mean the driver does not offer it.
pub fn query_live(dev: &str, q: Query) -> std::io::Result<String> {
    let sock = Sock::new()?;
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
            let on = |x: u32| if x != 0 { "on" } else { "off" };
            Ok(format!(
                "Coalesce parameters for {dev}:\nAdaptive RX: {}  TX: {}\nrx-usecs: {}\nrx-frames: {}\nrx-usecs-irq: {}\nrx-frames-irq: {}\ntx-usecs: {}\ntx-frames: {}\n",
                on(v(9)),
                on(v(10)),
                v(0),
                v(1),
                v(2),
                v(3),
                v(4),
                v(5)
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

/// `-g` and `-l`: a struct of four maximums then four current values, printed in two sections.
fn sections(
    sock: &Sock,
    dev: &str,
    cmd: u32,
    what: &str,
    keys: &[&str; 4],
) -> std::io::Result<String> {
    let mut b = buf(36, cmd);
    sock.ioctl(dev, &mut b)?;
    let mut out = format!("{what} parameters for {dev}:\n");
    for (title, first) in [("Pre-set maximums", 0), ("Current hardware settings", 4)] {
        out.push_str(&format!("{title}:\n"));
        for (i, k) in keys.iter().enumerate() {
            out.push_str(&format!("{k}:\t\t{}\n", u32_at(&b, 4 + (first + i) * 4)));
        }
    }
    Ok(out)
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
