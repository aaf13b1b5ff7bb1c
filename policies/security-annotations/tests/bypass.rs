//! The bypass matrix: every rule fires identically for a Pod and every workload template, at
//! CREATE and at a workload UPDATE that adds the annotations. A Pod UPDATE that adds them is
//! rejected whatever the rule, since a Pod's security context is fixed at creation.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use serde_json::{Value, json};

const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const APPARMOR_APP: &str = "container.apparmor.security.beta.kubernetes.io/app";

struct Rule {
    name: &'static str,
    settings: Value,
    annotations: Value,
    spec: Value,
}

fn app(security_context: Value) -> Value {
    json!({"name": "app", "image": "registry.example.com/app:1", "securityContext": security_context})
}

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "mutate translates pod and container annotations",
            settings: json!({}),
            annotations: json!({SECCOMP_POD: "runtime/default", APPARMOR_APP: "localhost/deny-write"}),
            spec: json!({"containers": [app(json!({}))]}),
        },
        Rule {
            name: "validate rejects the annotations",
            settings: json!({"mode": "validate"}),
            annotations: json!({SECCOMP_POD: "localhost/audit.json"}),
            spec: json!({"containers": [app(json!({}))]}),
        },
        Rule {
            name: "a conflict with the field is rejected",
            settings: json!({}),
            annotations: json!({APPARMOR_APP: "runtime/default"}),
            spec: json!({"containers": [app(json!({"appArmorProfile": {"type": "Unconfined"}}))]}),
        },
        Rule {
            name: "a stray annotation is rejected",
            settings: json!({}),
            annotations: json!({"container.seccomp.security.alpha.kubernetes.io/proxy": "runtime/default"}),
            spec: json!({"containers": [app(json!({}))]}),
        },
        Rule {
            name: "unconfined is rejected",
            settings: json!({"mode": "validate"}),
            annotations: json!({APPARMOR_APP: "unconfined"}),
            spec: json!({"containers": [app(json!({}))]}),
        },
        Rule {
            name: "Windows pods lose the annotations",
            settings: json!({}),
            annotations: json!({SECCOMP_POD: "runtime/default"}),
            spec: json!({"os": {"name": "windows"}, "containers": [app(json!({}))]}),
        },
    ]
}

fn annotated(kind: WorkloadKind, spec: &Value, annotations: &Value) -> Value {
    let mut object = workload(kind, spec.clone());
    object
        .pointer_mut(kind.pod_metadata_pointer())
        .expect("the helper writes pod metadata")["annotations"] = annotations.clone();
    object
}

/// The annotation's path differs per kind, like the pod spec's; "Pod Security Standards" is a
/// name, not the kind the matrix normalised.
fn comparable(mut answer: Answer, kind: WorkloadKind) -> Answer {
    let metadata = format!("annotation {}.", kind.pod_metadata_path());
    let normalise = |text: String| {
        text.replace(&metadata, "annotation <metadata>.")
            .replace("<kind> Security Standards", "Pod Security Standards")
    };
    answer.message = answer.message.map(normalise);
    answer.warnings = answer.warnings.into_iter().map(normalise).collect();
    answer
}

#[test]
fn every_rule_fires_identically_for_every_workload_shape() {
    let mut checked = 0;
    for rule in rules() {
        let mut reference: Option<Answer> = None;
        for kind in WorkloadKind::ALL {
            for operation in ["CREATE", "UPDATE"] {
                let object = annotated(kind, &rule.spec, &rule.annotations);
                let old = (operation == "UPDATE").then(|| workload(kind, rule.spec.clone()));
                let answer = comparable(
                    evaluate(
                        security_annotations::validate,
                        kind,
                        request(kind, operation, None, object, old),
                        &rule.settings,
                    ),
                    kind,
                );
                let shape = format!("rule {:?}, {kind:?} {operation}", rule.name);
                checked += 1;
                if kind.is_pod() && operation == "UPDATE" {
                    assert!(!answer.accepted, "{shape}: adding annotations to a Pod");
                    assert!(
                        answer
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("is added to a running <kind>")),
                        "{shape}: {answer:?}"
                    );
                    continue;
                }
                assert_ne!(answer, Answer::untouched(), "{shape}: does not fire");
                match &reference {
                    Some(reference) => assert_eq!(&answer, reference, "{shape}"),
                    None => reference = Some(answer),
                }
            }
        }
    }
    println!("security-annotations bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 6 * 8 * 2);
}

#[test]
fn unchanged_annotations_are_left_alone_unless_on_update_all() {
    let annotations = json!({SECCOMP_POD: "runtime/default"});
    let spec = json!({"containers": [app(json!({}))]});
    for kind in WorkloadKind::ALL {
        let object = annotated(kind, &spec, &annotations);
        let update = request(kind, "UPDATE", None, object.clone(), Some(object));
        let answer = evaluate(
            security_annotations::validate,
            kind,
            update.clone(),
            &json!({}),
        );
        assert!(answer.accepted && answer.mutated_spec.is_none(), "{kind:?}");
        // A workload is warned about; a Pod, whose annotations are fixed, is not.
        assert_eq!(
            answer.warnings.len(),
            usize::from(!kind.is_pod()),
            "{kind:?}"
        );
        let all = evaluate(
            security_annotations::validate,
            kind,
            update,
            &json!({"onUpdate": "all"}),
        );
        assert_eq!(all.mutated_spec.is_some(), !kind.is_pod(), "{kind:?}");
    }
}
