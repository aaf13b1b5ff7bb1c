//! `kepguard check`: the policies a cluster enforces, run against the manifests of a
//! repository, as the apiserver would run them on `kubectl create`.
//!
//! - [`documents`]: manifests from files, folders and standard input, with file and line;
//! - [`resources`]: the resource (plural, scope) of a kind;
//! - [`policies`]: ClusterAdmissionPolicy and AdmissionPolicy resources, and their rules;
//! - [`modules`]: modules by URI through the on-disk caches;
//! - [`report`]: the table, JSON and JUnit.
//!
//! Each object becomes a CREATE AdmissionRequest. The mutating policies it matches run first,
//! in the order they were read, each on the previous one's result; the validating policies
//! then judge the final object, as the apiserver's mutating and validating phases do.

pub mod documents;
pub mod modules;
pub mod policies;
pub mod report;
pub mod resources;

use crate::admission;
use crate::host::Limits;
use crate::release::oci::Sources;
use anyhow::{Context, Result, anyhow, bail};
use documents::{Document, Origin};
use modules::{CacheStats, Module, ModuleCache};
use policies::{Mode, PolicyResource};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub struct Options {
    pub policies: Vec<PathBuf>,
    pub manifests: Vec<PathBuf>,
    /// The namespace of namespaced objects that name none, like kubectl's context namespace.
    pub namespace: String,
    pub user: String,
    pub groups: Vec<String>,
    pub cache_dir: PathBuf,
    pub sources: Sources,
    pub limits: Limits,
    pub verbose: bool,
    /// The PEM public key every module must carry a cosign signature of (`--verify-key`).
    pub verify_key: Option<Vec<u8>>,
}

/// An object of the manifests.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub source: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    Mutated,
    Rejected,
}

/// One policy's answer for one object.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub object: ObjectRef,
    pub policy: String,
    pub mode: Mode,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// For a mutation: `op path` of each change of its JSON patch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl Evaluation {
    /// Whether this answer fails the run: a rejection by a policy in protect mode.
    pub fn fails(&self) -> bool {
        self.verdict == Verdict::Rejected && self.mode == Mode::Protect
    }
}

/// Where a policy's module came from.
#[derive(Clone, Debug, Serialize)]
pub struct ModuleSource {
    pub policy: String,
    pub module: String,
    /// `registry/repo@sha256:...` for registry modules, the content digest otherwise.
    pub resolved: String,
}

/// An object with the mutations of the policies applied.
#[derive(Clone, Debug, Serialize)]
pub struct Mutated {
    pub object: ObjectRef,
    pub manifest: Value,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub objects: usize,
    pub evaluations: Vec<Evaluation>,
    /// Objects no policy applies to.
    pub skipped: Vec<ObjectRef>,
    pub mutated: Vec<Mutated>,
    pub modules: Vec<ModuleSource>,
    #[serde(skip)]
    pub cache: CacheStats,
    /// The whole check, from reading the policies to the last verdict.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.evaluations.iter().any(Evaluation::fails)
    }
}

/// A policy resource with its module loaded and its settings accepted.
struct LoadedPolicy {
    resource: PolicyResource,
    module: Rc<Module>,
}

pub fn check(options: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let documents = documents::load(&options.policies)?;
    let (resources, others) = PolicyResource::from_documents(documents, &options.namespace)?;
    if let Some(other) = others.first() {
        eprintln!(
            "note: {}: {} {} is not a policy resource; {} such documents among the policies are ignored",
            other.origin,
            other.kind(),
            other.name(),
            others.len()
        );
    }
    if resources.is_empty() {
        bail!("no ClusterAdmissionPolicy or AdmissionPolicy in the policies given");
    }
    let mut cache = ModuleCache::new(
        options.cache_dir.clone(),
        options.sources.clone(),
        options.limits,
        options.verbose,
        options.verify_key.clone(),
    );
    let mut policies = Vec::new();
    for resource in resources {
        policies.push(load_policy(&mut cache, resource)?);
    }
    let objects = documents::load(&options.manifests)?;
    let mut outcome = Outcome {
        objects: objects.len(),
        evaluations: Vec::new(),
        skipped: Vec::new(),
        mutated: Vec::new(),
        modules: policies
            .iter()
            .map(|policy| ModuleSource {
                policy: policy.resource.name.clone(),
                module: policy.resource.module.clone(),
                resolved: policy.module.resolved.clone(),
            })
            .collect(),
        cache: CacheStats::default(),
        elapsed: Duration::ZERO,
    };
    for (index, document) in objects.into_iter().enumerate() {
        check_object(options, &policies, index, document, &mut outcome)?;
    }
    outcome.cache = cache.stats.clone();
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

fn load_policy(cache: &mut ModuleCache, resource: PolicyResource) -> Result<LoadedPolicy> {
    let context = || format!("{}: {} {}", resource.origin, resource.kind, resource.name);
    let module = cache.get(&resource.module).with_context(context)?;
    let verdict = admission::validate_settings(&module.policy, &resource.settings)
        .map_err(|error| anyhow!("{}: validate_settings failed: {error}", context()))?;
    if !verdict.valid {
        bail!(
            "{}: the settings are not valid: {}",
            context(),
            verdict.message.unwrap_or_default()
        );
    }
    Ok(LoadedPolicy { resource, module })
}

fn check_object(
    options: &Options,
    policies: &[LoadedPolicy],
    index: usize,
    document: Document,
    outcome: &mut Outcome,
) -> Result<()> {
    let resource = resources::resolve(document.api_version(), document.kind());
    let namespace = match resource.namespaced {
        Some(false) => None,
        _ => Some(
            document
                .namespace()
                .unwrap_or(&options.namespace)
                .to_string(),
        ),
    };
    let object_ref = ObjectRef {
        kind: document.kind().to_string(),
        namespace: namespace.clone(),
        name: document.name().to_string(),
        source: document.origin.to_string(),
    };
    let matching: Vec<&LoadedPolicy> = policies
        .iter()
        .filter(|policy| {
            policy
                .resource
                .applies_to(&resource, "CREATE", namespace.as_deref())
        })
        .collect();
    if matching.is_empty() {
        outcome.skipped.push(object_ref);
        return Ok(());
    }
    let mut object = document.object.clone();
    // The apiserver sets the namespace from the request's path before admission.
    if let (Some(namespace), Some(metadata)) = (
        &namespace,
        object
            .as_object_mut()
            .map(|o| o.entry("metadata").or_insert_with(|| json!({}))),
    ) && let Some(metadata) = metadata.as_object_mut()
    {
        metadata
            .entry("namespace")
            .or_insert_with(|| json!(namespace));
    }
    let original = object.clone();
    let group_version_kind =
        json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
    let group_version_resource = json!({"group": resource.group, "version": resource.version, "resource": resource.resource});
    let mut request = json!({
        "uid": format!("kepguard-check-{index}"),
        "kind": group_version_kind,
        "resource": group_version_resource,
        "requestKind": group_version_kind,
        "requestResource": group_version_resource,
        "name": object_ref.name,
        "operation": "CREATE",
        "userInfo": {"username": options.user, "groups": options.groups},
        "object": Value::Null,
        "oldObject": Value::Null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    });
    if let Some(namespace) = &namespace {
        request["namespace"] = json!(namespace);
    }
    let (mutating, validating): (Vec<&LoadedPolicy>, Vec<&LoadedPolicy>) =
        matching.into_iter().partition(|p| p.resource.mutating);
    for policy in mutating {
        request["object"] = object.clone();
        let (evaluation, patched) = evaluate(policy, &request, &object_ref, &document.origin)?;
        let rejected = evaluation.fails();
        if let Some(patched) = patched {
            object = patched;
        }
        outcome.evaluations.push(evaluation);
        // As in the apiserver, a rejection ends the request: no later policy sees it.
        if rejected {
            return Ok(());
        }
    }
    request["object"] = object.clone();
    for policy in validating {
        let (evaluation, _) = evaluate(policy, &request, &object_ref, &document.origin)?;
        outcome.evaluations.push(evaluation);
    }
    if object != original {
        outcome.mutated.push(Mutated {
            object: object_ref,
            manifest: object,
        });
    }
    Ok(())
}

/// One policy's evaluation, and the object it leaves when it mutates in protect mode.
type Answer = (Evaluation, Option<Value>);

fn evaluate(
    policy: &LoadedPolicy,
    request: &Value,
    object_ref: &ObjectRef,
    origin: &Origin,
) -> Result<Answer> {
    let resource = &policy.resource;
    let response = admission::evaluate(&policy.module.policy, request, &resource.settings)
        .with_context(|| {
            format!(
                "{origin}: {object_ref}: policy {} ({}) failed",
                resource.name, resource.module
            )
        })?;
    let patch = response.decoded_patch()?;
    let changes: Vec<String> = patch
        .iter()
        .flat_map(|patch| patch.0.iter())
        .map(|operation| {
            let operation = serde_json::to_value(operation).unwrap_or_default();
            format!(
                "{} {}",
                operation["op"].as_str().unwrap_or_default(),
                operation["path"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let verdict = if !response.allowed {
        Verdict::Rejected
    } else if changes.is_empty() {
        Verdict::Accepted
    } else {
        Verdict::Mutated
    };
    // In monitor mode Kubewarden neither rejects nor mutates: the answer is only reported.
    let patched = match (&patch, resource.mode, verdict) {
        (Some(patch), Mode::Protect, Verdict::Mutated) => {
            let mut object = request["object"].clone();
            json_patch::patch(&mut object, patch).with_context(|| {
                format!(
                    "{origin}: {object_ref}: the patch of policy {} does not apply",
                    resource.name
                )
            })?;
            Some(object)
        }
        _ => None,
    };
    let evaluation = Evaluation {
        object: object_ref.clone(),
        policy: resource.name.clone(),
        mode: resource.mode,
        verdict,
        message: response.status.and_then(|status| status.message),
        warnings: response.warnings.unwrap_or_default(),
        changes,
    };
    Ok((evaluation, patched))
}
