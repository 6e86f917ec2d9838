//! `--html FILE`: one self-contained page of a sign-in, for people rather than parsers.
//!
//! - A summary in Test-CsRegistration's words (target, result, latency, error, diagnosis, hint).
//! - A waterfall: each stage and step as a bar on a time axis. Steps run one after another, so each bar starts
//!   where the previous one ended (the report keeps durations, not start times).
//! - A ladder: the messages between the client and DNS, autodiscover, the web services and the registrar, in
//!   order, each one expandable to the message itself, redacted as the trace is (the SDK redacts before the page
//!   sees anything). DNS rows come from the report's lookups (DNS is not traced byte by byte).
//!
//! No external resource: styles and the small script are inline, so the file can be mailed or attached to a
//! ticket. The page works without its script (expansion is `<details>`); the script only adds the time axis
//! labels and marks the page `data-rendered="ok"`, which the Chromium test checks.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::SystemTime;

use sfbkit::trace::{Direction, Protocol, WireObserver, WireRecord};
use sfbkit::{Outcome, SignInReport, Stage};

/// Keeps the run's messages for the ladder.
#[derive(Default)]
pub struct Collector {
    records: Mutex<Vec<WireRecord>>,
}

impl WireObserver for Collector {
    fn record(&self, record: WireRecord) {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).push(record);
    }
}

impl Collector {
    pub fn records(&self) -> Vec<WireRecord> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Both `--trace` and `--html` see every message.
pub struct Both(pub Vec<std::sync::Arc<dyn WireObserver>>);

impl WireObserver for Both {
    fn record(&self, record: WireRecord) {
        for o in &self.0 {
            o.record(record.clone());
        }
    }
}

/// Markup text: the same escaping as the JUnit XML (control characters a server sent replaced).
fn esc(text: &str) -> String {
    crate::junit::xml(text)
}

/// The ladder's columns, left to right.
const LANES: [&str; 5] = ["Client", "DNS", "Autodiscover", "Web services", "Registrar"];

fn lane_of(record: &WireRecord) -> usize {
    match record.protocol {
        Protocol::Sip => 4,
        Protocol::Http if record.host.starts_with("lyncdiscover") => 2,
        Protocol::Http => 3,
    }
}

struct Row {
    at_ms: f64,
    lane: usize,
    outgoing: bool,
    label: String,
    body: String,
}

pub fn page(report: &SignInReport, started: SystemTime, records: &[WireRecord]) -> String {
    let ms_since = |t: SystemTime| t.duration_since(started).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
    let mut css = String::new();
    css.push_str(
        "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
         table.summary td{padding:2px 12px 2px 0;vertical-align:top}.ok{color:#137333}.fail{color:#c5221f}\
         .wf{position:relative;border-left:1px solid #999}.wf .row{display:flex;align-items:center;height:20px}\
         .wf .name{width:330px;flex:none;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;font-size:12px}\
         .wf .track{position:relative;flex:1;height:14px;background:#f3f4f6}.wf .bar{position:absolute;height:14px;min-width:2px}\
         .Success{background:#34a853}.Failure{background:#ea4335}.NotFound{background:#fbbc04}.Skipped{background:#bdc1c6}\
         .stage{font-weight:600;margin-top:8px}.axis{display:flex;justify-content:space-between;margin-left:330px;font-size:11px;color:#666}\
         .ladder{display:grid;grid-template-columns:70px repeat(5,1fr);column-gap:0}.ladder .head{font-weight:600;text-align:center;border-bottom:2px solid #444;padding-bottom:4px}\
         .msg{grid-column:1/-1;display:grid;grid-template-columns:70px repeat(5,1fr);align-items:center}\
         .msg .t{font-size:11px;color:#666}.arrow{position:relative;font-size:12px;text-align:center;border-bottom:2px solid #1a73e8;margin:6px 0}\
         .arrow.in{border-color:#9334e6}details{grid-column:1/-1;margin:0 0 4px 70px}details pre{background:#f8f9fa;padding:8px;overflow:auto;max-height:400px;font-size:12px}\
         summary{cursor:pointer;font-size:12px;color:#444}",
    );
    let mut html = String::new();
    let result_class = if report.is_success() { "ok" } else { "fail" };
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sfbkit sign-in of {}</title>\
         <style>{css}</style></head><body><h1>Sign-in of {}</h1><table class=\"summary\">",
        esc(&report.user),
        esc(&report.user)
    );
    let summary = [
        ("Target", report.target.clone()),
        ("Result", format!("{:?}", report.result)),
        ("Latency", format!("{:.1} ms", report.latency_ms)),
        ("Error", report.error.clone().unwrap_or_default()),
        ("Diagnosis", report.diagnosis.clone().unwrap_or_default()),
        ("Hint", report.hint.clone().unwrap_or_default()),
    ];
    for (name, value) in summary {
        let class = if name == "Result" { result_class } else { "" };
        let _ = write!(html, "<tr><td>{name}</td><td class=\"{class}\">{}</td></tr>", esc(&value));
    }
    html.push_str("</table>");
    for w in &report.warnings {
        let _ = write!(html, "<p class=\"fail\">warning: {}</p>", esc(w));
    }

    // Waterfall.
    let total: f64 = report.stages.iter().map(|s| s.duration_ms).sum::<f64>().max(1.0);
    let _ =
        write!(html, "<h2>Stages and steps</h2><div class=\"axis\" data-total=\"{total:.1}\"></div><div class=\"wf\">");
    let mut offset = 0.0;
    let mut stage: Option<Stage> = None;
    for s in &report.stages {
        if stage != Some(s.name) {
            stage = Some(s.name);
            let _ = write!(html, "<div class=\"stage\">{}</div>", esc(&s.name.to_string()));
        }
        let (left, width) = (offset / total * 100.0, s.duration_ms / total * 100.0);
        let title = format!("{} {} — {:.1} ms — {}", s.step, s.host, s.duration_ms, s.detail);
        let _ = write!(
            html,
            "<div class=\"row\" title=\"{}\"><div class=\"name\">{}</div><div class=\"track\"><div class=\"bar {:?}\" \
             style=\"left:{left:.3}%;width:{width:.3}%\"></div></div></div>",
            esc(&title),
            esc(&s.step),
            s.outcome
        );
        offset += s.duration_ms;
    }
    html.push_str("</div>");

    // Ladder: DNS from the report's lookups, then every traced message, in time order.
    let mut rows: Vec<Row> = Vec::new();
    let mut at = 0.0;
    for s in &report.stages {
        let dns = s.step.starts_with("SRV ") || s.step.starts_with("DNS ") || s.step == "A records";
        if dns && s.outcome != Outcome::Skipped {
            rows.push(Row {
                at_ms: at,
                lane: 1,
                outgoing: true,
                label: format!("{} {}", s.step, s.host),
                body: format!("{:?}: {}", s.outcome, s.detail),
            });
        }
        at += s.duration_ms;
    }
    for r in records {
        rows.push(Row {
            at_ms: ms_since(r.at),
            lane: lane_of(r),
            outgoing: r.direction == Direction::Sent,
            label: r.summary.clone(),
            body: r.text.clone(),
        });
    }
    rows.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    html.push_str("<h2>Messages</h2><div class=\"ladder\"><div class=\"head\">ms</div>");
    for lane in LANES {
        let _ = write!(html, "<div class=\"head\">{lane}</div>");
    }
    for row in &rows {
        // The arrow spans the columns from the client to the server's lane.
        let (from, to) = (2, row.lane + 2);
        let direction = if row.outgoing { "→" } else { "←" };
        let _ = write!(
            html,
            "<div class=\"msg\"><span class=\"t\">{:.1}</span><div class=\"arrow{}\" style=\"grid-column:{from}/{}\">{} {}</div></div>\
             <details><summary>{}</summary><pre>{}</pre></details>",
            row.at_ms,
            if row.outgoing { "" } else { " in" },
            to + 1,
            direction,
            esc(&truncate(&row.label, 90)),
            esc(&row.label),
            esc(&row.body)
        );
    }
    html.push_str("</div>");
    let _ = write!(
        html,
        "<p style=\"color:#666;font-size:12px\">Written by sfbkit {}; secrets (passwords, tokens, signatures, web \
         tickets, SAML assertions) are redacted.</p><pre id=\"errors\" class=\"fail\"></pre>",
        env!("CARGO_PKG_VERSION")
    );
    html.push_str(
        "<script>window.onerror=function(m){document.getElementById('errors').textContent+=m+'\\n';};\
         (function(){var a=document.querySelector('.axis');var t=parseFloat(a.dataset.total);\
         for(var i=0;i<=4;i++){var s=document.createElement('span');s.textContent=(t*i/4).toFixed(0)+' ms';a.appendChild(s);}\
         document.body.dataset.rendered='ok';})();</script></body></html>",
    );
    html
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
