//! Reading raw JSON into small view structs that hold only the fields a rule needs, and
//! finding an object's members without building the rest of it.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::marker::PhantomData;

/// Deserialises `raw` into `T`, naming the path of any mismatch under `path`.
pub fn read_view<T: DeserializeOwned>(raw: &RawValue, path: &str) -> Result<T, String> {
    // Tracking the path costs on every field; only a failed read needs it, so it reads again.
    if let Ok(view) = serde_json::from_str(raw.get()) {
        return Ok(view);
    }
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let inner = error.path().to_string();
        let full = match (path.is_empty(), inner == ".") {
            (true, _) => inner,
            (false, true) => path.to_string(),
            (false, false) => format!("{path}.{inner}"),
        };
        format!("{full}: {}", without_position(error.inner()))
    })
}

/// serde_json's message without its `at line 1 column 29`, which counts from the start of
/// `raw` rather than of anything the user wrote; the path says where the error is.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(stripped) => stripped.to_string(),
        None => message,
    }
}

/// Reads the object found under `keys` in the JSON object `raw` into `T`, in one pass that
/// skips everything else: `None` when a key on the way is missing or `null`. Errors do not
/// name their path: on an error, read again with [`member`] and [`read_view`] to name it.
pub fn read_at<T: DeserializeOwned>(
    raw: &RawValue,
    keys: &[&str],
) -> Result<Option<T>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    de::Deserializer::deserialize_map(
        &mut deserializer,
        Under::<T> {
            keys,
            view: PhantomData,
        },
    )
}

/// The value under `keys`, read as the view `T` when `keys` is empty.
struct Under<'k, T> {
    keys: &'k [&'k str],
    view: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Under<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Under<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        let Some((key, rest)) = self.keys.split_first() else {
            return T::deserialize(MapAccessDeserializer::new(map)).map(Some);
        };
        let under = Under::<T> {
            keys: rest,
            view: PhantomData,
        };
        Ok(find_member(map, key, under)?.flatten())
    }
}

impl<T> Clone for Under<'_, T> {
    fn clone(&self) -> Self {
        Under {
            keys: self.keys,
            view: PhantomData,
        }
    }
}

/// Reads the member `key` of `map` with `seed`, skipping the other members without building
/// them. The last of duplicate keys wins, as in a `serde_json::Value`.
fn find_member<'de, A, S>(mut map: A, key: &str, seed: S) -> Result<Option<S::Value>, A::Error>
where
    A: MapAccess<'de>,
    S: DeserializeSeed<'de> + Clone,
{
    let mut found = None;
    while let Some(is_wanted) = map.next_key_seed(KeyIs(key))? {
        if is_wanted {
            found = Some(map.next_value_seed(seed.clone())?);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(found)
}

/// `raw` is not a JSON object.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAnObject;

/// The member `key` of the JSON object `raw`: `None` when it is missing or `null`. The
/// last of duplicate keys wins, as in a `serde_json::Value`.
pub fn member<'a>(raw: &'a RawValue, key: &str) -> Result<Option<&'a RawValue>, NotAnObject> {
    if !raw.get().starts_with('{') {
        return Err(NotAnObject);
    }
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    // `raw` was checked when it was read: this scan cannot fail.
    let found = Member(key)
        .deserialize(&mut deserializer)
        .map_err(|_| NotAnObject)?;
    Ok(found.filter(|value| value.get() != "null"))
}

/// The value under `keys` in `raw`, or `None` when a key is missing, a value is `null` or
/// a value on the way is not an object: for optional fields whose absence is no error.
pub fn lookup<'a>(raw: &'a RawValue, keys: &[&str]) -> Option<&'a RawValue> {
    keys.iter()
        .try_fold(raw, |current, key| member(current, key).ok().flatten())
}

/// Finds one member of a map.
struct Member<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for Member<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        find_member(map, self.0, PhantomData::<&'de RawValue>)
    }
}

/// Compares a map key with the wanted one without allocating it.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct NameView {
        name: String,
    }

    #[test]
    fn finds_members_and_skips_the_rest() {
        let object = raw(r#"{"a": [1, {"b": "x"}], "spec": {"n": 1}, "z": null}"#);
        assert_eq!(
            member(&object, "spec").unwrap().unwrap().get(),
            r#"{"n": 1}"#
        );
        assert!(member(&object, "missing").unwrap().is_none());
        assert!(member(&object, "z").unwrap().is_none());
        let escaped = raw(r#"{"sp\u0065c": 1}"#);
        assert_eq!(member(&escaped, "spec").unwrap().unwrap().get(), "1");
    }

    #[test]
    fn reads_a_view_under_a_path_in_one_pass() {
        let object = raw(r#"{"a": {"x": 1}, "spec": {"template": {"spec": {"name": "app"}}}}"#);
        let view: NameView = read_at(&object, &["spec", "template", "spec"])
            .unwrap()
            .unwrap();
        assert_eq!(view.name, "app");
        let missing = read_at::<NameView>(&object, &["spec", "jobTemplate", "spec"]).unwrap();
        assert!(missing.is_none());
        let null = raw(r#"{"spec": null}"#);
        assert!(
            read_at::<NameView>(&null, &["spec", "template"])
                .unwrap()
                .is_none()
        );
        let duplicate = raw(r#"{"spec": {"name": "a"}, "spec": {"name": "b"}}"#);
        let view: NameView = read_at(&duplicate, &["spec"]).unwrap().unwrap();
        assert_eq!(view.name, "b");
        for bad in [
            r#"{"spec": 3}"#,
            r#"{"spec": []}"#,
            "null",
            "[]",
            r#"{"spec": {"name": 7}}"#,
        ] {
            assert!(read_at::<NameView>(&raw(bad), &["spec"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn looks_up_optional_paths() {
        let object = raw(r#"{"metadata": {"labels": {"app": "shop"}}, "spec": 3}"#);
        let found = lookup(&object, &["metadata", "labels", "app"]).unwrap();
        assert_eq!(found.get(), r#""shop""#);
        assert!(lookup(&object, &["metadata", "annotations", "app"]).is_none());
        assert!(lookup(&object, &["spec", "ports"]).is_none());
        assert_eq!(lookup(&object, &[]).unwrap().get(), object.get());
    }

    #[test]
    fn the_last_duplicate_wins() {
        let object = raw(r#"{"spec": 1, "spec": 2}"#);
        assert_eq!(member(&object, "spec").unwrap().unwrap().get(), "2");
    }

    #[test]
    fn only_objects_have_members() {
        for text in ["[]", "null", "\"spec\"", "3", "true"] {
            assert_eq!(
                member(&raw(text), "spec").unwrap_err(),
                NotAnObject,
                "{text}"
            );
        }
    }

    #[test]
    fn reads_views_and_names_the_path_of_a_mismatch() {
        let view: NameView = read_view(&raw(r#"{"name": "app", "x": [1]}"#), "spec").unwrap();
        assert_eq!(view.name, "app");
        let error =
            read_view::<NameView>(&raw(r#"{"name": 7}"#), "spec.containers[0]").unwrap_err();
        assert_eq!(
            error,
            "spec.containers[0].name: invalid type: integer `7`, expected a string"
        );
        let error = read_view::<NameView>(&raw("3"), "spec").unwrap_err();
        assert!(
            error.starts_with("spec: invalid type: integer `3`"),
            "{error}"
        );
    }
}
