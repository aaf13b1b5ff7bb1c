//! "The same modules, the same answers": every suite case, a set of hostile inputs, a sample
//! of mutated requests and a sample of the fuzzer's inputs, evaluated natively (wasmtime, as `kepguard test` and `kepguard
//! run` do) and through the playground's host under Node's WebAssembly engine, must give
//! byte-identical AdmissionResponses (or the same settings verdict). Run `make policies
//! playground-host` first (`make test` does).

use kepguard::admission;
use kepguard::host::{Limits, Policy};
use kepguard::suite::Suite;
use kepguard::workspace;
use kepguard_admission::request::parse_document;
use kepguard_admission::{WrapOptions, request_from_document};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One evaluation, as text: what a user types into the page or passes to `kepguard run`.
struct Job {
    label: String,
    module: PathBuf,
    settings: String,
    request: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What both sides say of a request text that does not parse (nested deeper than serde_json
/// reads, say): neither `kepguard run` nor the playground can send it to the policy.
const UNPARSEABLE: &str = "error: the request does not parse";
const UNPARSEABLE_SETTINGS: &str = "error: the settings do not parse";

/// What `kepguard run` gives for the request's JSON text: the response's JSON text, or the
/// settings verdict, or an error.
fn native(policies: &mut HashMap<PathBuf, Policy>, job: &Job) -> String {
    let Ok(settings) = admission::parse_settings(&job.settings, "given with --settings-json")
    else {
        return UNPARSEABLE_SETTINGS.into();
    };
    let Ok(document) = parse_document(&job.request) else {
        return UNPARSEABLE.into();
    };
    let request = match request_from_document(document, &WrapOptions::default()) {
        Ok(request) => request,
        Err(error) => return format!("error: {error}"),
    };
    let policy = policies.entry(job.module.clone()).or_insert_with(|| {
        Policy::load(&job.module, Limits::default(), false).expect("the module loads")
    });
    match admission::validate_settings(policy, &settings) {
        Err(error) => return format!("error: {error}"),
        Ok(verdict) if !verdict.valid => {
            return format!("invalid settings: {}", verdict.message.unwrap_or_default());
        }
        Ok(_) => {}
    }
    match admission::evaluate(policy, &request, &settings) {
        Ok(response) => response.to_json(),
        Err(error) => format!("error: {error:#}"),
    }
}

/// The same through the playground's host in Node, in one Node process for every job.
fn in_node(jobs: &[Job]) -> Vec<String> {
    let package = root().join("build/playground-node");
    assert!(
        package.join("kepguard_playground.js").is_file(),
        "{} is missing: run `make playground-host` first",
        package.display()
    );
    let input: Vec<Value> = jobs
        .iter()
        .map(|job| {
            json!({
                "module": job.module,
                "settings": job.settings,
                "request": job.request,
            })
        })
        .collect();
    let mut child = Command::new("node")
        .arg(root().join("playground/tests/node-runner.js"))
        .arg(&package)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (`scripts/setup.sh playground` installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let payload = serde_json::to_vec(&input).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the Node runner failed");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .into_iter()
        .map(|result| match result["verdict"].as_str() {
            Some("invalid settings") => format!(
                "invalid settings: {}",
                result["message"].as_str().unwrap_or_default()
            ),
            Some("error") => match result["message"].as_str().unwrap_or_default() {
                message if message.contains("the request is not valid JSON or YAML") => {
                    UNPARSEABLE.into()
                }
                message if message.contains("are not valid YAML or JSON") => {
                    UNPARSEABLE_SETTINGS.into()
                }
                message => format!("error: {message}"),
            },
            _ => result["response"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn suite_jobs() -> Vec<Job> {
    let mut jobs = Vec::new();
    for path in workspace::suites(&root()).unwrap() {
        let suite = Suite::load(&path).unwrap();
        let module = suite.module();
        assert!(
            module.is_file(),
            "{} is missing: run `make policies` first",
            module.display()
        );
        let defaults = suite.default_settings().unwrap();
        for case in &suite.file.cases {
            let request = match &case.request {
                Some(file) => admission::load_request(&suite.path(file)).unwrap(),
                None => json!({}),
            };
            jobs.push(Job {
                label: format!("{} / {}", suite.name, case.name),
                module: module.clone(),
                settings: case.settings(&suite, &defaults).unwrap().to_string(),
                request: request.to_string(),
            });
        }
    }
    jobs
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("leaf"), |inner, _| json!({ "x": inner }))
}

/// Hostile variants of a request: a huge object, deep nesting (within what a JSON parser
/// reads, and beyond), wrong types, no object.
fn hostile(request: &Value) -> Vec<(String, Value)> {
    let mut variants = Vec::new();
    let mut with = |name: &str, pointer: &str, value: Value| {
        let mut variant = request.clone();
        if let Some(slot) = variant.pointer_mut(pointer) {
            *slot = value;
            variants.push((name.to_string(), variant));
        }
    };
    with("object is a string", "/object", json!("not an object"));
    with("object is null", "/object", Value::Null);
    with("spec is an array", "/object/spec", json!([1, 2, 3]));
    with(
        "deeply nested labels",
        "/object/metadata/labels",
        nested(120),
    );
    with(
        "metadata nested beyond any parser",
        "/object/metadata",
        nested(200),
    );
    with(
        "huge annotation",
        "/object/metadata",
        json!({"name": "big", "annotations": {"note": "x".repeat(4 << 20)}}),
    );
    with("operation is a number", "/operation", json!(7));
    with(
        "kind is garbage",
        "/kind",
        json!({"group": 1, "kind": ["Pod"]}),
    );
    variants
}

/// A deterministic sample of mutated requests: leaves of the object replaced by other types.
fn mutations(request: &Value) -> Vec<(String, Value)> {
    fn leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields {
                    leaves(
                        field,
                        format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    leaves(item, format!("{pointer}/{index}"), out);
                }
            }
            _ => out.push(pointer),
        }
    }
    let mut pointers = Vec::new();
    leaves(&request["object"], "/object".into(), &mut pointers);
    let replacements = [json!(null), json!(-1), json!("-1e400"), json!({"a": []})];
    pointers
        .iter()
        .step_by(3)
        .zip(replacements.iter().cycle())
        .map(|(pointer, replacement)| {
            let mut variant = request.clone();
            *variant.pointer_mut(pointer).unwrap() = replacement.clone();
            (format!("{pointer} = {replacement}"), variant)
        })
        .collect()
}

fn compare(jobs: &[Job]) {
    let mut policies = HashMap::new();
    let expected: Vec<String> = jobs.iter().map(|job| native(&mut policies, job)).collect();
    let actual = in_node(jobs);
    assert_eq!(actual.len(), jobs.len());
    let mismatches: Vec<String> = jobs
        .iter()
        .zip(expected.iter().zip(&actual))
        .filter(|(_, (native, node))| native != node)
        .map(|(job, (native, node))| {
            let cut = |text: &str| text.chars().take(400).collect::<String>();
            format!(
                "{}:\n  kepguard: {}\n  playground: {}",
                job.label,
                cut(native),
                cut(node)
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        jobs.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_suite_case_gives_the_same_response() {
    let jobs = suite_jobs();
    assert!(jobs.len() > 20, "only {} suite cases", jobs.len());
    compare(&jobs);
}

#[test]
fn hostile_and_mutated_requests_give_the_same_response() {
    let mut jobs = Vec::new();
    let mut hostile_done = std::collections::HashSet::new();
    for job in suite_jobs() {
        let request: Value = serde_json::from_str(&job.request).unwrap();
        if !request["object"].is_object() {
            continue;
        }
        // The hostile set once per module (it holds a 4 MiB request), mutations for every case.
        let hostile = match hostile_done.insert(job.module.clone()) {
            true => hostile(&request),
            false => Vec::new(),
        };
        let variants = hostile
            .into_iter()
            .chain(mutations(&request).into_iter().take(6));
        for (name, request) in variants {
            jobs.push(Job {
                label: format!("{} ({name})", job.label),
                module: job.module.clone(),
                settings: job.settings.clone(),
                request: request.to_string(),
            });
        }
    }
    compare(&jobs);
}

/// Fuzz inputs per policy: the fuzzer's own generator (structure-aware mutations of the
/// fixtures, arbitrary JSON), from a fixed seed.
const FUZZ_SAMPLE: usize = 150;

#[test]
fn a_sample_of_fuzz_inputs_gives_the_same_response() {
    use kepguard_testing::fuzz::{Kind, inputs};
    use kepguard_testing::proptest::strategy::{Strategy, ValueTree};
    use kepguard_testing::proptest::test_runner::TestRunner;

    let mut jobs = Vec::new();
    for path in workspace::suites(&root()).unwrap() {
        let suite = Suite::load(&path).unwrap();
        let strategy = inputs(&suite.dir.to_string_lossy());
        let mut runner = TestRunner::deterministic();
        let mut taken = 0;
        while taken < FUZZ_SAMPLE {
            let input = strategy.new_tree(&mut runner).unwrap().current();
            // Only validate payloads with a settings and a request object can be typed in.
            let Ok(payload) = serde_json::from_slice::<Value>(&input.payload) else {
                continue;
            };
            if input.kind != Kind::Validate || !payload["request"].is_object() {
                continue;
            }
            taken += 1;
            jobs.push(Job {
                label: format!("{} fuzz #{taken}", suite.name),
                module: suite.module(),
                settings: payload["settings"].to_string(),
                request: payload["request"].to_string(),
            });
        }
    }
    compare(&jobs);
}
