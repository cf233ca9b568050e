//! The drop counter attached and detached in turn, every `MS` milliseconds, for `SECONDS`
//! seconds: `bench/drop_cost.py` compares a flood's rate while it is attached with the rate
//! while it is not, switch by switch, so the VM's drift cancels at that scale. Prints
//! "on SECONDS" or "off SECONDS" (CLOCK_MONOTONIC) once each switch is done, then the drops
//! counted. With `none` it switches nothing, keeping the same times: the harness's own bias.
//! Root. Usage: drops_toggle MS SECONDS [switch|none]
use std::time::{Duration, Instant};

/// Seconds of the clock Python's `time.monotonic()` reads.
fn monotonic() -> f64 {
    pktmap_bpf::monotonic_ns() as f64 / 1e9
}

fn main() -> Result<(), String> {
    let arg = |i: usize| -> Result<u64, String> {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| "usage: drops_toggle MS SECONDS [switch|none]".to_string())
    };
    let switch = std::env::args().nth(3).as_deref() != Some("none");
    let (step, secs) = (Duration::from_millis(arg(1)?), Duration::from_secs(arg(2)?));
    let mut counter = pktmap_bpf::drops::DropCounter::start(false, 0)?;
    if !switch {
        counter.pause()?;
    }
    println!("on {}", monotonic());
    let end = Instant::now() + secs;
    let mut on = true;
    while Instant::now() < end {
        std::thread::sleep(step);
        match (switch, on) {
            (false, _) => {}
            (true, true) => counter.pause()?,
            (true, false) => counter.resume()?,
        }
        on = !on;
        println!("{} {}", if on { "on" } else { "off" }, monotonic());
    }
    let counts = counter.finish()?;
    println!("drops {}", counts.events);
    Ok(())
}
