//! Which network namespaces a command reads: pktmap's own, one chosen by name or process, or
//! every one on the host.

use anyhow::{Context, Result, bail};
use pktmap_model::snapshot::{Snapshot, link_veth_peers};
use pktmap_sources::{Options, Root, netns, take_snapshot_with};

pub enum Target {
    Here,
    One(netns::Netns),
    All,
}

impl Target {
    pub fn from_flags(
        name: Option<&str>,
        pid: Option<u32>,
        all: bool,
        root: Option<&str>,
    ) -> Result<Target> {
        if root.is_some() && (name.is_some() || pid.is_some() || all) {
            bail!(
                "--root reads a capture of one namespace; --netns, --pid and --all-netns read the live host"
            );
        }
        Ok(match (name, pid, all) {
            (Some(n), None, false) => {
                Target::One(netns::by_name(n).with_context(|| format!("namespace {n:?}"))?)
            }
            (None, Some(p), false) => {
                Target::One(netns::by_pid(p).with_context(|| format!("namespace of pid {p}"))?)
            }
            (None, None, true) => Target::All,
            (None, None, false) => Target::Here,
            _ => bail!("choose one of --netns, --pid and --all-netns"),
        })
    }

    /// One snapshot per namespace read.
    pub fn snapshots(&self, root: &Root, opts: &Options) -> Result<Vec<Snapshot>> {
        match self {
            Target::Here => Ok(vec![take_snapshot_with(root, opts)]),
            Target::One(ns) => {
                let mut s = netns::within(ns, root, |r| take_snapshot_with(r, opts))?;
                s.meta.netns = Some(ns.label.clone());
                Ok(vec![s])
            }
            Target::All => {
                let (all, hidden) = netns::list_counting_hidden();
                // CAP_SYS_PTRACE is bit 19: with it, what stays hidden is beyond any
                // capability here (a process of an outer user namespace, such as a sandbox's
                // init), and the hint would mislead.
                let ptrace = crate::doctor::capabilities() & (1 << 19) != 0;
                if hidden > 0 && ptrace {
                    eprintln!(
                        "pktmap: the network namespaces of {hidden} processes cannot be opened \
                         even with CAP_SYS_PTRACE (processes of an outer user namespace); \
                         namespaces only they hold are missing"
                    );
                } else if hidden > 0 {
                    eprintln!(
                        "pktmap: the network namespaces of {hidden} processes are hidden from \
                         these privileges (another user's /proc/PID/ns/net needs \
                         CAP_SYS_PTRACE); namespaces only they hold are missing"
                    );
                }
                let files: Vec<_> = all
                    .values()
                    .map(|n| (n.label.inode, n.path.clone()))
                    .collect();
                let mut out = Vec::new();
                for ns in all.into_values() {
                    let snap = if ns.label.own {
                        Ok((take_snapshot_with(root, opts), netns::nsid_table(&files)))
                    } else {
                        let opts = Options {
                            skip_host_wide: true,
                            ..opts.clone()
                        };
                        netns::within(&ns, root, |r| {
                            (take_snapshot_with(r, &opts), netns::nsid_table(&files))
                        })
                    };
                    match snap {
                        Ok((mut s, ids)) => {
                            s.meta.netns = Some(ns.label.clone());
                            s.identities.extend(ids);
                            out.push(s);
                        }
                        // A namespace can vanish between listing and entering it.
                        Err(e) => {
                            eprintln!("pktmap: skipping namespace {}: {e}", ns.label.display())
                        }
                    }
                }
                link_veth_peers(&mut out);
                Ok(out)
            }
        }
    }
}

/// The snapshots of the same namespace in two lists, in the later list's order.
pub fn pairs<'a>(from: &'a [Snapshot], to: &'a [Snapshot]) -> Vec<(&'a Snapshot, &'a Snapshot)> {
    let key = |s: &Snapshot| s.meta.netns.as_ref().map(|n| n.inode);
    to.iter()
        .filter_map(|b| from.iter().find(|a| key(a) == key(b)).map(|a| (a, b)))
        .collect()
}
