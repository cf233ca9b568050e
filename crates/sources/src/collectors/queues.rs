//! Per-queue steering under `/sys/class/net/DEV/queues`: RPS CPUs and RFS flow counts of
//! each receive queue, XPS CPUs of each transmit queue.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::labels;

pub struct Queues;

impl Collector for Queues {
    fn id(&self) -> &'static str {
        "queues"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["sys/class/net/DEV/queues"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let class = root.sys("class/net");
        for dev in root.list(&class)? {
            let Ok(queues) = root.list(&class.join(&dev).join("queues")) else {
                continue;
            };
            for q in queues {
                let files: &[&str] = if q.starts_with("rx-") {
                    &["rps_cpus", "rps_flow_cnt"]
                } else {
                    &["xps_cpus"]
                };
                for f in files {
                    // xps_cpus fails on single-queue devices; that is "not set", not an error.
                    if let Ok(v) =
                        root.read_value(&class.join(&dev).join("queues").join(&q).join(f))
                    {
                        sink.setting(
                            *f,
                            labels([("dev", dev.as_str()), ("queue", q.as_str())]),
                            v,
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
