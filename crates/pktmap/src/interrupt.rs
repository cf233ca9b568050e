//! Ctrl-C and SIGTERM end the current measurement early instead of killing pktmap: a tracer
//! then reports what it counted over the time actually measured, and detaches cleanly. A
//! second signal exits at once, for the user who really means it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // Only async-signal-safe calls here: _exit, not exit.
        unsafe { libc::_exit(130) };
    }
}

/// Routes SIGINT and SIGTERM to [`wait`].
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Asks for a stop from inside, as a signal would.
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps for `d`, or less if a stop is asked for; returns the time actually waited.
pub fn wait(d: Duration) -> Duration {
    let start = Instant::now();
    while !stopped() {
        let left = d.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    start.elapsed()
}
