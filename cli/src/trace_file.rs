//! `--trace FILE`: every SIP message and HTTP exchange of the run, secrets redacted by the SDK, in the layout of
//! the Microsoft client's `.UccApilog` files so Snooper and admins' scripts read it (docs/uccapilog-format.md):
//!
//! ```text
//! 12/06/2026|08:15:02.113 1A2B:1 INFO :: Sending Packet - 127.0.0.1:5061 (From Local Address: 127.0.0.1:40022) 912 bytes:
//! REGISTER sip:contoso.lab SIP/2.0
//! ...
//! 12/06/2026|08:15:02.113 1A2B:1 INFO :: End of Sending Packet - 127.0.0.1:5061 (From Local Address: 127.0.0.1:40022) 912 bytes
//! ```
//!
//! Times are UTC (the line carries no zone; the Microsoft client writes local time). N counts the bytes of the
//! message as written, after redaction. Lines end in CRLF.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use sfbkit::trace::{Direction, Protocol, WireObserver, WireRecord};

pub struct UccApiLog {
    out: Mutex<std::io::BufWriter<std::fs::File>>,
    pid: u32,
    /// The first write error, reported when the command ends.
    failed: Mutex<Option<String>>,
}

impl UccApiLog {
    pub fn create(path: &std::path::Path) -> Result<UccApiLog, String> {
        let file =
            std::fs::File::create(path).map_err(|e| format!("cannot create the trace {}: {e}", path.display()))?;
        Ok(UccApiLog {
            out: Mutex::new(std::io::BufWriter::new(file)),
            pid: std::process::id(),
            failed: Mutex::new(None),
        })
    }

    /// The first error writing the trace, if any.
    pub fn error(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A small number per thread, as the Microsoft client's `PID:TID` pair shows one.
fn thread_number() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    thread_local! {
        static NUMBER: u32 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

/// `MM/DD/YYYY|HH:MM:SS.mmm`, UTC.
fn timestamp(at: SystemTime) -> String {
    let c = sfbkit::civil::CivilTime::of(at);
    format!(
        "{:02}/{:02}/{:04}|{:02}:{:02}:{:02}.{:03}",
        c.month, c.day, c.year, c.hour, c.minute, c.second, c.millisecond
    )
}

fn address(addr: Option<SocketAddr>) -> String {
    addr.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into())
}

impl WireObserver for UccApiLog {
    fn record(&self, record: WireRecord) {
        let prefix = format!("{} {:X}:{:X} INFO ::", timestamp(record.at), self.pid, thread_number());
        let (remote, local) = (address(record.remote), address(record.local));
        let n = record.text.len();
        let what = match (record.protocol, record.direction) {
            (Protocol::Sip, Direction::Sent) => {
                format!("Sending Packet - {remote} (From Local Address: {local}) {n} bytes")
            }
            (Protocol::Sip, Direction::Received) => {
                format!("Data Received - {remote} (To Local Address: {local}) {n} bytes")
            }
            (Protocol::Http, Direction::Sent) => {
                format!("Sending HTTP Request - {} (From Local Address: {local}) {n} bytes", record.summary)
            }
            (Protocol::Http, Direction::Received) => {
                format!("HTTP Response Received - {} (To Local Address: {local}) {n} bytes", record.summary)
            }
        };
        let mut frame = format!("{prefix} {what}:\r\n{}", record.text);
        if !record.text.ends_with('\n') {
            frame.push_str("\r\n");
        }
        frame.push_str(&format!("{prefix} End of {what}\r\n"));
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(frame.as_bytes()).and_then(|()| out.flush()) {
            self.failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn timestamps_are_month_first_utc_with_milliseconds() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_366_082_250_168); // 2013-04-16 03:17:30.168 UTC
        assert_eq!(timestamp(at), "04/16/2013|03:17:30.168");
        assert_eq!(timestamp(UNIX_EPOCH), "01/01/1970|00:00:00.000");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "02/29/2000|00:00:00.000");
    }
}
