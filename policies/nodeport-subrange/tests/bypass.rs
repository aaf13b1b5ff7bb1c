//! The bypass matrix for Services: every rule fires identically for every Service type that
//! can carry a pinned value (NodePort, LoadBalancer with and without
//! allocateLoadBalancerNodePorts, and ClusterIP, which the apiserver refuses later), at CREATE
//! and at an UPDATE that introduces the value. Pods and workload templates carry no node
//! ports, so they are out of scope.

use serde_json::{Value, json};

struct Rule {
    name: &'static str,
    settings: Value,
    namespace: &'static str,
    spec: Value,
}

fn port(node_port: u32) -> Value {
    json!({"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": node_port})
}

fn rules() -> Vec<Rule> {
    let range = json!({"nodePortRange": "30000-32767"});
    let reserved = json!({
        "nodePortRange": "30000-32767",
        "namespaceReservations": {"team-a": ["30000-30009"]},
    });
    let deny = json!({
        "nodePortRange": "30000-32767",
        "namespaceReservations": {"team-a": ["30000-30009"]},
        "unreservedPorts": "deny",
    });
    vec![
        Rule {
            name: "nodePort outside the static band",
            settings: range.clone(),
            namespace: "shop",
            spec: json!({"ports": [port(31000)]}),
        },
        Rule {
            name: "nodePort outside the whole range",
            settings: range.clone(),
            namespace: "shop",
            spec: json!({"ports": [port(40000)]}),
        },
        Rule {
            name: "healthCheckNodePort outside the static band",
            settings: range.clone(),
            namespace: "shop",
            spec: json!({"ports": [], "healthCheckNodePort": 32000, "externalTrafficPolicy": "Local"}),
        },
        Rule {
            name: "a port reserved for another namespace",
            settings: reserved,
            namespace: "shop",
            spec: json!({"ports": [port(30005)]}),
        },
        Rule {
            name: "an unreserved port under deny",
            settings: deny,
            namespace: "team-a",
            spec: json!({"ports": [port(30050)]}),
        },
        Rule {
            name: "a pinned cluster IP outside its static band",
            settings: json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.0/12"]}),
            namespace: "shop",
            spec: json!({"ports": [], "clusterIP": "10.96.1.1", "clusterIPs": ["10.96.1.1"]}),
        },
    ]
}

fn service(namespace: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": spec,
    })
}

fn shaped(spec: &Value, service_type: &str, allocate: Option<bool>) -> Value {
    let mut spec = spec.clone();
    spec["type"] = json!(service_type);
    spec["selector"] = json!({"app": "shop"});
    if let Some(allocate) = allocate {
        spec["allocateLoadBalancerNodePorts"] = json!(allocate);
    }
    spec
}

fn answer(rule: &Rule, object: Value, old: Option<Value>, operation: &str) -> Value {
    let request = json!({
        "uid": "matrix",
        "kind": {"group": "", "version": "v1", "kind": "Service"},
        "resource": {"group": "", "version": "v1", "resource": "services"},
        "namespace": rule.namespace,
        "operation": operation,
        "userInfo": {"username": "jane@example.com"},
        "object": object,
        "oldObject": old.unwrap_or(Value::Null),
    });
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": rule.settings})).unwrap();
    let response: Value =
        serde_json::from_slice(&nodeport_subrange::validate(&payload).unwrap()).unwrap();
    json!({"accepted": response["accepted"], "message": response["message"]})
}

#[test]
fn every_rule_fires_identically_for_every_service_shape() {
    let shapes = [
        ("NodePort", None),
        ("LoadBalancer", None),
        ("LoadBalancer", Some(true)),
        ("LoadBalancer", Some(false)),
        ("ClusterIP", None),
    ];
    let mut checked = 0;
    for rule in rules() {
        let mut reference: Option<Value> = None;
        for (service_type, allocate) in shapes {
            for operation in ["CREATE", "UPDATE"] {
                let object = service(rule.namespace, shaped(&rule.spec, service_type, allocate));
                // The UPDATE introduces the pinned value: the old Service was ExternalName.
                let old = (operation == "UPDATE").then(|| {
                    service(
                        rule.namespace,
                        json!({"type": "ExternalName", "externalName": "shop.example.com"}),
                    )
                });
                let answer = answer(&rule, object, old, operation);
                let shape = format!(
                    "rule {:?}, {service_type} {allocate:?} {operation}",
                    rule.name
                );
                assert_eq!(
                    answer["accepted"], false,
                    "{shape}: does not fire: {answer}"
                );
                match &reference {
                    Some(reference) => assert_eq!(&answer, reference, "{shape}"),
                    None => reference = Some(answer),
                }
                checked += 1;
            }
        }
    }
    println!("nodeport-subrange bypass matrix: {checked} combinations checked");
    assert_eq!(checked, 6 * 5 * 2);
}
