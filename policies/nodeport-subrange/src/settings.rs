use crate::clusterip::{AddressRange, Cidr};
use crate::portrange::{self, PortRange};
use kepguard_common::PolicySettings;
use kepguard_common::settings::validate_namespaces;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Who may pin a static port that no namespace reserves.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnreservedPorts {
    #[default]
    Allow,
    Deny,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// The apiserver's `--service-node-port-range`; required.
    pub node_port_range: String,
    /// Namespace -> port ranges of the static band that only it may pin.
    pub namespace_reservations: BTreeMap<String, Vec<String>>,
    pub unreserved_ports: UnreservedPorts,
    /// The apiserver's `--service-cluster-ip-range`, one CIDR per family; empty: not judged.
    #[serde(rename = "serviceClusterIPRanges")]
    pub service_cluster_ip_ranges: Vec<String>,
    pub exempt_namespaces: Vec<String>,
}

/// The settings as the rules read them: checked, and parsed into what the rules compare
/// against.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledSettings {
    pub node_port_range: PortRange,
    /// `None` when the range holds 16 ports or fewer.
    pub static_band: Option<PortRange>,
    /// Merged ranges per namespace, each inside the static band, no port in two namespaces.
    pub reservations: BTreeMap<String, Vec<PortRange>>,
    pub unreserved_ports: UnreservedPorts,
    /// At most one per family.
    pub service_cidrs: Vec<ServiceCidr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCidr {
    pub cidr: Cidr,
    pub static_band: Option<AddressRange>,
}

impl Settings {
    fn parse_reservations(
        &self,
        range: PortRange,
        band: Option<PortRange>,
    ) -> Result<BTreeMap<String, Vec<PortRange>>, String> {
        const FIELD: &str = "namespaceReservations";
        let namespaces: Vec<String> = self.namespace_reservations.keys().cloned().collect();
        validate_namespaces(FIELD, &namespaces)?;
        let mut reservations = BTreeMap::new();
        for (namespace, texts) in &self.namespace_reservations {
            let mut ranges = Vec::with_capacity(texts.len());
            for (index, text) in texts.iter().enumerate() {
                let at = format!("{FIELD}.{namespace}[{index}]");
                let reserved = PortRange::parse(text).map_err(|error| format!("{at}: {error}"))?;
                match band {
                    None => {
                        return Err(format!(
                            "{at}: {text:?} cannot be reserved: nodePortRange {range} has no static band (it holds 16 ports or fewer); widen nodePortRange or remove the reservation"
                        ));
                    }
                    Some(band) if !band.contains_range(reserved) => {
                        return Err(format!(
                            "{at}: {text:?} is outside the static band {band} of nodePortRange {range}; reserve ports from {band}"
                        ));
                    }
                    Some(_) => ranges.push(reserved),
                }
            }
            reservations.insert(namespace.clone(), portrange::merge(ranges));
        }
        check_disjoint(&reservations)?;
        Ok(reservations)
    }

    fn parse_cidrs(&self) -> Result<Vec<ServiceCidr>, String> {
        const FIELD: &str = "serviceClusterIPRanges";
        let mut parsed: Vec<(&String, Cidr)> = Vec::new();
        for (index, text) in self.service_cluster_ip_ranges.iter().enumerate() {
            let cidr = Cidr::parse(text).map_err(|error| format!("{FIELD}[{index}]: {error}"))?;
            if let Some((other, _)) = parsed.iter().find(|(_, seen)| seen.family == cidr.family) {
                return Err(format!(
                    "{FIELD}[{index}]: {other:?} and {text:?} are both {}: give at most one range per family, as --service-cluster-ip-range does",
                    cidr.family
                ));
            }
            parsed.push((text, cidr));
        }
        Ok(parsed
            .into_iter()
            .map(|(_, cidr)| ServiceCidr {
                static_band: cidr.static_band(),
                cidr,
            })
            .collect())
    }
}

/// Refuses a port reserved for two namespaces, naming both.
fn check_disjoint(reservations: &BTreeMap<String, Vec<PortRange>>) -> Result<(), String> {
    let entries: Vec<(&String, &PortRange)> = reservations
        .iter()
        .flat_map(|(namespace, ranges)| ranges.iter().map(move |range| (namespace, range)))
        .collect();
    for (position, (namespace, range)) in entries.iter().enumerate() {
        let clash = entries[position + 1..]
            .iter()
            .find(|(other, other_range)| other != namespace && range.overlaps(**other_range));
        if let Some((other, other_range)) = clash {
            let shared = range.first.max(other_range.first);
            return Err(format!(
                "namespaceReservations: port {shared} is reserved for both {namespace:?} ({range}) and {other:?} ({other_range}); reserve each port for one namespace"
            ));
        }
    }
    Ok(())
}

impl PolicySettings for Settings {
    type Compiled = CompiledSettings;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    /// Parses and checks the settings; errors start with the field they are about.
    fn compile(self) -> Result<CompiledSettings, String> {
        if self.node_port_range.trim().is_empty() {
            return Err(
                "nodePortRange: required: set it to the apiserver's --service-node-port-range, such as \"30000-32767\"".into(),
            );
        }
        let node_port_range = PortRange::parse(&self.node_port_range)
            .map_err(|error| format!("nodePortRange: {error}"))?;
        let static_band = node_port_range.static_band();
        let reservations = self.parse_reservations(node_port_range, static_band)?;
        let service_cidrs = self.parse_cidrs()?;
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(CompiledSettings {
            node_port_range,
            static_band,
            reservations,
            unreserved_ports: self.unreserved_ports,
            service_cidrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kepguard_testing::unit::{assert_refused_settings, compile, compiled};
    use serde_json::json;

    fn range(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    #[test]
    fn a_node_port_range_alone_is_valid() {
        let cases = [
            (
                "first-last",
                "30000-32767",
                range(30000, 32767),
                Some(range(30000, 30085)),
            ),
            (
                "first+offset",
                "30000+2767",
                range(30000, 32767),
                Some(range(30000, 30085)),
            ),
            (
                "a single port has no static band",
                "30000",
                range(30000, 30000),
                None,
            ),
        ];
        for (name, text, node_port_range, static_band) in cases {
            let settings = compiled::<Settings>(json!({"nodePortRange": text}));
            assert_eq!(
                settings,
                CompiledSettings {
                    node_port_range,
                    static_band,
                    reservations: BTreeMap::new(),
                    unreserved_ports: UnreservedPorts::Allow,
                    service_cidrs: Vec::new(),
                },
                "{name}"
            );
        }
    }

    #[test]
    fn reservations_are_merged_per_namespace() {
        let settings = compiled::<Settings>(json!({
            "nodePortRange": "30000-32767",
            "namespaceReservations": {
                "team-a": ["30000-30009", "30005-30012", "30020"],
                "team-b": ["30030+9"]
            },
            "unreservedPorts": "deny"
        }));
        assert_eq!(
            settings.reservations,
            BTreeMap::from([
                (
                    "team-a".to_string(),
                    vec![range(30000, 30012), range(30020, 30020)]
                ),
                ("team-b".to_string(), vec![range(30030, 30039)]),
            ])
        );
        assert_eq!(settings.unreserved_ports, UnreservedPorts::Deny);
    }

    #[test]
    fn cidrs_get_their_static_band() {
        let settings = compiled::<Settings>(json!({
            "nodePortRange": "30000-32767",
            "serviceClusterIPRanges": ["10.96.0.0/12", "fd00:10:96::/112"]
        }));
        let bands: Vec<String> = settings
            .service_cidrs
            .iter()
            .map(|cidr| {
                format!(
                    "{} {:?}",
                    cidr.cidr,
                    cidr.static_band.map(|b| b.to_string())
                )
            })
            .collect();
        assert_eq!(
            bands,
            vec![
                "10.96.0.0/12 Some(\"10.96.0.1-10.96.1.0\")",
                "fd00:10:96::/112 Some(\"fd00:10:96::1-fd00:10:96::100\")",
            ]
        );
    }

    #[test]
    fn invalid_settings_name_the_field() {
        assert_refused_settings::<Settings>([
            (
                "no node port range",
                json!({}),
                "nodePortRange: required: set it to the apiserver's --service-node-port-range, such as \"30000-32767\"",
            ),
            (
                "a blank node port range",
                json!({"nodePortRange": " "}),
                "nodePortRange: required: set it to the apiserver's --service-node-port-range, such as \"30000-32767\"",
            ),
            (
                "a range without its end",
                json!({"nodePortRange": "30000-"}),
                "nodePortRange: \"30000-\" is not a port range: use \"first-last\", \"first+offset\" or a single port, such as \"30000-32767\"",
            ),
            (
                "a range that ends before it starts",
                json!({"nodePortRange": "32767-30000"}),
                "nodePortRange: \"32767-30000\" ends before it starts",
            ),
            (
                "a reservation outside the static band",
                json!({"nodePortRange": "30000-32767", "namespaceReservations": {"team-a": ["30080-30090"]}}),
                "namespaceReservations.team-a[0]: \"30080-30090\" is outside the static band 30000-30085 of nodePortRange 30000-32767; reserve ports from 30000-30085",
            ),
            (
                "a reservation without a static band",
                json!({"nodePortRange": "30000-30015", "namespaceReservations": {"team-a": ["30000"]}}),
                "namespaceReservations.team-a[0]: \"30000\" cannot be reserved: nodePortRange 30000-30015 has no static band (it holds 16 ports or fewer); widen nodePortRange or remove the reservation",
            ),
            (
                "a reservation that is not a range",
                json!({"nodePortRange": "30000-32767", "namespaceReservations": {"team-a": ["30000", "x"]}}),
                "namespaceReservations.team-a[1]: \"x\" is not a port range: use \"first-last\", \"first+offset\" or a single port, such as \"30000-32767\"",
            ),
            (
                "a reservation for an invalid namespace",
                json!({"nodePortRange": "30000-32767", "namespaceReservations": {"Team A": ["30000"]}}),
                "namespaceReservations: \"Team A\" is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
            ),
            (
                "a port reserved for two namespaces",
                json!({"nodePortRange": "30000-32767", "namespaceReservations": {
                    "team-a": ["30000-30009"], "team-b": ["30020-30029", "30005-30006"]
                }}),
                "namespaceReservations: port 30005 is reserved for both \"team-a\" (30000-30009) and \"team-b\" (30005-30006); reserve each port for one namespace",
            ),
            (
                "a CIDR with host bits",
                json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.1/12"]}),
                "serviceClusterIPRanges[0]: \"10.96.0.1/12\" has host bits set: use 10.96.0.0/12",
            ),
            (
                "two CIDRs of one family",
                json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.0/12", "fd00::/108", "10.100.0.0/16"]}),
                "serviceClusterIPRanges[2]: \"10.96.0.0/12\" and \"10.100.0.0/16\" are both IPv4: give at most one range per family, as --service-cluster-ip-range does",
            ),
            (
                "an invalid exempt namespace",
                json!({"nodePortRange": "30000-32767", "exemptNamespaces": ["Kube System"]}),
                "exemptNamespaces: \"Kube System\" is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
            ),
        ]);
    }

    #[test]
    fn invalid_settings_as_serde_or_the_parser_words_them() {
        let cases = [
            (
                "a number as the range",
                json!({"nodePortRange": 30000}),
                "invalid type",
            ),
            (
                "a string as the reservations",
                json!({"nodePortRange": "30000-32767", "namespaceReservations": {"team-a": "30000"}}),
                "invalid type",
            ),
            (
                "an address without a prefix",
                json!({"nodePortRange": "30000-32767", "serviceClusterIPRanges": ["10.96.0.0"]}),
                "serviceClusterIPRanges[0]: \"10.96.0.0\" is not a CIDR",
            ),
            (
                "an unknown key",
                json!({"nodePortRange": "30000-32767", "nodePortRanges": "x"}),
                "unknown field `nodePortRanges`",
            ),
            (
                "a wrongly cased key",
                json!({"nodePortRange": "30000-32767", "serviceClusterIpRanges": []}),
                "unknown field `serviceClusterIpRanges`",
            ),
            (
                "a wrongly cased value",
                json!({"nodePortRange": "30000-32767", "unreservedPorts": "Deny"}),
                "unknown variant `Deny`, expected `allow` or `deny`",
            ),
        ];
        for (name, settings, expected) in cases {
            let error = compile::<Settings>(settings).unwrap_err();
            assert!(error.contains(expected), "{name}: {error}");
        }
    }
}
