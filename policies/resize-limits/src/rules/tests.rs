use super::*;
use crate::settings::compiled;
use kepguard_testing::unit::rejection;
use serde_json::{Value, json};

fn settings(value: Value) -> CompiledSettings {
    compiled(value)
}

fn bounded() -> CompiledSettings {
    settings(json!({
        "cpu": {"minRequest": "100m", "maxRequest": "2", "maxLimit": "4", "maxIncreaseFactor": 2, "maxDecreaseFactor": 4},
        "memory": {"maxRequest": "4Gi", "maxLimit": "8Gi", "maxIncreaseFactor": 2, "maxDecreaseFactor": 2}
    }))
}

fn request(
    kind: WorkloadKind,
    operation: &str,
    sub_resource: &str,
    object: Value,
    old_object: Value,
) -> AdmissionRequest {
    serde_json::from_value(json!({
        "kind": {"group": kind.group(), "version": "v1", "kind": kind.kind()},
        "subResource": sub_resource,
        "operation": operation,
        "userInfo": {"username": "jane@example.com", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old_object,
    }))
    .unwrap()
}

/// An object of `kind` whose pod spec is `spec`.
fn object(kind: WorkloadKind, spec: Value) -> Value {
    let mut object = spec;
    for key in kind.pod_spec_keys().iter().rev() {
        object = json!({ *key: object });
    }
    object["metadata"] = json!({"name": "shop", "labels": {"app": "shop"}});
    object
}

fn app(requests: Value, limits: Value) -> Value {
    json!({"name": "app", "image": "shop:1", "resources": {"requests": requests, "limits": limits}})
}

fn pod(containers: Value) -> Value {
    object(WorkloadKind::Pod, json!({"containers": containers}))
}

fn create(kind: WorkloadKind, spec: Value) -> AdmissionRequest {
    request(kind, "CREATE", "", object(kind, spec), Value::Null)
}

fn resize(old: Value, new: Value) -> AdmissionRequest {
    request(WorkloadKind::Pod, "UPDATE", "resize", new, old)
}

/// Accepted when `expected` is `None`, else rejected with exactly that message.
fn expect(verdict: Verdict, expected: Option<&str>) {
    match expected {
        None => assert_eq!(verdict, Verdict::accept()),
        Some(message) => assert_eq!(rejection(verdict), message),
    }
}

#[test]
fn create_within_bounds_is_accepted() {
    let spec = json!({"containers": [app(json!({"cpu": "500m", "memory": "1Gi"}), json!({"cpu": 1, "memory": "2Gi"}))]});
    assert_eq!(
        evaluate(&create(WorkloadKind::Pod, spec), &bounded()),
        Verdict::accept()
    );
}

#[test]
fn create_lists_every_violation() {
    let spec = json!({"containers": [
        app(json!({"cpu": "50m"}), json!({"cpu": "6", "memory": "16Gi"})),
        {"name": "worker", "resources": {"requests": {"memory": "5Gi"}}}
    ]});
    assert_eq!(
        rejection(evaluate(&create(WorkloadKind::Pod, spec), &bounded())),
        "container \"app\": cpu request 50m is below minRequest 100m; \
         container \"app\": cpu limit 6 exceeds maxLimit 4; \
         container \"app\": memory limit 16Gi exceeds maxLimit 8Gi; \
         container \"worker\": memory request 5Gi exceeds maxRequest 4Gi"
    );
}

#[test]
fn create_judges_every_workload_template() {
    let spec = json!({"containers": [app(json!({}), json!({"cpu": "5"}))]});
    for kind in WorkloadKind::ALL {
        let message = rejection(evaluate(&create(kind, spec.clone()), &bounded()));
        assert_eq!(
            message, "container \"app\": cpu limit 5 exceeds maxLimit 4",
            "{kind:?}"
        );
    }
}

#[test]
fn every_init_container_is_judged_but_not_ephemeral_containers() {
    let huge = json!({"limits": {"cpu": "64"}});
    let spec = json!({
        "containers": [app(json!({}), json!({}))],
        "initContainers": [
            {"name": "migrate", "resources": huge},
            {"name": "once", "restartPolicy": "Never", "resources": huge},
            {"name": "retry", "restartPolicy": "OnFailure", "resources": huge},
            {"name": "proxy", "restartPolicy": "Always", "resources": huge}
        ],
        "ephemeralContainers": [{"name": "debug", "resources": huge}]
    });
    assert_eq!(
        rejection(evaluate(&create(WorkloadKind::Pod, spec), &bounded())),
        "init container \"migrate\": cpu limit 64 exceeds maxLimit 4; \
         init container \"once\": cpu limit 64 exceeds maxLimit 4; \
         init container \"retry\": cpu limit 64 exceeds maxLimit 4; \
         sidecar container \"proxy\": cpu limit 64 exceeds maxLimit 4"
    );
}

/// Pod-level resources at creation, for a Pod and every workload template.
#[test]
fn pod_level_resources_at_creation() {
    let pod_bounds = || {
        settings(json!({
            "cpu": {"maxLimit": "4"},
            "memory": {"maxLimit": "8Gi"},
            "podResources": {"cpu": {"maxRequest": "6", "maxLimit": "8"}, "memory": {"maxLimit": "16Gi"}}
        }))
    };
    let limited = app(json!({}), json!({"cpu": "1", "memory": "1Gi"}));
    let unlimited = app(json!({}), json!({}));
    let cases: Vec<(Value, Value, Option<&str>)> = vec![
        (
            json!({"limits": {"cpu": "8", "memory": "16Gi"}}),
            limited.clone(),
            None,
        ),
        (
            json!({"requests": {"cpu": "7"}, "limits": {"cpu": "9"}}),
            limited.clone(),
            Some(
                "pod-level spec.resources: cpu request 7 exceeds podResources.cpu.maxRequest 6; pod-level spec.resources: cpu limit 9 exceeds podResources.cpu.maxLimit 8",
            ),
        ),
        (
            json!({"limits": {"cpu": "8"}}),
            unlimited.clone(),
            Some(
                "pod-level spec.resources: cpu limit 8 exceeds cpu.maxLimit 4, which applies because container \"app\" has no cpu limit of its own and runs under the pod-level limit: lower it, or give every container its own cpu limit",
            ),
        ),
        (json!({"limits": {"cpu": "4"}}), unlimited, None),
    ];
    for kind in WorkloadKind::ALL {
        for (resources, container, expected) in &cases {
            let spec = json!({"resources": resources, "containers": [container]});
            let verdict = evaluate(&create(kind, spec), &pod_bounds());
            match expected {
                None => assert_eq!(verdict, Verdict::accept(), "{kind:?} {resources}"),
                Some(message) => assert_eq!(
                    rejection(verdict),
                    message.replace(
                        "spec.resources",
                        &format!("{}.resources", kind.pod_spec_path())
                    ),
                    "{kind:?}"
                ),
            }
        }
    }
    // Without podResources, only the container maxLimit over a container without a limit.
    let spec = json!({"resources": {"limits": {"cpu": "64"}}, "containers": [app(json!({}), json!({"cpu": "1"}))]});
    assert_eq!(
        evaluate(&create(WorkloadKind::Pod, spec), &bounded()),
        Verdict::accept()
    );
    let spec = json!({
        "resources": {"limits": {"cpu": "64"}},
        "containers": [app(json!({}), json!({"cpu": "1"}))],
        "initContainers": [{"name": "setup"}]
    });
    assert!(
        rejection(evaluate(&create(WorkloadKind::Pod, spec), &bounded()))
            .contains("because init container \"setup\" has no cpu limit")
    );
}

#[test]
fn create_checks_resize_policy() {
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [{"name": "app", "resizePolicy": [{"resourceName": "memory", "restartPolicy": "RestartContainer"}]}]
    });
    let message = rejection(evaluate(
        &create(WorkloadKind::Job, spec),
        &settings(json!({})),
    ));
    assert_eq!(
        message,
        "container \"app\": resizePolicy[0].restartPolicy RestartContainer is not allowed in a pod whose restartPolicy is Never: use NotRequired"
    );
    let required = settings(json!({"requireResizePolicy": true}));
    let spec = json!({"containers": [{"name": "app"}], "initContainers": [{"name": "proxy", "restartPolicy": "Always"}]});
    let message = rejection(evaluate(&create(WorkloadKind::Pod, spec), &required));
    assert!(
        message.starts_with("container \"app\": resizePolicy must declare cpu and memory"),
        "{message}"
    );
    assert!(!message.contains("proxy"), "{message}");
}

#[test]
fn a_resize_within_bounds_is_accepted() {
    let old = pod(json!([app(
        json!({"cpu": "500m", "memory": "1Gi"}),
        json!({"cpu": "1", "memory": "2Gi"})
    )]));
    let new = pod(json!([app(
        json!({"cpu": "1", "memory": "2Gi"}),
        json!({"cpu": "2", "memory": "4Gi"})
    )]));
    assert_eq!(evaluate(&resize(old, new), &bounded()), Verdict::accept());
}

#[test]
fn a_resize_judges_changed_values_only() {
    // "legacy" is out of bounds and untouched; "app" is resized beyond maxLimit.
    let legacy = json!({"name": "legacy", "resources": {"limits": {"cpu": "16"}}});
    let old = pod(json!([legacy, app(json!({}), json!({"cpu": "3"}))]));
    let new = pod(json!([legacy, app(json!({}), json!({"cpu": "4001m"}))]));
    assert_eq!(
        rejection(evaluate(&resize(old, new), &bounded())),
        "container \"app\": cpu limit 3 -> 4001m exceeds maxLimit 4"
    );
}

#[test]
fn a_resize_lists_bounds_factors_and_memory_limit_decreases() {
    let old = pod(json!([app(
        json!({"cpu": "200m", "memory": "2Gi"}),
        json!({"cpu": "1", "memory": "8Gi"})
    )]));
    let new = pod(json!([app(
        json!({"cpu": "150m", "memory": "512Mi"}),
        json!({"cpu": "3", "memory": "2Gi"})
    )]));
    let message = rejection(evaluate(&resize(old, new), &bounded()));
    let violations: Vec<&str> = message.split("; ").collect();
    assert_eq!(
        violations,
        [
            "container \"app\": cpu limit 1 -> 3 exceeds maxIncreaseFactor 2: one resize may multiply it by at most 2",
            "container \"app\": memory request 2Gi -> 512Mi exceeds maxDecreaseFactor 2: one resize may divide it by at most 2",
            "container \"app\": memory limit 8Gi -> 2Gi exceeds maxDecreaseFactor 2: one resize may divide it by at most 2",
            "container \"app\": memory limit 8Gi -> 2Gi lowers the memory limit without a restart (its memory resizePolicy is NotRequired), which can OOM-kill it: set its memory resizePolicy to RestartContainer, or recreate the pod",
        ][..]
    );
}

#[test]
fn a_plain_pod_update_resizes_like_the_subresource() {
    let old = pod(json!([app(json!({}), json!({"cpu": "1"}))]));
    let new = pod(json!([app(json!({}), json!({"cpu": "8"}))]));
    let update = request(WorkloadKind::Pod, "UPDATE", "", new, old);
    assert!(
        rejection(evaluate(&update, &bounded())).contains("cpu limit 1 -> 8 exceeds maxLimit 4")
    );
}

#[test]
fn an_update_without_a_resource_change_is_not_a_resize() {
    let restricted =
        settings(json!({"allowedResizers": {"users": ["alice"]}, "cpu": {"maxLimit": "1"}}));
    let mut old = pod(json!([app(
        json!({"cpu": "1", "memory": "1Gi"}),
        json!({"cpu": "16"})
    )]));
    old["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
    let mut new = pod(json!([app(
        json!({"cpu": "1000m", "memory": "1024Mi"}),
        json!({"cpu": 16})
    )]));
    new["metadata"]["labels"]["tier"] = json!("gold");
    assert_eq!(
        evaluate(
            &request(WorkloadKind::Pod, "UPDATE", "", new.clone(), old.clone()),
            &restricted
        ),
        Verdict::accept()
    );
    assert_eq!(evaluate(&resize(old, new), &restricted), Verdict::accept());
}

#[test]
fn only_allowed_resizers_may_resize() {
    let restricted =
        settings(json!({"allowedResizers": {"serviceAccounts": ["kube-system/vpa-updater"]}}));
    let old = pod(json!([app(json!({"cpu": "1"}), json!({}))]));
    let new = pod(json!([app(json!({"cpu": "2"}), json!({}))]));
    let message = rejection(evaluate(&resize(old.clone(), new.clone()), &restricted));
    assert!(
        message.starts_with("\"jane@example.com\" may not resize pods"),
        "{message}"
    );
    let mut by_vpa = resize(old, new);
    by_vpa.user_info.username = "system:serviceaccount:kube-system:vpa-updater".into();
    assert_eq!(evaluate(&by_vpa, &restricted), Verdict::accept());
}

#[test]
fn a_locked_pod_cannot_be_resized_but_can_be_unlocked() {
    let mut old = pod(json!([app(json!({"cpu": "1"}), json!({}))]));
    old["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
    let mut new = pod(json!([app(json!({"cpu": "2"}), json!({}))]));
    new["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
    assert_eq!(
        rejection(evaluate(&resize(old.clone(), new), &settings(json!({})))),
        "the pod is labelled kepguard.io/resize=locked, which forbids resizing it: remove the label first, or recreate the pod"
    );
    // Removing the label in the same update does not help: the existing object counts.
    let unlabelled = pod(json!([app(json!({"cpu": "2"}), json!({}))]));
    assert!(matches!(
        evaluate(&resize(old.clone(), unlabelled), &settings(json!({}))),
        Verdict::Reject { .. }
    ));
    // Unlocking without resizing is not a resize.
    let unlocked = pod(json!([app(json!({"cpu": "1"}), json!({}))]));
    assert_eq!(
        evaluate(
            &request(WorkloadKind::Pod, "UPDATE", "", unlocked, old),
            &settings(json!({}))
        ),
        Verdict::accept()
    );
}

#[test]
fn refusals_come_first_and_with_the_rest() {
    let restricted =
        settings(json!({"allowedResizers": {"users": ["alice"]}, "cpu": {"maxLimit": "1"}}));
    let mut old = pod(json!([app(json!({}), json!({"cpu": "1"}))]));
    old["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
    let new = pod(json!([app(json!({}), json!({"cpu": "2"}))]));
    let message = rejection(evaluate(&resize(old, new), &restricted));
    let violations: Vec<&str> = message.split("; ").collect();
    assert_eq!(violations.len(), 3, "{message}");
    assert!(violations[0].contains("may not resize pods"));
    assert!(violations[1].contains("kepguard.io/resize=locked"));
    assert_eq!(
        violations[2],
        "container \"app\": cpu limit 1 -> 2 exceeds maxLimit 1"
    );
}

#[test]
fn a_sidecar_resize_is_judged() {
    let sidecar = |limit: &str| json!({"name": "proxy", "restartPolicy": "Always", "resources": {"limits": {"memory": limit}}});
    let old = object(
        WorkloadKind::Pod,
        json!({"containers": [app(json!({}), json!({}))], "initContainers": [sidecar("1Gi")]}),
    );
    let new = object(
        WorkloadKind::Pod,
        json!({"containers": [app(json!({}), json!({}))], "initContainers": [sidecar("512Mi")]}),
    );
    let message = rejection(evaluate(&resize(old, new), &settings(json!({}))));
    assert!(
        message.starts_with(
            "sidecar container \"proxy\": memory limit 1Gi -> 512Mi lowers the memory limit"
        ),
        "{message}"
    );
}

#[test]
fn a_new_container_is_judged_as_at_creation() {
    let old = pod(json!([app(json!({}), json!({}))]));
    let new = pod(
        json!([app(json!({}), json!({})), {"name": "extra", "resources": {"limits": {"cpu": "8"}}}]),
    );
    assert_eq!(
        rejection(evaluate(&resize(old, new), &bounded())),
        "container \"extra\": cpu limit 8 exceeds maxLimit 4"
    );
}

#[test]
fn a_workload_update_judges_changed_values_only() {
    let deployment = |cpu: &str, memory: &str| {
        object(
            WorkloadKind::Deployment,
            json!({"containers": [
                app(json!({}), json!({"cpu": cpu})),
                {"name": "legacy", "resources": {"limits": {"memory": memory}}}
            ]}),
        )
    };
    let cases = [
        // Unchanged, out of bounds: kept working.
        (("1", "64Gi"), ("1", "64Gi"), None),
        // The changed value is judged, the unchanged one is not.
        (
            ("1", "64Gi"),
            ("6", "64Gi"),
            Some("container \"app\": cpu limit 1 -> 6 exceeds maxLimit 4"),
        ),
        // Step factors and limitDecrease are for Pod resizes only.
        (("1", "64Gi"), ("4", "8Gi"), None),
    ];
    for ((old_cpu, old_memory), (cpu, memory), expected) in cases {
        let update = request(
            WorkloadKind::Deployment,
            "UPDATE",
            "",
            deployment(cpu, memory),
            deployment(old_cpu, old_memory),
        );
        expect(evaluate(&update, &bounded()), expected);
    }
}

#[test]
fn a_workload_update_checks_new_or_changed_resize_policies_only() {
    let required = settings(json!({"requireResizePolicy": true}));
    let cronjob = |containers: Value| {
        object(
            WorkloadKind::CronJob,
            json!({"restartPolicy": "OnFailure", "containers": containers}),
        )
    };
    let bare = json!({"name": "app"});
    let partial = json!({"name": "app", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]});
    let mut restarted = cronjob(json!([bare]));
    restarted["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"});
    let cases = [
        // A rollout of an old template without resizePolicy keeps working.
        (restarted, None),
        // A changed resizePolicy is checked.
        (
            cronjob(json!([partial])),
            Some(
                "container \"app\": resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for memory with restartPolicy NotRequired or RestartContainer",
            ),
        ),
        // A new container is checked.
        (
            cronjob(json!([bare, {"name": "extra"}])),
            Some(
                "container \"extra\": resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for cpu and memory with restartPolicy NotRequired or RestartContainer",
            ),
        ),
    ];
    for (new, expected) in cases {
        let update = request(
            WorkloadKind::CronJob,
            "UPDATE",
            "",
            new,
            cronjob(json!([bare])),
        );
        expect(evaluate(&update, &required), expected);
    }
}

#[test]
fn other_requests_are_accepted() {
    let out_of_bounds = pod(json!([app(json!({}), json!({"cpu": "64"}))]));
    let within = pod(json!([app(json!({}), json!({}))]));
    let mut service = create(WorkloadKind::Pod, json!({}));
    service.kind.kind = "Service".into();
    service.object = serde_json::value::to_raw_value(
        &json!({"spec": {"containers": [{"name": "x", "resources": {"limits": {"cpu": "64"}}}]}}),
    )
    .unwrap();
    let requests = [
        request(
            WorkloadKind::Pod,
            "DELETE",
            "",
            Value::Null,
            out_of_bounds.clone(),
        ),
        request(
            WorkloadKind::Pod,
            "UPDATE",
            "status",
            out_of_bounds.clone(),
            within.clone(),
        ),
        request(
            WorkloadKind::Pod,
            "UPDATE",
            "ephemeralcontainers",
            out_of_bounds,
            within,
        ),
        service,
    ];
    for request in requests {
        assert_eq!(
            evaluate(&request, &bounded()),
            Verdict::accept(),
            "{request:?}"
        );
    }
}

#[test]
fn malformed_objects_are_rejected_with_their_path() {
    let new = pod(json!([app(json!({}), json!({}))]));
    let cases = [
        (
            create(
                WorkloadKind::StatefulSet,
                json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "two"}}}]}),
            ),
            "invalid StatefulSet: spec.template.spec.containers[0].resources.limits.cpu: invalid quantity \"two\"",
        ),
        (
            create(
                WorkloadKind::Job,
                json!({"resources": {"limits": {"memory": []}}}),
            ),
            "invalid Job: spec.template.spec.resources.limits.memory: invalid type",
        ),
        (
            create(
                WorkloadKind::Pod,
                json!({"volumes": [{"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "1 Gi"}}]}),
            ),
            "invalid Pod: spec.volumes[0].emptyDir.sizeLimit: invalid quantity \"1 Gi\"",
        ),
        (
            resize(json!({"spec": {"containers": {}}}), new),
            "invalid Pod: oldObject: spec.containers: invalid type",
        ),
    ];
    for (request, expected) in cases {
        let message = rejection(evaluate(&request, &bounded()));
        assert!(message.starts_with(expected), "{message}");
    }
}

/// A Pod spec with pod-level resources, a container with limits, a container without, an
/// ordinary init container and a memory-backed emptyDir volume.
fn rich_pod(pod_limit_cpu: &str, init_cpu: &str, volume_size: &str) -> Value {
    object(
        WorkloadKind::Pod,
        json!({
            "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": pod_limit_cpu}},
            "containers": [app(json!({"cpu": "500m"}), json!({"cpu": "1"}))],
            "initContainers": [{"name": "setup", "resources": {"requests": {"cpu": init_cpu}, "limits": {"cpu": init_cpu}}}],
            "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": volume_size}}]
        }),
    )
}

/// Every path `pods/resize` may take on 1.36 and 1.37 is a resize: judged, and subject to the
/// resizer list and the lock label.
#[test]
fn every_resize_path_is_judged_and_restricted() {
    let limits = || {
        json!({
            "cpu": {"maxLimit": "4", "maxIncreaseFactor": 2},
            "memory": {"maxEmptyDirSizeLimit": "2Gi"},
            "podResources": {"cpu": {"maxLimit": "8", "maxIncreaseFactor": 2}}
        })
    };
    let restricted = || {
        let mut settings = limits();
        settings["allowedResizers"] = json!({"users": ["alice"]});
        settings
    };
    let old = rich_pod("4", "1", "1Gi");
    let paths: [(&str, Value, Value, &str); 3] = [
        (
            "pod-level",
            rich_pod("8", "1", "1Gi"),
            rich_pod("9", "1", "1Gi"),
            "pod-level spec.resources: cpu limit 4 -> 9 exceeds podResources.cpu.maxLimit 8; pod-level spec.resources: cpu limit 4 -> 9 exceeds podResources.cpu.maxIncreaseFactor 2: one resize may multiply it by at most 2",
        ),
        (
            "init container",
            rich_pod("4", "2", "1Gi"),
            rich_pod("4", "3", "1Gi"),
            "init container \"setup\": cpu request 1 -> 3 exceeds maxIncreaseFactor 2: one resize may multiply it by at most 2; init container \"setup\": cpu limit 1 -> 3 exceeds maxIncreaseFactor 2: one resize may multiply it by at most 2",
        ),
        (
            "emptyDir",
            rich_pod("4", "1", "2Gi"),
            rich_pod("4", "1", "3Gi"),
            "emptyDir volume \"cache\" (medium Memory): sizeLimit 1Gi -> 3Gi exceeds memory.maxEmptyDirSizeLimit 2Gi",
        ),
    ];
    for (path, within, beyond, message) in paths {
        assert_eq!(
            evaluate(&resize(old.clone(), within.clone()), &settings(limits())),
            Verdict::accept(),
            "{path}"
        );
        assert_eq!(
            rejection(evaluate(&resize(old.clone(), beyond), &settings(limits()))),
            message,
            "{path}"
        );
        let by_jane = rejection(evaluate(
            &resize(old.clone(), within.clone()),
            &settings(restricted()),
        ));
        assert!(
            by_jane.starts_with("\"jane@example.com\" may not resize pods"),
            "{path}: {by_jane}"
        );
        let mut alice = resize(old.clone(), within.clone());
        alice.user_info.username = "alice".into();
        assert_eq!(
            evaluate(&alice, &settings(restricted())),
            Verdict::accept(),
            "{path}"
        );
        let mut locked = old.clone();
        locked["metadata"]["labels"]["kepguard.io/resize"] = json!("locked");
        let message = rejection(evaluate(&resize(locked, within), &settings(limits())));
        assert!(
            message.starts_with("the pod is labelled kepguard.io/resize=locked"),
            "{path}"
        );
    }
    // An emptyDir resize with no bound is still a resize.
    let by_jane = rejection(evaluate(
        &resize(old, rich_pod("4", "1", "64Gi")),
        &settings(json!({"allowedResizers": {"users": ["alice"]}})),
    ));
    assert!(by_jane.starts_with("\"jane@example.com\" may not resize pods"));
}

#[test]
fn adding_pod_level_resources_is_a_resize() {
    let old = pod(json!([app(json!({"cpu": "1"}), json!({}))]));
    let mut new = old.clone();
    new["spec"]["resources"] = json!({"limits": {"cpu": "16", "memory": "1Gi"}});
    let limits = settings(json!({
        "cpu": {"maxLimit": "8"},
        "podResources": {"memory": {"limitDecrease": "deny"}}
    }));
    let message = rejection(evaluate(&resize(old, new), &limits));
    let violations: Vec<&str> = message.split("; ").collect();
    assert_eq!(
        violations,
        [
            "pod-level spec.resources: memory limit none -> 1Gi adds a memory limit, lowering it from unlimited, which podResources.memory.limitDecrease deny forbids: recreate the pod with the new limit",
            "pod-level spec.resources: cpu limit 16 exceeds cpu.maxLimit 8, which applies because container \"app\" has no cpu limit of its own and runs under the pod-level limit: lower it, or give every container its own cpu limit",
        ]
    );
}

#[test]
fn a_pod_limit_unchanged_over_containers_with_limits_is_not_judged_again() {
    let limits = settings(json!({"cpu": {"maxLimit": "4"}}));
    let spec = |cpu: &str| {
        object(
            WorkloadKind::Deployment,
            json!({"resources": {"limits": {"cpu": "64"}}, "containers": [app(json!({}), json!({"cpu": cpu}))]}),
        )
    };
    let update = |old, new| request(WorkloadKind::Deployment, "UPDATE", "", new, old);
    assert_eq!(
        evaluate(&update(spec("1"), spec("2")), &limits),
        Verdict::accept()
    );
    // A container that loses its limit now runs under the pod-level limit of 64.
    let unlimited = object(
        WorkloadKind::Deployment,
        json!({"resources": {"limits": {"cpu": "64"}}, "containers": [app(json!({}), json!({}))]}),
    );
    assert!(
        rejection(evaluate(&update(spec("1"), unlimited), &limits)).starts_with(
            "pod-level spec.template.spec.resources: cpu limit 64 exceeds cpu.maxLimit 4"
        )
    );
}

#[test]
fn a_workload_update_judges_changed_pod_level_values_and_volumes() {
    let limits = settings(json!({
        "memory": {"maxEmptyDirSizeLimit": "2Gi"},
        "podResources": {"cpu": {"maxLimit": "8", "maxIncreaseFactor": 2}}
    }));
    let template = |cpu: &str, size: &str| {
        object(
            WorkloadKind::StatefulSet,
            json!({
                "resources": {"limits": {"cpu": cpu}},
                "containers": [app(json!({}), json!({"cpu": "1"}))],
                "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": size}}]
            }),
        )
    };
    let update = |old, new| request(WorkloadKind::StatefulSet, "UPDATE", "", new, old);
    let cases = [
        (template("16", "8Gi"), template("16", "8Gi"), None),
        // Factors are for Pod resizes only.
        (template("2", "1Gi"), template("8", "2Gi"), None),
        (
            template("2", "1Gi"),
            template("9", "1Gi"),
            Some(
                "pod-level spec.template.spec.resources: cpu limit 2 -> 9 exceeds podResources.cpu.maxLimit 8",
            ),
        ),
        (
            template("2", "1Gi"),
            template("2", "3Gi"),
            Some(
                "emptyDir volume \"cache\" (medium Memory): sizeLimit 1Gi -> 3Gi exceeds memory.maxEmptyDirSizeLimit 2Gi",
            ),
        ),
    ];
    for (old, new, expected) in cases {
        expect(evaluate(&update(old, new), &limits), expected);
    }
}

#[test]
fn restart_container_on_an_init_container_is_refused_unless_unchanged() {
    let init = |policy: &str| {
        json!({
            "containers": [app(json!({}), json!({}))],
            "initContainers": [{"name": "setup", "resizePolicy": [{"resourceName": "memory", "restartPolicy": policy}]}]
        })
    };
    let refused = "init container \"setup\": resizePolicy[0].restartPolicy RestartContainer is not allowed on an init container without restartPolicy Always (refused by the apiserver since Kubernetes 1.36): use NotRequired";
    for kind in WorkloadKind::ALL {
        assert_eq!(
            rejection(evaluate(
                &create(kind, init("RestartContainer")),
                &settings(json!({}))
            )),
            refused,
            "{kind:?}"
        );
    }
    let update = |old: Value, new: Value| {
        request(
            WorkloadKind::Deployment,
            "UPDATE",
            "",
            object(WorkloadKind::Deployment, new),
            object(WorkloadKind::Deployment, old),
        )
    };
    let cases = [
        (init("RestartContainer"), init("RestartContainer"), None),
        (init("NotRequired"), init("RestartContainer"), Some(refused)),
        (init("RestartContainer"), init("NotRequired"), None),
    ];
    for (old, new, expected) in cases {
        expect(evaluate(&update(old, new), &settings(json!({}))), expected);
    }
    // A Pod resize never re-checks a resizePolicy, which a Pod cannot change.
    let mut old = object(WorkloadKind::Pod, init("RestartContainer"));
    old["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "1"}});
    let mut new = old.clone();
    new["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "2"}});
    assert_eq!(
        evaluate(&resize(old, new), &settings(json!({}))),
        Verdict::accept()
    );
}
