//! The bench's result table: one line per measurement, with its peer, ratio, target and verdict.

use crate::ms;

/// One line of the result table.
pub struct Line {
    what: String,
    value: String,
    peer: String,
    ratio: String,
    target: String,
    verdict: &'static str,
}

#[derive(Default)]
pub struct Report {
    lines: Vec<Line>,
}

impl Report {
    pub fn info(&mut self, what: &str, value: String, peer: String) {
        self.push(what, value, peer, "-".into(), "-".into(), "");
    }

    /// A line with a target and no ratio: PASS when `ok`.
    pub fn check(&mut self, what: &str, value: String, peer: String, target: String, ok: bool) {
        let verdict = if ok { "PASS" } else { "FAIL" };
        self.push(what, value, peer, "-".into(), target, verdict);
    }

    pub fn push(
        &mut self,
        what: &str,
        value: String,
        peer: String,
        ratio: String,
        target: String,
        verdict: &'static str,
    ) {
        self.lines.push(Line {
            what: what.into(),
            value,
            peer,
            ratio,
            target,
            verdict,
        });
    }

    /// Our time against the peer's time; passes when ours/peer ≤ `max`.
    pub fn time_ratio(&mut self, what: &str, ours: f64, peer: Option<f64>, max: f64) {
        match peer {
            Some(p) => {
                let r = ours / p;
                let ok = if r <= max { "PASS" } else { "FAIL" };
                self.push(
                    what,
                    ms(ours),
                    ms(p),
                    format!("{r:.3}×"),
                    format!("≤ {max}×"),
                    ok,
                );
            }
            None => self.push(
                what,
                ms(ours),
                "(no conntrack)".into(),
                "-".into(),
                format!("≤ {max}×"),
                "SKIP",
            ),
        }
    }

    /// How many times faster we are than the peer (peer time / our time, or our rate / peer rate).
    pub fn speedup(
        &mut self,
        what: &str,
        value: String,
        peer: Option<String>,
        speedup: Option<f64>,
        min: f64,
    ) {
        match (peer, speedup) {
            (Some(p), Some(s)) => {
                let ok = if s >= min { "PASS" } else { "FAIL" };
                self.push(
                    what,
                    value,
                    p,
                    format!("{s:.1}× faster"),
                    format!("≥ {min}× faster"),
                    ok,
                );
            }
            _ => self.push(
                what,
                value,
                "(no peer)".into(),
                "-".into(),
                format!("≥ {min}× faster"),
                "SKIP",
            ),
        }
    }

    pub fn print(&self) {
        let headers = ["measurement", "nfctd", "peer", "ratio", "target", ""];
        let rows: Vec<[&str; 6]> = self
            .lines
            .iter()
            .map(|l| {
                [
                    l.what.as_str(),
                    &l.value,
                    &l.peer,
                    &l.ratio,
                    &l.target,
                    l.verdict,
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let text: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            println!("{}", text.join(" | ").trim_end());
        };
        line(headers);
        println!("{}", widths.map(|w| "-".repeat(w)).join("-+-"));
        for r in rows {
            line(r);
        }
    }
}
