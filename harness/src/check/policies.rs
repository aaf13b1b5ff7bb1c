//! Kubewarden policy resources (`ClusterAdmissionPolicy`, `AdmissionPolicy`) as users keep them
//! in their GitOps repository, and which requests they apply to.

use super::documents::{Document, Origin};
use super::resources::ResourceType;
use crate::release::manifest::ManifestKind;
use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `protect` rejects; `monitor` only reports, and its mutations are not applied (as in
/// Kubewarden).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Protect,
    Monitor,
}

/// One rule of `spec.rules`, as in a webhook's rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    /// `Namespaced`, `Cluster` or `*` (the default).
    pub scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    module: String,
    #[serde(default)]
    settings: Value,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    mutating: bool,
    mode: Option<Mode>,
}

/// A policy resource.
#[derive(Clone, Debug)]
pub struct PolicyResource {
    pub name: String,
    pub kind: ManifestKind,
    /// For an `AdmissionPolicy`: the only namespace it applies to.
    pub namespace: Option<String>,
    pub origin: Origin,
    pub module: String,
    pub settings: Value,
    pub rules: Vec<Rule>,
    pub mutating: bool,
    pub mode: Mode,
}

/// Spec fields a cluster evaluates that `kepguard check` cannot (they need the cluster's
/// state); a policy that sets them gets a note on stderr.
const NOT_EVALUATED: [&str; 3] = ["namespaceSelector", "objectSelector", "matchConditions"];

impl PolicyResource {
    /// The policy resources among `documents`; other kinds are returned apart.
    pub fn from_documents(
        documents: Vec<Document>,
        default_namespace: &str,
    ) -> Result<(Vec<PolicyResource>, Vec<Document>)> {
        let mut policies = Vec::new();
        let mut others = Vec::new();
        for document in documents {
            let kind = match document.kind() {
                "ClusterAdmissionPolicy" => ManifestKind::ClusterAdmissionPolicy,
                "AdmissionPolicy" => ManifestKind::AdmissionPolicy,
                _ => {
                    others.push(document);
                    continue;
                }
            };
            policies.push(PolicyResource::parse(kind, document, default_namespace)?);
        }
        Ok((policies, others))
    }

    fn parse(kind: ManifestKind, document: Document, default_namespace: &str) -> Result<Self> {
        let origin = document.origin.clone();
        let name = document.name().to_string();
        if name.is_empty() {
            bail!("{origin}: the {kind} has no metadata.name");
        }
        let spec = document
            .object
            .get("spec")
            .ok_or_else(|| anyhow!("{origin}: {kind} {name} has no spec"))?;
        let parsed: Spec = serde_json::from_value(spec.clone())
            .map_err(|error| anyhow!("{origin}: {kind} {name}: invalid spec: {error}"))?;
        for field in NOT_EVALUATED {
            if spec.get(field).is_some_and(|value| !value.is_null()) {
                eprintln!(
                    "note: {origin}: {kind} {name}: spec.{field} is not evaluated; the policy is applied as if it matched"
                );
            }
        }
        let namespace = match kind {
            ManifestKind::ClusterAdmissionPolicy => None,
            ManifestKind::AdmissionPolicy => Some(
                document
                    .namespace()
                    .unwrap_or(default_namespace)
                    .to_string(),
            ),
        };
        Ok(PolicyResource {
            name,
            kind,
            namespace,
            origin,
            module: parsed.module,
            settings: match parsed.settings {
                Value::Null => Value::Object(Default::default()),
                settings => settings,
            },
            rules: parsed.rules,
            mutating: parsed.mutating,
            mode: parsed.mode.unwrap_or(Mode::Protect),
        })
    }

    /// Whether a request for `operation` on an object of `resource` in `namespace` (none
    /// for cluster-scoped objects) reaches this policy.
    pub fn applies_to(
        &self,
        resource: &ResourceType,
        operation: &str,
        namespace: Option<&str>,
    ) -> bool {
        if let Some(own) = &self.namespace
            && namespace != Some(own.as_str())
        {
            return false;
        }
        self.rules
            .iter()
            .any(|rule| rule.matches(resource, operation, namespace.is_some()))
    }
}

fn listed(values: &[String], value: &str) -> bool {
    values.iter().any(|listed| listed == "*" || listed == value)
}

impl Rule {
    /// The apiserver's matching of a request without subresource: `*` and `*/*` match
    /// every resource, `pods/*` only pods' subresources.
    fn matches(&self, resource: &ResourceType, operation: &str, namespaced: bool) -> bool {
        let resource_listed = self
            .resources
            .iter()
            .any(|listed| listed == "*" || listed == "*/*" || *listed == resource.resource);
        let scope_matches = match self.scope.as_deref() {
            Some("Namespaced") => namespaced,
            Some("Cluster") => !namespaced,
            _ => true,
        };
        listed(&self.api_groups, &resource.group)
            && listed(&self.api_versions, &resource.version)
            && resource_listed
            && listed(&self.operations, operation)
            && scope_matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::documents;
    use crate::check::resources::resolve;

    fn load(text: &str) -> Result<(Vec<PolicyResource>, Vec<Document>)> {
        PolicyResource::from_documents(documents::parse("p.yaml", text)?, "default")
    }

    const POLICY: &str = "apiVersion: policies.kubewarden.io/v1\nkind: AdmissionPolicy\nmetadata: {name: p, namespace: team}\nspec:\n  module: registry://example.com/p:v1\n  rules:\n  - {apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [CREATE]}\n  - {apiGroups: ['*'], apiVersions: ['*'], resources: ['pods/*'], operations: ['*']}\n  mode: monitor\n";

    #[test]
    fn policy_resources_are_read_with_their_defaults() {
        let (policies, others) = load(&format!(
            "{POLICY}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n"
        ))
        .unwrap();
        assert_eq!(others.len(), 1);
        let policy = &policies[0];
        assert_eq!(policy.namespace.as_deref(), Some("team"));
        assert_eq!(policy.mode, Mode::Monitor);
        assert!(!policy.mutating);
        assert_eq!(policy.settings, serde_json::json!({}));
    }

    #[test]
    fn rules_match_resource_operation_and_namespace() {
        let (policies, _) = load(POLICY).unwrap();
        let policy = &policies[0];
        let deployment = resolve("apps/v1", "Deployment");
        assert!(policy.applies_to(&deployment, "CREATE", Some("team")));
        assert!(!policy.applies_to(&deployment, "CREATE", Some("other")));
        assert!(!policy.applies_to(&deployment, "UPDATE", Some("team")));
        // pods/* names the subresources only.
        assert!(!policy.applies_to(&resolve("v1", "Pod"), "CREATE", Some("team")));
    }

    #[test]
    fn an_invalid_spec_names_the_file_and_line() {
        let error = load("kind: ClusterAdmissionPolicy\napiVersion: policies.kubewarden.io/v1\nmetadata: {name: p}\nspec:\n  module: x\n  mode: enforce\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "p.yaml:1: ClusterAdmissionPolicy p: invalid spec: unknown variant `enforce`"
            ),
            "{error}"
        );
    }
}
