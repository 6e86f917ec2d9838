//! `sfbkit sip-lint [--json] FILE...`: each file is one SIP message, parsed as a receiving
//! element parses a datagram. Reading is bounded: at most one message's worth of bytes
//! (head limit + body limit + 1) is read from each file, whatever its size.

use std::io::Read;
use std::process::ExitCode;

use serde::Serialize;
use sfbkit::sip::{Limits, Message, parse_message};

#[derive(clap::Args)]
pub struct LintArgs {
    /// Print one JSON object per file, one per line.
    #[arg(long)]
    json: bool,
    /// Files, each holding one SIP message.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
}

#[derive(Serialize)]
struct LintResult {
    file: String,
    valid: bool,
    error: Option<String>,
    /// "request" or "response" when the start line could be read.
    kind: Option<&'static str>,
    method: Option<String>,
    status: Option<u16>,
    headers: Option<usize>,
    body_bytes: Option<usize>,
    /// Bytes after the complete message (reported, not fatal).
    trailing_bytes: Option<u64>,
    /// What a UAS would answer to an invalid request (400, 505, 513).
    reject_with: Option<u16>,
}

impl LintResult {
    /// A result for `path` that says nothing yet (invalid until a parse succeeds).
    fn new(path: &std::path::Path) -> LintResult {
        LintResult {
            file: path.display().to_string(),
            valid: false,
            error: None,
            kind: None,
            method: None,
            status: None,
            headers: None,
            body_bytes: None,
            trailing_bytes: None,
            reject_with: None,
        }
    }
}

pub fn run(args: &LintArgs) -> ExitCode {
    let limits = Limits::default();
    let mut worst = 0u8;
    for path in &args.files {
        let result = lint_file(path, &limits);
        let code = match &result {
            Ok(r) if r.valid => 0,
            Ok(_) => 1,
            Err(_) => 2,
        };
        worst = worst.max(code);
        let r = result.unwrap_or_else(|io| LintResult {
            error: Some(format!("cannot read the file: {io}")),
            ..LintResult::new(path)
        });
        if args.json {
            match serde_json::to_string(&r) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("sfbkit: {e}"),
            }
        } else {
            print_text(&r);
        }
    }
    ExitCode::from(worst)
}

fn lint_file(path: &std::path::Path, limits: &Limits) -> std::io::Result<LintResult> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let cap = limits.max_message_bytes() as u64 + 1;
    let mut data = Vec::with_capacity(size.min(cap) as usize);
    file.take(cap).read_to_end(&mut data)?;
    let mut r = LintResult::new(path);
    match parse_message(&data, limits) {
        Ok(parsed) => {
            describe(&mut r, &parsed.message);
            r.valid = true;
            r.trailing_bytes = Some(size - parsed.consumed as u64);
        }
        Err(e) => {
            r.kind = kind_of(&data);
            r.reject_with = (r.kind == Some("request")).then(|| e.status_code());
            r.error = Some(e.to_string());
        }
    }
    Ok(r)
}

fn describe(r: &mut LintResult, m: &Message) {
    r.kind = Some(if m.is_request() { "request" } else { "response" });
    r.method = m.method().map(|x| x.to_string());
    r.status = m.status();
    r.headers = Some(m.headers.len());
    r.body_bytes = Some(m.body.len());
}

/// Request or response, judged from the first line alone (for messages that failed to parse).
fn kind_of(data: &[u8]) -> Option<&'static str> {
    let start = data.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = &data[start..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len()).min(64)];
    if line.starts_with(b"SIP/") {
        Some("response")
    } else if line.contains(&b' ') {
        Some("request")
    } else {
        None
    }
}

fn print_text(r: &LintResult) {
    if r.valid {
        let what = match (&r.method, r.status) {
            (Some(m), _) => format!("{m} request"),
            (None, Some(s)) => format!("{s} response"),
            _ => "message".into(),
        };
        let trailing = match r.trailing_bytes {
            Some(t) if t > 0 => format!(", {t} bytes after the message ignored"),
            _ => String::new(),
        };
        println!(
            "{}: valid {what} ({} headers, {}-byte body{trailing})",
            r.file,
            r.headers.unwrap_or(0),
            r.body_bytes.unwrap_or(0)
        );
    } else {
        let answer = r.reject_with.map(|c| format!(" (a UAS answers {c})")).unwrap_or_default();
        println!("{}: INVALID: {}{answer}", r.file, r.error.as_deref().unwrap_or("unknown error"));
    }
}
