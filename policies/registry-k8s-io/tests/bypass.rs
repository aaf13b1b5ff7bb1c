//! The bypass matrix: every rule fires identically for a Pod and every workload template, at
//! CREATE and at an UPDATE that changes the image, and an unchanged image is left alone with
//! the same warning everywhere.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use serde_json::{Value, json};

struct Rule {
    name: &'static str,
    settings: Value,
    spec: Value,
    /// The pod spec before an UPDATE.
    old_spec: Value,
    operations: &'static [&'static str],
}

fn spec(image: &str) -> Value {
    json!({
        "initContainers": [{"name": "init", "image": image}],
        "containers": [{"name": "app", "image": "registry.example.com/app:1"}, {"name": "pause", "image": image}]
    })
}

fn rules() -> Vec<Rule> {
    let frozen = "k8s.gcr.io/pause:3.9";
    vec![
        Rule {
            name: "mutate rewrites new and changed images",
            settings: json!({}),
            spec: spec(frozen),
            old_spec: spec("registry.k8s.io/pause:3.8"),
            operations: &["CREATE", "UPDATE"],
        },
        Rule {
            name: "validate rejects new and changed images",
            settings: json!({"mode": "validate"}),
            spec: spec(frozen),
            old_spec: spec("registry.k8s.io/pause:3.8"),
            operations: &["CREATE", "UPDATE"],
        },
        Rule {
            name: "custom rewrites, docker.io with its library/ path",
            settings: json!({"rewrites": [{"from": "docker.io", "to": "harbor.example.com/hub"}]}),
            spec: spec("busybox:1.36"),
            old_spec: spec("busybox:1.35"),
            operations: &["CREATE", "UPDATE"],
        },
        Rule {
            name: "an unchanged image is left alone with a warning",
            settings: json!({"mode": "validate"}),
            spec: spec(frozen),
            old_spec: spec(frozen),
            operations: &["UPDATE"],
        },
    ]
}

#[test]
fn every_rule_fires_identically_for_every_workload_shape() {
    let mut checked = 0;
    for rule in rules() {
        let mut reference: Option<Answer> = None;
        for kind in WorkloadKind::ALL {
            for operation in rule.operations {
                let object = workload(kind, rule.spec.clone());
                let old = (*operation == "UPDATE").then(|| workload(kind, rule.old_spec.clone()));
                let answer = evaluate(
                    registry_k8s_io::validate,
                    kind,
                    request(kind, operation, None, object, old),
                    &rule.settings,
                );
                let shape = format!("rule {:?}, {kind:?} {operation}", rule.name);
                checked += 1;
                assert_ne!(answer, Answer::untouched(), "{shape}: does not fire");
                match &reference {
                    Some(reference) => assert_eq!(&answer, reference, "{shape}"),
                    None => reference = Some(answer),
                }
            }
        }
    }
    println!("registry-k8s-io bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 3 * 8 * 2 + 8);
}

#[test]
fn unchanged_workload_images_are_rewritten_with_on_update_all_but_never_in_a_pod() {
    let settings = json!({"onUpdate": "all"});
    for kind in WorkloadKind::ALL {
        let object = workload(kind, spec("k8s.gcr.io/pause:3.9"));
        let answer = evaluate(
            registry_k8s_io::validate,
            kind,
            request(kind, "UPDATE", None, object.clone(), Some(object)),
            &settings,
        );
        assert_eq!(answer.mutated_spec.is_some(), !kind.is_pod(), "{kind:?}");
        assert_eq!(answer.warnings.len(), 2, "{kind:?}");
    }
}

#[test]
fn the_ephemeral_containers_subresource_is_judged() {
    let kind = WorkloadKind::Pod;
    let old = workload(kind, spec("registry.k8s.io/pause:3.9"));
    let mut object = old.clone();
    object["spec"]["ephemeralContainers"] =
        json!([{"name": "debug", "image": "k8s.gcr.io/e2e-test-images/agnhost:2.39"}]);
    let update = request(
        kind,
        "UPDATE",
        Some("ephemeralcontainers"),
        object.clone(),
        Some(old.clone()),
    );
    let answer = evaluate(
        registry_k8s_io::validate,
        kind,
        update.clone(),
        &json!({"mode": "validate"}),
    );
    assert_eq!(
        answer.message.as_deref(),
        Some(
            r#"container "debug" (<podspec>.ephemeralContainers[0]) uses "k8s.gcr.io/e2e-test-images/agnhost:2.39" from k8s.gcr.io: use "registry.k8s.io/e2e-test-images/agnhost:2.39""#
        )
    );
    let answer = evaluate(registry_k8s_io::validate, kind, update, &json!({}));
    assert_eq!(
        answer.mutated_spec.unwrap()["ephemeralContainers"][0]["image"],
        "registry.k8s.io/e2e-test-images/agnhost:2.39"
    );
    // Other subresources carry no new images and are not judged.
    let status = request(kind, "UPDATE", Some("status"), object, Some(old));
    let answer = evaluate(
        registry_k8s_io::validate,
        kind,
        status,
        &json!({"mode": "validate"}),
    );
    assert_eq!(answer, Answer::untouched());
}
