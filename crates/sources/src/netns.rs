//! Network namespaces: finding them (`/run/netns`, `/proc/*/ns/net`), naming them (name,
//! container or pod from the cgroup), and reading one as if pktmap ran inside it.
//!
//! Reading inside happens on a thread of its own that enters the namespace (setns), so
//! netlink sockets open there and `/proc/thread-self/net` and `/proc/sys/net` show it; and
//! that thread unshares its mount namespace to mount a sysfs of its own, since a sysfs shows
//! the devices of the namespace that mounted it. Nothing outside the thread changes.

use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::NetnsLabel;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A namespace to read, and the file that enters it.
#[derive(Debug, Clone)]
pub struct Netns {
    pub label: NetnsLabel,
    pub path: PathBuf,
}

/// The namespace a process is in.
pub fn by_pid(pid: u32) -> Result<Netns, SourceError> {
    resolve(
        PathBuf::from(format!("/proc/{pid}/ns/net")),
        NetnsLabel {
            pid: Some(pid),
            ..NetnsLabel::default()
        },
    )
}

/// A namespace named under /run/netns (`ip netns add NAME`).
pub fn by_name(name: &str) -> Result<Netns, SourceError> {
    if name.contains('/') || name.starts_with('.') {
        return Err(SourceError::io(
            Path::new(name),
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a namespace name has no slashes",
            ),
        ));
    }
    resolve(
        Path::new("/run/netns").join(name),
        NetnsLabel {
            name: Some(name.to_string()),
            ..NetnsLabel::default()
        },
    )
}

/// The namespace behind `path`, with the labels the host listing knows for it.
fn resolve(path: PathBuf, label: NetnsLabel) -> Result<Netns, SourceError> {
    let inode = std::fs::metadata(&path)
        .map_err(|e| SourceError::io(&path, e))?
        .ino();
    Ok(list().remove(&inode).unwrap_or(Netns {
        label: NetnsLabel { inode, ..label },
        path,
    }))
}

/// Every network namespace on the host, by inode: those named under /run/netns and those
/// some process is in. A namespace that vanishes while listed is simply left out.
pub fn list() -> BTreeMap<u64, Netns> {
    list_counting_hidden().0
}

/// [`list`], and how many processes' namespaces these privileges could not see: another
/// user's `/proc/PID/ns/net` needs CAP_SYS_PTRACE, so namespaces only they hold are missing.
pub fn list_counting_hidden() -> (BTreeMap<u64, Netns>, usize) {
    let mut hidden = 0;
    let own = std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .ok();
    let mut found: BTreeMap<u64, Netns> = BTreeMap::new();
    fn add(
        found: &mut BTreeMap<u64, Netns>,
        own: Option<u64>,
        inode: u64,
        path: PathBuf,
    ) -> &mut Netns {
        found.entry(inode).or_insert_with(|| Netns {
            label: NetnsLabel {
                inode,
                own: Some(inode) == own,
                ..NetnsLabel::default()
            },
            path,
        })
    }
    if let Ok(names) = std::fs::read_dir("/run/netns") {
        for e in names.flatten() {
            let path = e.path();
            if let Ok(m) = std::fs::metadata(&path) {
                let ns = add(&mut found, own, m.ino(), path);
                ns.label.name = Some(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for e in procs.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let path = e.path().join("ns/net");
            let m = match std::fs::metadata(&path) {
                Ok(m) => m,
                // Gone since the listing: simply absent.
                Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => continue,
                Err(_) => {
                    hidden += 1;
                    continue;
                }
            };
            let ns = add(&mut found, own, m.ino(), path);
            if ns.label.pid.is_none() {
                ns.label.pid = Some(pid);
            }
            if ns.label.container.is_none()
                && let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup"))
            {
                ns.label.container = container_of(&cg);
            }
        }
    }
    (found, hidden)
}

/// A container or pod named by a process's `/proc/PID/cgroup`: docker, containerd (cri),
/// cri-o and kubepods layouts, cgroup v1 and v2.
pub fn container_of(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        let pod = path
            .split('/')
            .find_map(|seg| {
                seg.rsplit_once("-pod")
                    .map(|(_, p)| p.trim_end_matches(".slice"))
                    .or_else(|| seg.strip_prefix("pod"))
            })
            .filter(|_| path.contains("kubepods"))
            .map(|p| p.replace('_', "-"));
        let last = path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".scope");
        let id = ["docker-", "cri-containerd-", "crio-", "libpod-"]
            .iter()
            .find_map(|p| last.strip_prefix(p).map(|id| (p.trim_end_matches('-'), id)))
            .or_else(|| {
                // cgroup v1: /docker/ID, /kubepods/.../ID
                let mut segs = path.rsplit('/');
                let id = segs.next()?;
                let parent = segs.next()?;
                (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some((
                    if parent == "docker" {
                        "docker"
                    } else {
                        "container"
                    },
                    id,
                ))
            });
        match (pod, id) {
            (Some(pod), Some((_, id))) => {
                return Some(format!("pod {pod} container {}", short(id)));
            }
            (Some(pod), None) => return Some(format!("pod {pod}")),
            (None, Some((rt, id))) => return Some(format!("{rt} {}", short(id))),
            (None, None) => {}
        }
    }
    None
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Runs `f` with `live` (the live root, recording or not) reading namespace `ns`, on a
/// thread that has entered it.
pub fn within<T: Send>(
    ns: &Netns,
    live: &Root,
    f: impl FnOnce(&Root) -> T + Send,
) -> Result<T, SourceError> {
    within_mounted(ns, live, libc::MS_RDONLY, f)
}

/// As [`within`], with the namespace's sysfs writable: for `tune`, the one command that
/// changes a device's settings, and only when asked.
pub fn within_writable<T: Send>(
    ns: &Netns,
    live: &Root,
    f: impl FnOnce(&Root) -> T + Send,
) -> Result<T, SourceError> {
    within_mounted(ns, live, 0, f)
}

fn within_mounted<T: Send>(
    ns: &Netns,
    live: &Root,
    flags: libc::c_ulong,
    f: impl FnOnce(&Root) -> T + Send,
) -> Result<T, SourceError> {
    let path = ns.path.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let sys = enter(&path, flags)?;
                let root = live.clone().in_netns(sys.0.clone());
                Ok(f(&root))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(SourceError::io(
                    &ns.path,
                    std::io::Error::other("namespace thread panicked"),
                ))
            })
    })
}

/// The ids the calling thread's namespace gives each of `others` (RTM_GETNSID), as
/// `netnsid=ID` -> inode: a veth's IFLA_LINK_NETNSID names its peer's namespace by this id.
/// Namespaces without an id here are left out.
pub fn nsid_table(others: &[(u64, PathBuf)]) -> BTreeMap<String, String> {
    let Ok(mut sock) = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE) else {
        return BTreeMap::new();
    };
    if sock.bind_auto().is_err() || sock.connect(&netlink_sys::SocketAddr::new(0, 0)).is_err() {
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for (seq, (inode, path)) in others.iter().enumerate() {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file) as u32;
        if let Some(id) = ask_nsid(&sock, seq as u32 + 1, fd).filter(|id| *id >= 0) {
            out.insert(format!("netnsid={id}"), inode.to_string());
        }
    }
    out
}

/// RTM_GETNSID for one namespace fd: nlmsghdr, rtgenmsg (padded to 4), NETNSA_FD.
fn ask_nsid(sock: &netlink_sys::Socket, seq: u32, fd: u32) -> Option<i32> {
    const RTM_NEWNSID: u16 = 88;
    const RTM_GETNSID: u16 = 90;
    const NETNSA_NSID: u16 = 1;
    const NETNSA_FD: u16 = 3;
    let mut req = Vec::with_capacity(28);
    req.extend_from_slice(&28u32.to_ne_bytes());
    req.extend_from_slice(&RTM_GETNSID.to_ne_bytes());
    req.extend_from_slice(&(netlink_packet_core::NLM_F_REQUEST).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[0u8; 4]);
    req.extend_from_slice(&8u16.to_ne_bytes());
    req.extend_from_slice(&NETNSA_FD.to_ne_bytes());
    req.extend_from_slice(&fd.to_ne_bytes());
    sock.send(&req, 0).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut &mut buf[..], 0).ok()?;
    let msg = buf.get(..n)?;
    if msg.len() < 20 || u16::from_ne_bytes([msg[4], msg[5]]) != RTM_NEWNSID {
        return None;
    }
    // Attributes after the 16-byte header and the 4-byte rtgenmsg.
    crate::netlink::attrs(&msg[20..])
        .into_iter()
        .find(|(ty, _)| *ty == NETNSA_NSID)
        .and_then(|(_, v)| Some(i32::from_ne_bytes(v.get(..4)?.try_into().ok()?)))
}

/// A sysfs mounted for this thread's namespace; unmounted and removed on drop.
struct ThreadSysfs(PathBuf);

impl Drop for ThreadSysfs {
    fn drop(&mut self) {
        if let Ok(c) = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()) {
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn enter(path: &Path, flags: libc::c_ulong) -> Result<ThreadSysfs, SourceError> {
    let err = |what: &str| {
        SourceError::io(
            path,
            std::io::Error::other(format!("{what}: {}", std::io::Error::last_os_error())),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    // SAFETY: plain system calls on this thread; the fd lives until the call returns.
    unsafe {
        if libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) != 0 {
            return Err(err("entering the network namespace (needs CAP_SYS_ADMIN)"));
        }
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(err("unsharing the mount namespace"));
        }
        // Keep the sysfs mount below from propagating to the host's mount table.
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        ) != 0
        {
            return Err(err("making mounts private"));
        }
    }
    // A fresh directory with an unguessable name (mkdtemp, mode 0700): a name another user
    // could plant in /tmp beforehand would be mounted over wherever their link pointed.
    let template = std::env::temp_dir().join("pktmap-sysfs-XXXXXX");
    let mut bytes = template.into_os_string().into_encoded_bytes();
    bytes.push(0);
    // SAFETY: a NUL-terminated, writable template, filled in place by mkdtemp.
    if unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) }.is_null() {
        return Err(err("creating a directory for the namespace's sysfs"));
    }
    bytes.pop();
    // SAFETY: the bytes came from an OsString and mkdtemp replaced ASCII with ASCII.
    let dir = PathBuf::from(unsafe { std::ffi::OsString::from_encoded_bytes_unchecked(bytes) });
    let guard = ThreadSysfs(dir);
    let target = std::ffi::CString::new(guard.0.as_os_str().as_encoded_bytes())
        .map_err(|_| err("temp path"))?;
    let sysfs = c"sysfs";
    // SAFETY: mounting a new sysfs instance on a directory of our own.
    if unsafe {
        libc::mount(
            sysfs.as_ptr(),
            target.as_ptr(),
            sysfs.as_ptr(),
            flags,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(err("mounting sysfs for the namespace"));
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_from_cgroups() {
        let docker = "0::/system.slice/docker-4f6e2c0d9a1b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d.scope\n";
        assert_eq!(container_of(docker).as_deref(), Some("docker 4f6e2c0d9a1b"));
        let k8s = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-abcdefabcdef0123456789.scope\n";
        assert_eq!(
            container_of(k8s).as_deref(),
            Some("pod 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d container abcdefabcdef")
        );
        let crio = "0::/kubepods.slice/kubepods-pod99.slice/crio-0123456789abcdef.scope\n";
        assert_eq!(
            container_of(crio).as_deref(),
            Some("pod 99 container 0123456789ab")
        );
        let v1 =
            "12:memory:/docker/4f6e2c0d9a1b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d\n";
        assert_eq!(container_of(v1).as_deref(), Some("docker 4f6e2c0d9a1b"));
        assert_eq!(container_of("0::/user.slice/session-1.scope\n"), None);
        assert_eq!(container_of("0::/\n"), None);
        assert_eq!(container_of(""), None);
    }
}
