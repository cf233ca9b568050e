//! The settings `tune try` can change, each named by a key a user can type:
//!
//! - `net.core.somaxconn`: a sysctl (written in /proc/sys);
//! - `/sys/class/net/DEV/queues/rx-0/rps_cpus` (and `rps_flow_cnt`, `xps_cpus`): a queue's
//!   steering, written in the device's namespace's sysfs;
//! - `qdisc:DEV`: the device's root qdisc, the value as `tc` takes it (`fq`, `fq_codel`,
//!   `tbf rate 100mbit burst 32kb latency 50ms`); congestion control is the sysctl
//!   `net.ipv4.tcp_congestion_control`;
//! - `ethtool:DEV:channels.combined`, `ethtool:DEV:rings.rx`, `ethtool:DEV:coalesce.rx-usecs`:
//!   what `ethtool -L`, `-G` and `-C` set.
//!
//! A qdisc or ethtool change is made by running the very command a user would (`tc`,
//! `ethtool`) inside the device's namespace, and undone the same way; the journal records
//! both values.

use anyhow::{Context, Result, bail};
use pktmap_sources::{Root, netns};

#[derive(Debug, Clone, PartialEq)]
pub enum Knob {
    Sysctl(String),
    Queue {
        dev: String,
        queue: String,
        file: String,
    },
    Qdisc {
        dev: String,
    },
    Ethtool {
        dev: String,
        group: Group,
        param: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Group {
    Channels,
    Rings,
    Coalesce,
}

impl Group {
    /// `rings.rx`: the key's own words.
    fn name(self, param: &str) -> String {
        let g = match self {
            Group::Channels => "channels",
            Group::Rings => "rings",
            Group::Coalesce => "coalesce",
        };
        format!("{g}.{param}")
    }

    /// `ethtool`'s show and set options.
    fn options(self) -> (&'static str, &'static str) {
        match self {
            Group::Channels => ("-l", "-L"),
            Group::Rings => ("-g", "-G"),
            Group::Coalesce => ("-c", "-C"),
        }
    }
}

const QUEUE_FILES: &[&str] = &["rps_cpus", "rps_flow_cnt", "xps_cpus"];

/// Sysctls that exist only once for the whole host (in the initial namespace), whatever
/// namespace sets them.
fn global_sysctl(key: &str) -> bool {
    (key.starts_with("net.core.") && key != "net.core.somaxconn")
        || matches!(
            key,
            "net.ipv4.tcp_mem"
                | "net.ipv4.udp_mem"
                | "net.netfilter.nf_conntrack_max"
                | "net.netfilter.nf_conntrack_buckets"
        )
}

fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
        && s != "."
        && s != ".."
}

impl Knob {
    pub fn parse(key: &str) -> Result<Knob> {
        if let Some(rest) = key.strip_prefix("/sys/class/net/") {
            let parts: Vec<&str> = rest.split('/').collect();
            if let [dev, "queues", queue, file] = parts[..]
                && safe_name(dev)
                && safe_name(queue)
                && QUEUE_FILES.contains(&file)
            {
                return Ok(Knob::Queue {
                    dev: dev.into(),
                    queue: queue.into(),
                    file: file.into(),
                });
            }
            bail!(
                "{key}: tune changes a queue's {} under /sys/class/net/DEV/queues/QUEUE/",
                QUEUE_FILES.join(", ")
            );
        }
        if let Some(dev) = key.strip_prefix("qdisc:") {
            if !safe_name(dev) {
                bail!("{key}: give the device as qdisc:DEV");
            }
            return Ok(Knob::Qdisc { dev: dev.into() });
        }
        if let Some(rest) = key.strip_prefix("ethtool:") {
            let Some((dev, what)) = rest.split_once(':') else {
                bail!(
                    "{key}: give it as ethtool:DEV:channels.combined (or rings.rx, coalesce.rx-usecs)"
                );
            };
            let (group, param) = match what.split_once('.') {
                Some(("channels", p)) if ["rx", "tx", "other", "combined"].contains(&p) => {
                    (Group::Channels, p)
                }
                Some(("rings", p)) if ["rx", "rx-mini", "rx-jumbo", "tx"].contains(&p) => {
                    (Group::Rings, p)
                }
                Some(("coalesce", p)) if safe_name(p) => (Group::Coalesce, p),
                _ => bail!(
                    "{key}: ethtool settings are channels.{{rx,tx,other,combined}}, rings.{{rx,rx-mini,rx-jumbo,tx}} and coalesce.PARAM"
                ),
            };
            if !safe_name(dev) {
                bail!("{key}: not a device name");
            }
            return Ok(Knob::Ethtool {
                dev: dev.into(),
                group,
                param: param.into(),
            });
        }
        let sysctl = key.split('.').count() >= 2
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !sysctl {
            bail!(
                "{key}: not a setting tune knows (a sysctl, /sys/class/net/DEV/queues/Q/rps_cpus, \
                 qdisc:DEV, ethtool:DEV:channels.combined)"
            );
        }
        Ok(Knob::Sysctl(key.into()))
    }

    /// One value for the whole host, whatever namespace sets it.
    pub fn global(&self) -> bool {
        matches!(self, Knob::Sysctl(k) if global_sysctl(k))
    }

    /// The stage the change should move (the catalog's, for a sysctl).
    pub fn stage(&self) -> Option<&'static str> {
        match self {
            Knob::Sysctl(k) => pktmap_model::catalog::item(k).map(|i| i.stage),
            Knob::Queue { file, .. } if file == "xps_cpus" => Some("tx.4"),
            Knob::Queue { .. } => Some("rx.7"),
            Knob::Qdisc { .. } => Some("tx.3"),
            Knob::Ethtool { group, .. } => Some(match group {
                Group::Channels => "rx.2",
                Group::Rings => "rx.3",
                Group::Coalesce => "rx.4",
            }),
        }
    }

    /// The command a user would run to set it to `value`.
    pub fn command(&self, value: &str) -> String {
        match self {
            Knob::Sysctl(k) => format!("sysctl -w {k}='{value}'"),
            Knob::Queue { dev, queue, file } => {
                format!("echo {value} > /sys/class/net/{dev}/queues/{queue}/{file}")
            }
            Knob::Qdisc { dev } if value == DEFAULT_QDISC => format!("tc qdisc del dev {dev} root"),
            Knob::Qdisc { dev } => format!("tc qdisc replace dev {dev} root {value}"),
            Knob::Ethtool { dev, group, param } => {
                format!("ethtool {} {dev} {param} {value}", group.options().1)
            }
        }
    }

    /// Its value now, in namespace `ns` (None: pktmap's own).
    pub fn read(&self, ns: Option<&netns::Netns>) -> Result<String> {
        match self {
            Knob::Sysctl(k) => {
                let path = format!("/proc/sys/{}", k.replace('.', "/"));
                inside(ns, |_| std::fs::read_to_string(&path))?
                    .map(|v| v.trim().to_string())
                    .with_context(|| format!("reading {k}"))
            }
            Knob::Queue { dev, queue, file } => {
                let rel = format!("class/net/{dev}/queues/{queue}/{file}");
                inside(ns, |root| std::fs::read_to_string(root.sys(&rel)))?
                    .map(|v| v.trim().to_string())
                    .with_context(|| format!("reading /sys/{rel}"))
            }
            Knob::Qdisc { dev } => {
                let out = run_in(ns, "tc", &["qdisc", "show", "dev", dev, "root"])?;
                root_qdisc(&out).with_context(|| format!("the root qdisc of {dev}: {out:?}"))
            }
            Knob::Ethtool { dev, group, param } => {
                let out = run_in(ns, "ethtool", &[group.options().0, dev])
                    .with_context(|| format!("reading {} of {dev}", group.name(param)))?;
                ethtool_current(&out, *group, param)
                    .with_context(|| format!("{param} in `ethtool {} {dev}`", group.options().0))
            }
        }
    }

    /// Sets it to `value` in namespace `ns`.
    pub fn write(&self, ns: Option<&netns::Netns>, value: &str) -> Result<()> {
        match self {
            Knob::Sysctl(k) => {
                let path = format!("/proc/sys/{}", k.replace('.', "/"));
                inside(ns, |_| std::fs::write(&path, value))?
                    .with_context(|| format!("setting {k}={value}"))
            }
            Knob::Queue { dev, queue, file } => {
                let rel = format!("class/net/{dev}/queues/{queue}/{file}");
                let write = |root: &Root| std::fs::write(root.sys(&rel), value);
                match ns {
                    None => write(&Root::live()),
                    Some(ns) => netns::within_writable(ns, &Root::live(), write)?,
                }
                .with_context(|| format!("writing {value} to /sys/{rel}"))
            }
            Knob::Qdisc { dev } => {
                let args: Vec<&str> = if value == DEFAULT_QDISC {
                    vec!["qdisc", "del", "dev", dev, "root"]
                } else {
                    ["qdisc", "replace", "dev", dev, "root"]
                        .into_iter()
                        .chain(value.split_whitespace())
                        .collect()
                };
                run_in(ns, "tc", &args).map(drop)
            }
            Knob::Ethtool { dev, group, param } => {
                run_in(ns, "ethtool", &[group.options().1, dev, param, value]).map(drop)
            }
        }
    }
}

/// The old value of a root qdisc the kernel attached by itself (handle 0:): undone by deleting
/// what replaced it, so the kernel attaches its default again.
pub const DEFAULT_QDISC: &str = "default";

/// `tc qdisc show dev DEV root`'s first line as a value `tc qdisc replace ... root` takes back:
/// the kind and its options, or `default` for the kernel's own.
fn root_qdisc(show: &str) -> Result<String> {
    let line = show.lines().next().context("no qdisc")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let (Some(&"qdisc"), Some(kind), Some(handle)) = (words.first(), words.get(1), words.get(2))
    else {
        bail!("not a qdisc line");
    };
    if *handle == "0:" {
        return Ok(DEFAULT_QDISC.into());
    }
    // After `root` and `refcnt N` come the options, in the words tc accepts again.
    let opts = words
        .iter()
        .skip(3)
        .skip_while(|w| matches!(**w, "root" | "refcnt") || w.parse::<u32>().is_ok())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(format!("{kind} {opts}").trim().to_string())
}

/// The current value of `param` in `ethtool -l/-g/-c` output.
fn ethtool_current(out: &str, group: Group, param: &str) -> Result<String> {
    let label = match (group, param) {
        (Group::Coalesce, p) => p.to_string(),
        (_, "rx") => "RX".into(),
        (_, "tx") => "TX".into(),
        (_, "other") => "Other".into(),
        (_, "combined") => "Combined".into(),
        (_, "rx-mini") => "RX Mini".into(),
        (_, "rx-jumbo") => "RX Jumbo".into(),
        (_, p) => p.to_string(),
    };
    // Channels and rings print the maximums first, then the current settings.
    let current = match group {
        Group::Coalesce => out,
        _ => out
            .split("Current hardware settings:")
            .nth(1)
            .context("no current settings (the driver does not offer them)")?,
    };
    let value = current
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{label}:")))
        .map(str::trim)
        .context("not shown")?;
    if value == "n/a" {
        bail!("the device does not offer it (n/a)");
    }
    Ok(value.to_string())
}

/// Runs `f` in namespace `ns` (None: here) with that namespace's root.
fn inside<T: Send>(ns: Option<&netns::Netns>, f: impl FnOnce(&Root) -> T + Send) -> Result<T> {
    match ns {
        None => Ok(f(&Root::live())),
        Some(ns) => Ok(netns::within(ns, &Root::live(), f)?),
    }
}

/// Runs a tool inside namespace `ns`; its standard output, or an error with its message.
fn run_in(ns: Option<&netns::Netns>, tool: &str, args: &[&str]) -> Result<String> {
    let mut c = std::process::Command::new(tool);
    c.args(args);
    super::in_namespace(&mut c, ns)?;
    let out = c
        .output()
        .with_context(|| format!("running {tool} (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "`{tool} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_kind_and_refuse_what_tune_does_not_change() {
        assert_eq!(
            Knob::parse("net.core.somaxconn").unwrap(),
            Knob::Sysctl("net.core.somaxconn".into())
        );
        assert!(Knob::parse("net.core.netdev_max_backlog").unwrap().global());
        assert!(!Knob::parse("net.core.somaxconn").unwrap().global());
        let q = Knob::parse("/sys/class/net/eth0/queues/rx-0/rps_cpus").unwrap();
        assert_eq!(q.stage(), Some("rx.7"));
        assert_eq!(
            q.command("f"),
            "echo f > /sys/class/net/eth0/queues/rx-0/rps_cpus"
        );
        for bad in [
            "/sys/class/net/eth0/queues/rx-0/../../mtu",
            "/sys/class/net/eth0/mtu",
            "qdisc:",
            "qdisc:../x",
            "ethtool:eth0:rings.big",
            "ethtool:eth0",
            "rm -rf /",
            "sysctl",
        ] {
            assert!(Knob::parse(bad).is_err(), "{bad}");
        }
        let e = Knob::parse("ethtool:eth0:channels.combined").unwrap();
        assert_eq!(e.command("4"), "ethtool -L eth0 combined 4");
        assert_eq!(e.stage(), Some("rx.2"));
        let d = Knob::parse("qdisc:eth0").unwrap();
        assert_eq!(d.command(DEFAULT_QDISC), "tc qdisc del dev eth0 root");
        assert_eq!(d.command("fq"), "tc qdisc replace dev eth0 root fq");
    }

    #[test]
    fn a_root_qdisc_reads_back_as_tc_takes_it() {
        assert_eq!(
            root_qdisc("qdisc tbf 8001: root refcnt 2 rate 1Mbit burst 2Kb lat 4ms \n").unwrap(),
            "tbf rate 1Mbit burst 2Kb lat 4ms"
        );
        assert_eq!(
            root_qdisc("qdisc noqueue 0: root refcnt 2 \n").unwrap(),
            DEFAULT_QDISC
        );
        assert_eq!(root_qdisc("qdisc fq 8002: root \n").unwrap(), "fq");
        assert!(root_qdisc("").is_err());
        assert!(root_qdisc("garbage").is_err());
    }

    #[test]
    fn ethtool_current_values_come_from_the_current_section() {
        let l = "Channel parameters for veth0:\nPre-set maximums:\nRX:\t\t2\nTX:\t\t2\n\
                 Other:\t\tn/a\nCombined:\tn/a\nCurrent hardware settings:\nRX:\t\t1\nTX:\t\t1\n\
                 Other:\t\tn/a\nCombined:\tn/a\n";
        assert_eq!(ethtool_current(l, Group::Channels, "rx").unwrap(), "1");
        assert!(ethtool_current(l, Group::Channels, "combined").is_err());
        let c = "Coalesce parameters for eth0:\nrx-usecs: 8\nrx-frames: n/a\n";
        assert_eq!(
            ethtool_current(c, Group::Coalesce, "rx-usecs").unwrap(),
            "8"
        );
        assert!(ethtool_current(c, Group::Coalesce, "rx-frames").is_err());
        assert!(ethtool_current("", Group::Rings, "rx").is_err());
    }
}
