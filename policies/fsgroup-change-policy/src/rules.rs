//! The rules, as plain functions over the admission request.

use crate::settings::{CHANGE_POLICIES, CompiledSettings, SELINUX_CHANGE_POLICIES};
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
pub fn evaluate(request: &AdmissionRequest, settings: &CompiledSettings) -> Verdict {
    // A Pod's securityContext cannot change after creation.
    podspec::judge_immutable_spec(request, |kind, object| judge(kind, object, settings))
}

/// Validates the pod spec, then sets a missing fsGroupChangePolicy where a volume would be
/// chowned recursively (or rejects the spec, in the validating mode).
fn judge(
    kind: WorkloadKind,
    object: &RawValue,
    settings: &CompiledSettings,
) -> Result<Verdict, String> {
    let spec: PodSpecView = podspec::read_pod_spec(kind, object)?;
    // The apiserver refuses these fields itself on pods declared as Windows pods.
    if spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        return Ok(Verdict::accept());
    }
    let fields = Fields::of(kind, &spec);
    let violations = violations(&spec, &fields, settings);
    if !violations.is_empty() {
        return Ok(Verdict::from_violations(violations));
    }
    let Some(volume) = volume_without_policy(kind, object, &spec, &fields, settings)? else {
        return Ok(Verdict::Accept {
            warnings: warnings(&fields),
        });
    };
    if !settings.mutate {
        let at = &fields.at;
        return Ok(Verdict::reject(format!(
            "{at}.fsGroup is set and {volume} would have its ownership changed recursively on every mount: set {at}.fsGroupChangePolicy: {}",
            settings.default_policy
        )));
    }
    Ok(Verdict::Mutate {
        object: set_change_policy(kind, object, settings.default_policy)?,
        warnings: Vec::new(),
    })
}

/// The pod security context's fields these rules judge, and where they are.
struct Fields<'a> {
    /// The path of the securityContext, such as `spec.template.spec.securityContext`.
    at: String,
    fs_group: Option<i64>,
    change_policy: Option<&'a str>,
    selinux_policy: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(kind: WorkloadKind, spec: &'a PodSpecView) -> Fields<'a> {
        let context = spec.security_context.as_ref();
        Fields {
            at: format!("{}.securityContext", kind.pod_spec_path()),
            fs_group: context.and_then(|c| c.fs_group),
            change_policy: context.and_then(|c| c.fs_group_change_policy.as_deref()),
            selinux_policy: context.and_then(|c| c.selinux_change_policy.as_deref()),
        }
    }
}

/// Values outside the allowed lists, and fields set on a pod that only Windows nodes take.
fn violations(spec: &PodSpecView, fields: &Fields, settings: &CompiledSettings) -> Vec<String> {
    let at = &fields.at;
    let mut violations: Vec<String> = [
        disallowed_value(
            &format!("{at}.fsGroupChangePolicy"),
            fields.change_policy,
            &settings.allowed_policies,
            &CHANGE_POLICIES,
        ),
        disallowed_value(
            &format!("{at}.seLinuxChangePolicy"),
            fields.selinux_policy,
            &settings.allowed_selinux_change_policies,
            &SELINUX_CHANGE_POLICIES,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if spec.os.is_none()
        && let Some(reason) = windows_only(spec)
    {
        let set: Vec<&str> = [
            fields.fs_group.map(|_| "fsGroup"),
            fields.change_policy.map(|_| "fsGroupChangePolicy"),
            fields.selinux_policy.map(|_| "seLinuxChangePolicy"),
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
    violations
}

/// A change policy without fsGroup does nothing: worth a warning, not a rejection.
fn warnings(fields: &Fields) -> Vec<String> {
    match (fields.fs_group, fields.change_policy) {
        (None, Some(value)) => vec![format!(
            "{}.fsGroupChangePolicy is {value} but fsGroup is not set: it has no effect",
            fields.at
        )],
        _ => Vec::new(),
    }
}

/// The volume that would be chowned recursively because fsGroup is set without a change
/// policy, if there is one.
fn volume_without_policy(
    kind: WorkloadKind,
    object: &RawValue,
    spec: &PodSpecView,
    fields: &Fields,
    settings: &CompiledSettings,
) -> Result<Option<String>, String> {
    if fields.fs_group.is_none() || fields.change_policy.is_some() {
        return Ok(None);
    }
    chowned_volume(kind, object, spec, settings)
}

/// The mutation: `object` with `fsGroupChangePolicy` set in its pod security context.
fn set_change_policy(kind: WorkloadKind, object: &RawValue, policy: &str) -> Result<Value, String> {
    podspec::patch_pod_spec(kind, object, |spec| {
        let context = spec
            .get_mut("securityContext")
            .and_then(Value::as_object_mut)
            .ok_or("the pod spec's securityContext cannot be patched")?;
        context.insert(
            "fsGroupChangePolicy".into(),
            Value::String(policy.to_string()),
        );
        Ok(())
    })
}

/// The message for a value outside the allowed list, with a hint for a wrongly cased one.
fn disallowed_value(
    field: &str,
    value: Option<&str>,
    allowed: &[&str],
    known: &[&str],
) -> Option<String> {
    let value = value.filter(|v| !allowed.contains(v))?;
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
    settings: &CompiledSettings,
) -> Result<Option<String>, String> {
    let wanted = |source: &str| settings.volume_types.contains(&source);
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
    use crate::settings::Settings;
    use kepguard_testing::unit::{compiled, object, request};
    use serde_json::json;

    fn pvc_spec(security_context: Value) -> Value {
        json!({
            "securityContext": security_context,
            "containers": [{"name": "app", "image": "app"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        })
    }

    #[test]
    fn evaluates_pod_specs() {
        let claim_template = |mut object: Value| {
            object["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}}]);
            object
        };
        let stateful = |mut object: Value| {
            object["spec"]["template"]["spec"] = json!({"securityContext": {"fsGroup": 1}});
            claim_template(object)
        };
        let cases = [
            (
                "the policy is defaulted for a PVC",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(WorkloadKind::Pod, pvc_spec(json!({"fsGroup": 0}))),
                Verdict::Mutate {
                    object: object(
                        WorkloadKind::Pod,
                        pvc_spec(json!({"fsGroup": 0, "fsGroupChangePolicy": "OnRootMismatch"})),
                    ),
                    warnings: Vec::new(),
                },
            ),
            (
                "the validating mode rejects",
                json!({"mutate": false}),
                WorkloadKind::Pod,
                "CREATE",
                object(WorkloadKind::Pod, pvc_spec(json!({"fsGroup": 1000}))),
                Verdict::reject(
                    "spec.securityContext.fsGroup is set and persistentVolumeClaim volume \"data\" would have its ownership changed recursively on every mount: set spec.securityContext.fsGroupChangePolicy: OnRootMismatch",
                ),
            ),
            (
                "a StatefulSet's claim templates are persistentVolumeClaim volumes",
                json!({"mutate": false, "defaultPolicy": "Always"}),
                WorkloadKind::StatefulSet,
                "CREATE",
                stateful(object(WorkloadKind::StatefulSet, json!({}))),
                Verdict::reject(
                    "spec.template.spec.securityContext.fsGroup is set and volumeClaimTemplate \"data\" would have its ownership changed recursively on every mount: set spec.template.spec.securityContext.fsGroupChangePolicy: Always",
                ),
            ),
            (
                "no volume of the listed types",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    json!({
                        "securityContext": {"fsGroup": 1000},
                        "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
                    }),
                ),
                Verdict::accept(),
            ),
            (
                "a policy already set",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "Always"})),
                ),
                Verdict::accept(),
            ),
            (
                "a policy without fsGroup is a warning",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    pvc_spec(json!({"fsGroupChangePolicy": "OnRootMismatch"})),
                ),
                Verdict::Accept {
                    warnings: vec![
                        "spec.securityContext.fsGroupChangePolicy is OnRootMismatch but fsGroup is not set: it has no effect".to_string(),
                    ],
                },
            ),
            (
                "a wrong case gets a hint",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "onRootMismatch"})),
                ),
                Verdict::reject(
                    "spec.securityContext.fsGroupChangePolicy \"onRootMismatch\" is not allowed (values are case-sensitive: did you mean OnRootMismatch?): use one of OnRootMismatch, Always",
                ),
            ),
            (
                "fields a Windows-only pod cannot use",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    json!({
                        "securityContext": {"fsGroup": 1, "seLinuxChangePolicy": "Recursive"},
                        "nodeSelector": {"kubernetes.io/os": "windows"}
                    }),
                ),
                Verdict::reject(
                    "spec.securityContext sets fsGroup, seLinuxChangePolicy, but the pod can only run on Windows nodes (nodeSelector kubernetes.io/os: windows), which do not support it: remove them from spec.securityContext",
                ),
            ),
            (
                "a declared Windows pod is left to the apiserver",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(
                    WorkloadKind::Pod,
                    json!({"os": {"name": "windows"}, "securityContext": {"fsGroupChangePolicy": "Bogus"}}),
                ),
                Verdict::accept(),
            ),
            (
                "wrong types are rejected, not crashed on",
                json!({}),
                WorkloadKind::Pod,
                "CREATE",
                object(WorkloadKind::Pod, pvc_spec(json!({"fsGroup": "1000"}))),
                Verdict::reject(
                    "invalid Pod: spec.securityContext.fsGroup: invalid type: string \"1000\", expected i64",
                ),
            ),
            (
                "a Pod update is not judged",
                json!({}),
                WorkloadKind::Pod,
                "UPDATE",
                object(
                    WorkloadKind::Pod,
                    pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "Bogus"})),
                ),
                Verdict::accept(),
            ),
            (
                "a workload update is judged",
                json!({}),
                WorkloadKind::Deployment,
                "UPDATE",
                object(
                    WorkloadKind::Deployment,
                    pvc_spec(json!({"fsGroup": 1, "fsGroupChangePolicy": "Bogus"})),
                ),
                Verdict::reject(
                    "spec.template.spec.securityContext.fsGroupChangePolicy \"Bogus\" is not allowed: use one of OnRootMismatch, Always",
                ),
            ),
        ];
        for (name, settings, kind, operation, object, expected) in cases {
            let old = (operation == "UPDATE").then(|| object.clone());
            let request = request(kind, operation, None, object, old);
            assert_eq!(
                evaluate(&request, &compiled::<Settings>(settings)),
                expected,
                "{name}"
            );
        }
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
        let cases = [
            ("one Windows term", json!([windows]), true),
            ("two Windows terms", json!([windows, windows]), true),
            ("a Windows and a Linux term", json!([windows, linux]), false),
            ("NotIn", json!([not_in]), false),
            ("no term", json!([]), false),
        ];
        for (name, terms, expected) in cases {
            assert_eq!(windows_only(&affinity(terms)).is_some(), expected, "{name}");
        }
    }
}
