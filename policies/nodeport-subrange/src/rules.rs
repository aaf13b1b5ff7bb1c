//! The rules, as plain functions over the admission request.
//!
//! The policy must run as a mutating webhook: the apiserver fills in automatic node ports and
//! cluster IPs before validating webhooks run, so only a mutating webhook can tell a pinned
//! value from an allocated one. It never changes the object.

use crate::clusterip::Address;
use crate::portrange::{self, PortRange};
use crate::settings::{ParsedSettings, Settings, UnreservedPorts};
use kepguard_common::view::{self, read_view};
use kepguard_common::{AdmissionRequest, Verdict};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The parts of a Service spec these rules read.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpecView {
    pub ports: Option<Vec<ServicePortView>>,
    pub health_check_node_port: Option<i64>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    pub cluster_ips: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePortView {
    pub name: Option<String>,
    pub node_port: Option<i64>,
}

/// A pinned value and every place of the spec that pins it.
#[derive(Debug, PartialEq)]
struct Pinned<T> {
    value: T,
    places: Vec<String>,
}

/// Judges one admission request.
pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    if !request.kind.group.is_empty() || request.kind.kind != "Service" {
        return Verdict::accept();
    }
    if request.operation != "CREATE" && request.operation != "UPDATE" {
        return Verdict::accept();
    }
    let settings = match settings.parse() {
        Ok(settings) => settings,
        Err(error) => return Verdict::reject(format!("invalid policy settings: {error}")),
    };
    match judge(request, &settings) {
        Ok(violations) => Verdict::from_violations(violations),
        Err(error) => Verdict::reject(format!("invalid Service: {error}")),
    }
}

fn judge(request: &AdmissionRequest, settings: &ParsedSettings) -> Result<Vec<String>, String> {
    let spec = read_spec(&request.object, "spec")?;
    let old = match request.operation.as_str() {
        "UPDATE" => read_spec(&request.old_object, "oldObject.spec")?,
        _ => ServiceSpecView::default(),
    };
    let namespace = request.namespace.as_str();

    // A value already in oldObject was accepted before (or predates the policy): not judged again.
    let old_ports: Vec<i64> = pinned_node_ports(&old)
        .into_iter()
        .map(|pinned| pinned.value)
        .chain(pinned_health_check_port(&old).map(|pinned| pinned.value))
        .collect();
    let mut violations = Vec::new();
    for pinned in pinned_node_ports(&spec) {
        if !old_ports.contains(&pinned.value) {
            let subject = format!("nodePort {} of {}", pinned.value, pinned.places.join(", "));
            violations.extend(judge_node_port(
                &subject,
                "nodePort",
                pinned.value,
                namespace,
                settings,
            ));
        }
    }
    if let Some(pinned) = pinned_health_check_port(&spec)
        && !old_ports.contains(&pinned.value)
    {
        let subject = format!("spec.healthCheckNodePort {}", pinned.value);
        violations.extend(judge_node_port(
            &subject,
            "healthCheckNodePort",
            pinned.value,
            namespace,
            settings,
        ));
    }

    if !settings.service_cidrs.is_empty() {
        // clusterIP is immutable: only an address that differs from oldObject is judged.
        let old_ips: Vec<String> = pinned_cluster_ips(&old)
            .into_iter()
            .map(|p| p.value)
            .collect();
        for pinned in pinned_cluster_ips(&spec) {
            if !old_ips.contains(&pinned.value) {
                violations.extend(judge_cluster_ip(&pinned, settings));
            }
        }
    }
    Ok(violations)
}

fn read_spec(object: &RawValue, path: &str) -> Result<ServiceSpecView, String> {
    if let Ok(spec) = view::read_at(object, &["spec"]) {
        return Ok(spec.unwrap_or_default());
    }
    // Read again to name the path of the error. An object that is not a JSON object has no
    // spec, like one without a spec.
    match view::lookup(object, &["spec"]) {
        Some(spec) => read_view(spec, path),
        None => Ok(ServiceSpecView::default()),
    }
}

/// Non-zero `spec.ports[].nodePort` values, each with the ports that pin it, such as a TCP
/// and a UDP port sharing one node port.
fn pinned_node_ports(spec: &ServiceSpecView) -> Vec<Pinned<i64>> {
    let mut pinned: Vec<Pinned<i64>> = Vec::new();
    for (index, port) in spec.ports.iter().flatten().enumerate() {
        let Some(value) = port.node_port.filter(|value| *value != 0) else {
            continue;
        };
        let place = match port.name.as_deref() {
            Some(name) if !name.is_empty() => format!("spec.ports[{index}] {name:?}"),
            _ => format!("spec.ports[{index}]"),
        };
        match pinned.iter_mut().find(|p| p.value == value) {
            Some(existing) => existing.places.push(place),
            None => pinned.push(Pinned {
                value,
                places: vec![place],
            }),
        }
    }
    pinned
}

fn pinned_health_check_port(spec: &ServiceSpecView) -> Option<Pinned<i64>> {
    spec.health_check_node_port
        .filter(|value| *value != 0)
        .map(|value| Pinned {
            value,
            places: vec!["spec.healthCheckNodePort".into()],
        })
}

/// Addresses in `clusterIP` and `clusterIPs`, except empty ones and `None` (headless).
fn pinned_cluster_ips(spec: &ServiceSpecView) -> Vec<Pinned<String>> {
    let single = spec
        .cluster_ip
        .iter()
        .map(|ip| (ip, "spec.clusterIP".to_string()));
    let listed = spec
        .cluster_ips
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, ip)| (ip, format!("spec.clusterIPs[{index}]")));
    let mut pinned: Vec<Pinned<String>> = Vec::new();
    for (ip, place) in single.chain(listed) {
        if ip.is_empty() || ip == "None" {
            continue;
        }
        match pinned.iter_mut().find(|p| &p.value == ip) {
            Some(existing) => existing.places.push(place),
            None => pinned.push(Pinned {
                value: ip.clone(),
                places: vec![place],
            }),
        }
    }
    pinned
}

/// Why a pinned node port is refused, if it is.
fn judge_node_port(
    subject: &str,
    field: &str,
    port: i64,
    namespace: &str,
    settings: &ParsedSettings,
) -> Option<String> {
    let range = settings.node_port_range;
    let Some(band) = settings.static_band else {
        let problem = if range.contains(port) {
            "cannot be pinned".to_string()
        } else {
            format!("is outside the node port range {range}")
        };
        return Some(format!(
            "{subject} {problem}: the range {range} has no static band (it holds 16 ports or fewer), so no node port can be pinned; leave {field} unset"
        ));
    };
    let advice = || advice(namespace, band, settings, field);
    if !range.contains(port) {
        return Some(format!(
            "{subject} is outside the node port range {range}; {}",
            advice()
        ));
    }
    if !band.contains(port) {
        return Some(format!(
            "{subject} is outside the static band {band} of range {range}; {}",
            advice()
        ));
    }
    let owner = settings
        .reservations
        .iter()
        .find(|(_, ranges)| ranges.iter().any(|reserved| reserved.contains(port)));
    match owner {
        Some((owner, _)) if owner == namespace => None,
        Some((owner, ranges)) => Some(format!(
            "{subject} is reserved for namespace {owner:?} ({}) in the static band {band}; {}",
            portrange::describe(ranges),
            advice()
        )),
        None if settings.unreserved_ports == UnreservedPorts::Deny => Some(format!(
            "{subject} is not reserved for namespace {namespace:?}, and unreserved ports of the static band {band} are denied; {}",
            advice()
        )),
        None => None,
    }
}

/// What the namespace may pin instead, naming its reservations.
fn advice(namespace: &str, band: PortRange, settings: &ParsedSettings, field: &str) -> String {
    let own = settings
        .reservations
        .get(namespace)
        .filter(|ranges| !ranges.is_empty());
    if settings.unreserved_ports == UnreservedPorts::Deny {
        return match own {
            Some(own) => format!(
                "pin a port reserved for namespace {namespace:?} ({}) or leave {field} unset",
                portrange::describe(own)
            ),
            None => {
                format!("namespace {namespace:?} has no reserved node ports: leave {field} unset")
            }
        };
    }
    let others = portrange::merge(
        settings
            .reservations
            .iter()
            .filter(|(owner, _)| owner.as_str() != namespace)
            .flat_map(|(_, ranges)| ranges.iter().copied())
            .collect(),
    );
    let open = portrange::subtract(band, &others);
    let own_note = own
        .map(|own| {
            format!(
                " (namespace {namespace:?} reserves {})",
                portrange::describe(own)
            )
        })
        .unwrap_or_default();
    if open.is_empty() {
        format!(
            "every port of the static band {band} is reserved for other namespaces: leave {field} unset"
        )
    } else {
        format!(
            "pin a port from {}{own_note} or leave {field} unset",
            portrange::describe(&open)
        )
    }
}

/// Why a pinned cluster IP is refused, if it is.
fn judge_cluster_ip(pinned: &Pinned<String>, settings: &ParsedSettings) -> Option<String> {
    let subject = format!(
        "cluster IP {} of {}",
        pinned.value,
        pinned.places.join(", ")
    );
    let Some(address) = Address::parse(&pinned.value) else {
        return Some(format!("{subject} is not an IP address"));
    };
    // An address of a family without a configured range is not judged.
    let service_cidr = settings
        .service_cidrs
        .iter()
        .find(|service_cidr| service_cidr.cidr.family == address.family)?;
    let cidr = &service_cidr.cidr;
    let Some(band) = service_cidr.static_band else {
        return Some(format!(
            "{subject} cannot be pinned: the service CIDR {cidr} has no static band (it holds 16 addresses or fewer, or is a /0 or /1); leave clusterIP and clusterIPs unset"
        ));
    };
    if !cidr.contains(address) {
        return Some(format!(
            "{subject} is outside the service CIDR {cidr}; pin an address from its static band {band} or leave it unset"
        ));
    }
    if !band.contains(address) {
        return Some(format!(
            "{subject} is outside the static band {band} of the service CIDR {cidr}; pin an address from {band} or leave it unset"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn settings(value: Value) -> Settings {
        serde_json::from_value(value).unwrap()
    }

    fn default_settings() -> Settings {
        settings(json!({"nodePortRange": "30000-32767"}))
    }

    fn request(
        operation: &str,
        namespace: &str,
        spec: Value,
        old_spec: Option<Value>,
    ) -> AdmissionRequest {
        serde_json::from_value(json!({
            "kind": {"group": "", "version": "v1", "kind": "Service"},
            "operation": operation,
            "namespace": namespace,
            "object": {"apiVersion": "v1", "kind": "Service", "spec": spec},
            "oldObject": old_spec.map(|spec| json!({"apiVersion": "v1", "kind": "Service", "spec": spec})),
        }))
        .unwrap()
    }

    fn create(spec: Value) -> AdmissionRequest {
        request("CREATE", "default", spec, None)
    }

    fn node_port_spec(ports: &[(&str, i64)]) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(name, node_port)| json!({"name": name, "port": 80, "nodePort": node_port}))
            .collect();
        json!({"type": "NodePort", "ports": ports})
    }

    fn rejection(verdict: Verdict) -> String {
        match verdict {
            Verdict::Reject { message } => message,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example_message() {
        let verdict = evaluate(
            &create(node_port_spec(&[("http", 31000)])),
            &default_settings(),
        );
        assert_eq!(
            rejection(verdict),
            "nodePort 31000 of spec.ports[0] \"http\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave nodePort unset"
        );
    }

    #[test]
    fn band_edges() {
        let settings = default_settings();
        for (port, accepted) in [(30000, true), (30085, true), (30086, false), (0, true)] {
            let verdict = evaluate(&create(node_port_spec(&[("http", port)])), &settings);
            assert_eq!(
                verdict == Verdict::accept(),
                accepted,
                "port {port}: {verdict:?}"
            );
        }
    }

    #[test]
    fn ports_outside_the_range_have_their_own_message() {
        let verdict = evaluate(
            &create(node_port_spec(&[("", 40000), ("b", -5)])),
            &default_settings(),
        );
        assert_eq!(
            rejection(verdict),
            "nodePort 40000 of spec.ports[0] is outside the node port range 30000-32767; pin a port from 30000-30085 or leave nodePort unset; nodePort -5 of spec.ports[1] \"b\" is outside the node port range 30000-32767; pin a port from 30000-30085 or leave nodePort unset"
        );
    }

    #[test]
    fn a_range_without_static_band_refuses_every_pinned_port() {
        let settings = settings(json!({"nodePortRange": "30000-30015"}));
        let verdict = evaluate(&create(node_port_spec(&[("http", 30000)])), &settings);
        assert_eq!(
            rejection(verdict),
            "nodePort 30000 of spec.ports[0] \"http\" cannot be pinned: the range 30000-30015 has no static band (it holds 16 ports or fewer), so no node port can be pinned; leave nodePort unset"
        );
        let unpinned = json!({"type": "NodePort", "ports": [{"port": 80}]});
        assert_eq!(evaluate(&create(unpinned), &settings), Verdict::accept());
    }

    #[test]
    fn a_shared_node_port_is_reported_once() {
        let spec = json!({"type": "NodePort", "ports": [
            {"name": "dns-tcp", "protocol": "TCP", "port": 53, "nodePort": 31053},
            {"name": "dns-udp", "protocol": "UDP", "port": 53, "nodePort": 31053}
        ]});
        let message = rejection(evaluate(&create(spec), &default_settings()));
        assert!(
            message.starts_with("nodePort 31053 of spec.ports[0] \"dns-tcp\", spec.ports[1] \"dns-udp\" is outside the static band"),
            "{message}"
        );
        assert!(!message.contains("; nodePort"), "{message}");
    }

    #[test]
    fn health_check_node_port_is_judged() {
        let spec = json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
                          "ports": [{"port": 80, "nodePort": 30010}]});
        assert_eq!(
            rejection(evaluate(&create(spec), &default_settings())),
            "spec.healthCheckNodePort 32000 is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave healthCheckNodePort unset"
        );
    }

    #[test]
    fn reservations_with_allow() {
        let settings = settings(json!({"nodePortRange": "30000-32767",
            "namespaceReservations": {"team-a": ["30000-30009"], "team-b": ["30010-30019"]}}));
        let pin = |namespace: &str, port: i64| {
            evaluate(
                &request("CREATE", namespace, node_port_spec(&[("http", port)]), None),
                &settings,
            )
        };
        assert_eq!(pin("team-a", 30005), Verdict::accept());
        assert_eq!(pin("team-a", 30050), Verdict::accept());
        assert_eq!(pin("other", 30050), Verdict::accept());
        assert_eq!(
            rejection(pin("team-b", 30005)),
            "nodePort 30005 of spec.ports[0] \"http\" is reserved for namespace \"team-a\" (30000-30009) in the static band 30000-30085; pin a port from 30010-30085 (namespace \"team-b\" reserves 30010-30019) or leave nodePort unset"
        );
        assert_eq!(
            rejection(pin("other", 30090)),
            "nodePort 30090 of spec.ports[0] \"http\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30020-30085 or leave nodePort unset"
        );
    }

    #[test]
    fn reservations_with_deny() {
        let settings = settings(
            json!({"nodePortRange": "30000-32767", "unreservedPorts": "deny",
            "namespaceReservations": {"team-a": ["30000-30009", "30040"]}}),
        );
        let pin = |namespace: &str, port: i64| {
            evaluate(
                &request("CREATE", namespace, node_port_spec(&[("http", port)]), None),
                &settings,
            )
        };
        assert_eq!(pin("team-a", 30040), Verdict::accept());
        assert_eq!(
            rejection(pin("team-a", 30050)),
            "nodePort 30050 of spec.ports[0] \"http\" is not reserved for namespace \"team-a\", and unreserved ports of the static band 30000-30085 are denied; pin a port reserved for namespace \"team-a\" (30000-30009, 30040) or leave nodePort unset"
        );
        assert_eq!(
            rejection(pin("other", 30050)),
            "nodePort 30050 of spec.ports[0] \"http\" is not reserved for namespace \"other\", and unreserved ports of the static band 30000-30085 are denied; namespace \"other\" has no reserved node ports: leave nodePort unset"
        );
        let unpinned = request(
            "CREATE",
            "other",
            json!({"type": "NodePort", "ports": [{"port": 80}]}),
            None,
        );
        assert_eq!(evaluate(&unpinned, &settings), Verdict::accept());
    }

    #[test]
    fn updates_judge_only_new_values() {
        let settings = default_settings();
        let old = node_port_spec(&[("http", 31000), ("https", 31443)]);
        let reordered = node_port_spec(&[("https", 31443), ("http", 31000)]);
        assert_eq!(
            evaluate(
                &request("UPDATE", "default", reordered, Some(old.clone())),
                &settings
            ),
            Verdict::accept()
        );
        let added = node_port_spec(&[("http", 31000), ("https", 31443), ("admin", 31500)]);
        let message = rejection(evaluate(
            &request("UPDATE", "default", added, Some(old)),
            &settings,
        ));
        assert!(
            message.starts_with("nodePort 31500 of spec.ports[2] \"admin\" is outside"),
            "{message}"
        );
        assert!(
            !message.contains("31000") && !message.contains("31443"),
            "{message}"
        );

        let cluster_ip = json!({"type": "ClusterIP", "ports": [{"port": 80}]});
        let to_node_port = node_port_spec(&[("http", 31000)]);
        let message = rejection(evaluate(
            &request("UPDATE", "default", to_node_port, Some(cluster_ip)),
            &settings,
        ));
        assert!(
            message.starts_with("nodePort 31000 of spec.ports[0] \"http\" is outside"),
            "{message}"
        );

        // A health check port may move to a value a port had.
        let old = json!({"ports": [{"port": 80, "nodePort": 31000}]});
        let new = json!({"healthCheckNodePort": 31000, "ports": [{"port": 80}]});
        assert_eq!(
            evaluate(&request("UPDATE", "default", new, Some(old)), &settings),
            Verdict::accept()
        );
    }

    #[test]
    fn cluster_ips_in_the_static_band() {
        let settings = settings(json!({"nodePortRange": "30000-32767",
            "serviceClusterIPRanges": ["10.96.0.0/12", "fd00:10:96::/112"]}));
        let pin = |ips: Value| {
            let first = ips[0].clone();
            evaluate(
                &create(json!({"clusterIP": first, "clusterIPs": ips, "ports": [{"port": 80}]})),
                &settings,
            )
        };
        assert_eq!(pin(json!(["10.96.0.10"])), Verdict::accept());
        assert_eq!(pin(json!(["10.96.1.0"])), Verdict::accept());
        assert_eq!(pin(json!(["None"])), Verdict::accept());
        assert_eq!(pin(json!([""])), Verdict::accept());
        assert_eq!(
            pin(json!(["10.96.0.10", "fd00:10:96::a"])),
            Verdict::accept()
        );
        assert_eq!(
            rejection(pin(json!(["10.96.1.1"]))),
            "cluster IP 10.96.1.1 of spec.clusterIP, spec.clusterIPs[0] is outside the static band 10.96.0.1-10.96.1.0 of the service CIDR 10.96.0.0/12; pin an address from 10.96.0.1-10.96.1.0 or leave it unset"
        );
        assert_eq!(
            rejection(pin(json!(["10.96.0.10", "fd00:10:96::200"]))),
            "cluster IP fd00:10:96::200 of spec.clusterIPs[1] is outside the static band fd00:10:96::1-fd00:10:96::100 of the service CIDR fd00:10:96::/112; pin an address from fd00:10:96::1-fd00:10:96::100 or leave it unset"
        );
        assert_eq!(
            rejection(pin(json!(["10.200.0.1"]))),
            "cluster IP 10.200.0.1 of spec.clusterIP, spec.clusterIPs[0] is outside the service CIDR 10.96.0.0/12; pin an address from its static band 10.96.0.1-10.96.1.0 or leave it unset"
        );
        assert_eq!(
            rejection(pin(json!(["10.96.0.x"]))),
            "cluster IP 10.96.0.x of spec.clusterIP, spec.clusterIPs[0] is not an IP address"
        );
        assert!(rejection(pin(json!(["010.096.001.001"]))).contains("outside the static band"));
    }

    #[test]
    fn cluster_ips_of_unconfigured_families_and_without_settings_are_not_judged() {
        let only_v4 = settings(
            json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.0.0.0/24"]}),
        );
        let spec = json!({"clusterIP": "10.0.0.16", "clusterIPs": ["10.0.0.16", "fd00::999"]});
        assert_eq!(evaluate(&create(spec.clone()), &only_v4), Verdict::accept());
        let spec = json!({"clusterIP": "10.0.0.17"});
        assert!(
            rejection(evaluate(&create(spec.clone()), &only_v4))
                .contains("static band 10.0.0.1-10.0.0.16")
        );
        assert_eq!(
            evaluate(&create(spec), &default_settings()),
            Verdict::accept()
        );

        let tiny = settings(
            json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.0.0.0/28"]}),
        );
        assert_eq!(
            rejection(evaluate(&create(json!({"clusterIP": "10.0.0.1"})), &tiny)),
            "cluster IP 10.0.0.1 of spec.clusterIP cannot be pinned: the service CIDR 10.0.0.0/28 has no static band (it holds 16 addresses or fewer, or is a /0 or /1); leave clusterIP and clusterIPs unset"
        );
    }

    #[test]
    fn unchanged_cluster_ips_are_not_judged_on_update() {
        let settings = settings(
            json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.0/12"]}),
        );
        let old = json!({"clusterIP": "10.100.0.1", "clusterIPs": ["10.100.0.1"]});
        let new = json!({"clusterIP": "10.100.0.1", "clusterIPs": ["10.100.0.1"], "ports": [{"port": 81}]});
        assert_eq!(
            evaluate(&request("UPDATE", "default", new, Some(old)), &settings),
            Verdict::accept()
        );
        let external_name = json!({"type": "ExternalName", "externalName": "example.com"});
        let to_cluster_ip = json!({"type": "ClusterIP", "clusterIP": "10.100.0.1"});
        assert!(
            rejection(evaluate(
                &request("UPDATE", "default", to_cluster_ip, Some(external_name)),
                &settings
            ))
            .contains("outside the static band")
        );
    }

    #[test]
    fn other_kinds_operations_and_malformed_services() {
        let settings = default_settings();
        let mut pod = create(node_port_spec(&[("http", 31000)]));
        pod.kind.kind = "Pod".into();
        assert_eq!(evaluate(&pod, &settings), Verdict::accept());
        let mut knative = create(node_port_spec(&[("http", 31000)]));
        knative.kind.group = "serving.knative.dev".into();
        assert_eq!(evaluate(&knative, &settings), Verdict::accept());
        let mut delete = create(node_port_spec(&[("http", 31000)]));
        delete.operation = "DELETE".into();
        assert_eq!(evaluate(&delete, &settings), Verdict::accept());
        assert_eq!(evaluate(&create(json!(null)), &settings), Verdict::accept());
        assert_eq!(
            rejection(evaluate(
                &create(json!({"ports": [{"port": 80, "nodePort": "31000"}]})),
                &settings
            )),
            "invalid Service: spec.ports[0].nodePort: invalid type: string \"31000\", expected i64"
        );
        assert_eq!(
            rejection(evaluate(
                &create(json!({"ports": []})),
                &Settings::default()
            )),
            "invalid policy settings: nodePortRange: required: set it to the apiserver's --service-node-port-range, such as \"30000-32767\""
        );
    }
}
