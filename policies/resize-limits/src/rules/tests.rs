use super::*;
use serde_json::{Value, json};

fn settings(value: Value) -> Settings {
    serde_json::from_value(value).unwrap()
}

fn bounded() -> Settings {
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

fn rejection(verdict: Verdict) -> String {
    match verdict {
        Verdict::Reject { message } => message,
        other => panic!("expected a rejection, got {other:?}"),
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
fn sidecars_are_judged_but_not_other_init_containers() {
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
        "sidecar container \"proxy\": cpu limit 64 exceeds maxLimit 4"
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
        &Settings::default(),
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
        rejection(evaluate(&resize(old.clone(), new), &Settings::default())),
        "the pod is labelled kepguard.io/resize=locked, which forbids resizing it: remove the label first, or recreate the pod"
    );
    // Removing the label in the same update does not help: the existing object counts.
    let unlabelled = pod(json!([app(json!({"cpu": "2"}), json!({}))]));
    assert!(matches!(
        evaluate(&resize(old.clone(), unlabelled), &Settings::default()),
        Verdict::Reject { .. }
    ));
    // Unlocking without resizing is not a resize.
    let unlocked = pod(json!([app(json!({"cpu": "1"}), json!({}))]));
    assert_eq!(
        evaluate(
            &request(WorkloadKind::Pod, "UPDATE", "", unlocked, old),
            &Settings::default()
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
    let message = rejection(evaluate(&resize(old, new), &Settings::default()));
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
    let update = |old, new| request(WorkloadKind::Deployment, "UPDATE", "", new, old);
    // Unchanged, out of bounds: kept working.
    assert_eq!(
        evaluate(
            &update(deployment("1", "64Gi"), deployment("1", "64Gi")),
            &bounded()
        ),
        Verdict::accept()
    );
    // The changed value is judged, the unchanged one is not.
    assert_eq!(
        rejection(evaluate(
            &update(deployment("1", "64Gi"), deployment("6", "64Gi")),
            &bounded()
        )),
        "container \"app\": cpu limit 1 -> 6 exceeds maxLimit 4"
    );
    // Step factors and limitDecrease are for Pod resizes only.
    assert_eq!(
        evaluate(
            &update(deployment("1", "64Gi"), deployment("4", "8Gi")),
            &bounded()
        ),
        Verdict::accept()
    );
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
    let update = |old, new| request(WorkloadKind::CronJob, "UPDATE", "", new, old);
    // A rollout of an old template without resizePolicy keeps working.
    let mut restarted = cronjob(json!([bare]));
    restarted["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"});
    assert_eq!(
        evaluate(&update(cronjob(json!([bare])), restarted), &required),
        Verdict::accept()
    );
    // A changed resizePolicy is checked.
    let partial = json!({"name": "app", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]});
    let message = rejection(evaluate(
        &update(cronjob(json!([bare])), cronjob(json!([partial]))),
        &required,
    ));
    assert!(message.contains("add an entry for memory"), "{message}");
    // A new container is checked.
    let message = rejection(evaluate(
        &update(
            cronjob(json!([bare])),
            cronjob(json!([bare, {"name": "extra"}])),
        ),
        &required,
    ));
    assert!(
        message.starts_with("container \"extra\": resizePolicy must declare"),
        "{message}"
    );
}

#[test]
fn other_requests_are_accepted() {
    let out_of_bounds = pod(json!([app(json!({}), json!({"cpu": "64"}))]));
    let delete = request(
        WorkloadKind::Pod,
        "DELETE",
        "",
        Value::Null,
        out_of_bounds.clone(),
    );
    assert_eq!(evaluate(&delete, &bounded()), Verdict::accept());
    let status = request(
        WorkloadKind::Pod,
        "UPDATE",
        "status",
        out_of_bounds.clone(),
        pod(json!([app(json!({}), json!({}))])),
    );
    assert_eq!(evaluate(&status, &bounded()), Verdict::accept());
    let mut service = create(WorkloadKind::Pod, json!({}));
    service.kind.kind = "Service".into();
    service.object = serde_json::value::to_raw_value(
        &json!({"spec": {"containers": [{"name": "x", "resources": {"limits": {"cpu": "64"}}}]}}),
    )
    .unwrap();
    assert_eq!(evaluate(&service, &bounded()), Verdict::accept());
}

#[test]
fn malformed_objects_are_rejected_with_their_path() {
    let spec = json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "two"}}}]});
    let message = rejection(evaluate(
        &create(WorkloadKind::StatefulSet, spec),
        &bounded(),
    ));
    assert!(
        message.starts_with("invalid StatefulSet: spec.template.spec.containers[0].resources.limits.cpu: invalid quantity \"two\""),
        "{message}"
    );
    let new = pod(json!([app(json!({}), json!({}))]));
    let message = rejection(evaluate(
        &resize(json!({"spec": {"containers": {}}}), new),
        &bounded(),
    ));
    assert!(
        message.starts_with("invalid Pod: oldObject: spec.containers: invalid type"),
        "{message}"
    );
}
