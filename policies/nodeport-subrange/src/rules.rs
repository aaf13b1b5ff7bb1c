//! The rules, as plain functions over the admission request.
//!
//! The policy must run as a mutating webhook: the apiserver fills in automatic node ports and
//! cluster IPs before validating webhooks run, so only a mutating webhook can tell a pinned
//! value from an allocated one. It never changes the object.

use crate::clusterip::Address;
use crate::portrange::{self, PortRange};
use crate::settings::{CompiledSettings, UnreservedPorts};
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
pub fn evaluate(request: &AdmissionRequest, settings: &CompiledSettings) -> Verdict {
    if !request.kind.group.is_empty() || request.kind.kind != "Service" {
        return Verdict::accept();
    }
    if request.operation != "CREATE" && request.operation != "UPDATE" {
        return Verdict::accept();
    }
    match judge(request, settings) {
        Ok(violations) => Verdict::from_violations(violations),
        Err(error) => Verdict::reject(format!("invalid Service: {error}")),
    }
}

fn judge(request: &AdmissionRequest, settings: &CompiledSettings) -> Result<Vec<String>, String> {
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
    settings: &CompiledSettings,
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
fn advice(namespace: &str, band: PortRange, settings: &CompiledSettings, field: &str) -> String {
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
fn judge_cluster_ip(pinned: &Pinned<String>, settings: &CompiledSettings) -> Option<String> {
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
    use crate::settings::Settings;
    use kepguard_testing::unit::compiled;
    use serde_json::{Value, json};

    /// A named request, the settings it is judged with and the verdict it must get.
    type Case = (&'static str, Value, AdmissionRequest, Verdict);

    fn check(cases: Vec<Case>) {
        for (name, settings, request, expected) in cases {
            let settings = compiled::<Settings>(settings);
            assert_eq!(evaluate(&request, &settings), expected, "{name}");
        }
    }

    fn range() -> Value {
        json!({"nodePortRange": "30000-32767"})
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

    fn update(spec: Value, old_spec: Value) -> AdmissionRequest {
        request("UPDATE", "default", spec, Some(old_spec))
    }

    fn node_port_spec(ports: &[(&str, i64)]) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(name, node_port)| json!({"name": name, "port": 80, "nodePort": node_port}))
            .collect();
        json!({"type": "NodePort", "ports": ports})
    }

    fn pin_port(namespace: &str, port: i64) -> AdmissionRequest {
        request("CREATE", namespace, node_port_spec(&[("http", port)]), None)
    }

    fn pin_ips(ips: Value) -> AdmissionRequest {
        let first = ips[0].clone();
        create(json!({"clusterIP": first, "clusterIPs": ips, "ports": [{"port": 80}]}))
    }

    #[test]
    fn node_ports() {
        let outside_band = |port: i64| {
            Verdict::reject(format!(
                "nodePort {port} of spec.ports[0] \"http\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave nodePort unset"
            ))
        };
        let tiny = json!({"nodePortRange": "30000-30015"});
        check(vec![
            (
                "the issue's example",
                range(),
                pin_port("default", 31000),
                outside_band(31000),
            ),
            (
                "the band's first port",
                range(),
                pin_port("default", 30000),
                Verdict::accept(),
            ),
            (
                "the band's last port",
                range(),
                pin_port("default", 30085),
                Verdict::accept(),
            ),
            (
                "past the band",
                range(),
                pin_port("default", 30086),
                outside_band(30086),
            ),
            (
                "an unpinned port",
                range(),
                pin_port("default", 0),
                Verdict::accept(),
            ),
            (
                "ports outside the range",
                range(),
                create(node_port_spec(&[("", 40000), ("b", -5)])),
                Verdict::reject(
                    "nodePort 40000 of spec.ports[0] is outside the node port range 30000-32767; pin a port from 30000-30085 or leave nodePort unset; nodePort -5 of spec.ports[1] \"b\" is outside the node port range 30000-32767; pin a port from 30000-30085 or leave nodePort unset",
                ),
            ),
            (
                "a range without a static band refuses every pinned port",
                tiny.clone(),
                pin_port("default", 30000),
                Verdict::reject(
                    "nodePort 30000 of spec.ports[0] \"http\" cannot be pinned: the range 30000-30015 has no static band (it holds 16 ports or fewer), so no node port can be pinned; leave nodePort unset",
                ),
            ),
            (
                "a range without a static band takes unpinned ports",
                tiny,
                create(json!({"type": "NodePort", "ports": [{"port": 80}]})),
                Verdict::accept(),
            ),
            (
                "a shared node port is reported once",
                range(),
                create(json!({"type": "NodePort", "ports": [
                    {"name": "dns-tcp", "protocol": "TCP", "port": 53, "nodePort": 31053},
                    {"name": "dns-udp", "protocol": "UDP", "port": 53, "nodePort": 31053}
                ]})),
                Verdict::reject(
                    "nodePort 31053 of spec.ports[0] \"dns-tcp\", spec.ports[1] \"dns-udp\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave nodePort unset",
                ),
            ),
            (
                "the health check node port",
                range(),
                create(
                    json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
                              "ports": [{"port": 80, "nodePort": 30010}]}),
                ),
                Verdict::reject(
                    "spec.healthCheckNodePort 32000 is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave healthCheckNodePort unset",
                ),
            ),
        ]);
    }

    #[test]
    fn reservations() {
        let allow = json!({"nodePortRange": "30000-32767",
            "namespaceReservations": {"team-a": ["30000-30009"], "team-b": ["30010-30019"]}});
        let deny = json!({"nodePortRange": "30000-32767", "unreservedPorts": "deny",
            "namespaceReservations": {"team-a": ["30000-30009", "30040"]}});
        check(vec![
            (
                "allow: its own reservation",
                allow.clone(),
                pin_port("team-a", 30005),
                Verdict::accept(),
            ),
            (
                "allow: an unreserved port",
                allow.clone(),
                pin_port("team-a", 30050),
                Verdict::accept(),
            ),
            (
                "allow: an unreserved port, from a namespace without reservations",
                allow.clone(),
                pin_port("other", 30050),
                Verdict::accept(),
            ),
            (
                "allow: another namespace's reservation",
                allow.clone(),
                pin_port("team-b", 30005),
                Verdict::reject(
                    "nodePort 30005 of spec.ports[0] \"http\" is reserved for namespace \"team-a\" (30000-30009) in the static band 30000-30085; pin a port from 30010-30085 (namespace \"team-b\" reserves 30010-30019) or leave nodePort unset",
                ),
            ),
            (
                "allow: the advice leaves out others' reservations",
                allow,
                pin_port("other", 30090),
                Verdict::reject(
                    "nodePort 30090 of spec.ports[0] \"http\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30020-30085 or leave nodePort unset",
                ),
            ),
            (
                "deny: its own reservation",
                deny.clone(),
                pin_port("team-a", 30040),
                Verdict::accept(),
            ),
            (
                "deny: an unreserved port",
                deny.clone(),
                pin_port("team-a", 30050),
                Verdict::reject(
                    "nodePort 30050 of spec.ports[0] \"http\" is not reserved for namespace \"team-a\", and unreserved ports of the static band 30000-30085 are denied; pin a port reserved for namespace \"team-a\" (30000-30009, 30040) or leave nodePort unset",
                ),
            ),
            (
                "deny: a namespace without reservations",
                deny.clone(),
                pin_port("other", 30050),
                Verdict::reject(
                    "nodePort 30050 of spec.ports[0] \"http\" is not reserved for namespace \"other\", and unreserved ports of the static band 30000-30085 are denied; namespace \"other\" has no reserved node ports: leave nodePort unset",
                ),
            ),
            (
                "deny: an unpinned port",
                deny,
                request(
                    "CREATE",
                    "other",
                    json!({"type": "NodePort", "ports": [{"port": 80}]}),
                    None,
                ),
                Verdict::accept(),
            ),
        ]);
    }

    #[test]
    fn updates_judge_only_new_values() {
        let old = node_port_spec(&[("http", 31000), ("https", 31443)]);
        let cidr =
            json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.0/12"]});
        check(vec![
            (
                "reordered ports",
                range(),
                update(
                    node_port_spec(&[("https", 31443), ("http", 31000)]),
                    old.clone(),
                ),
                Verdict::accept(),
            ),
            (
                "an added port",
                range(),
                update(
                    node_port_spec(&[("http", 31000), ("https", 31443), ("admin", 31500)]),
                    old,
                ),
                Verdict::reject(
                    "nodePort 31500 of spec.ports[2] \"admin\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave nodePort unset",
                ),
            ),
            (
                "a ClusterIP Service becomes a NodePort one",
                range(),
                update(
                    node_port_spec(&[("http", 31000)]),
                    json!({"type": "ClusterIP", "ports": [{"port": 80}]}),
                ),
                Verdict::reject(
                    "nodePort 31000 of spec.ports[0] \"http\" is outside the static band 30000-30085 of range 30000-32767; pin a port from 30000-30085 or leave nodePort unset",
                ),
            ),
            (
                "a health check port takes a value a port had",
                range(),
                update(
                    json!({"healthCheckNodePort": 31000, "ports": [{"port": 80}]}),
                    json!({"ports": [{"port": 80, "nodePort": 31000}]}),
                ),
                Verdict::accept(),
            ),
            (
                "an unchanged cluster IP",
                cidr.clone(),
                update(
                    json!({"clusterIP": "10.100.0.1", "clusterIPs": ["10.100.0.1"], "ports": [{"port": 81}]}),
                    json!({"clusterIP": "10.100.0.1", "clusterIPs": ["10.100.0.1"]}),
                ),
                Verdict::accept(),
            ),
            (
                "an ExternalName Service becomes a ClusterIP one",
                cidr,
                update(
                    json!({"type": "ClusterIP", "clusterIP": "10.100.0.1"}),
                    json!({"type": "ExternalName", "externalName": "example.com"}),
                ),
                Verdict::reject(
                    "cluster IP 10.100.0.1 of spec.clusterIP is outside the static band 10.96.0.1-10.96.1.0 of the service CIDR 10.96.0.0/12; pin an address from 10.96.0.1-10.96.1.0 or leave it unset",
                ),
            ),
        ]);
    }

    #[test]
    fn cluster_ips() {
        let cidrs = json!({"nodePortRange": "30000-32767",
            "serviceClusterIPRanges": ["10.96.0.0/12", "fd00:10:96::/112"]});
        let only_v4 =
            json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.0.0.0/24"]});
        let v4_outside_band = |ip: &str| {
            Verdict::reject(format!(
                "cluster IP {ip} of spec.clusterIP, spec.clusterIPs[0] is outside the static band 10.96.0.1-10.96.1.0 of the service CIDR 10.96.0.0/12; pin an address from 10.96.0.1-10.96.1.0 or leave it unset"
            ))
        };
        check(vec![
            (
                "in the band",
                cidrs.clone(),
                pin_ips(json!(["10.96.0.10"])),
                Verdict::accept(),
            ),
            (
                "the band's last address",
                cidrs.clone(),
                pin_ips(json!(["10.96.1.0"])),
                Verdict::accept(),
            ),
            (
                "headless",
                cidrs.clone(),
                pin_ips(json!(["None"])),
                Verdict::accept(),
            ),
            (
                "empty",
                cidrs.clone(),
                pin_ips(json!([""])),
                Verdict::accept(),
            ),
            (
                "dual stack in both bands",
                cidrs.clone(),
                pin_ips(json!(["10.96.0.10", "fd00:10:96::a"])),
                Verdict::accept(),
            ),
            (
                "past the band",
                cidrs.clone(),
                pin_ips(json!(["10.96.1.1"])),
                v4_outside_band("10.96.1.1"),
            ),
            (
                "an IPv6 address past its band",
                cidrs.clone(),
                pin_ips(json!(["10.96.0.10", "fd00:10:96::200"])),
                Verdict::reject(
                    "cluster IP fd00:10:96::200 of spec.clusterIPs[1] is outside the static band fd00:10:96::1-fd00:10:96::100 of the service CIDR fd00:10:96::/112; pin an address from fd00:10:96::1-fd00:10:96::100 or leave it unset",
                ),
            ),
            (
                "outside the service CIDR",
                cidrs.clone(),
                pin_ips(json!(["10.200.0.1"])),
                Verdict::reject(
                    "cluster IP 10.200.0.1 of spec.clusterIP, spec.clusterIPs[0] is outside the service CIDR 10.96.0.0/12; pin an address from its static band 10.96.0.1-10.96.1.0 or leave it unset",
                ),
            ),
            (
                "not an address",
                cidrs.clone(),
                pin_ips(json!(["10.96.0.x"])),
                Verdict::reject(
                    "cluster IP 10.96.0.x of spec.clusterIP, spec.clusterIPs[0] is not an IP address",
                ),
            ),
            (
                "leading zeros",
                cidrs,
                pin_ips(json!(["010.096.001.001"])),
                v4_outside_band("010.096.001.001"),
            ),
            (
                "a family without a configured range is not judged",
                only_v4.clone(),
                create(json!({"clusterIP": "10.0.0.16", "clusterIPs": ["10.0.0.16", "fd00::999"]})),
                Verdict::accept(),
            ),
            (
                "a configured family is",
                only_v4,
                create(json!({"clusterIP": "10.0.0.17"})),
                Verdict::reject(
                    "cluster IP 10.0.0.17 of spec.clusterIP is outside the static band 10.0.0.1-10.0.0.16 of the service CIDR 10.0.0.0/24; pin an address from 10.0.0.1-10.0.0.16 or leave it unset",
                ),
            ),
            (
                "no service CIDR in the settings",
                range(),
                create(json!({"clusterIP": "10.0.0.17"})),
                Verdict::accept(),
            ),
            (
                "a service CIDR without a static band",
                json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.0.0.0/28"]}),
                create(json!({"clusterIP": "10.0.0.1"})),
                Verdict::reject(
                    "cluster IP 10.0.0.1 of spec.clusterIP cannot be pinned: the service CIDR 10.0.0.0/28 has no static band (it holds 16 addresses or fewer, or is a /0 or /1); leave clusterIP and clusterIPs unset",
                ),
            ),
        ]);
    }

    #[test]
    fn other_kinds_operations_and_malformed_services() {
        let pinned = || create(node_port_spec(&[("http", 31000)]));
        let mut pod = pinned();
        pod.kind.kind = "Pod".into();
        let mut knative = pinned();
        knative.kind.group = "serving.knative.dev".into();
        let mut delete = pinned();
        delete.operation = "DELETE".into();
        check(vec![
            ("a Pod", range(), pod, Verdict::accept()),
            (
                "a Service of another group",
                range(),
                knative,
                Verdict::accept(),
            ),
            ("a DELETE", range(), delete, Verdict::accept()),
            ("no spec", range(), create(json!(null)), Verdict::accept()),
            (
                "a node port of the wrong type",
                range(),
                create(json!({"ports": [{"port": 80, "nodePort": "31000"}]})),
                Verdict::reject(
                    "invalid Service: spec.ports[0].nodePort: invalid type: string \"31000\", expected i64",
                ),
            ),
        ]);
    }
}
