//! The HTTP side of `serve`, small on purpose and bounded: GET and HEAD only, a request head
//! of at most 8 KiB, 5 s to send it and to take the answer, one request per connection. A
//! fixed set of workers answers from a queue; when the queue is full a connection is answered
//! 503 at once, so a flood costs a bounded number of threads and buffers.

use super::Pages;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MAX_HEAD: usize = 8 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Workers answering at once: a slow client holds one for at most [`TIMEOUT`] twice.
pub const WORKERS: usize = 8;
/// Connections waiting for a worker; more are answered 503.
pub const QUEUE: usize = 256;

/// What a request asks for.
pub struct Request {
    pub path: String,
    /// The query string, undecoded (`netns=123&stage=rx.5`).
    pub query: String,
    /// The scraper asked for OpenMetrics (its Accept header names it).
    pub openmetrics: bool,
}

impl Request {
    /// A query parameter's value; only the characters pktmap's own values use are kept
    /// (namespace inodes, stage ids), so nothing else reaches a page.
    pub fn param(&self, key: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| {
                v.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .take(32)
                    .collect()
            })
    }
}

/// An answer: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub kind: &'static str,
    pub body: Arc<str>,
}

impl Answer {
    pub fn html(body: String) -> Answer {
        Answer {
            status: 200,
            kind: "text/html; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            kind: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// Accepts until `stopped()` says so; each connection is queued for a worker.
pub fn serve(listener: &TcpListener, pages: &dyn Pages, stopped: fn() -> bool) {
    let (tx, rx) = sync_channel::<TcpStream>(QUEUE);
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        for i in 0..WORKERS {
            let rx = &rx;
            let spawned = std::thread::Builder::new()
                .name(format!("pktmap-http-{i}"))
                .spawn_scoped(scope, move || {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(stream) = next else { break };
                        let _ = serve_one(stream, pages);
                    }
                });
            if spawned.is_err() {
                break;
            }
        }
        accept(listener, &tx, stopped);
        // Closing the queue ends the workers once they have answered what is queued.
        drop(tx);
    });
}

/// Whether a connection waits on the listener, after at most `wait`: a connection is taken
/// the moment it arrives, and a stop is noticed within `wait`.
fn ready(listener: &TcpListener, wait: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(listener),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut fd, 1, wait.as_millis() as libc::c_int) > 0 }
}

fn accept(listener: &TcpListener, tx: &SyncSender<TcpStream>, stopped: fn() -> bool) {
    while !stopped() {
        if !ready(listener, Duration::from_millis(250)) {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if let Err(TrySendError::Full(stream)) = tx.try_send(stream) {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(TIMEOUT));
            let _ = write_answer(&stream, &Answer::text(503, "busy\n"), true);
        }
    }
}

fn serve_one(stream: TcpStream, pages: &dyn Pages) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let head = match read_head(&stream) {
        Ok(h) => h,
        Err(Head::TooLarge) => {
            return write_answer(&stream, &Answer::text(431, "head too large\n"), true);
        }
        Err(Head::Io(e)) => return Err(e),
    };
    let mut lines = head.lines();
    let mut words = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let with_body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => return write_answer(&stream, &Answer::text(405, "GET or HEAD only\n"), true),
    };
    let openmetrics = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.eq_ignore_ascii_case("accept") && v.contains("application/openmetrics-text")
        })
    });
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let request = Request {
        path: path.to_string(),
        query: query.to_string(),
        openmetrics,
    };
    let written = write_answer(&stream, &pages.answer(&request), with_body);
    pages.tidy();
    written
}

enum Head {
    TooLarge,
    Io(std::io::Error),
}

/// The request line and headers, up to the blank line; at most [`MAX_HEAD`] bytes.
fn read_head(mut stream: &TcpStream) -> Result<String, Head> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).map_err(Head::Io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return Err(Head::TooLarge);
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn write_answer(mut stream: &TcpStream, a: &Answer, with_body: bool) -> std::io::Result<()> {
    let reason = match a.status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let allow = if a.status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        a.status,
        a.kind,
        a.body.len()
    )?;
    if with_body {
        stream.write_all(a.body.as_bytes())?;
    }
    stream.flush()
}
