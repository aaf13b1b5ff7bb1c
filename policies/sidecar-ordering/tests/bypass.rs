//! The bypass matrix: every rule fires identically for a Pod and every workload template, at
//! CREATE and UPDATE. A Pod UPDATE is out of scope: a Pod's containers cannot be added,
//! removed or reordered after creation, so it is accepted untouched.

use kepguard_common::WorkloadKind;
use kepguard_testing::matrix::{Answer, evaluate, request, workload};
use kepguard_testing::unit::merge;
use serde_json::{Value, json};

struct Rule {
    name: &'static str,
    settings: Value,
    spec: Value,
}

fn proxy(native: bool) -> Value {
    let mut proxy = json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0"});
    if native {
        proxy["restartPolicy"] = json!("Always");
    }
    proxy
}

fn app() -> Value {
    json!({"name": "app", "image": "registry.example.com/app:1"})
}

fn migrate() -> Value {
    json!({"name": "migrate", "image": "registry.example.com/migrate:1"})
}

fn settings(extra: Value) -> Value {
    merge(
        json!({"sidecars": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}),
        extra,
    )
}

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "known sidecars must be native",
            settings: settings(json!({})),
            spec: json!({"containers": [app(), proxy(false)]}),
        },
        Rule {
            name: "order",
            settings: settings(json!({})),
            spec: json!({"initContainers": [migrate(), proxy(true)], "containers": [app()]}),
        },
        Rule {
            name: "startup gating",
            settings: settings(json!({"requireStartupProbe": true})),
            spec: json!({"initContainers": [proxy(true), migrate()], "containers": [app()]}),
        },
        Rule {
            name: "termination budget",
            settings: settings(json!({"minTerminationGracePeriodSeconds": 60})),
            spec: json!({"initContainers": [proxy(true)], "containers": [app()]}),
        },
        Rule {
            name: "mutating mode",
            settings: settings(json!({"mutate": true})),
            spec: json!({"initContainers": [migrate()], "containers": [app(), proxy(false)]}),
        },
    ]
}

/// Job and CronJob messages add that the Job would never complete, and rule 1 names the
/// field generically as `spec.containers` (which a Pod's path normalisation turns into
/// `<podspec>.containers`); after that the messages are the same for every kind.
fn comparable(mut answer: Answer) -> Answer {
    answer.message = answer.message.map(|m| {
        m.replace("the Job never completes", "the <kind> never completes")
            .replace("in <podspec>.containers of a", "in spec.containers of a")
    });
    answer
}

#[test]
fn every_rule_fires_identically_for_every_workload_shape() {
    let mut checked = 0;
    for rule in rules() {
        // One reference for kinds that run to completion, one for the others.
        let mut references: Vec<(bool, Answer)> = Vec::new();
        for kind in WorkloadKind::ALL {
            for operation in ["CREATE", "UPDATE"] {
                let object = workload(kind, rule.spec.clone());
                let old = (operation == "UPDATE").then(|| object.clone());
                let answer = comparable(evaluate(
                    sidecar_ordering::validate,
                    kind,
                    request(kind, operation, None, object, old),
                    &rule.settings,
                ));
                let shape = format!("rule {:?}, {kind:?} {operation}", rule.name);
                checked += 1;
                if kind.is_pod() && operation == "UPDATE" {
                    assert_eq!(answer, Answer::untouched(), "{shape}: out of scope");
                    continue;
                }
                assert_ne!(answer, Answer::untouched(), "{shape}: does not fire");
                let group = kind.runs_to_completion();
                match references.iter().find(|(g, _)| *g == group) {
                    Some((_, reference)) => assert_eq!(&answer, reference, "{shape}"),
                    None => references.push((group, answer)),
                }
            }
        }
    }
    println!("sidecar-ordering bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 5 * 8 * 2);
}
