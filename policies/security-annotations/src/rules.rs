//! The rules, as plain functions over the admission request.

use crate::annotations::{AnnotationKey, Confinement, Profile, Target};
use crate::settings::Settings;
use kepguard_common::podspec::{self, ContainerLists, WorkloadKind};
use kepguard_common::settings::{Mode, OnUpdate};
use kepguard_common::{AdmissionRequest, Verdict};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The subresource through which `kubectl debug` adds ephemeral containers to a Pod.
pub const EPHEMERAL_CONTAINERS_SUBRESOURCE: &str = "ephemeralcontainers";

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct MetadataView {
    annotations: Option<BTreeMap<String, String>>,
}

impl MetadataView {
    fn annotations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.annotations.iter().flatten()
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct SpecView {
    security_context: Option<SecurityContextView>,
    os: Option<OsView>,
    #[serde(flatten)]
    lists: ContainerLists<ContainerView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct OsView {
    name: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct ContainerView {
    name: String,
    security_context: Option<SecurityContextView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct SecurityContextView {
    seccomp_profile: Option<Profile>,
    app_armor_profile: Option<Profile>,
}

impl SecurityContextView {
    fn profile(&self, confinement: Confinement) -> Option<&Profile> {
        match confinement {
            Confinement::Seccomp => self.seccomp_profile.as_ref(),
            Confinement::AppArmor => self.app_armor_profile.as_ref(),
        }
    }
}

/// One deprecated annotation of the pod metadata.
struct Annotation<'a> {
    key: &'a str,
    value: &'a str,
    parsed: AnnotationKey,
    /// `annotation metadata.annotations[KEY]: "VALUE" (container "app")`.
    description: String,
}

fn deprecated_annotations(kind: WorkloadKind, metadata: &MetadataView) -> Vec<Annotation<'_>> {
    metadata
        .annotations()
        .filter_map(|(key, value)| {
            let parsed = AnnotationKey::parse(key)?;
            let mut description = format!(
                "annotation {}.annotations[{key}]: {value:?}",
                kind.pod_metadata_path()
            );
            if let Target::Container(name) = &parsed.target {
                description.push_str(&format!(" (container {name:?})"));
            }
            Some(Annotation {
                key,
                value,
                parsed,
                description,
            })
        })
        .collect()
}

pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    let Some(kind) = WorkloadKind::of_request(request) else {
        return Verdict::accept();
    };
    if !request.sub_resource.is_empty() && request.sub_resource != EPHEMERAL_CONTAINERS_SUBRESOURCE
    {
        return Verdict::accept();
    }
    if !matches!(request.operation.as_str(), "CREATE" | "UPDATE") {
        return Verdict::accept();
    }
    let metadata: MetadataView = match podspec::read_pod_metadata(kind, &request.object) {
        Ok(metadata) => metadata,
        Err(error) => return kind.invalid(&error),
    };
    let annotations = deprecated_annotations(kind, &metadata);
    if annotations.is_empty() {
        return Verdict::accept();
    }
    if request.operation == "CREATE" {
        return translate(request, kind, settings, &annotations);
    }
    let old: MetadataView = match podspec::read_pod_metadata(kind, &request.old_object) {
        Ok(old) => old,
        Err(error) => return kind.invalid(&format!("oldObject: {error}")),
    };
    if kind.is_pod() {
        return judge_pod_update(&annotations, &old);
    }
    if settings.on_update == OnUpdate::All || metadata.annotations != old.annotations {
        return translate(request, kind, settings, &annotations);
    }
    Verdict::Accept {
        warnings: annotations
            .iter()
            .map(|a| {
                format!(
                    "{} is deprecated: left alone because this UPDATE does not change the template's annotations (translating it would start a rollout); set securityContext.{} instead",
                    a.description,
                    a.parsed.confinement.field()
                )
            })
            .collect(),
    }
}

/// A Pod's security context is fixed at creation: an annotation added or changed later has no
/// effect, and the fields can no longer be set.
fn judge_pod_update(annotations: &[Annotation], old: &MetadataView) -> Verdict {
    let old_value = |key: &str| old.annotations.as_ref().and_then(|map| map.get(key));
    Verdict::from_violations(
        annotations
            .iter()
            .filter_map(|a| {
                let change = match old_value(a.key) {
                    None => "added to",
                    Some(old) if old != a.value => "changed on",
                    Some(_) => return None,
                };
                Some(format!(
                    "{} is {change} a running Pod: a Pod's security context cannot change after creation, so it would have no effect, and securityContext.{} can no longer be set; recreate the Pod with the field instead",
                    a.description,
                    a.parsed.confinement.field()
                ))
            })
            .collect(),
    )
}

/// What the policy does with one annotation, in mutate mode.
enum Change {
    /// Remove the annotation only.
    Remove,
    /// Set the field, then remove the annotation.
    SetField {
        /// `None` for the pod-level field, else the container's list and index.
        container: Option<(&'static str, usize)>,
        confinement: Confinement,
        profile: Profile,
    },
}

fn translate(
    request: &AdmissionRequest,
    kind: WorkloadKind,
    settings: &Settings,
    annotations: &[Annotation],
) -> Verdict {
    let spec: SpecView = match podspec::read_pod_spec(kind, &request.object) {
        Ok(spec) => spec,
        Err(error) => return kind.invalid(&error),
    };
    let validate = settings.mode == Mode::Validate;
    let windows = spec.os.as_ref().is_some_and(|os| os.name == "windows");
    let mut violations = Vec::new();
    let mut warnings = Vec::new();
    let mut changes: Vec<(&str, Change)> = Vec::new();
    for annotation in annotations {
        let description = &annotation.description;
        let confinement = annotation.parsed.confinement;
        if windows {
            let why = format!(
                "the pod runs on Windows ({}.os.name: windows), where the apiserver forbids seccomp and AppArmor fields",
                kind.pod_spec_path()
            );
            if validate {
                violations.push(format!("{description}: {why}; remove it"));
            } else {
                warnings.push(format!("{description} removed: {why}"));
                changes.push((annotation.key, Change::Remove));
            }
            continue;
        }
        let (field_path, container, current) = match &annotation.parsed.target {
            Target::Pod => (
                format!(
                    "{}.securityContext.{}",
                    kind.pod_spec_path(),
                    confinement.field()
                ),
                None,
                spec.security_context.as_ref(),
            ),
            Target::Container(name) => {
                let Some((list, index, found)) =
                    spec.lists.iter().find(|(_, _, c)| &c.name == name)
                else {
                    violations.push(format!(
                        "{description} names container {name:?}, which {} does not have: remove it or correct the name",
                        kind.pod_spec_path()
                    ));
                    continue;
                };
                (
                    format!(
                        "{}.{list}[{index}].securityContext.{}",
                        kind.pod_spec_path(),
                        confinement.field()
                    ),
                    Some((list, index)),
                    found.security_context.as_ref(),
                )
            }
        };
        let profile = match Profile::from_annotation(confinement, annotation.value) {
            Ok(profile) => profile,
            Err(error) => {
                violations.push(format!(
                    "{description} is not a valid value: {error}; set {field_path} instead"
                ));
                continue;
            }
        };
        if profile.is_unconfined() && !settings.allow_unconfined {
            violations.push(format!(
                "{description} runs without {} confinement, which the Pod Security Standards' baseline level forbids; remove it (the runtime's default profile applies), or set allowUnconfined: true in the policy settings",
                match confinement {
                    Confinement::Seccomp => "seccomp",
                    Confinement::AppArmor => "AppArmor",
                }
            ));
            continue;
        }
        match current.and_then(|context| context.profile(confinement)) {
            Some(existing) if *existing != profile => violations.push(format!(
                "{description} disagrees with {field_path}: {existing}; remove the annotation or make them agree (apiserver versions check such mismatches differently)"
            )),
            Some(_) if validate => violations.push(format!(
                "{description} is deprecated and {field_path} already says {profile}: remove the annotation"
            )),
            Some(_) => {
                warnings.push(format!(
                    "{description} removed: {field_path} already says {profile}"
                ));
                changes.push((annotation.key, Change::Remove));
            }
            None if validate => violations.push(format!(
                "{description} is deprecated{}: set {field_path}: {profile} instead",
                match confinement {
                    Confinement::Seccomp =>
                        " and has no effect since Kubernetes 1.27, which no longer copies it into the field",
                    Confinement::AppArmor => " since Kubernetes 1.30",
                }
            )),
            None => {
                warnings.push(format!(
                    "{description} translated to {field_path}: {profile}"
                ));
                changes.push((
                    annotation.key,
                    Change::SetField {
                        container,
                        confinement,
                        profile,
                    },
                ));
            }
        }
    }
    if !violations.is_empty() {
        return Verdict::from_violations(violations);
    }
    patch(request, kind, changes, warnings)
}

fn patch(
    request: &AdmissionRequest,
    kind: WorkloadKind,
    changes: Vec<(&str, Change)>,
    warnings: Vec<String>,
) -> Verdict {
    let mut object: Value = match serde_json::from_str(request.object.get()) {
        Ok(object) => object,
        Err(error) => return kind.invalid(&error.to_string()),
    };
    for (key, change) in changes {
        if let Change::SetField {
            container,
            confinement,
            profile,
        } = change
        {
            let Some(spec) = podspec::pod_spec_mut(kind, &mut object) else {
                return kind.invalid(&format!("{} is not an object", kind.pod_spec_path()));
            };
            let owner = match container {
                None => Some(spec),
                Some((list, index)) => spec.get_mut(list).and_then(|l| l.get_mut(index)),
            };
            let Some(owner) = owner.and_then(Value::as_object_mut) else {
                return kind.invalid(&format!("{} has no such container", kind.pod_spec_path()));
            };
            let context = owner
                .entry("securityContext")
                .or_insert_with(|| Value::Object(Default::default()));
            if !context.is_object() {
                *context = Value::Object(Default::default());
            }
            context[confinement.field()] = profile.to_json();
        }
        if let Some(annotations) = podspec::pod_metadata_mut(kind, &mut object)
            .and_then(|metadata| metadata.get_mut("annotations"))
            .and_then(Value::as_object_mut)
        {
            annotations.remove(key);
        }
    }
    Verdict::Mutate { object, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kepguard_common::PolicySettings;
    use kepguard_common::request::GroupKind;
    use serde_json::json;
    use serde_json::value::to_raw_value;

    const APPARMOR_APP: &str = "container.apparmor.security.beta.kubernetes.io/app";
    const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";

    fn settings(value: Value) -> Settings {
        serde_json::from_value::<Settings>(value)
            .unwrap()
            .compile()
            .unwrap()
    }

    fn pod(annotations: Value, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "annotations": annotations}, "spec": spec})
    }

    fn request(operation: &str, object: Value, old: Value) -> AdmissionRequest {
        AdmissionRequest {
            kind: GroupKind {
                group: String::new(),
                kind: "Pod".into(),
            },
            operation: operation.into(),
            object: to_raw_value(&object).unwrap(),
            old_object: to_raw_value(&old).unwrap(),
            ..AdmissionRequest::default()
        }
    }

    #[test]
    fn translates_into_fields_and_keeps_other_annotations_and_fields() {
        let object = pod(
            json!({SECCOMP_POD: "localhost/audit.json", APPARMOR_APP: "runtime/default", "team": "shop"}),
            json!({"securityContext": null, "containers": [{"name": "app", "x": 1, "securityContext": {"runAsUser": 1000}}]}),
        );
        let verdict = evaluate(
            &request("CREATE", object, Value::Null),
            &settings(json!({})),
        );
        let Verdict::Mutate { object, warnings } = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(object["metadata"]["annotations"], json!({"team": "shop"}));
        assert_eq!(
            object["spec"]["securityContext"],
            json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "audit.json"}})
        );
        assert_eq!(
            object["spec"]["containers"][0],
            json!({"name": "app", "x": 1, "securityContext": {"runAsUser": 1000, "appArmorProfile": {"type": "RuntimeDefault"}}})
        );
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn conflicts_are_rejected_in_mutate_mode() {
        let object = pod(
            json!({APPARMOR_APP: "runtime/default"}),
            json!({"containers": [{"name": "app", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}}}]}),
        );
        let verdict = evaluate(
            &request("CREATE", object, Value::Null),
            &settings(json!({})),
        );
        let Verdict::Reject { message } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(message.contains("disagrees with spec.containers[0].securityContext.appArmorProfile: {type: Localhost, localhostProfile: \"x\"}"), "{message}");
    }

    #[test]
    fn pod_updates_may_remove_but_not_add_or_change() {
        let spec = json!({"containers": [{"name": "app"}]});
        let old = pod(json!({SECCOMP_POD: "runtime/default"}), spec.clone());
        let compiled = settings(json!({}));
        let same = request("UPDATE", old.clone(), old.clone());
        assert_eq!(evaluate(&same, &compiled), Verdict::accept());
        let removed = request("UPDATE", pod(json!({}), spec.clone()), old.clone());
        assert_eq!(evaluate(&removed, &compiled), Verdict::accept());
        let changed = request(
            "UPDATE",
            pod(json!({SECCOMP_POD: "localhost/a.json"}), spec),
            old,
        );
        assert!(
            matches!(evaluate(&changed, &compiled), Verdict::Reject { message } if message.contains("is changed on a running Pod"))
        );
    }

    #[test]
    fn windows_pods_lose_the_annotations_without_fields() {
        let object = pod(
            json!({SECCOMP_POD: "runtime/default"}),
            json!({"os": {"name": "windows"}, "containers": [{"name": "app"}]}),
        );
        let verdict = evaluate(
            &request("CREATE", object, Value::Null),
            &settings(json!({})),
        );
        let Verdict::Mutate { object, .. } = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(object["metadata"]["annotations"], json!({}));
        assert!(object["spec"].get("securityContext").is_none());
    }
}
