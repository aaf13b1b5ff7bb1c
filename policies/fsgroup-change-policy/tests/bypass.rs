//! The bypass matrix: every rule fires identically for a Pod and every workload template,
//! at CREATE and UPDATE. A Pod UPDATE is out of scope: a Pod's securityContext is immutable.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use kepguard_testing::unit::merge;
use serde_json::{Value, json};

struct Rule {
    name: &'static str,
    settings: Value,
    spec: Value,
}

fn spec(security_context: Value, volumes: Value, extra: Value) -> Value {
    let spec = json!({
        "securityContext": security_context,
        "containers": [{"name": "app", "image": "app:1"}],
        "volumes": volumes,
    });
    merge(spec, extra)
}

fn rules() -> Vec<Rule> {
    let pvc = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]);
    vec![
        Rule {
            name: "default it (mutate)",
            settings: json!({}),
            spec: spec(json!({"fsGroup": 2000}), pvc.clone(), json!({})),
        },
        Rule {
            name: "default it (validate mode)",
            settings: json!({"mutate": false}),
            spec: spec(json!({"fsGroup": 2000}), pvc.clone(), json!({})),
        },
        Rule {
            name: "allowed values",
            settings: json!({"allowedPolicies": ["OnRootMismatch"]}),
            spec: spec(
                json!({"fsGroup": 1, "fsGroupChangePolicy": "Always"}),
                pvc.clone(),
                json!({}),
            ),
        },
        Rule {
            name: "no-op warning",
            settings: json!({}),
            spec: spec(
                json!({"fsGroupChangePolicy": "OnRootMismatch"}),
                pvc.clone(),
                json!({}),
            ),
        },
        Rule {
            name: "Windows guard",
            settings: json!({}),
            spec: spec(
                json!({"fsGroup": 1}),
                pvc.clone(),
                json!({"nodeSelector": {"kubernetes.io/os": "windows"}}),
            ),
        },
        Rule {
            name: "seLinuxChangePolicy",
            settings: json!({"allowedSELinuxChangePolicies": ["Recursive"]}),
            spec: spec(
                json!({"seLinuxChangePolicy": "MountOption"}),
                pvc,
                json!({}),
            ),
        },
    ]
}

#[test]
fn every_rule_fires_identically_for_every_workload_shape() {
    let validate = fsgroup_change_policy::validate;
    let mut checked = 0;
    for rule in rules() {
        let pod = workload(WorkloadKind::Pod, rule.spec.clone());
        let reference = evaluate(
            validate,
            WorkloadKind::Pod,
            request(WorkloadKind::Pod, "CREATE", None, pod, None),
            &rule.settings,
        );
        assert_ne!(
            reference,
            Answer::untouched(),
            "rule {:?} does not fire",
            rule.name
        );
        for kind in WorkloadKind::ALL {
            for operation in ["CREATE", "UPDATE"] {
                let object = workload(kind, rule.spec.clone());
                let old = (operation == "UPDATE").then(|| object.clone());
                let answer = evaluate(
                    validate,
                    kind,
                    request(kind, operation, None, object, old),
                    &rule.settings,
                );
                let expected = if kind.is_pod() && operation == "UPDATE" {
                    Answer::untouched()
                } else {
                    reference.clone()
                };
                assert_eq!(
                    answer, expected,
                    "rule {:?}, {kind:?} {operation}",
                    rule.name
                );
                checked += 1;
            }
        }
    }
    println!("fsgroup-change-policy bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 6 * 8 * 2);
}
