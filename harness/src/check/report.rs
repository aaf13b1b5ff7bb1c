//! The outcome of `kepguard check` as a table, JSON or JUnit XML.

use super::policies::Mode;
use super::{Evaluation, Outcome, Verdict};
use crate::suite::report::escape;
use std::fmt::Write as _;

fn verdict(evaluation: &Evaluation) -> String {
    let verdict = match evaluation.verdict {
        Verdict::Accepted => "accepted",
        Verdict::Mutated => "mutated",
        Verdict::Rejected => "rejected",
    };
    match evaluation.mode {
        Mode::Protect => verdict.to_string(),
        Mode::Monitor => format!("{verdict} (monitor)"),
    }
}

/// One row per object and policy; changes and warnings on indented lines below their row;
/// then the skipped objects and a summary line.
pub fn table(outcome: &Outcome) -> String {
    let header = ["OBJECT", "SOURCE", "POLICY", "VERDICT", "MESSAGE"];
    let rows: Vec<[String; 5]> = outcome
        .evaluations
        .iter()
        .map(|evaluation| {
            [
                evaluation.object.to_string(),
                evaluation.object.source.clone(),
                evaluation.policy.clone(),
                verdict(evaluation),
                evaluation.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index == cells.len() - 1 {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:width$}  ", width = widths[index]);
            }
        }
        text.trim_end().to_string()
    };
    let mut out = String::new();
    if !rows.is_empty() {
        let _ = writeln!(out, "{}", line(header));
    }
    for (row, evaluation) in rows.iter().zip(&outcome.evaluations) {
        let _ = writeln!(out, "{}", line(row.each_ref().map(String::as_str)));
        for change in &evaluation.changes {
            let _ = writeln!(out, "    changed: {change}");
        }
        for warning in &evaluation.warnings {
            let _ = writeln!(out, "    warning: {warning}");
        }
    }
    for skipped in &outcome.skipped {
        let _ = writeln!(
            out,
            "skipped: {skipped} ({}): no policy applies",
            skipped.source
        );
    }
    let count = |verdict: Verdict| {
        outcome
            .evaluations
            .iter()
            .filter(|e| e.verdict == verdict)
            .count()
    };
    let failing = outcome.evaluations.iter().filter(|e| e.fails()).count();
    let _ = writeln!(
        out,
        "{} objects, {} checked, {} skipped; {} accepted, {} mutated, {} rejected ({} in protect mode)",
        outcome.objects,
        outcome.objects - outcome.skipped.len(),
        outcome.skipped.len(),
        count(Verdict::Accepted),
        count(Verdict::Mutated),
        count(Verdict::Rejected),
        failing
    );
    out
}

/// The outcome as one JSON document (the mutated objects only with `--show-mutated`).
pub fn json(outcome: &Outcome, show_mutated: bool) -> String {
    let mut value = serde_json::to_value(outcome).expect("the outcome serialises");
    if !show_mutated && let Some(object) = value.as_object_mut() {
        object.remove("mutated");
    }
    value["failed"] = serde_json::json!(outcome.failed());
    serde_json::to_string_pretty(&value).expect("a JSON value serialises") + "\n"
}

/// JUnit XML: one testsuite per policy, one testcase per object it judged (a failure for a
/// rejection in protect mode), and the skipped objects as skipped testcases.
pub fn junit(outcome: &Outcome) -> String {
    let mut policies: Vec<&str> = Vec::new();
    for evaluation in &outcome.evaluations {
        if !policies.contains(&evaluation.policy.as_str()) {
            policies.push(&evaluation.policy);
        }
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for policy in policies {
        let cases: Vec<&Evaluation> = outcome
            .evaluations
            .iter()
            .filter(|e| e.policy == policy)
            .collect();
        let failures = cases.iter().filter(|e| e.fails()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            escape(policy),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{} ({})\"",
                escape(policy),
                escape(&case.object.to_string()),
                escape(&case.object.source)
            );
            let message = case.message.as_deref().unwrap_or_default();
            if case.fails() {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    escape(message)
                );
            } else {
                let mut notes = vec![verdict(case)];
                notes.extend((!message.is_empty()).then(|| message.to_string()));
                notes.extend(case.changes.iter().map(|c| format!("changed: {c}")));
                notes.extend(case.warnings.iter().map(|w| format!("warning: {w}")));
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&notes.join("\n"))
                );
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    if !outcome.skipped.is_empty() {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"no policy applies\" tests=\"{0}\" skipped=\"{0}\">",
            outcome.skipped.len()
        );
        for skipped in &outcome.skipped {
            let _ = writeln!(
                xml,
                "    <testcase classname=\"skipped\" name=\"{} ({})\">\n      <skipped/>\n    </testcase>",
                escape(&skipped.to_string()),
                escape(&skipped.source)
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// The mutated objects as a multi-document YAML stream.
pub fn mutated_manifests(outcome: &Outcome) -> String {
    let mut out = String::new();
    for mutated in &outcome.mutated {
        let _ = writeln!(out, "---\n# {} ({})", mutated.object, mutated.object.source);
        out.push_str(&serde_norway::to_string(&mutated.manifest).unwrap_or_default());
    }
    out
}
