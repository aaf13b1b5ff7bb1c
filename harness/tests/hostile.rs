//! Every built policy module against hostile requests and settings: each must answer with a
//! well-formed response (a clean rejection, or a verdict on a large but valid object) within
//! the deadline and the memory limit, never a trap. Run `make policies` first (`make test` does).

use kepguard::host::{Limits, Policy};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

const POLICIES: [&str; 4] = [
    "fsgroup-change-policy",
    "nodeport-subrange",
    "resize-limits",
    "sidecar-ordering",
];

fn module(policy: &str) -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("build")
        .join(format!("{policy}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `make policies` first",
        path.display()
    );
    Policy::load(&path, Limits::default(), false).expect("the module loads")
}

/// Settings each policy accepts, so that requests reach its rules.
fn settings(policy: &str) -> Value {
    match policy {
        "nodeport-subrange" => json!({"nodePortRange": "30000-32767"}),
        "resize-limits" => json!({"cpu": {"maxLimit": "8"}}),
        "sidecar-ordering" => json!({"sidecars": [{"name": "istio-proxy"}], "mutate": true}),
        _ => json!({}),
    }
}

fn container(index: usize) -> Value {
    json!({
        "name": format!("c{index}"),
        "image": "registry.example.com/app:1",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}
    })
}

/// A large but valid object of the kind the policy judges, with `items` containers (or ports).
fn large_object(policy: &str, items: usize, padding: usize) -> Value {
    let note = "x".repeat(padding);
    if policy == "nodeport-subrange" {
        let ports: Vec<Value> = (0..items)
            .map(|i| json!({"name": format!("p{i}"), "port": 1000 + i % 60000, "protocol": "TCP"}))
            .collect();
        return json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "big", "annotations": {"note": note}},
            "spec": {"type": "NodePort", "ports": ports}
        });
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "big", "annotations": {"note": note}},
        "spec": {
            "securityContext": {"fsGroup": 1000},
            "containers": (0..items).map(container).collect::<Vec<_>>(),
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        }
    })
}

fn request(policy: &str, object: Value) -> Vec<u8> {
    let kind = if policy == "nodeport-subrange" {
        json!({"group": "", "version": "v1", "kind": "Service"})
    } else {
        json!({"group": "", "version": "v1", "kind": "Pod"})
    };
    serde_json::to_vec(&json!({
        "settings": settings(policy),
        "request": {"uid": "hostile", "kind": kind, "operation": "CREATE", "namespace": "default",
                    "userInfo": {"username": "mallory"}, "object": object}
    }))
    .unwrap()
}

/// The hostile validate payloads: (name, bytes).
fn hostile_requests(policy: &str) -> Vec<(&'static str, Vec<u8>)> {
    let valid = request(policy, large_object(policy, 2, 0));
    let deep = format!(
        "{{\"settings\": {{}}, \"request\": {{\"object\": {}{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut invalid_utf8 = valid.clone();
    let at = invalid_utf8.len() / 2;
    invalid_utf8.splice(at..at, [0xff, 0xfe, 0xc0, 0x80]);
    vec![
        ("truncated JSON", valid[..valid.len() / 2].to_vec()),
        (
            "a 10 MB object",
            request(policy, large_object(policy, 10, 10 << 20)),
        ),
        (
            "10,000 containers",
            request(policy, large_object(policy, 10_000, 0)),
        ),
        ("JSON nested 10,000 deep", deep.into_bytes()),
        ("invalid UTF-8", invalid_utf8),
        ("an empty payload", Vec::new()),
        ("a JSON array", b"[1, 2, 3]".to_vec()),
        ("null", b"null".to_vec()),
    ]
}

fn hostile_settings() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("truncated settings", b"{\"exemptNamespaces\": [".to_vec()),
        (
            "settings nested 10,000 deep",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
        (
            "invalid UTF-8 settings",
            b"{\"exemptNamespaces\": [\"\xff\xfe\"]}".to_vec(),
        ),
        ("a settings array", b"[]".to_vec()),
        (
            "huge unknown settings",
            format!("{{\"{}\": 1}}", "k".repeat(1 << 20)).into_bytes(),
        ),
    ]
}

/// A response is well-formed when it is JSON with a boolean verdict, and a refusal says why.
fn assert_well_formed(policy: &str, case: &str, bytes: &[u8], verdict_key: &str) -> bool {
    let response: Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{policy}, {case}: malformed answer: {e}"));
    let verdict = response[verdict_key]
        .as_bool()
        .unwrap_or_else(|| panic!("{policy}, {case}: no {verdict_key}: {response}"));
    if !verdict {
        assert!(
            response["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{policy}, {case}: a refusal without a message: {response}"
        );
    }
    verdict
}

#[test]
fn hostile_requests_get_clean_answers_within_the_deadline() {
    let mut checked = 0;
    for policy in POLICIES {
        let module = module(policy);
        for (case, payload) in hostile_requests(policy) {
            let started = Instant::now();
            let answer = module
                .call("validate", &payload)
                .unwrap_or_else(|e| panic!("{policy}, {case}: {e}"));
            let accepted = assert_well_formed(policy, case, &answer, "accepted");
            let malformed = !matches!(case, "a 10 MB object" | "10,000 containers");
            assert!(
                !(malformed && accepted),
                "{policy}, {case}: malformed input was accepted"
            );
            println!("{policy}: {case}: answered in {:?}", started.elapsed());
            checked += 1;
        }
        for (case, payload) in hostile_settings() {
            let answer = module
                .call("validate_settings", &payload)
                .unwrap_or_else(|e| panic!("{policy}, {case}: {e}"));
            let valid = assert_well_formed(policy, case, &answer, "valid");
            assert!(!valid, "{policy}, {case}: hostile settings were accepted");
            checked += 1;
        }
    }
    assert_eq!(checked, POLICIES.len() * 13);
}
