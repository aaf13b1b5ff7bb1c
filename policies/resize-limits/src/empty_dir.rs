//! Rule 7: the `sizeLimit` of memory-backed `emptyDir` volumes, held to
//! `memory.maxEmptyDirSizeLimit`. From Kubernetes 1.37 (alpha, KEP-6030) `pods/resize` may
//! change it, so a change to it is a resize. Factors and `limitDecrease` do not apply.

use crate::containers::{PodSpecView, show};
use crate::settings::CompiledSettings;
use kepguard_common::Quantity;

/// The sizeLimit of one memory-backed emptyDir volume, before and after an update.
#[derive(Debug, Clone, Copy)]
pub struct SizeChange<'a> {
    pub volume: &'a str,
    /// Whether the volume was there before; false at creation.
    pub existed: bool,
    pub old: Option<&'a Quantity>,
    pub new: Option<&'a Quantity>,
}

/// Every sized memory-backed volume, as judged at creation.
pub fn present(spec: &PodSpecView) -> Vec<SizeChange<'_>> {
    spec.memory_volumes()
        .filter(|(_, size)| size.is_some())
        .map(|(volume, new)| SizeChange {
            volume,
            existed: false,
            old: None,
            new,
        })
        .collect()
}

/// The memory-backed volumes whose sizeLimit differs from the same volume's in `old`, by
/// value. A volume that is new is judged as at creation.
pub fn changed<'a>(old: &'a PodSpecView, new: &'a PodSpecView) -> Vec<SizeChange<'a>> {
    new.memory_volumes()
        .filter_map(|(volume, size)| {
            let before = old.memory_volumes().find(|(name, _)| *name == volume);
            let change = SizeChange {
                volume,
                existed: before.is_some(),
                old: before.and_then(|(_, size)| size),
                new: size,
            };
            (change.old != change.new).then_some(change)
        })
        .collect()
}

/// What is wrong with the new size. A value exactly at the bound is allowed; with no bound,
/// nothing is.
pub fn violation(change: &SizeChange<'_>, settings: &CompiledSettings) -> Option<String> {
    let max = settings.max_empty_dir_size_limit.as_ref()?;
    let size = if change.existed {
        format!("sizeLimit {} -> {}", show(change.old), show(change.new))
    } else {
        format!("sizeLimit {}", show(change.new))
    };
    let at = format!("emptyDir volume {:?} (medium Memory)", change.volume);
    match change.new {
        None => Some(format!(
            "{at}: {size} removes the size limit, so the volume may fill the pod's memory: keep a sizeLimit of at most memory.maxEmptyDirSizeLimit {max}"
        )),
        Some(new) => {
            (new > max).then(|| format!("{at}: {size} exceeds memory.maxEmptyDirSizeLimit {max}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::compiled;
    use kepguard_common::WorkloadKind;
    use serde_json::{Value, json};

    fn spec(volumes: Value) -> PodSpecView {
        let pod = json!({"spec": {"containers": [{"name": "app"}], "volumes": volumes}});
        PodSpecView::read(
            WorkloadKind::Pod,
            &serde_json::value::to_raw_value(&pod).unwrap(),
        )
        .unwrap()
    }

    fn memory(name: &str, size: Option<&str>) -> Value {
        let mut empty_dir = json!({"medium": "Memory"});
        if let Some(size) = size {
            empty_dir["sizeLimit"] = json!(size);
        }
        json!({"name": name, "emptyDir": empty_dir})
    }

    #[test]
    fn only_changed_sizes_of_memory_backed_volumes_are_judged() {
        let settings = compiled(json!({"memory": {"maxEmptyDirSizeLimit": "2Gi"}}));
        let disk = json!({"name": "disk", "emptyDir": {"sizeLimit": "1Gi"}});
        let big_disk = json!({"name": "disk", "emptyDir": {"sizeLimit": "100Gi"}});
        let cases: Vec<(Value, Value, Vec<&str>)> = vec![
            (
                json!([memory("cache", Some("1Gi"))]),
                json!([memory("cache", Some("2Gi"))]),
                vec![],
            ),
            (
                json!([memory("cache", Some("1Gi"))]),
                json!([memory("cache", Some("2049Mi"))]),
                vec![
                    "emptyDir volume \"cache\" (medium Memory): sizeLimit 1Gi -> 2049Mi exceeds memory.maxEmptyDirSizeLimit 2Gi",
                ],
            ),
            (
                json!([memory("cache", Some("1Gi"))]),
                json!([memory("cache", Some("1024Mi"))]),
                vec![],
            ),
            (
                json!([memory("cache", Some("1Gi"))]),
                json!([memory("cache", None)]),
                vec![
                    "emptyDir volume \"cache\" (medium Memory): sizeLimit 1Gi -> none removes the size limit",
                ],
            ),
            (
                json!([]),
                json!([memory("cache", Some("4Gi"))]),
                vec![
                    "emptyDir volume \"cache\" (medium Memory): sizeLimit 4Gi exceeds memory.maxEmptyDirSizeLimit 2Gi",
                ],
            ),
            (json!([disk]), json!([big_disk]), vec![]),
        ];
        for (old, new, expected) in cases {
            let (old, new) = (spec(old), spec(new));
            let found: Vec<String> = changed(&old, &new)
                .iter()
                .filter_map(|change| violation(change, &settings))
                .collect();
            assert_eq!(found.len(), expected.len(), "{found:?}");
            for (found, expected) in found.iter().zip(expected) {
                assert!(found.starts_with(expected), "{found}");
            }
        }
    }

    #[test]
    fn at_creation_every_sized_memory_volume_is_judged() {
        let settings = compiled(json!({"memory": {"maxEmptyDirSizeLimit": "1Gi"}}));
        let spec = spec(json!([
            memory("a", Some("1Gi")),
            memory("b", Some("3Gi")),
            memory("c", None)
        ]));
        let found: Vec<String> = present(&spec)
            .iter()
            .filter_map(|change| violation(change, &settings))
            .collect();
        assert_eq!(
            found,
            [
                "emptyDir volume \"b\" (medium Memory): sizeLimit 3Gi exceeds memory.maxEmptyDirSizeLimit 1Gi"
            ]
        );
        let unbounded = compiled(json!({}));
        assert!(
            present(&spec)
                .iter()
                .all(|change| violation(change, &unbounded).is_none())
        );
    }
}
