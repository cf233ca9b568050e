//! CPU idle states and their exit latency, from `/sys/devices/system/cpu/cpu0/cpuidle`.
//! One CPU stands for all: the states are a property of the processor model.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::labels;

pub struct CpuIdle;

impl Collector for CpuIdle {
    fn id(&self) -> &'static str {
        "cpuidle"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["sys/devices/system/cpu/cpu0/cpuidle"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let dir = root.sys("devices/system/cpu/cpu0/cpuidle");
        for state in root.list(&dir)?.iter().filter(|s| s.starts_with("state")) {
            let read = |f: &str| root.read_value(&dir.join(state).join(f));
            let (Ok(name), Ok(latency)) = (read("name"), read("latency")) else {
                continue;
            };
            let disabled = read("disable").map(|d| d == "1").unwrap_or(false);
            let value = format!(
                "{name} exit {latency}us{}",
                if disabled { " (disabled)" } else { "" }
            );
            sink.setting(
                "cpuidle.state",
                labels([("state", state.trim_start_matches("state"))]),
                value,
            );
        }
        Ok(())
    }
}
