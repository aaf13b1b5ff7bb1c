//! What `kepguard bench` measures: a suite's representative cases (its first accepted,
//! rejected and mutated cases with the suite's default settings) and generated objects of
//! growing size; and the payload files the native baseline reads.

use super::{Input, SIZES, Workload};
use crate::admission;
use crate::suite::{Case, Suite};
use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Reads a suite and picks what to measure.
pub fn workload(suite_path: &Path) -> Result<Workload> {
    let suite = Suite::load(suite_path)?;
    let settings = suite.default_settings()?;
    // Only cases with the suite's default settings: one settings object per policy.
    let candidates: Vec<(&str, &Case)> = suite
        .file
        .cases
        .iter()
        .filter(|case| case.uses_default_settings() && case.request.is_some())
        .filter_map(|case| {
            let label = match (case.allowed?, &case.patched) {
                (false, _) => "rejected",
                (true, Some(_)) => "mutated",
                (true, None) => "accepted",
            };
            Some((label, case))
        })
        .collect();
    let first_accepted = candidates
        .iter()
        .find(|(label, _)| *label != "rejected")
        .ok_or_else(|| anyhow!("suite {} has no accepted case", suite_path.display()))?;
    let mut chosen = vec![*first_accepted];
    for label in ["accepted", "rejected", "mutated"] {
        if let Some(found) = candidates.iter().find(|(l, _)| *l == label)
            && !chosen.iter().any(|(l, _)| *l == label)
        {
            chosen.push(*found);
        }
    }

    let mut inputs = Vec::new();
    let mut headline_kind = String::new();
    for (label, case) in chosen {
        let request_file = case.request.as_ref().expect("chosen cases have a request");
        let request = admission::load_request(&suite.path(request_file))?;
        if headline_kind.is_empty() {
            headline_kind = request
                .pointer("/kind/kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
        }
        inputs.push(Input {
            label: label.to_string(),
            case: format!("{} ({})", case.name, request_file.display()),
            items: None,
            payload: admission::validate_payload(&request, &settings),
        });
    }
    for items in SIZES {
        let (label, case, request) = if headline_kind == "Service" {
            (
                format!("service-{items}"),
                format!("generated Service with {items} node ports"),
                generated_service(items),
            )
        } else {
            (
                format!("pod-{items}"),
                format!("generated Pod with {items} containers and {items} init containers"),
                generated_pod(items),
            )
        };
        inputs.push(Input {
            label,
            case,
            items: Some(items),
            payload: admission::validate_payload(&request, &settings),
        });
    }
    Ok(Workload {
        policy: suite.name.clone(),
        module: suite.module(),
        inputs,
    })
}

fn admission_request(kind: &str, resource: &str, object: Value) -> Value {
    json!({
        "uid": "00000000-0000-0000-0000-00000000bench",
        "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": resource},
        "requestKind": {"group": "", "version": "v1", "kind": kind},
        "requestResource": {"group": "", "version": "v1", "resource": resource},
        "name": object["metadata"]["name"],
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    })
}

/// A Pod CREATE with `items` containers and `items` init containers (every other one a
/// native sidecar), each with resources, a resize policy, a probe and a volume mount, and a
/// PVC volume with an fsGroup: every policy has work to do on every container.
pub fn generated_pod(items: usize) -> Value {
    let container = |name: String, sidecar: bool| {
        let mut container = json!({
            "name": name,
            "image": format!("registry.example.com/team/{name}:1.0.0"),
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "production"}],
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "256Mi"}
            },
            "resizePolicy": [
                {"resourceName": "cpu", "restartPolicy": "NotRequired"},
                {"resourceName": "memory", "restartPolicy": "NotRequired"}
            ],
            "startupProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]
        });
        if sidecar {
            container["restartPolicy"] = json!("Always");
        }
        container
    };
    let containers: Vec<Value> = (0..items)
        .map(|i| container(format!("app-{i}"), false))
        .collect();
    let init_containers: Vec<Value> = (0..items)
        .map(|i| container(format!("init-{i}"), i % 2 == 1))
        .collect();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("bench-{items}"),
            "namespace": "default",
            "labels": {"app": "bench"}
        },
        "spec": {
            "securityContext": {"fsGroup": 2000, "runAsUser": 1000},
            "terminationGracePeriodSeconds": 60,
            "initContainers": init_containers,
            "containers": containers,
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        }
    });
    admission_request("Pod", "pods", pod)
}

/// A NodePort Service CREATE with `items` ports, each pinned to a node port in the static
/// band (TCP and UDP share each node port).
pub fn generated_service(items: usize) -> Value {
    let ports: Vec<Value> = (0..items)
        .map(|i| {
            json!({
                "name": format!("port-{i}"),
                "protocol": if i % 2 == 0 { "TCP" } else { "UDP" },
                "port": 8000 + i,
                "targetPort": 8000 + i,
                "nodePort": 30000 + i / 2
            })
        })
        .collect();
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": format!("bench-{items}"), "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "bench"},
            "ports": ports
        }
    });
    admission_request("Service", "services", service)
}

/// The payload file of one input: DIR/<policy>/<label>.json.
pub fn input_path(dir: &Path, policy: &str, label: &str) -> PathBuf {
    dir.join(policy).join(format!("{label}.json"))
}

/// Writes every payload for the native benchmark.
pub fn write_inputs(workloads: &[Workload], dir: &Path) -> Result<()> {
    for workload in workloads {
        for input in &workload.inputs {
            let path = input_path(dir, &workload.policy, &input.label);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, &input.payload)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}
