//! The bypass matrix: with a revision key configured for every template kind, every rule fires
//! identically for each of them, at CREATE and at an UPDATE that adds the constraint. An
//! UPDATE that leaves the constraint unchanged, and every Pod, are untouched.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use serde_json::{Value, json};

struct Rule {
    name: &'static str,
    mode: &'static str,
    constraint: Value,
}

fn settings(mode: &str) -> Value {
    let kinds = [
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
    ];
    let keys: serde_json::Map<String, Value> = kinds
        .iter()
        .map(|kind| (kind.to_string(), json!(["example.com/revision"])))
        .collect();
    json!({"keys": keys, "mode": mode})
}

fn constraint(extra: Value) -> Value {
    let mut constraint = json!({
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "matrix"}},
    });
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            constraint.as_object_mut().unwrap().remove(key);
        } else {
            constraint[key] = value.clone();
        }
    }
    constraint
}

fn rules() -> Vec<Rule> {
    let both = json!({"matchExpressions": [{"key": "example.com/revision", "operator": "Exists"}]});
    vec![
        Rule {
            name: "append the missing key",
            mode: "mutate",
            constraint: constraint(json!({})),
        },
        Rule {
            name: "reject the missing key",
            mode: "validate",
            constraint: constraint(json!({})),
        },
        Rule {
            name: "leave a constraint without labelSelector alone",
            mode: "mutate",
            constraint: constraint(json!({"labelSelector": null})),
        },
        Rule {
            name: "leave a key the labelSelector uses alone",
            mode: "validate",
            constraint: constraint(json!({"labelSelector": both})),
        },
        Rule {
            name: "refuse matchLabelKeys without labelSelector",
            mode: "mutate",
            constraint: constraint(json!({"labelSelector": null, "matchLabelKeys": ["app"]})),
        },
        Rule {
            name: "refuse a key in both",
            mode: "validate",
            constraint: constraint(json!({"matchLabelKeys": ["app", "example.com/revision"]})),
        },
        Rule {
            name: "refuse a key listed twice",
            mode: "mutate",
            constraint: constraint(json!({"matchLabelKeys": ["v", "v", "example.com/revision"]})),
        },
    ]
}

fn spec(constraints: Value) -> Value {
    json!({
        "containers": [{"name": "app", "image": "app:1"}],
        "topologySpreadConstraints": constraints,
    })
}

#[test]
fn every_rule_fires_identically_for_every_template_kind() {
    let validate = topology_spread_keys::validate;
    let mut checked = 0;
    for rule in rules() {
        let settings = settings(rule.mode);
        let with = spec(json!([rule.constraint]));
        let reference = evaluate(
            validate,
            WorkloadKind::Deployment,
            request(
                WorkloadKind::Deployment,
                "CREATE",
                None,
                workload(WorkloadKind::Deployment, with.clone()),
                None,
            ),
            &settings,
        );
        assert_ne!(
            reference,
            Answer::untouched(),
            "rule {:?} does not fire",
            rule.name
        );
        for kind in WorkloadKind::ALL {
            let sent = [
                ("CREATE", None, "created"),
                ("UPDATE", Some(spec(json!([]))), "added by an UPDATE"),
                ("UPDATE", Some(with.clone()), "unchanged by an UPDATE"),
            ];
            for (operation, old, what) in sent {
                let answer = evaluate(
                    validate,
                    kind,
                    request(
                        kind,
                        operation,
                        None,
                        workload(kind, with.clone()),
                        old.map(|old| workload(kind, old)),
                    ),
                    &settings,
                );
                let expected = if kind.is_pod() || what.starts_with("unchanged") {
                    Answer::untouched()
                } else {
                    reference.clone()
                };
                assert_eq!(
                    answer, expected,
                    "rule {:?}, {kind:?}, constraint {what}",
                    rule.name
                );
                checked += 1;
            }
        }
    }
    println!("topology-spread-keys bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 7 * 8 * 3);
}
