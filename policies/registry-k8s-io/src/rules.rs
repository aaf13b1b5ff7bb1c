//! The rules, as plain functions over the admission request.

use crate::settings::{Compiled, CompiledRewrite};
use kepguard_common::image::ImageReference;
use kepguard_common::podspec::{self, ContainerLists, WorkloadKind};
use kepguard_common::settings::{Mode, OnUpdate};
use kepguard_common::{AdmissionRequest, Verdict};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// The subresource through which `kubectl debug` adds ephemeral containers to a Pod.
pub const EPHEMERAL_CONTAINERS_SUBRESOURCE: &str = "ephemeralcontainers";

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ContainerView {
    name: String,
    image: Option<String>,
}

type Containers = ContainerLists<ContainerView>;

/// An image that a rewrite matches.
#[derive(Debug)]
struct Finding {
    /// `spec.template.spec.containers[0]`.
    path: String,
    list: &'static str,
    index: usize,
    name: String,
    image: String,
    registry: String,
    replacement: String,
    /// New container, or an image this request changes.
    changed: bool,
}

impl Finding {
    fn container(&self) -> String {
        format!("container {:?} ({})", self.name, self.path)
    }

    fn rejection(&self) -> String {
        format!(
            "{} uses {:?} from {}: use {:?}",
            self.container(),
            self.image,
            self.registry,
            self.replacement
        )
    }

    fn rewritten(&self) -> String {
        format!(
            "{}: image {:?} rewritten to {:?}",
            self.container(),
            self.image,
            self.replacement
        )
    }

    fn left_alone(&self) -> String {
        format!(
            "{} keeps {:?} from {}, left alone because this UPDATE does not change it (changing it would restart the container): use {:?}",
            self.container(),
            self.image,
            self.registry,
            self.replacement
        )
    }
}

pub fn evaluate(request: &AdmissionRequest, settings: &Compiled) -> Verdict {
    let Some(kind) = WorkloadKind::of_request(request) else {
        return Verdict::accept();
    };
    if !request.sub_resource.is_empty() && request.sub_resource != EPHEMERAL_CONTAINERS_SUBRESOURCE
    {
        return Verdict::accept();
    }
    // Rewriting an image a running Pod keeps would restart its container; a workload's
    // unchanged images are left alone unless `onUpdate: all`, so an unrelated edit starts no
    // rollout.
    let judge_unchanged = match request.operation.as_str() {
        "CREATE" => true,
        "UPDATE" => !kind.is_pod() && settings.on_update == OnUpdate::All,
        _ => return Verdict::accept(),
    };
    let containers: Containers = match podspec::read_pod_spec(kind, &request.object) {
        Ok(containers) => containers,
        Err(error) => return kind.invalid(&error),
    };
    let old: Containers = if request.operation == "UPDATE" {
        match podspec::read_pod_spec(kind, &request.old_object) {
            Ok(old) => old,
            Err(error) => return kind.invalid(&format!("oldObject: {error}")),
        }
    } else {
        Containers::default()
    };
    let findings = find(kind, &containers, &old, &settings.rewrites);
    let (judged, unchanged): (Vec<&Finding>, Vec<&Finding>) = findings
        .iter()
        .partition(|finding| finding.changed || judge_unchanged);
    let mut warnings: Vec<String> = Vec::new();
    if !judged.is_empty() {
        match settings.mode {
            Mode::Validate => {
                return Verdict::from_violations(judged.iter().map(|f| f.rejection()).collect());
            }
            Mode::Mutate => warnings.extend(judged.iter().map(|f| f.rewritten())),
        }
    }
    warnings.extend(unchanged.iter().map(|f| f.left_alone()));
    if judged.is_empty() {
        return Verdict::Accept { warnings };
    }
    let mut object: Value = match serde_json::from_str(request.object.get()) {
        Ok(object) => object,
        Err(error) => return kind.invalid(&error.to_string()),
    };
    let Some(spec) = podspec::pod_spec_mut(kind, &mut object) else {
        return kind.invalid(&format!("{} is not an object", kind.pod_spec_path()));
    };
    for finding in judged {
        if let Some(container) = spec
            .get_mut(finding.list)
            .and_then(|list| list.get_mut(finding.index))
            .and_then(Value::as_object_mut)
        {
            container.insert("image".into(), Value::String(finding.replacement.clone()));
        }
    }
    Verdict::Mutate { object, warnings }
}

/// Every container image a rewrite matches. Containers are paired with the old object's by
/// name; names are unique across a pod spec's three lists.
fn find(
    kind: WorkloadKind,
    containers: &Containers,
    old: &Containers,
    rewrites: &[CompiledRewrite],
) -> Vec<Finding> {
    let old_images: HashMap<&str, Option<&str>> = old
        .iter()
        .map(|(_, _, c)| (c.name.as_str(), c.image.as_deref()))
        .collect();
    let mut findings = Vec::new();
    for (list, index, container) in containers.iter() {
        let Some(image) = container.image.as_deref() else {
            continue;
        };
        // An image that does not parse cannot be pulled either; it is not this policy's to
        // judge, and no prefix can be told apart in it.
        let Ok(reference) = ImageReference::parse(image) else {
            continue;
        };
        let Some((rewrite, replacement)) = rewrites.iter().find_map(|rewrite| {
            reference
                .replace_prefix(&rewrite.from, &rewrite.to)
                .map(|replacement| (rewrite, replacement))
        }) else {
            continue;
        };
        findings.push(Finding {
            path: format!("{}.{list}[{index}]", kind.pod_spec_path()),
            list,
            index,
            name: container.name.clone(),
            image: image.to_string(),
            registry: rewrite.from.to_string(),
            replacement,
            changed: old_images.get(container.name.as_str()) != Some(&Some(image)),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use kepguard_common::PolicySettings;
    use serde_json::json;
    use serde_json::value::to_raw_value;

    fn settings(value: Value) -> Compiled {
        serde_json::from_value::<Settings>(value)
            .unwrap()
            .compile()
            .unwrap()
    }

    fn request(kind: &str, operation: &str, object: Value, old: Value) -> AdmissionRequest {
        let group = if kind == "Deployment" { "apps" } else { "" };
        AdmissionRequest {
            kind: kepguard_common::request::GroupKind {
                group: group.into(),
                kind: kind.into(),
            },
            operation: operation.into(),
            object: to_raw_value(&object).unwrap(),
            old_object: to_raw_value(&old).unwrap(),
            ..AdmissionRequest::default()
        }
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": containers}})
    }

    fn deployment(containers: Value, replicas: u32) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": containers, "x-unknown": 1}}
        }})
    }

    #[test]
    fn create_rewrites_every_matching_image_and_warns_once_each() {
        let object = pod(json!([
            {"name": "app", "image": "k8s.gcr.io/pause:3.9", "x-keep": true},
            {"name": "other", "image": "nginx"}
        ]));
        let verdict = evaluate(
            &request("Pod", "CREATE", object, Value::Null),
            &settings(json!({})),
        );
        let Verdict::Mutate { object, warnings } = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(
            object["spec"]["containers"][0]["image"],
            "registry.k8s.io/pause:3.9"
        );
        assert_eq!(object["spec"]["containers"][0]["x-keep"], true);
        assert_eq!(object["spec"]["containers"][1]["image"], "nginx");
        assert_eq!(
            warnings,
            [
                r#"container "app" (spec.containers[0]): image "k8s.gcr.io/pause:3.9" rewritten to "registry.k8s.io/pause:3.9""#
            ]
        );
    }

    #[test]
    fn validate_mode_names_each_container_and_its_replacement() {
        let object = pod(json!([
            {"name": "a", "image": "k8s.gcr.io/pause"},
            {"name": "b", "image": "k8s.gcr.io/etcd:3.5.0-0"}
        ]));
        let verdict = evaluate(
            &request("Pod", "CREATE", object, Value::Null),
            &settings(json!({"mode": "validate"})),
        );
        assert_eq!(
            verdict,
            Verdict::reject(
                r#"container "a" (spec.containers[0]) uses "k8s.gcr.io/pause" from k8s.gcr.io: use "registry.k8s.io/pause"; container "b" (spec.containers[1]) uses "k8s.gcr.io/etcd:3.5.0-0" from k8s.gcr.io: use "registry.k8s.io/etcd:3.5.0-0""#
            )
        );
    }

    #[test]
    fn workload_update_touches_only_changed_images_unless_on_update_all() {
        let old = deployment(json!([{"name": "app", "image": "k8s.gcr.io/pause:3.9"}]), 1);
        let new = deployment(json!([{"name": "app", "image": "k8s.gcr.io/pause:3.9"}]), 3);
        let verdict = evaluate(
            &request("Deployment", "UPDATE", new.clone(), old.clone()),
            &settings(json!({})),
        );
        let Verdict::Accept { warnings } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(warnings[0].contains("left alone because this UPDATE does not change it"));
        let verdict = evaluate(
            &request("Deployment", "UPDATE", new, old),
            &settings(json!({"onUpdate": "all"})),
        );
        assert!(matches!(verdict, Verdict::Mutate { .. }), "{verdict:?}");
    }

    #[test]
    fn pod_update_ignores_on_update_all() {
        let old = pod(json!([{"name": "app", "image": "k8s.gcr.io/pause:3.9"}]));
        let verdict = evaluate(
            &request("Pod", "UPDATE", old.clone(), old),
            &settings(json!({"onUpdate": "all", "mode": "validate"})),
        );
        assert!(matches!(verdict, Verdict::Accept { ref warnings } if warnings.len() == 1));
    }

    #[test]
    fn other_operations_kinds_and_subresources_are_untouched() {
        let object = pod(json!([{"name": "app", "image": "k8s.gcr.io/pause"}]));
        let compiled = settings(json!({}));
        assert_eq!(
            evaluate(
                &request("Pod", "DELETE", Value::Null, object.clone()),
                &compiled
            ),
            Verdict::accept()
        );
        assert_eq!(
            evaluate(
                &request("Service", "CREATE", object.clone(), Value::Null),
                &compiled
            ),
            Verdict::accept()
        );
        let mut status = request("Pod", "UPDATE", object.clone(), object);
        status.sub_resource = "status".into();
        assert_eq!(evaluate(&status, &compiled), Verdict::accept());
    }

    #[test]
    fn malformed_specs_are_rejected_with_their_path() {
        let verdict = evaluate(
            &request(
                "Pod",
                "CREATE",
                json!({"spec": {"containers": [{"image": 3}]}}),
                Value::Null,
            ),
            &settings(json!({})),
        );
        let Verdict::Reject { message } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(
            message.starts_with("invalid Pod: spec.containers[0].image: invalid type"),
            "{message}"
        );
    }
}
