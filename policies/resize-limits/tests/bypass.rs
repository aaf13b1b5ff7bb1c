//! The bypass matrix: every rule fires identically for a Pod and every workload template, at
//! CREATE and UPDATE, and for the resize rules through `pods/resize` and a plain Pod UPDATE.
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

fn rules() -> Vec<Rule> {
    let memory =
        |limit: &str| json!({"requests": {"memory": "512Mi"}, "limits": {"memory": limit}});
    vec![
        Rule {
            name: "bounds",
            settings: json!({"cpu": {"maxLimit": "8"}}),
            old: cpu_limit("2"),
            new: cpu_limit("12"),
            lock_old_object: false,
            scope: Scope::Everywhere,
        },
        Rule {
            name: "step size",
            settings: json!({"cpu": {"maxIncreaseFactor": 2}}),
            old: cpu_limit("1"),
            new: cpu_limit("3"),
            lock_old_object: false,
            scope: Scope::Resize,
        },
        Rule {
            name: "memory limit decrease",
            settings: json!({"memory": {"limitDecrease": "deny"}}),
            old: spec(memory("2Gi"), None),
            new: spec(memory("1Gi"), None),
            lock_old_object: false,
            scope: Scope::Resize,
        },
        Rule {
            name: "who may resize",
            settings: json!({"allowedResizers": {"users": ["vpa-updater"]}}),
            old: cpu_limit("1"),
            new: cpu_limit("2"),
            lock_old_object: false,
            scope: Scope::Resize,
        },
        Rule {
            name: "lock label",
            settings: json!({}),
            old: cpu_limit("1"),
            new: cpu_limit("2"),
            lock_old_object: true,
            scope: Scope::Resize,
        },
        Rule {
            name: "resizePolicy entries",
            settings: json!({}),
            old: spec(json!({}), None),
            new: spec(
                json!({}),
                Some(json!([{"resourceName": "cpu", "restartPolicy": "Restart"}])),
            ),
            lock_old_object: false,
            scope: Scope::Templates,
        },
        Rule {
            name: "requireResizePolicy",
            settings: json!({"requireResizePolicy": true}),
            old: spec(
                json!({}),
                Some(json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}])),
            ),
            new: spec(json!({}), None),
            lock_old_object: false,
            scope: Scope::Templates,
        },
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
    let mut checked = 0;
    for rule in rules() {
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
    assert_eq!(checked, 7 * 17);
}
