//! ethtool per device: driver statistics grouped per queue and classified (drop, miss,
//! no-buffer, fifo, error, pause, xdp, other), rings, channels, coalescing, offloads, the RSS
//! indirection table, driver and bus. Parsers read `ethtool`'s own output layout.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, quoted};
use crate::ethtool::Query;
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels, labels};
use std::collections::BTreeMap;

/// One driver counter: its name as printed, and what pktmap made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverStat {
    pub name: String,
    pub value: u64,
    /// The name without its queue part (`rx_queue_3_drops` -> `rx_queue_drops`).
    pub base: String,
    pub queue: Option<u32>,
    pub class: StatClass,
}

/// What a driver counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatClass {
    /// Received packets dropped (by the driver, the ring, the card).
    Drop,
    /// Received frames the card missed (no descriptor).
    Miss,
    /// Received frames lost for lack of a buffer.
    NoBuffer,
    /// FIFO overruns.
    Fifo,
    /// Frames rejected as malformed (CRC, length, symbol, checksum errors).
    Error,
    /// Flow-control pause frames.
    Pause,
    /// Packets an XDP program chose to drop.
    XdpDrop,
    /// Transmit drops.
    TxDrop,
    /// Transmit errors.
    TxError,
    Other,
}

impl StatClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StatClass::Drop => "drop",
            StatClass::Miss => "miss",
            StatClass::NoBuffer => "nobuf",
            StatClass::Fifo => "fifo",
            StatClass::Error => "error",
            StatClass::Pause => "pause",
            StatClass::XdpDrop => "xdp_drop",
            StatClass::TxDrop => "tx_drop",
            StatClass::TxError => "tx_error",
            StatClass::Other => "other",
        }
    }

    /// Whether it counts packets lost.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            StatClass::Drop
                | StatClass::Miss
                | StatClass::NoBuffer
                | StatClass::Fifo
                | StatClass::XdpDrop
                | StatClass::TxDrop
        )
    }
}

/// Classifies a driver counter by the words drivers use (checked on ethtool -S of be2net,
/// bnx2, bnx2x, bnxt_en, e1000e, ena, i40e, ice, igb, mlx5, r8169, sfc, tg3, virtio_net,
/// vmxnet3; the reviewed result is tests/golden/ethtool-classes.tsv). An unknown driver
/// still gets its obvious drop counters by these patterns.
pub fn classify(base: &str) -> StatClass {
    let n = base.to_ascii_lowercase();
    let tokens: Vec<&str> = n
        .split(['_', '.', '-', ':', ' '])
        .filter(|t| !t.is_empty())
        .collect();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    let token = |pred: &dyn Fn(&str) -> bool| tokens.iter().any(|t| pred(t));
    let tx = tokens.first().is_some_and(|t| t.starts_with("tx"))
        || token(&|t| t == "tx" || t == "txq" || t == "xmit");
    // Byte totals of an event: its packet counter says the same in the unit that matters.
    if tokens.last() == Some(&"bytes") || has(&["discard_bytes", "error_bytes", "bad_bytes"]) {
        return StatClass::Other;
    }
    // Counters of good or unrelated events that merely contain a loss word.
    if has(&[
        "csum_unnecessary",
        "csum_none",
        "csum_complete",
        "drop_en",
        "no_drop",
        "missed_irq",
        "ecc",
        "arq_",
        "tx_ring_full",
        "cache_",
    ]) {
        return StatClass::Other;
    }
    // A checksum the card could not verify is handed to the stack, which checks it again and
    // counts the bad ones itself (InCsumErrors): not a frame the card discarded.
    if has(&["csum", "checksum"]) && !tx {
        return StatClass::Other;
    }
    if has(&["xdp_drop", "xdp_aborted", "xdp_tx_full", "xdp_bad_drops"]) {
        return StatClass::XdpDrop;
    }
    if token(&|t| ["pause", "pauseframes", "xon", "xoff"].contains(&t) || t.starts_with("pfc")) {
        return StatClass::Pause;
    }
    if has(&[
        "no_buf",
        "nobuf",
        "no_buffer",
        "out_of_buffer",
        "alloc_fail",
        "alloc_err",
        "buff_alloc",
        "buff_fail",
        "buf_alloc",
        "buf_err",
        "no_dma",
        "noskb",
        "nodesc",
        "rx_oom",
        "dma_failed",
        "post_fail",
    ]) && !tx
    {
        return StatClass::NoBuffer;
    }
    if has(&["fifo", "overrun", "over_err", "overflow"]) {
        return if tx {
            StatClass::TxError
        } else {
            StatClass::Fifo
        };
    }
    if token(&|t| t == "missed" || t == "miss") {
        return StatClass::Miss;
    }
    if token(&|t| {
        t.starts_with("drop") || t.starts_with("discard") || t == "trunc" || t == "truncate"
    }) {
        return if tx {
            StatClass::TxDrop
        } else {
            StatClass::Drop
        };
    }
    let error_word = token(&|t| {
        t.starts_with("err")
            || t.ends_with("err")
            || [
                "crc",
                "fcs",
                "symbol",
                "align",
                "jabber",
                "jabbers",
                "undersize",
                "oversize",
                "runt",
                "fragments",
                "illegal",
                "invalid",
                "bad",
                "failed",
                "underrun",
                "underruns",
            ]
            .contains(&t)
    }) || has(&[
        "length_err",
        "chksum_err",
        "csum_bad",
        "bad_csum",
        "in_range",
        "out_range",
    ]);
    if error_word {
        // A failed receive buffer or RFS rule is not a malformed frame; a failed transmit is.
        if !tx && token(&|t| t == "failed") && !has(&["err"]) {
            return StatClass::Other;
        }
        return if tx {
            StatClass::TxError
        } else {
            StatClass::Error
        };
    }
    StatClass::Other
}

/// Splits a queue number out of a driver counter name: `rx0_drops`, `rx_queue_0_drops`,
/// `rx-0.drops`, `queue_0_rx_drops`, `rxq0_...`, `tx3_packets`. The rest is the base name.
pub fn split_queue(name: &str) -> (String, Option<u32>) {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let before = &name[..start];
            let after = &name[i..];
            // A number right after a queue word, and followed by a separator or the end.
            let queue_word = [
                "rx", "tx", "rxq", "txq", "queue", "q", "rx_queue", "tx_queue", "ring", "ch",
                "channel", "xdp",
            ]
            .iter()
            .any(|w| before.trim_end_matches(['_', '-']).ends_with(w));
            // Size buckets (`rx_64_byte_packets`, `rx_65_127_...`) are not queues.
            let bucket = after.starts_with("_byte")
                || after.starts_with("_to_")
                || after.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
            let sep_after =
                !bucket && (after.is_empty() || after.starts_with(['_', '.', '-', ':']));
            let sep_before = start == 0
                || matches!(b[start - 1], b'_' | b'-')
                || before.ends_with("rx")
                || before.ends_with("tx")
                || before.ends_with("rxq")
                || before.ends_with("txq")
                || before.ends_with('q');
            if queue_word
                && sep_after
                && sep_before
                && let Ok(q) = name[start..i].parse::<u32>()
            {
                let mut base = format!("{}{}", before.trim_end_matches(['_', '-']), after);
                if base.starts_with(['_', '.']) {
                    base.remove(0);
                }
                return (base.replace("__", "_"), Some(q));
            }
        } else {
            i += 1;
        }
    }
    (name.to_string(), None)
}

/// Parses `ethtool -S` output in the layouts drivers give it: a `NIC statistics:` header or
/// none, indented or not, `[N]: name: value` per ring (bnxt, bnx2x), and vmxnet3's
/// `Tx Queue#: N` blocks whose names contain spaces. "no stats available" is no counters.
pub fn parse_ethtool_s(text: &str) -> Result<Rows<DriverStat>, ParseError> {
    let mut out = Rows::default();
    let mut block: Option<(String, u32)> = None;
    for (i, raw) in text.lines().enumerate() {
        match stat_line(raw, i + 1, &mut block) {
            Ok(Some(stat)) => out.rows.push(stat),
            Ok(None) => {}
            Err(e) => out.skipped.push(e),
        }
    }
    Ok(out)
}

/// One line of `ethtool -S`: a counter, or None for headers and `Tx Queue#` block starts
/// (which set `block`). A line that does not read costs that counter only.
fn stat_line(
    raw: &str,
    n: usize,
    block: &mut Option<(String, u32)>,
) -> Result<Option<DriverStat>, ParseError> {
    let line = raw.trim();
    if line.is_empty() || line.ends_with("statistics:") || line.contains("no stats available") {
        return Ok(None);
    }
    let (mut name, value) = line.rsplit_once(':').ok_or_else(|| {
        ParseError::new(
            n,
            "counter",
            format!("no \"name: value\" in {}", quoted(line)),
        )
    })?;
    let value = value.trim();
    let mut queue = None;
    // `[3]: rx_discards: 12`
    if let Some(rest) = name.strip_prefix('[')
        && let Some((q, name_after)) = rest.split_once("]:")
    {
        queue = q.parse().ok();
        name = name_after.trim();
    }
    let mut name = name.trim();
    // `rxq0: rx_drops_no_skbs` (be2net): the prefix names the queue.
    if queue.is_none()
        && let Some((pre, post)) = name.split_once(": ")
        && let (_, Some(q)) = split_queue(pre)
    {
        queue = Some(q);
        name = post.trim();
    }
    if let Some(dir) = name.strip_suffix(" Queue#") {
        let q = value.parse().map_err(|_| {
            ParseError::new(n, name, format!("not a queue number: {}", quoted(value)))
        })?;
        *block = Some((dir.to_ascii_lowercase(), q));
        return Ok(None);
    }
    // Indented lines under a `Tx Queue#: N` header belong to it; a flush-left line ends it.
    let in_block = raw.starts_with("       ") && block.is_some();
    if !in_block && !raw.starts_with("       ") {
        *block = None;
    }
    let value: u64 = value.parse().map_err(|_| {
        ParseError::new(
            n,
            name.to_string(),
            format!("not an unsigned number: {}", quoted(value)),
        )
    })?;
    let mut clean = name.replace(' ', "_");
    let (base, q) = match (&*block, queue) {
        (Some((dir, q)), _) if in_block => {
            clean = format!("{dir}_{clean}");
            (clean.clone(), Some(*q))
        }
        (_, Some(q)) => (clean.clone(), Some(q)),
        _ => split_queue(&clean),
    };
    Ok(Some(DriverStat {
        class: classify(&base),
        name: match (queue, &*block) {
            (Some(q), _) => format!("[{q}]: {clean}"),
            _ => clean,
        },
        value,
        base,
        queue: q,
    }))
}

/// `ethtool -g` and `-l`: `(key, current, maximum)` from the two sections.
pub fn parse_sections(text: &str) -> Result<Vec<(String, u64, u64)>, ParseError> {
    let mut max = BTreeMap::new();
    let mut cur = BTreeMap::new();
    let mut section = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with("Pre-set maximums") {
            section = Some(&mut max);
            continue;
        }
        if l.starts_with("Current hardware settings") {
            section = Some(&mut cur);
            continue;
        }
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let Some(map) = section.as_deref_mut() else {
            continue;
        };
        let v = v.trim();
        // "n/a" from newer ethtool for what a driver does not report.
        if v == "n/a" || v.is_empty() {
            continue;
        }
        let n: u64 = v
            .parse()
            .map_err(|_| ParseError::new(i + 1, k.trim(), format!("not a number: {v:?}")))?;
        map.insert(k.trim().to_ascii_lowercase().replace(' ', "_"), n);
    }
    Ok(cur
        .into_iter()
        .map(|(k, c)| {
            let m = max.get(&k).copied().unwrap_or(c);
            (k, c, m)
        })
        .collect())
}

/// `ethtool -c`, `-k`, `-i`, `-x`: `key: value` lines; `-c`'s `Adaptive RX: on  TX: on` becomes
/// `adaptive-rx` and `adaptive-tx`; `-k`'s `[fixed]` and indented sub-features are dropped.
pub fn parse_keyed(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with(['\t', ' ']) || line.ends_with(':') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("Adaptive RX:") {
            let mut w = rest.split_whitespace();
            if let Some(rx) = w.next() {
                out.insert("adaptive-rx".into(), rx.to_string());
            }
            if let (Some(_), Some(tx)) = (w.next(), w.next()) {
                out.insert("adaptive-tx".into(), tx.to_string());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_end_matches("[fixed]").trim();
            out.insert(k.trim().to_string(), v.to_string());
        }
    }
    out
}

/// How evenly an RSS indirection table spreads over queues: `N entries over Q queues`, and
/// the share of the busiest queue when it is uneven.
pub fn indirection_summary(table: &str) -> Option<String> {
    let entries: Vec<u32> = table
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    if entries.is_empty() {
        return None;
    }
    let mut per: BTreeMap<u32, usize> = BTreeMap::new();
    for e in &entries {
        *per.entry(*e).or_default() += 1;
    }
    let (min, max) = (per.values().min().copied()?, per.values().max().copied()?);
    let mut s = format!("{} entries over {} queues", entries.len(), per.len());
    if max > min + 1 {
        s.push_str(&format!(
            ", uneven: busiest queue has {max}, quietest {min}"
        ));
    }
    Some(s)
}

pub struct Ethtool;

impl Collector for Ethtool {
    fn id(&self) -> &'static str {
        "ethtool"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["SIOCETHTOOL ioctl per device: -i -S -g -l -c -k -x"]
    }
    fn collect(&self, root: &Root, devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let mut answered = 0;
        for dev in devices.names() {
            let l = labels([("dev", dev)]);
            for q in Query::ALL {
                let text = match root.ethtool(dev, q) {
                    Ok(t) => t,
                    // The driver does not offer it (lo, veth for rings), or the capture has none.
                    Err(SourceError::Io { err, .. })
                        if matches!(
                            err.kind(),
                            std::io::ErrorKind::Unsupported | std::io::ErrorKind::NotFound
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        sink.error(e);
                        continue;
                    }
                };
                let file = root.base().join("ethtool").join(dev).join(q.file());
                // An answer that does not read costs that answer, not every device's.
                if let Err(e) = record(sink, &l, q, &text, &file) {
                    sink.error(e.at(&file));
                    continue;
                }
                answered += 1;
            }
        }
        if answered == 0 {
            // No device answered (only lo here, or a capture without ethtool answers).
            let dir = root.base().join("ethtool");
            return Err(SourceError::io(
                &dir,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        Ok(())
    }
}

fn record(
    sink: &mut Sink,
    l: &Labels,
    q: Query,
    text: &str,
    file: &std::path::Path,
) -> Result<(), ParseError> {
    let set = |sink: &mut Sink, name: &str, v: String| sink.setting(name, l.clone(), v);
    match q {
        Query::Stats => {
            let parsed = parse_ethtool_s(text)?;
            sink.skipped(file, parsed.skipped);
            for s in parsed.rows {
                let mut ql = l.clone();
                if let Some(n) = s.queue {
                    ql.insert("queue".into(), n.to_string());
                }
                sink.metric(
                    format!("ethtool.{}.{}", s.class.as_str(), s.base),
                    ql,
                    s.value,
                    Kind::Counter64,
                );
            }
        }
        Query::Rings => {
            for (k, cur, max) in parse_sections(text)? {
                if k == "rx" || k == "tx" {
                    set(
                        sink,
                        &format!("ethtool.ring.{k}"),
                        format!("{cur} (max {max})"),
                    );
                }
            }
        }
        Query::Channels => {
            for (k, cur, max) in parse_sections(text)? {
                if cur > 0 || max > 0 {
                    set(
                        sink,
                        &format!("ethtool.channels.{k}"),
                        format!("{cur} (max {max})"),
                    );
                }
            }
        }
        Query::Coalesce => {
            let m = parse_keyed(text);
            for k in [
                "rx-usecs",
                "rx-frames",
                "adaptive-rx",
                "tx-usecs",
                "adaptive-tx",
            ] {
                if let Some(v) = m.get(k) {
                    set(sink, &format!("ethtool.coalesce.{k}"), v.clone());
                }
            }
        }
        Query::Features => {
            let m = parse_keyed(text);
            for k in [
                "generic-receive-offload",
                "generic-segmentation-offload",
                "tcp-segmentation-offload",
                "large-receive-offload",
                "receive-hashing",
                "ntuple-filters",
            ] {
                if let Some(v) = m.get(k) {
                    set(sink, &format!("ethtool.features.{k}"), v.clone());
                }
            }
        }
        Query::DriverInfo => {
            let m = parse_keyed(text);
            if let Some(d) = m.get("driver").filter(|d| !d.is_empty()) {
                set(sink, "ethtool.driver", d.clone());
            }
            if let Some(b) = m.get("bus-info").filter(|b| !b.is_empty()) {
                set(sink, "ethtool.bus", b.clone());
            }
        }
        Query::Indirection => {
            if let Some(s) = parse_keyed(text)
                .get("table")
                .and_then(|t| indirection_summary(t))
            {
                set(sink, "ethtool.rss.indirection", s);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(dir: &str) -> Vec<(String, String)> {
        let dir = format!("{}/../../fixtures/public/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect()
    }

    /// Every counter of every public capture with its class, against a reviewed listing in
    /// tests/golden/ethtool-classes.tsv (PKTMAP_BLESS=1 rewrites it; review the diff).
    #[test]
    fn classification_of_every_public_capture() {
        let mut listing = String::from("file\tcounter\tbase\tqueue\tclass\n");
        for (file, text) in fixtures("ethtool-S") {
            let parsed = parse_ethtool_s(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(parsed.skipped.is_empty(), "{file}: {:?}", parsed.skipped);
            for s in parsed.rows {
                let q = s.queue.map(|q| q.to_string()).unwrap_or_default();
                listing.push_str(&format!(
                    "{file}\t{}\t{}\t{q}\t{}\n",
                    s.name,
                    s.base,
                    s.class.as_str()
                ));
            }
        }
        let golden = format!(
            "{}/../../tests/golden/ethtool-classes.tsv",
            env!("CARGO_MANIFEST_DIR")
        );
        if std::env::var_os("PKTMAP_BLESS").is_some() {
            std::fs::write(&golden, &listing).unwrap();
        }
        let expected =
            std::fs::read_to_string(&golden).expect("golden listing (PKTMAP_BLESS=1 creates it)");
        for (n, (a, b)) in expected.lines().zip(listing.lines()).enumerate() {
            assert_eq!(a, b, "line {}", n + 1);
        }
        assert_eq!(expected.lines().count(), listing.lines().count());
    }

    #[test]
    fn known_drops_and_known_non_drops() {
        for drop in [
            "rx_missed_errors",
            "rx_discards",
            "rx_dropped",
            "port_rx_dp_di_dropped_packets",
            "rx_out_of_buffer",
            "rx_fifo_errors",
            "rx_no_dma_resources",
            "rx_queue_drops",
            "rx_dropped_too_short",
            "rx_noskb_drops",
        ] {
            assert!(classify(drop).is_loss(), "{drop} is a loss");
        }
        for other in [
            "rx_packets",
            "rx_bytes",
            "rx_csum_unnecessary",
            "rx_cache_busy",
            "tx_timeout",
            "rx_queue_packets",
            "rx_csum_none",
            "tx_tso_packets",
            "rx_kicks",
            "interface_up",
        ] {
            assert!(!classify(other).is_loss(), "{other} is not a loss");
        }
        assert_eq!(classify("rx_crc_errors"), StatClass::Error);
        assert_eq!(classify("tx_dropped"), StatClass::TxDrop);
        assert_eq!(classify("rx_queue_xdp_drops"), StatClass::XdpDrop);
        assert_eq!(classify("rx_pause_frames"), StatClass::Pause);
        // A driver never seen: obvious names still classify.
        assert!(classify("rx_ring_full_drops").is_loss());
    }

    #[test]
    fn queue_naming_schemes() {
        assert_eq!(split_queue("rx0_drops"), ("rx_drops".into(), Some(0)));
        assert_eq!(
            split_queue("rx_queue_12_drops"),
            ("rx_queue_drops".into(), Some(12))
        );
        assert_eq!(split_queue("rx-3.drops"), ("rx.drops".into(), Some(3)));
        assert_eq!(
            split_queue("queue_0_rx_drops"),
            ("queue_rx_drops".into(), Some(0))
        );
        assert_eq!(split_queue("tx3_packets"), ("tx_packets".into(), Some(3)));
        assert_eq!(
            split_queue("rx_l4_csum_errors"),
            ("rx_l4_csum_errors".into(), None)
        );
        assert_eq!(
            split_queue("rx_64_byte_packets"),
            ("rx_64_byte_packets".into(), None)
        );
        assert_eq!(
            split_queue("port.rx_size_1522"),
            ("port.rx_size_1522".into(), None)
        );
    }

    #[test]
    fn layouts_of_other_ethtool_outputs() {
        let files = fixtures("ethtool-other");
        let get = |name: &str| &files.iter().find(|(f, _)| f == name).unwrap().1;
        let g = parse_sections(get("ethtool-g-i40e-netutils.txt")).unwrap();
        assert!(g.contains(&("rx".into(), 2048, 4096)));
        assert!(g.contains(&("tx".into(), 512, 4096)));
        let l = parse_sections(get("ethtool-l-virtio_net-hotsos.txt")).unwrap();
        assert!(l.contains(&("combined".into(), 1, 1)));
        let c = parse_keyed(get("ethtool-c-i40e-netutils.txt"));
        assert_eq!(c["rx-usecs"], "25");
        assert_eq!(c["adaptive-rx"], "on");
        let k = parse_keyed(get("ethtool-k-virtio_net-k5.4-hotsos.txt"));
        assert_eq!(k["generic-receive-offload"], "on");
        assert_eq!(k["rx-checksumming"], "on");
        let i = parse_keyed(get("ethtool-i-virtio_net-hotsos.txt"));
        assert_eq!(i["driver"], "virtio_net");
        for (f, text) in &files {
            if f.starts_with("ethtool-g") || f.starts_with("ethtool-l") {
                parse_sections(text).unwrap_or_else(|e| panic!("{f}: {e}"));
            }
        }
    }

    #[test]
    fn malformed_and_empty() {
        assert!(
            parse_ethtool_s("NIC statistics:\n     no stats available\n")
                .unwrap()
                .rows
                .is_empty()
        );
        let r = parse_ethtool_s("NIC statistics:\n     rx_packets: x\n     rx_bytes: 5\n").unwrap();
        let e = &r.skipped[0];
        assert_eq!((e.line, e.field.as_str()), (2, "rx_packets"));
        assert_eq!(r.rows.len(), 1, "the other counter is kept");
        assert_eq!(parse_ethtool_s("garbage line\n").unwrap().skipped.len(), 1);
        assert!(parse_sections("Pre-set maximums:\nRX: lots\n").is_err());
        assert_eq!(
            indirection_summary("0 1 0 1"),
            Some("4 entries over 2 queues".into())
        );
        assert!(indirection_summary("0 0 0 1").unwrap().contains("uneven"));
        assert_eq!(indirection_summary(""), None);
    }
}
