//! The `kepguard` command line, end to end: small hand-written modules, and the built
//! fsgroup-change-policy module (run `make policies` first; `make test` does).

mod guests;

use base64::Engine as _;
use guests::{answering_guest, guest_with_body};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kepguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("kepguard runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kepguard-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

const REQUEST: &str = r#"{"uid": "u-7", "operation": "CREATE", "object": {"spec": {"a": 1}}}"#;

#[test]
fn run_refuses_invalid_settings_with_the_policy_message() {
    let dir = scratch("settings");
    let module = write(
        &dir,
        "policy.wasm",
        answering_guest(
            r#"{"valid":false,"message":"threshold must be positive"}"#,
            r#"{"accepted":true}"#,
        ),
    );
    let request = write(&dir, "request.json", REQUEST);
    let output = kepguard(&[
        "run",
        &module,
        "--request-path",
        &request,
        "--settings-json",
        r#"{"threshold": -1}"#,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "Provided settings are not valid: threshold must be positive"
    );
}

#[test]
fn run_turns_a_mutation_into_a_json_patch() {
    let dir = scratch("mutation");
    let module = write(
        &dir,
        "policy.wasm",
        answering_guest(
            r#"{"valid":true}"#,
            r#"{"accepted":true,"mutated_object":{"spec":{"a":1,"b":true}}}"#,
        ),
    );
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": serde_json::from_str::<Value>(REQUEST).unwrap()
    });
    let request = write(&dir, "review.json", review.to_string());
    let output = kepguard(&["run", &module, "--request-path", &request]);
    assert!(output.status.success(), "{output:?}");
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["uid"], "u-7");
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&patch).unwrap(),
        json!([{"op": "add", "path": "/spec/b", "value": true}])
    );
}

#[test]
fn run_reports_a_trapping_module_and_fails() {
    let dir = scratch("trap");
    let module = write(&dir, "trap.wasm", guest_with_body("unreachable"));
    let request = write(&dir, "request.json", REQUEST);
    let output = kepguard(&["run", &module, "--request-path", &request]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trap.wasm"), "{stderr}");
    assert!(stderr.contains("the policy trapped"), "{stderr}");
}

#[test]
fn test_names_a_malformed_fixture_file() {
    let dir = scratch("malformed");
    let module = write(
        &dir,
        "policy.wasm",
        answering_guest(r#"{"valid":true}"#, r#"{"accepted":true}"#),
    );
    write(&dir, "broken.json", r#"{"uid": "u-1", "object": "#);
    let suite = write(
        &dir,
        "suite.yaml",
        format!(
            "module: {module}\ncases:\n  - name: broken request\n    request: broken.json\n    allowed: true\n  - name: missing request\n    request: nowhere.json\n    allowed: true\n"
        ),
    );
    let output = kepguard(&["test", &suite]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("request file") && stdout.contains("broken.json is not valid JSON"),
        "{stdout}"
    );
    assert!(stdout.contains("nowhere.json"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("0 passed, 2 failed"));
}

#[test]
fn test_names_a_malformed_suite() {
    let dir = scratch("badsuite");
    let suite = write(
        &dir,
        "suite.yaml",
        "module: x.wasm\ncases:\n  - name: a\n    alowed: true\n",
    );
    let output = kepguard(&["test", &suite]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("suite.yaml is malformed"), "{stdout}");
    assert!(stdout.contains("alowed"), "{stdout}");
}

#[test]
fn test_reports_a_wrong_expectation_and_writes_junit() {
    let dir = scratch("expectation");
    let module = write(
        &dir,
        "policy.wasm",
        answering_guest(
            r#"{"valid":true}"#,
            r#"{"accepted":false,"message":"too big"}"#,
        ),
    );
    write(&dir, "request.json", REQUEST);
    let suite = write(
        &dir,
        "suite.yaml",
        format!(
            "module: {module}\ncases:\n  - name: expects acceptance\n    request: request.json\n    allowed: true\n  - name: expects the rejection\n    request: request.json\n    allowed: false\n    message: too big\n"
        ),
    );
    let junit = dir.join("junit.xml");
    let output = kepguard(&["test", &suite, "--junit", &junit.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("expected allowed: true, got allowed: false (message: too big)"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
}

/// The real fsgroup-change-policy module, built for wasm32-wasip1.
fn fsgroup_module() -> String {
    let module = repo_root().join("build/fsgroup-change-policy.wasm");
    assert!(
        module.is_file(),
        "{} is missing: run `make policies` first",
        module.display()
    );
    module.to_string_lossy().into_owned()
}

#[test]
fn the_built_fsgroup_policy_mutates_through_a_json_patch() {
    let output = kepguard(&[
        "run",
        &fsgroup_module(),
        "--request-path",
        "fixtures/fsgroup-change-policy/requests/pod-pvc-create.json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["allowed"], true);
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&patch).unwrap(),
        json!([{
            "op": "add",
            "path": "/spec/securityContext/fsGroupChangePolicy",
            "value": "OnRootMismatch"
        }])
    );
}

#[test]
fn the_built_fsgroup_policy_refuses_bad_settings() {
    let output = kepguard(&[
        "run",
        &fsgroup_module(),
        "--request-path",
        "fixtures/fsgroup-change-policy/requests/pod-pvc-create.json",
        "--settings-json",
        r#"{"allowedPolicies": ["Sometimes"]}"#,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "Provided settings are not valid: allowedPolicies: unknown value \"Sometimes\"; valid values are OnRootMismatch, Always"
    );
}

#[test]
fn the_built_fsgroup_policy_rejects_with_a_status() {
    let output = kepguard(&[
        "run",
        &fsgroup_module(),
        "--request-path",
        "fixtures/fsgroup-change-policy/requests/pod-typo.json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["allowed"], false);
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean OnRootMismatch?"),
        "{response}"
    );
    assert_eq!(response.get("patch"), None);
}

#[test]
fn bench_reports_every_figure_with_the_native_ratio() {
    let module_bytes = std::fs::metadata(fsgroup_module()).unwrap().len();
    let dir = scratch("bench");
    let inputs = dir.join("inputs");
    let suite = "fixtures/fsgroup-change-policy/suite.yaml";
    let output = kepguard(&["bench", "--write-inputs", inputs.to_str().unwrap(), suite]);
    assert!(output.status.success(), "{output:?}");
    let labels = [
        "mutated", "accepted", "rejected", "pod-1", "pod-10", "pod-50", "pod-100",
    ];
    // A native baseline of 2 µs per input, where criterion would leave its medians.
    let native = dir.join("criterion");
    for label in labels {
        let payload: Value = serde_json::from_slice(
            &std::fs::read(
                inputs
                    .join("fsgroup-change-policy")
                    .join(format!("{label}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(payload["request"]["object"].is_object(), "{label}");
        let estimates = native.join(format!("native-fsgroup-change-policy/{label}/new"));
        std::fs::create_dir_all(&estimates).unwrap();
        let median = json!({"median": {"point_estimate": 2000.0}});
        write(&estimates, "estimates.json", median.to_string());
    }

    let report = dir.join("bench.json");
    let output = kepguard(&[
        "bench",
        "--sample-ms",
        "1",
        "--throughput-ms",
        "1",
        "--native",
        native.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
        suite,
    ]);
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("fresh/native <= 3"), "{table}");

    let reports: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let policy = &reports.as_array().unwrap()[0];
    assert_eq!(policy["policy"], "fsgroup-change-policy");
    assert_eq!(policy["module_bytes"], module_bytes);
    assert_eq!(policy["fixture"], "mutated");
    assert_eq!(policy["native_p50_us"], 2.0);
    let figure = |name: &str| {
        policy[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {policy}"))
    };
    for name in [
        "compile_ms",
        "fresh_p50_us",
        "warm_p50_us",
        "instantiate_p50_us",
    ] {
        assert!(figure(name) > 0.0, "{name}: {policy}");
    }
    assert!(figure("fresh_p99_us") >= figure("fresh_p50_us"));
    // Equal but for the last bit of a float written to JSON and read back.
    let expected_ratio = figure("fresh_p50_us") / 2.0;
    assert!(
        (figure("ratio_fresh_to_native") - expected_ratio).abs() < 1e-9 * expected_ratio,
        "{policy}"
    );
    let verdicts: Vec<(&str, &str)> = policy["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| {
            (
                input["label"].as_str().unwrap(),
                input["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("mutated", "mutated"),
            ("accepted", "accepted"),
            ("rejected", "rejected"),
            ("pod-1", "mutated"),
            ("pod-10", "mutated"),
            ("pod-50", "mutated"),
            ("pod-100", "mutated"),
        ]
    );
    assert!(policy["linear"].is_boolean(), "{policy}");
}

/// An HTTP GET of `path` from a server on 127.0.0.1:`port`: (status line, headers and body).
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn playground_serves_its_site_and_nothing_else() {
    use std::io::{BufRead, BufReader};
    let dir = scratch("playground");
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    write(&site, "index.html", "<!doctype html><p>kepguard");
    write(&site.join("pkg"), "host.wasm", b"\0asm\x01\0\0\0");
    write(&dir, "secret.txt", "not served");
    let mut server = Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(["playground", "--port", "0", "--dir"])
        .arg(&site)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no URL printed: {line:?}"));
    assert!(
        line.starts_with("kepguard playground: http://127.0.0.1:"),
        "{line}"
    );

    let (head, body) = http_get(port, "/");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains("text/html"),
        "{head}"
    );
    assert_eq!(body, "<!doctype html><p>kepguard");
    let (head, _) = http_get(port, "/pkg/host.wasm");
    assert!(head.contains("Content-Type: application/wasm"), "{head}");
    let (head, _) = http_get(port, "/../secret.txt");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = http_get(port, "/missing.js");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn playground_refuses_a_folder_without_a_site() {
    let dir = scratch("playground-empty");
    let output = kepguard(&["playground", "--dir", &dir.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("make playground"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
