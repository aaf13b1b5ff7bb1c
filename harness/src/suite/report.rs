//! The verdict table and the JUnit XML of a run.

use super::run::CaseResult;
use std::fmt::Write as _;

/// Prints one line per case, then `N passed, N failed`.
pub fn report(results: &[CaseResult]) -> String {
    let suite_width = results.iter().map(|r| r.suite.len()).max().unwrap_or(0);
    let mut out = String::new();
    for result in results {
        let status = if result.failure.is_none() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{status}  {:suite_width$}  {:16}  {}",
            result.suite, result.verdict, result.name
        );
        if let Some(failure) = &result.failure {
            let _ = writeln!(out, "      {failure}");
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let _ = writeln!(out, "{} passed, {} failed", results.len() - failed, failed);
    out
}

/// JUnit XML, one testsuite per policy suite.
pub fn junit(results: &[CaseResult]) -> String {
    let mut suites: Vec<&str> = results.iter().map(|r| r.suite.as_str()).collect();
    suites.dedup();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for suite in suites {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| r.suite == suite).collect();
        let failures = cases.iter().filter(|c| c.failure.is_some()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            escape(suite),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(suite),
                escape(&case.name)
            );
            match &case.failure {
                None => xml.push_str("/>\n"),
                Some(failure) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\"/>\n    </testcase>",
                        escape(failure)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Text for an XML attribute or element.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ends_with_the_totals() {
        let results = vec![
            CaseResult {
                suite: "p".into(),
                name: "one".into(),
                verdict: "allowed".into(),
                failure: None,
            },
            CaseResult {
                suite: "p".into(),
                name: "two <&>".into(),
                verdict: "rejected".into(),
                failure: Some("expected allowed".into()),
            },
        ];
        let text = report(&results);
        assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
        assert!(text.contains("FAIL  p  rejected          two <&>"));
        let xml = junit(&results);
        assert!(xml.contains("<testsuite name=\"p\" tests=\"2\" failures=\"1\">"));
        assert!(xml.contains("name=\"two &lt;&amp;&gt;\""));
    }
}
