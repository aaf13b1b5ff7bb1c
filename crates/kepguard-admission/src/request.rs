//! An AdmissionRequest from what a user has at hand: a whole AdmissionReview, a bare
//! AdmissionRequest, or a plain Kubernetes object, which is wrapped as the apiserver would
//! send it (a CREATE, or an UPDATE when an old object is given).

use crate::Error;
use serde::Deserialize;
use serde_json::{Value, json};

/// The uid of a request made by wrapping an object: fixed, so the same input always gives
/// the same AdmissionResponse.
pub const WRAPPED_UID: &str = "00000000-0000-0000-0000-000000000000";

/// What a wrapped object's request carries besides the object. Every field is optional.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WrapOptions {
    /// The object before the change; makes the request an UPDATE unless `operation` says otherwise.
    pub old_object: Option<Value>,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: Option<String>,
    /// For example `resize` or `status`.
    pub sub_resource: Option<String>,
    /// Overrides the object's `metadata.namespace`.
    pub namespace: Option<String>,
    /// The requesting user; a generic authenticated user otherwise.
    pub user_info: Option<Value>,
}

/// Parses a request document written as JSON or YAML. JSON is read as JSON first, so that
/// numbers keep exactly the form serde_json gives them in the harness.
pub fn parse_document(text: &str) -> Result<Value, Error> {
    match serde_json::from_str(text) {
        Ok(document) => Ok(document),
        Err(json_error) => serde_norway::from_str(text)
            .map_err(|yaml_error| Error(format!("as JSON: {json_error}; as YAML: {yaml_error}"))),
    }
}

/// The AdmissionRequest a document stands for: the `request` of an AdmissionReview, the
/// document itself when it is a bare AdmissionRequest, or a plain object (its `kind` is a
/// string) wrapped with `options`.
pub fn request_from_document(document: Value, options: &WrapOptions) -> Result<Value, Error> {
    match document.get("kind") {
        Some(Value::String(kind)) if kind == "AdmissionReview" => match document.get("request") {
            Some(request) if request.is_object() => Ok(request.clone()),
            _ => Err(Error(
                "the AdmissionReview holds no AdmissionRequest object in `request`".into(),
            )),
        },
        Some(Value::String(_)) => wrap_object(document, options),
        _ if document.is_object() => Ok(document),
        _ => Err(Error(
            "the document is no AdmissionReview, AdmissionRequest or Kubernetes object".into(),
        )),
    }
}

/// Kinds without a namespace, among those a user is likely to paste.
const CLUSTER_SCOPED: [&str; 9] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
];

/// Wraps a Kubernetes object in the AdmissionRequest the apiserver would send for it.
pub fn wrap_object(object: Value, options: &WrapOptions) -> Result<Value, Error> {
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let Some(api_version) = object["apiVersion"].as_str().filter(|v| !v.is_empty()) else {
        return Err(Error(format!(
            "the {kind} object has no apiVersion: write apiVersion and kind as in the manifest"
        )));
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let operation = match (&options.operation, &options.old_object) {
        (Some(operation), _) => operation.to_uppercase(),
        (None, Some(_)) => "UPDATE".to_string(),
        (None, None) => "CREATE".to_string(),
    };
    if !["CREATE", "UPDATE", "DELETE", "CONNECT"].contains(&operation.as_str()) {
        return Err(Error(format!(
            "operation {operation:?} is not one of CREATE, UPDATE, DELETE, CONNECT"
        )));
    }
    let namespace = options
        .namespace
        .clone()
        .or_else(|| object["metadata"]["namespace"].as_str().map(str::to_string))
        .unwrap_or_else(|| {
            if CLUSTER_SCOPED.contains(&kind.as_str()) {
                String::new()
            } else {
                "default".to_string()
            }
        });
    let group_version_kind = json!({"group": group, "version": version, "kind": kind});
    let resource = json!({"group": group, "version": version, "resource": plural(&kind)});
    let options_kind = match operation.as_str() {
        "UPDATE" => "UpdateOptions",
        "DELETE" => "DeleteOptions",
        _ => "CreateOptions",
    };
    let (object, old_object) = match operation.as_str() {
        "DELETE" => (Value::Null, options.old_object.clone().unwrap_or(object)),
        _ => (object, options.old_object.clone().unwrap_or(Value::Null)),
    };
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| old_object["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_string();
    let mut request = json!({
        "uid": WRAPPED_UID,
        "kind": group_version_kind,
        "resource": resource,
        "requestKind": group_version_kind,
        "requestResource": resource,
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": options.user_info.clone().unwrap_or_else(
            || json!({"username": "kepguard-playground", "groups": ["system:authenticated"]})
        ),
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
    });
    if let Some(sub_resource) = options.sub_resource.as_ref().filter(|s| !s.is_empty()) {
        request["subResource"] = json!(sub_resource);
        request["requestSubResource"] = json!(sub_resource);
    }
    Ok(request)
}

/// The resource name of a kind, as the apiserver's REST mapper derives it for built-in kinds.
fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower == "endpoints" {
        lower
    } else if lower.ends_with('s') || lower.ends_with("ch") || lower.ends_with('x') {
        format!("{lower}es")
    } else if let Some(stem) = lower
        .strip_suffix('y')
        .filter(|stem| !stem.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_gives_its_request_and_a_bare_request_itself() {
        let request = json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}});
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request});
        let options = WrapOptions::default();
        assert_eq!(request_from_document(review, &options).unwrap(), request);
        assert_eq!(
            request_from_document(request.clone(), &options).unwrap(),
            request
        );
        let empty_review = json!({"kind": "AdmissionReview"});
        assert!(request_from_document(empty_review, &options).is_err());
        assert!(request_from_document(json!([1]), &options).is_err());
    }

    #[test]
    fn a_plain_object_is_wrapped_as_a_create() {
        let deployment = parse_document(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n",
        )
        .unwrap();
        let request = request_from_document(deployment.clone(), &WrapOptions::default()).unwrap();
        assert_eq!(request["operation"], "CREATE");
        assert_eq!(
            request["kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(request["resource"]["resource"], "deployments");
        assert_eq!(request["namespace"], "default");
        assert_eq!(request["name"], "web");
        assert_eq!(request["object"], deployment);
        assert_eq!(request["oldObject"], Value::Null);
    }

    #[test]
    fn an_old_object_makes_an_update_with_its_subresource() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}});
        let options = WrapOptions {
            old_object: Some(pod.clone()),
            sub_resource: Some("resize".into()),
            ..WrapOptions::default()
        };
        let request = wrap_object(pod.clone(), &options).unwrap();
        assert_eq!(request["operation"], "UPDATE");
        assert_eq!(request["subResource"], "resize");
        assert_eq!(request["namespace"], "shop");
        assert_eq!(request["kind"]["group"], "");
        assert_eq!(request["oldObject"], pod);
        assert_eq!(request["options"]["kind"], "UpdateOptions");
    }

    #[test]
    fn an_object_without_api_version_or_with_a_bad_operation_is_refused() {
        let error = wrap_object(json!({"kind": "Pod"}), &WrapOptions::default()).unwrap_err();
        assert!(error.0.contains("apiVersion"), "{error}");
        let options = WrapOptions {
            operation: Some("PATCH".into()),
            ..WrapOptions::default()
        };
        let error = wrap_object(json!({"apiVersion": "v1", "kind": "Pod"}), &options).unwrap_err();
        assert!(error.0.contains("CREATE, UPDATE"), "{error}");
    }

    #[test]
    fn plurals_follow_the_rest_mapper() {
        assert_eq!(plural("Pod"), "pods");
        assert_eq!(plural("Ingress"), "ingresses");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural("Gateway"), "gateways");
        assert_eq!(plural("Endpoints"), "endpoints");
    }

    #[test]
    fn yaml_and_json_both_parse() {
        assert_eq!(parse_document("{\"a\": 1.50}").unwrap(), json!({"a": 1.5}));
        assert_eq!(parse_document("a: 1").unwrap(), json!({"a": 1}));
        assert!(parse_document("a: [").is_err());
    }
}
