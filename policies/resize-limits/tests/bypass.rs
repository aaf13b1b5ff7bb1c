//! The bypass matrix: every rule fires identically for a Pod and every workload template, at
//! CREATE and UPDATE, and for the resize rules through `pods/resize` and a plain Pod UPDATE.
//! Every path a resize may take is covered: container values, init container values (1.36),
//! pod-level `spec.resources` (1.36) and memory-backed emptyDir sizes (1.37).
//! Out of scope, and checked to be accepted untouched: the resize-only rules (step size,
//! memory limit decrease, resizers, lock label) on workloads, which are not resized in place,
//! and the resizePolicy rules on a Pod UPDATE, where only resources may change.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Fires at CREATE, on a workload UPDATE, and on a Pod resize.
    Everywhere,
    /// Fires on a Pod resize only (plain UPDATE or pods/resize).
    Resize,
    /// Fires at CREATE and on a workload UPDATE.
    Templates,
}

struct Rule {
    name: &'static str,
    settings: Value,
    old: Value,
    new: Value,
    lock_old_object: bool,
    scope: Scope,
}

fn spec(resources: Value, resize_policy: Option<Value>) -> Value {
    let mut container = json!({"name": "app", "image": "app:1", "resources": resources});
    if let Some(policy) = resize_policy {
        container["resizePolicy"] = policy;
    }
    json!({"containers": [container], "restartPolicy": "Always"})
}

fn cpu_limit(limit: &str) -> Value {
    spec(
        json!({"requests": {"cpu": "500m"}, "limits": {"cpu": limit}}),
        None,
    )
}

/// A pod spec whose ordinary init container has the cpu `limit`.
fn init_limit(limit: &str) -> Value {
    let mut spec = cpu_limit("1");
    spec["initContainers"] =
        json!([{"name": "setup", "image": "setup:1", "resources": {"limits": {"cpu": limit}}}]);
    spec
}

/// A pod spec with the pod-level `resources`; its container has a cpu and memory limit.
fn pod_level(resources: Value) -> Value {
    let mut spec = spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}), None);
    spec["resources"] = resources;
    spec
}

/// A pod spec with a memory-backed emptyDir of `size`.
fn memory_volume(size: &str) -> Value {
    let mut spec = cpu_limit("1");
    spec["volumes"] =
        json!([{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": size}}]);
    spec
}

fn rule(name: &'static str, settings: Value, old: Value, new: Value, scope: Scope) -> Rule {
    Rule {
        name,
        settings,
        old,
        new,
        lock_old_object: false,
        scope,
    }
}

fn locked(mut rule: Rule) -> Rule {
    rule.lock_old_object = true;
    rule
}

fn rules() -> Vec<Rule> {
    let memory =
        |limit: &str| json!({"requests": {"memory": "512Mi"}, "limits": {"memory": limit}});
    let resizers = || json!({"allowedResizers": {"users": ["vpa-updater"]}});
    let pod_cpu = |limit: &str| pod_level(json!({"limits": {"cpu": limit}}));
    let pod_memory = |limit: &str| pod_level(json!({"limits": {"memory": limit}}));
    let mut unlimited = spec(json!({}), None);
    unlimited["resources"] = json!({"limits": {"cpu": "16"}});
    let mut unlimited_before = spec(json!({}), None);
    unlimited_before["resources"] = json!({"limits": {"cpu": "2"}});
    let init_policy = |policy: &str| {
        let mut spec = cpu_limit("1");
        spec["initContainers"] = json!([{"name": "setup", "image": "setup:1", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": policy}]}]);
        spec
    };
    vec![
        rule(
            "bounds",
            json!({"cpu": {"maxLimit": "8"}}),
            cpu_limit("2"),
            cpu_limit("12"),
            Scope::Everywhere,
        ),
        rule(
            "step size",
            json!({"cpu": {"maxIncreaseFactor": 2}}),
            cpu_limit("1"),
            cpu_limit("3"),
            Scope::Resize,
        ),
        rule(
            "memory limit decrease",
            json!({"memory": {"limitDecrease": "deny"}}),
            spec(memory("2Gi"), None),
            spec(memory("1Gi"), None),
            Scope::Resize,
        ),
        rule(
            "who may resize",
            resizers(),
            cpu_limit("1"),
            cpu_limit("2"),
            Scope::Resize,
        ),
        locked(rule(
            "lock label",
            json!({}),
            cpu_limit("1"),
            cpu_limit("2"),
            Scope::Resize,
        )),
        rule(
            "resizePolicy entries",
            json!({}),
            spec(json!({}), None),
            spec(
                json!({}),
                Some(json!([{"resourceName": "cpu", "restartPolicy": "Restart"}])),
            ),
            Scope::Templates,
        ),
        rule(
            "requireResizePolicy",
            json!({"requireResizePolicy": true}),
            spec(
                json!({}),
                Some(json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}])),
            ),
            spec(json!({}), None),
            Scope::Templates,
        ),
        // Ordinary init containers (1.36 beta, 1.37 GA).
        rule(
            "init container bounds",
            json!({"cpu": {"maxLimit": "8"}}),
            init_limit("2"),
            init_limit("12"),
            Scope::Everywhere,
        ),
        rule(
            "init container step size",
            json!({"cpu": {"maxIncreaseFactor": 2}}),
            init_limit("1"),
            init_limit("3"),
            Scope::Resize,
        ),
        rule(
            "init container resizers",
            resizers(),
            init_limit("1"),
            init_limit("2"),
            Scope::Resize,
        ),
        locked(rule(
            "init container lock label",
            json!({}),
            init_limit("1"),
            init_limit("2"),
            Scope::Resize,
        )),
        rule(
            "RestartContainer on an init container",
            json!({}),
            init_policy("NotRequired"),
            init_policy("RestartContainer"),
            Scope::Templates,
        ),
        // Pod-level resources (1.36 beta).
        rule(
            "pod-level bounds",
            json!({"podResources": {"cpu": {"maxLimit": "8"}}}),
            pod_cpu("2"),
            pod_cpu("12"),
            Scope::Everywhere,
        ),
        rule(
            "pod-level limit over a container without one",
            json!({"cpu": {"maxLimit": "8"}}),
            unlimited_before,
            unlimited,
            Scope::Everywhere,
        ),
        rule(
            "pod-level step size",
            json!({"podResources": {"cpu": {"maxIncreaseFactor": 2}}}),
            pod_cpu("1"),
            pod_cpu("3"),
            Scope::Resize,
        ),
        rule(
            "pod-level memory limit decrease",
            json!({"podResources": {"memory": {"limitDecrease": "deny"}}}),
            pod_memory("2Gi"),
            pod_memory("1Gi"),
            Scope::Resize,
        ),
        rule(
            "pod-level resizers",
            resizers(),
            pod_cpu("1"),
            pod_cpu("2"),
            Scope::Resize,
        ),
        locked(rule(
            "pod-level lock label",
            json!({}),
            pod_cpu("1"),
            pod_cpu("2"),
            Scope::Resize,
        )),
        // Memory-backed emptyDir sizes (1.37 alpha).
        rule(
            "emptyDir sizeLimit bound",
            json!({"memory": {"maxEmptyDirSizeLimit": "2Gi"}}),
            memory_volume("1Gi"),
            memory_volume("4Gi"),
            Scope::Everywhere,
        ),
        rule(
            "emptyDir resizers",
            resizers(),
            memory_volume("1Gi"),
            memory_volume("2Gi"),
            Scope::Resize,
        ),
        locked(rule(
            "emptyDir lock label",
            json!({}),
            memory_volume("1Gi"),
            memory_volume("2Gi"),
            Scope::Resize,
        )),
    ]
}

/// Every shape a request can take: (kind, operation, subresource).
fn shapes() -> Vec<(WorkloadKind, &'static str, Option<&'static str>)> {
    let mut shapes = Vec::new();
    for kind in WorkloadKind::ALL {
        shapes.push((kind, "CREATE", None));
        shapes.push((kind, "UPDATE", None));
    }
    shapes.push((WorkloadKind::Pod, "UPDATE", Some("resize")));
    shapes
}

fn in_scope(scope: Scope, kind: WorkloadKind, operation: &str) -> bool {
    match (scope, operation) {
        (Scope::Everywhere, _) => true,
        (Scope::Resize, "UPDATE") => kind.is_pod(),
        (Scope::Templates, "CREATE") => true,
        (Scope::Templates, "UPDATE") => !kind.is_pod(),
        _ => false,
    }
}

#[test]
fn every_rule_fires_identically_for_every_workload_shape() {
    let rules = rules();
    let expected = rules.len() * shapes().len();
    let mut checked = 0;
    for rule in rules {
        // The first answer of each operation is the reference the others must equal.
        let mut references: Vec<(&str, Answer)> = Vec::new();
        for (kind, operation, sub_resource) in shapes() {
            let object = workload(kind, rule.new.clone());
            let old = (operation == "UPDATE").then(|| {
                let mut old = workload(kind, rule.old.clone());
                if rule.lock_old_object {
                    old["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
                }
                old
            });
            let answer = evaluate(
                resize_limits::validate,
                kind,
                request(kind, operation, sub_resource, object, old),
                &rule.settings,
            );
            let shape = format!(
                "rule {:?}, {kind:?} {operation} {sub_resource:?}",
                rule.name
            );
            if in_scope(rule.scope, kind, operation) {
                assert!(!answer.accepted, "{shape}: does not fire: {answer:?}");
                match references.iter().find(|(op, _)| *op == operation) {
                    Some((_, reference)) => assert_eq!(&answer, reference, "{shape}"),
                    None => references.push((operation, answer)),
                }
            } else {
                assert_eq!(answer, Answer::untouched(), "{shape}: out of scope");
            }
            checked += 1;
        }
    }
    println!("resize-limits bypass matrix: {checked} combinations checked");
    assert_eq!(checked, expected);
    assert_eq!(expected, 21 * 17);
}
