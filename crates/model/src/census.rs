//! The socket census: when a collection may carry the last one forward instead of dumping
//! every socket again. Counting sockets one by one makes the kernel walk its whole
//! established hash (hundreds of thousands of buckets on a large host, and every connection
//! with its tcp_info), by far the most expensive read pktmap makes; the counters that say a
//! socket is in trouble are cheap. So a collector that runs often (`serve`) dumps the sockets
//! when one of those counters moved, or when the census it holds is older than it allows,
//! and otherwise keeps the last census, saying how old it is.

use crate::catalog::{self, Class};
use crate::snapshot::{CollectorRun, SeriesIndex, Snapshot};

/// The collector that takes the census, and the prefix of every metric it records.
pub const COLLECTOR: &str = "sockets";
pub const PREFIX: &str = "sockets.";

/// The stages whose losses and strain the census explains: transport, socket queue,
/// application, and the socket's send side.
const SOCKET_STAGES: &[&str] = &["rx.9", "rx.10", "rx.11", "tx.1"];

/// Whether a counter of this name, moving, asks for a fresh census.
fn asks(name: &str) -> bool {
    !name.starts_with(PREFIX)
        && catalog::place(name).is_some_and(|p| {
            SOCKET_STAGES.contains(&p.stage)
                && matches!(p.class, Class::Drop | Class::Error | Class::Strain)
        })
}

/// Whether `now` (the counters read so far) needs a fresh census rather than `before`'s: a
/// drop, error or strain counter of a socket stage moved since `before`, or appeared.
pub fn moved(before: &Snapshot, now: &Snapshot) -> bool {
    // `now` holds the counters of the collectors run so far: each is looked for in `before`
    // past the counters of the collectors `now` has not run yet.
    let offset = now
        .metrics
        .first()
        .and_then(|first| before.metrics.iter().position(|b| b.same_series(first)))
        .unwrap_or(0);
    let mut index = SeriesIndex::new(&before.metrics);
    now.metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| asks(&m.name))
        .any(|(i, m)| index.find(m, offset + i).map(|j| before.metrics[j].value) != Some(m.value))
}

/// When `before`'s census was read (milliseconds since the epoch): its own time, or the time
/// of the census it carried. None when it has no census of its own to give.
pub fn taken_at(before: &Snapshot) -> Option<u64> {
    let run = before.collectors.iter().find(|c| c.id == COLLECTOR)?;
    Some(run.carried_from_ms.unwrap_or(before.meta.time_unix_ms))
}

/// Copies `before`'s census into `now`: the census metrics, the sockets kept and the
/// collector's record, which says when the census was read.
pub fn carry(before: &Snapshot, now: &mut Snapshot) {
    let Some(run) = before.collectors.iter().find(|c| c.id == COLLECTOR) else {
        return;
    };
    now.collectors.push(CollectorRun {
        carried_from_ms: taken_at(before),
        duration_us: 0,
        ..run.clone()
    });
    now.metrics.extend(
        before
            .metrics
            .iter()
            .filter(|m| m.name.starts_with(PREFIX))
            .cloned(),
    );
    now.sockets.extend(before.sockets.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{CollectorStatus, Kind, Labels, Meta, Metric, SocketInfo};

    fn snap(at: u64, metrics: &[(&str, u64)]) -> Snapshot {
        let mut s = Snapshot::new(Meta {
            time_unix_ms: at,
            ..Meta::default()
        });
        s.metrics = metrics
            .iter()
            .map(|(n, v)| Metric {
                name: n.to_string(),
                labels: Labels::new(),
                value: *v,
                kind: Kind::Counter64,
            })
            .collect();
        s
    }

    fn with_census(mut s: Snapshot) -> Snapshot {
        s.metrics.push(Metric {
            name: "sockets.tcp.recvq_bytes".into(),
            labels: Labels::new(),
            value: 4096,
            kind: Kind::Gauge,
        });
        s.sockets.push(SocketInfo {
            proto: "tcp".into(),
            state: "ESTAB".into(),
            recv_q: 4096,
            ..SocketInfo::default()
        });
        s.collectors.push(CollectorRun {
            id: COLLECTOR.into(),
            status: CollectorStatus::Ok,
            notes: vec![],
            skipped: vec![],
            duration_us: 900,
            sources: vec![],
            carried_from_ms: None,
        });
        s
    }

    #[test]
    fn a_socket_stage_loss_moving_asks_for_a_census_traffic_does_not() {
        let before = snap(0, &[("TcpExt.ListenOverflows", 5), ("Tcp.InSegs", 100)]);
        let quiet = snap(1, &[("TcpExt.ListenOverflows", 5), ("Tcp.InSegs", 900)]);
        assert!(!moved(&before, &quiet), "traffic alone");
        let lost = snap(1, &[("TcpExt.ListenOverflows", 6), ("Tcp.InSegs", 900)]);
        assert!(moved(&before, &lost));
        let retrans = snap(1, &[("Tcp.RetransSegs", 1)]);
        assert!(moved(&snap(0, &[("Tcp.RetransSegs", 0)]), &retrans));
        // A loss at another stage is not the census's to explain.
        let nic = snap(1, &[("rx_dropped", 9)]);
        assert!(!moved(&snap(0, &[("rx_dropped", 1)]), &nic));
        // A counter that appears (a first read) moved.
        assert!(moved(&snap(0, &[]), &lost));
    }

    /// `now` holds the counters of the lane read so far, `before` every lane's: counters are
    /// compared at their offset, and by name where the lists differ (a device came, a row of
    /// a table went).
    #[test]
    fn counters_are_compared_at_their_offset_or_by_name() {
        let lanes = |overflows, shifted: bool| {
            let mut m = vec![("rx_dropped", 1), ("Tcp.InSegs", 9)];
            if shifted {
                m.insert(1, ("Tcp.OutSegs", 3));
            }
            m.push(("TcpExt.ListenOverflows", overflows));
            m
        };
        let mut all = lanes(5, false);
        all.insert(0, ("link.rx_bytes", 7));
        let before = snap(0, &all);
        assert!(!moved(&before, &snap(1, &lanes(5, false))));
        assert!(moved(&before, &snap(1, &lanes(6, false))));
        assert!(!moved(&before, &snap(1, &lanes(5, true))));
        assert!(moved(&before, &snap(1, &lanes(6, true))));
        // A first counter `before` never had: every counter by name.
        let mut new_first = lanes(6, false);
        new_first.insert(0, ("Udp.InDatagrams", 1));
        assert!(moved(&before, &snap(1, &new_first)));
        new_first.retain(|(n, _)| *n != "TcpExt.ListenOverflows");
        new_first.push(("TcpExt.ListenOverflows", 5));
        assert!(!moved(&before, &snap(1, &new_first)));
    }

    #[test]
    fn a_carried_census_keeps_the_time_it_was_read() {
        let first = with_census(snap(1_000, &[]));
        let mut second = snap(6_000, &[]);
        carry(&first, &mut second);
        assert_eq!(second.sockets.len(), 1);
        assert!(
            second
                .metrics
                .iter()
                .any(|m| m.name == "sockets.tcp.recvq_bytes")
        );
        let run = &second.collectors[0];
        assert_eq!((run.carried_from_ms, run.duration_us), (Some(1_000), 0));
        // Carried again, it is still the census of the first.
        let mut third = snap(11_000, &[]);
        carry(&second, &mut third);
        assert_eq!(taken_at(&third), Some(1_000));
        // Nothing to carry from a snapshot without a census.
        let mut fourth = snap(16_000, &[]);
        carry(&snap(11_000, &[]), &mut fourth);
        assert!(fourth.collectors.is_empty() && fourth.sockets.is_empty());
    }
}
