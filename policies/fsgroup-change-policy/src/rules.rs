//! The rules, as plain functions over the admission request.

use crate::settings::{CHANGE_POLICIES, SELINUX_CHANGE_POLICIES, Settings};
use kepguard_common::podspec::{self, WorkloadKind};
use kepguard_common::view::{self, read_view};
use kepguard_common::{AdmissionRequest, Verdict};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

const OS_LABEL: &str = "kubernetes.io/os";

/// The parts of a pod spec these rules read.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpecView {
    pub security_context: Option<SecurityContextView>,
    pub volumes: Vec<VolumeView>,
    pub os: Option<OsView>,
    pub node_selector: BTreeMap<String, String>,
    pub affinity: Option<AffinityView>,
}

/// A volume's name and the keys of its sources: the members other than `name` that are not
/// `null`. The sources' contents are skipped, not built.
#[derive(Default, Debug, PartialEq)]
pub struct VolumeView {
    pub name: String,
    pub sources: Vec<String>,
}

impl<'de> Deserialize<'de> for VolumeView {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VolumeVisitor;
        impl<'de> Visitor<'de> for VolumeVisitor {
            type Value = VolumeView;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a volume object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VolumeView, A::Error> {
                let mut volume = VolumeView::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        volume.name = map.next_value::<Option<String>>()?.unwrap_or_default();
                    } else if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                        volume.sources.push(key);
                    }
                }
                Ok(volume)
            }
        }
        deserializer.deserialize_map(VolumeVisitor)
    }
}

/// The first entry of a StatefulSet's `spec.volumeClaimTemplates`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ClaimTemplateView {
    metadata: ClaimMetadataView,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ClaimMetadataView {
    name: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContextView {
    pub fs_group: Option<i64>,
    pub fs_group_change_policy: Option<String>,
    #[serde(rename = "seLinuxChangePolicy")]
    pub selinux_change_policy: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OsView {
    pub name: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct AffinityView {
    pub node_affinity: Option<NodeAffinityView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct NodeAffinityView {
    #[serde(rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Option<NodeSelectorView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelectorView {
    pub node_selector_terms: Vec<NodeSelectorTermView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelectorTermView {
    pub match_expressions: Vec<RequirementView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct RequirementView {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// Judges one admission request.
pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    // A Pod's securityContext cannot change after creation.
    let Some(kind) = WorkloadKind::judged_when_spec_is_immutable(request) else {
        return Verdict::accept();
    };
    judge(kind, &request.object, settings).unwrap_or_else(|error| kind.invalid(&error))
}

fn judge(kind: WorkloadKind, object: &RawValue, settings: &Settings) -> Result<Verdict, String> {
    let spec: PodSpecView = podspec::read_pod_spec(kind, object)?;
    // The apiserver refuses these fields itself on pods declared as Windows pods.
    if spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        return Ok(Verdict::accept());
    }
    let context = spec.security_context.as_ref();
    let fs_group = context.and_then(|c| c.fs_group);
    let change_policy = context.and_then(|c| c.fs_group_change_policy.as_deref());
    let selinux_policy = context.and_then(|c| c.selinux_change_policy.as_deref());
    let at = format!("{}.securityContext", kind.pod_spec_path());

    let mut violations: Vec<String> = [
        disallowed_value(
            &format!("{at}.fsGroupChangePolicy"),
            change_policy,
            &settings.allowed_policies,
            &CHANGE_POLICIES,
        ),
        disallowed_value(
            &format!("{at}.seLinuxChangePolicy"),
            selinux_policy,
            &settings.allowed_selinux_change_policies,
            &SELINUX_CHANGE_POLICIES,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if spec.os.is_none()
        && let Some(reason) = windows_only(&spec)
    {
        let set: Vec<&str> = [
            fs_group.map(|_| "fsGroup"),
            change_policy.map(|_| "fsGroupChangePolicy"),
            selinux_policy.map(|_| "seLinuxChangePolicy"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !set.is_empty() {
            violations.push(format!(
                "{at} sets {}, but the pod can only run on Windows nodes ({reason}), which do not support it: remove {} from {at}",
                set.join(", "),
                if set.len() == 1 { "it" } else { "them" }
            ));
        }
    }
    if !violations.is_empty() {
        return Ok(Verdict::from_violations(violations));
    }

    if fs_group.is_none() {
        return Ok(match change_policy {
            Some(value) => Verdict::Accept {
                warnings: vec![format!(
                    "{at}.fsGroupChangePolicy is {value} but fsGroup is not set: it has no effect"
                )],
            },
            None => Verdict::accept(),
        });
    }
    if change_policy.is_some() {
        return Ok(Verdict::accept());
    }
    let Some(volume) = chowned_volume(kind, object, &spec, settings)? else {
        return Ok(Verdict::accept());
    };
    if !settings.mutate {
        return Ok(Verdict::reject(format!(
            "{at}.fsGroup is set and {volume} would have its ownership changed recursively on every mount: set {at}.fsGroupChangePolicy: {}",
            settings.default_policy
        )));
    }
    let mut mutated: Value =
        serde_json::from_str(object.get()).map_err(|error| error.to_string())?;
    let context = podspec::pod_spec_mut(kind, &mut mutated)
        .and_then(|spec| spec.get_mut("securityContext"))
        .and_then(Value::as_object_mut)
        .ok_or("the pod spec's securityContext cannot be patched")?;
    context.insert(
        "fsGroupChangePolicy".into(),
        Value::String(settings.default_policy.clone()),
    );
    Ok(Verdict::Mutate {
        object: mutated,
        warnings: Vec::new(),
    })
}

/// The message for a value outside the allowed list, with a hint for a wrongly cased one.
fn disallowed_value(
    field: &str,
    value: Option<&str>,
    allowed: &[String],
    known: &[&str],
) -> Option<String> {
    let value = value.filter(|v| !allowed.iter().any(|a| a == v))?;
    let hint = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(value) && **k != value)
        .map(|k| format!(" (values are case-sensitive: did you mean {k}?)"))
        .unwrap_or_default();
    Some(format!(
        "{field} {value:?} is not allowed{hint}: use one of {}",
        allowed.join(", ")
    ))
}

/// Describes the first volume whose type is in `volumeTypes`, if any.
fn chowned_volume(
    kind: WorkloadKind,
    object: &RawValue,
    spec: &PodSpecView,
    settings: &Settings,
) -> Result<Option<String>, String> {
    let wanted = |source: &str| settings.volume_types.iter().any(|t| t == source);
    for volume in &spec.volumes {
        if let Some(source) = volume.sources.iter().find(|source| wanted(source)) {
            return Ok(Some(format!("{source} volume {:?}", volume.name)));
        }
    }
    // A StatefulSet's volumeClaimTemplates become persistentVolumeClaim volumes of its pods.
    if kind == WorkloadKind::StatefulSet && wanted("persistentVolumeClaim") {
        let Some(templates) = view::lookup(object, &["spec", "volumeClaimTemplates"]) else {
            return Ok(None);
        };
        let templates: Vec<ClaimTemplateView> = read_view(templates, "spec.volumeClaimTemplates")?;
        return Ok(templates
            .first()
            .map(|first| format!("volumeClaimTemplate {:?}", first.metadata.name)));
    }
    Ok(None)
}

/// Why the spec can only land on Windows nodes, if it can only land there.
fn windows_only(spec: &PodSpecView) -> Option<&'static str> {
    if spec.node_selector.get(OS_LABEL).map(String::as_str) == Some("windows") {
        return Some("nodeSelector kubernetes.io/os: windows");
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?
        .node_selector_terms;
    let requires_windows = |term: &NodeSelectorTermView| {
        term.match_expressions.iter().any(|requirement| {
            requirement.key == OS_LABEL
                && requirement.operator == "In"
                && !requirement.values.is_empty()
                && requirement.values.iter().all(|v| v == "windows")
        })
    };
    (!terms.is_empty() && terms.iter().all(requires_windows))
        .then_some("required node affinity kubernetes.io/os In [windows]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(kind: &str, group: &str, operation: &str, object: Value) -> AdmissionRequest {
        serde_json::from_value(json!({
            "kind": {"group": group, "version": "v1", "kind": kind},
            "operation": operation,
            "object": object,
        }))
        .unwrap()
    }

    fn pod(spec: Value) -> AdmissionRequest {
        request(
            "Pod",
            "",
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "spec": spec}),
        )
    }

    fn pvc_spec(security_context: Value) -> Value {
        json!({
            "securityContext": security_context,
            "containers": [{"name": "app", "image": "app"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        })
    }

    #[test]
    fn defaults_the_policy_for_a_pvc() {
        let verdict = evaluate(&pod(pvc_spec(json!({"fsGroup": 0}))), &Settings::default());
        let Verdict::Mutate { object, .. } = verdict else {
            panic!("expected a mutation, got {verdict:?}");
        };
        assert_eq!(
            object["spec"]["securityContext"],
            json!({"fsGroup": 0, "fsGroupChangePolicy": "OnRootMismatch"})
        );
    }

    #[test]
    fn rejects_in_validate_mode() {
        let settings = Settings {
            mutate: false,
            ..Settings::default()
        };
        let verdict = evaluate(&pod(pvc_spec(json!({"fsGroup": 1000}))), &settings);
        assert_eq!(
            verdict,
            Verdict::reject(
                "spec.securityContext.fsGroup is set and persistentVolumeClaim volume \"data\" would have its ownership changed recursively on every mount: set spec.securityContext.fsGroupChangePolicy: OnRootMismatch"
            )
        );
    }

    #[test]
    fn leaves_pods_without_matching_volumes() {
        let spec = json!({
            "securityContext": {"fsGroup": 1000},
            "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
        });
        assert_eq!(
            evaluate(&pod(spec), &Settings::default()),
            Verdict::accept()
        );
    }

    #[test]
    fn wrong_case_is_rejected_with_a_hint() {
        let verdict = evaluate(
            &pod(pvc_spec(
                json!({"fsGroup": 1, "fsGroupChangePolicy": "onRootMismatch"}),
            )),
            &Settings::default(),
        );
        assert_eq!(
            verdict,
            Verdict::reject(
                "spec.securityContext.fsGroupChangePolicy \"onRootMismatch\" is not allowed (values are case-sensitive: did you mean OnRootMismatch?): use one of OnRootMismatch, Always"
            )
        );
    }

    #[test]
    fn wrong_types_are_rejected_not_crashed() {
        let verdict = evaluate(
            &pod(pvc_spec(json!({"fsGroup": "1000"}))),
            &Settings::default(),
        );
        let Verdict::Reject { message } = verdict else {
            panic!("expected a rejection");
        };
        assert!(
            message.starts_with("invalid Pod: spec.securityContext.fsGroup: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn windows_only_by_affinity_needs_every_term() {
        let affinity = |terms: Value| PodSpecView {
            affinity: serde_json::from_value(json!({"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }}))
            .unwrap(),
            ..PodSpecView::default()
        };
        let windows = json!({"matchExpressions": [{"key": OS_LABEL, "operator": "In", "values": ["windows"]}]});
        let linux =
            json!({"matchExpressions": [{"key": OS_LABEL, "operator": "In", "values": ["linux"]}]});
        let not_in = json!({"matchExpressions": [{"key": OS_LABEL, "operator": "NotIn", "values": ["linux"]}]});
        assert!(windows_only(&affinity(json!([windows]))).is_some());
        assert!(windows_only(&affinity(json!([windows, windows]))).is_some());
        assert!(windows_only(&affinity(json!([windows, linux]))).is_none());
        assert!(windows_only(&affinity(json!([not_in]))).is_none());
        assert!(windows_only(&affinity(json!([]))).is_none());
    }

    #[test]
    fn pod_updates_are_not_judged_but_workload_updates_are() {
        let object =
            json!({"spec": pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "Bogus"}))});
        let update = request("Pod", "", "UPDATE", object);
        assert_eq!(evaluate(&update, &Settings::default()), Verdict::accept());
        let deployment = json!({"spec": {"template": {"spec": pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "Bogus"}))}}});
        let update = request("Deployment", "apps", "UPDATE", deployment);
        assert!(matches!(
            evaluate(&update, &Settings::default()),
            Verdict::Reject { .. }
        ));
    }
}
