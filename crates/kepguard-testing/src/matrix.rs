//! The bypass matrix: one pod spec, wrapped as a Pod and as every workload template, sent as
//! CREATE and UPDATE, so a test can check that a rule fires identically for each shape.

use kepguard_common::WorkloadKind;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde_json::{Value, json};

/// The plural resource name the apiserver uses for `kind`.
pub fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Pod => "pods",
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::ReplicaSet => "replicasets",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
        WorkloadKind::Job => "jobs",
        WorkloadKind::CronJob => "cronjobs",
        WorkloadKind::ReplicationController => "replicationcontrollers",
    }
}

/// A complete object of `kind` whose pod spec is `spec`.
pub fn workload(kind: WorkloadKind, spec: Value) -> Value {
    let mut object = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": {"name": "matrix", "namespace": "default", "labels": {"app": "matrix"}},
    });
    let template = json!({"metadata": {"labels": {"app": "matrix"}}, "spec": spec});
    object["spec"] = match kind {
        WorkloadKind::Pod => template["spec"].clone(),
        WorkloadKind::CronJob => {
            json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        WorkloadKind::Job => json!({"template": template}),
        WorkloadKind::ReplicationController => {
            json!({"replicas": 1, "selector": {"app": "matrix"}, "template": template})
        }
        _ => json!({
            "replicas": 1,
            "selector": {"matchLabels": {"app": "matrix"}},
            "template": template
        }),
    };
    object
}

/// An AdmissionRequest for `object` (and `old_object` on UPDATE).
pub fn request(
    kind: WorkloadKind,
    operation: &str,
    sub_resource: Option<&str>,
    object: Value,
    old_object: Option<Value>,
) -> Value {
    let gvk = json!({"group": kind.group(), "version": "v1", "kind": kind.kind()});
    let gvr = json!({"group": kind.group(), "version": "v1", "resource": resource(kind)});
    let mut request = json!({
        "uid": "matrix",
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": "matrix",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "jane@example.com", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old_object.unwrap_or(Value::Null),
    });
    if let Some(sub_resource) = sub_resource {
        request["subResource"] = json!(sub_resource);
    }
    request
}

/// A policy's answer to one request, reduced to what the matrix compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub accepted: bool,
    /// The rejection message with the kind's pod spec path replaced by `<podspec>`.
    pub message: Option<String>,
    /// The warnings, normalised like the message.
    pub warnings: Vec<String>,
    /// The mutated pod spec, if the policy mutated the object.
    pub mutated_spec: Option<Value>,
}

impl Answer {
    /// Accepted with no message, no warning and no mutation: what out-of-scope shapes get.
    pub fn untouched() -> Answer {
        Answer {
            accepted: true,
            message: None,
            warnings: Vec::new(),
            mutated_spec: None,
        }
    }
}

/// Sends `request` with `settings` to `validate` and reduces the answer.
pub fn evaluate(
    validate: fn(&[u8]) -> CallResult,
    kind: WorkloadKind,
    request: Value,
    settings: &Value,
) -> Answer {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("a JSON value serialises");
    let bytes = validate(&payload).expect("validate answers");
    let response: Value = serde_json::from_slice(&bytes).expect("validate answers JSON");
    let path = kind.pod_spec_path();
    Answer {
        accepted: response["accepted"]
            .as_bool()
            .expect("accepted is a boolean"),
        message: response["message"]
            .as_str()
            .map(|message| normalise(message, kind, path)),
        warnings: response["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|warning| normalise(warning, kind, path))
            .collect(),
        mutated_spec: response["mutated_object"]
            .pointer(kind.pod_spec_pointer())
            .cloned(),
    }
}

/// Makes messages comparable across kinds: the pod spec path and the kind's name differ.
fn normalise(message: &str, kind: WorkloadKind, path: &str) -> String {
    let mut normalised = String::with_capacity(message.len());
    let mut rest = message;
    // Replace the path only where it stands as a whole path, not inside a longer one.
    while let Some(at) = rest.find(path) {
        let before_ok = at == 0
            || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'.';
        let after = &rest[at + path.len()..];
        let after_ok = after.is_empty() || !after.as_bytes()[0].is_ascii_alphanumeric();
        normalised.push_str(&rest[..at]);
        normalised.push_str(if before_ok && after_ok {
            "<podspec>"
        } else {
            path
        });
        rest = after;
    }
    normalised.push_str(rest);
    normalised.replace(kind.kind(), "<kind>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_carries_the_spec_where_the_shared_crate_looks() {
        for kind in WorkloadKind::ALL {
            let object = workload(kind, json!({"containers": [{"name": "app"}]}));
            let raw = serde_json::value::to_raw_value(&object).unwrap();
            let spec = kepguard_common::podspec::pod_spec(kind, &raw)
                .unwrap()
                .unwrap();
            assert_eq!(spec.get(), r#"{"containers":[{"name":"app"}]}"#, "{kind:?}");
            let request = request(kind, "CREATE", None, object, None);
            assert_eq!(request["resource"]["resource"], resource(kind));
        }
    }

    #[test]
    fn messages_are_normalised_per_kind() {
        assert_eq!(
            normalise(
                "invalid CronJob: spec.jobTemplate.spec.template.spec.volumes[0]: bad",
                WorkloadKind::CronJob,
                WorkloadKind::CronJob.pod_spec_path()
            ),
            "invalid <kind>: <podspec>.volumes[0]: bad"
        );
        assert_eq!(
            normalise(
                "invalid Pod: spec.volumes[0]: bad; spec.template.spec stays",
                WorkloadKind::Pod,
                "spec"
            ),
            "invalid <kind>: <podspec>.volumes[0]: bad; <podspec>.template.spec stays"
        );
    }
}
