//! The bypass matrix. The policy judges StatefulSets only, so the matrix runs over settings and
//! operations: each case is sent as CREATE, as an UPDATE that changes the retention policy and
//! as an UPDATE that keeps it, in validate and in mutate mode. Every other workload kind, given
//! the same `persistentVolumeClaimRetentionPolicy` and `volumeClaimTemplates`, is untouched.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{request, workload};
use serde_json::{Value, json};

/// What the policy answered, reduced to what the matrix compares.
#[derive(Debug, PartialEq)]
struct Answer {
    accepted: bool,
    message: Option<String>,
    warnings: usize,
    /// The retention policy of the mutated object, if the policy mutated it.
    patched_policy: Option<Value>,
}

const UNTOUCHED: Answer = Answer {
    accepted: true,
    message: None,
    warnings: 0,
    patched_policy: None,
};

fn object(kind: WorkloadKind, namespace: &str, policy: &Value) -> Value {
    let mut object = workload(
        kind,
        json!({"containers": [{"name": "db", "image": "postgres:17"}]}),
    );
    object["metadata"]["namespace"] = json!(namespace);
    let spec = &mut object["spec"];
    spec["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}}]);
    if !policy.is_null() {
        spec["persistentVolumeClaimRetentionPolicy"] = policy.clone();
    }
    object
}

fn answer(
    kind: WorkloadKind,
    operation: &str,
    new: &Value,
    old: &Value,
    settings: &Value,
) -> Answer {
    let namespace = "prod-eu";
    let old = (operation == "UPDATE").then(|| object(kind, namespace, old));
    let mut request = request(kind, operation, None, object(kind, namespace, new), old);
    request["namespace"] = json!(namespace);
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let response: Value =
        serde_json::from_slice(&pvc_retention::validate(&payload).expect("validate answers"))
            .unwrap();
    Answer {
        accepted: response["accepted"].as_bool().unwrap(),
        message: response["message"].as_str().map(String::from),
        warnings: response["warnings"].as_array().map_or(0, Vec::len),
        patched_policy: response["mutated_object"]
            .pointer("/spec/persistentVolumeClaimRetentionPolicy")
            .cloned(),
    }
}

struct Case {
    name: &'static str,
    settings: Value,
    /// The retention policy sent, and the one of the old object at a changing UPDATE.
    policy: Value,
    changed_from: Value,
    /// The StatefulSet's answers at CREATE, at a changing UPDATE and at an unchanged UPDATE.
    expected: [Answer; 3],
}

fn cases() -> Vec<Case> {
    let rules = json!([{"name": "production", "namespaces": ["prod-*"], "whenDeleted": ["Retain"], "whenScaled": ["Retain"]}]);
    let rejection = "StatefulSet \"matrix\": spec.persistentVolumeClaimRetentionPolicy.whenDeleted \"Delete\" is not allowed in namespace \"prod-eu\" by rule \"production\": use one of Retain (Delete removes the PersistentVolumeClaims of the volumeClaimTemplates, and their data, when the StatefulSet is deleted)";
    let rejected = || Answer {
        accepted: false,
        message: Some(rejection.to_string()),
        warnings: 0,
        patched_policy: None,
    };
    let warned = Answer {
        accepted: true,
        message: None,
        warnings: 1,
        patched_policy: None,
    };
    let mutated = || Answer {
        accepted: true,
        message: None,
        warnings: 1,
        patched_policy: Some(json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
    };
    let delete = json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    let retain = json!({"whenDeleted": "Retain", "whenScaled": "Retain"});
    let mutate = json!({"rules": rules, "mode": "mutate", "setWhenUnset": {"whenDeleted": "Retain", "whenScaled": "Retain"}});
    vec![
        Case {
            name: "a forbidden value (validate mode)",
            settings: json!({"rules": rules}),
            policy: delete.clone(),
            changed_from: retain.clone(),
            expected: [rejected(), rejected(), warned],
        },
        Case {
            name: "a forbidden value (mutate mode)",
            settings: mutate.clone(),
            policy: delete.clone(),
            changed_from: retain.clone(),
            expected: [
                rejected(),
                rejected(),
                Answer {
                    warnings: 1,
                    ..UNTOUCHED
                },
            ],
        },
        Case {
            name: "an allowed value",
            settings: json!({"rules": rules}),
            policy: retain.clone(),
            changed_from: delete.clone(),
            expected: [UNTOUCHED, UNTOUCHED, UNTOUCHED],
        },
        Case {
            name: "no policy (mutate mode)",
            settings: mutate,
            policy: Value::Null,
            changed_from: Value::Null,
            expected: [mutated(), mutated(), mutated()],
        },
        Case {
            name: "an exempt namespace",
            settings: json!({"rules": rules, "exemptNamespaces": ["prod-eu"]}),
            policy: delete,
            changed_from: retain,
            expected: [UNTOUCHED, UNTOUCHED, UNTOUCHED],
        },
    ]
}

#[test]
fn only_statefulsets_are_judged_in_every_mode_and_operation() {
    let mut checked = 0;
    for case in cases() {
        for kind in WorkloadKind::ALL {
            let sent = [
                ("CREATE", &case.changed_from),
                ("UPDATE", &case.changed_from),
                ("UPDATE", &case.policy),
            ];
            for ((operation, old), expected) in sent.into_iter().zip(&case.expected) {
                let answer = answer(kind, operation, &case.policy, old, &case.settings);
                if kind == WorkloadKind::StatefulSet {
                    assert_eq!(&answer, expected, "{}: {operation} from {old}", case.name);
                } else {
                    assert_eq!(answer, UNTOUCHED, "{}: {kind:?} {operation}", case.name);
                }
                checked += 1;
            }
        }
    }
    println!("pvc-retention bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 5 * 8 * 3);
}
