//! `/proc/pressure/cpu`: time tasks waited for a CPU (PSI, since 4.20).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, dec};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels};

/// Parses `some|full avg10=.. avg60=.. avg300=.. total=N` lines into `(kind, total µs)`; a
/// line that does not read costs that kind only.
pub fn parse_pressure(text: &str) -> Result<Rows<(String, u64)>, ParseError> {
    let mut out = Rows::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut words = line.split_whitespace();
        let kind = words.next().unwrap_or_default();
        out.take(
            words
                .find_map(|w| w.strip_prefix("total="))
                .ok_or_else(|| ParseError::new(i + 1, kind, "no total="))
                .and_then(|total| dec(total, i + 1, &format!("{kind} total")))
                .map(|total| (kind.to_string(), total)),
        );
    }
    Ok(out)
}

pub struct Pressure;

impl Collector for Pressure {
    fn id(&self) -> &'static str {
        "pressure"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/pressure/cpu"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("pressure/cpu");
        let parsed = parse_pressure(&root.read(&path)?).map_err(|e| e.at(&path))?;
        sink.skipped(&path, parsed.skipped);
        for (kind, total) in parsed.rows {
            sink.metric(
                format!("psi.cpu.{kind}_us"),
                Labels::new(),
                total,
                Kind::Counter64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_some_and_full() {
        let p = parse_pressure("some avg10=0.01 avg60=0.53 avg300=0.34 total=3657506\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").unwrap().rows;
        assert_eq!(p, vec![("some".into(), 3657506), ("full".into(), 0)]);
        let r = parse_pressure("some avg10=1\nfull total=4\n").unwrap();
        assert_eq!(r.skipped[0].field, "some");
        assert_eq!(r.rows, [("full".to_string(), 4)]);
    }
}
