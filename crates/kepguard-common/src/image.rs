//! Container image references, parsed with the grammar of `github.com/distribution/reference`
//! and normalised the way Docker does (`ParseNormalizedNamed`): `nginx:1.27` is
//! `docker.io/library/nginx`, and `index.docker.io` is `docker.io`.
//!
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [domain '/'] path-component ['/' path-component]*
//! domain         := host [':' port-number]
//! host           := domain-name | '[' IPv6address ']'
//! path-component := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric  := /[a-z0-9]+/
//! separator      := /[_.]|__|[-]+/
//! tag            := /[\w][\w.-]{0,127}/
//! ```

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";
const LOCALHOST: &str = "localhost";
const PATH_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry host, `docker.io` for Docker Hub. Empty only in the corner case where
    /// the first segment looks like a host but is not a valid one and the whole name is a
    /// valid path (`my_registry.com/app`), as in the reference implementation.
    pub domain: String,
    /// The repository path without the host: `library/nginx`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses `reference` as Docker does, or says why it is not a valid reference.
    pub fn parse(reference: &str) -> Result<ImageReference, String> {
        if reference.is_empty() {
            return Err("the image reference is empty".into());
        }
        if is_identifier(reference) {
            return Err("a 64-character hexadecimal image ID is not a repository name".into());
        }
        let (domain, remainder) = split_docker_domain(reference);
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!("the repository name {remote:?} must be lowercase"));
        }
        parse_reference(&format!("{domain}/{remainder}"))
    }

    /// The segments of the repository path, host excluded.
    pub fn path_segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }
}

/// A registry host with an optional port and optional path segments, such as `k8s.gcr.io`,
/// `registry:5000` or `harbor.example.com/k8s`: the start of a normalised reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryPrefix {
    /// The registry host and port, `docker.io` for Docker Hub.
    pub domain: String,
    /// The path segments after the host, empty when there are none.
    pub path: String,
}

impl RepositoryPrefix {
    /// Parses a prefix, or says why it is not one: it must start with a registry host (a first
    /// segment with `.` or `:`, or `localhost`) and has no scheme, tag or digest.
    pub fn parse(prefix: &str) -> Result<RepositoryPrefix, String> {
        if prefix.is_empty() {
            return Err("the prefix is empty".into());
        }
        if prefix.contains("://") {
            return Err(format!(
                "{prefix:?} has a scheme: give the registry host alone, such as registry.k8s.io"
            ));
        }
        if prefix.contains('@') {
            return Err(format!("{prefix:?} has a digest: a prefix names no image"));
        }
        let (host, path) = prefix.split_once('/').unwrap_or((prefix, ""));
        if path.contains(':') {
            return Err(format!("{prefix:?} has a tag: a prefix names no image"));
        }
        if !(host == LOCALHOST || host.contains(['.', ':'])) || !is_domain_and_port(host) {
            return Err(format!(
                "{prefix:?} does not start with a registry host: the first segment must be a host name with '.' (docker.io for Docker Hub), localhost, or a host with a numeric port"
            ));
        }
        if prefix.contains('/') && !is_path(path) {
            return Err(format!(
                "{prefix:?} has an invalid path: segments of lowercase letters and digits, joined by '.', '_', '__' or '-', with no empty segment"
            ));
        }
        let domain = if host == LEGACY_DEFAULT_DOMAIN {
            DEFAULT_DOMAIN
        } else {
            host
        };
        Ok(RepositoryPrefix {
            domain: domain.into(),
            path: path.into(),
        })
    }

    /// The number of segments, host included: the longer prefix is the more specific.
    pub fn segment_count(&self) -> usize {
        1 + self.path.split('/').filter(|s| !s.is_empty()).count()
    }
}

impl std::fmt::Display for RepositoryPrefix {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str(&self.domain)?;
        if !self.path.is_empty() {
            write!(formatter, "/{}", self.path)?;
        }
        Ok(())
    }
}

impl ImageReference {
    /// The reference with `from` replaced by `to`, when `from` matches this reference's host
    /// exactly and its path on a segment boundary. The rest of the path, the tag and the
    /// digest are kept as they are. `None` when `from` does not match, or when nothing of the
    /// path would remain after a prefix that is only a host.
    pub fn replace_prefix(&self, from: &RepositoryPrefix, to: &RepositoryPrefix) -> Option<String> {
        if self.domain != from.domain {
            return None;
        }
        let rest = if from.path.is_empty() {
            self.path.as_str()
        } else if self.path == from.path {
            ""
        } else {
            self.path.strip_prefix(&from.path)?.strip_prefix('/')?
        };
        if rest.is_empty() && to.path.is_empty() {
            return None;
        }
        let mut replaced = to.to_string();
        if !rest.is_empty() {
            replaced.push('/');
            replaced.push_str(rest);
        }
        if let Some(tag) = &self.tag {
            replaced.push(':');
            replaced.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            replaced.push('@');
            replaced.push_str(digest);
        }
        Some(replaced)
    }
}

/// The normalised reference in full: `docker.io/library/nginx:1.27@sha256:...`.
impl std::fmt::Display for ImageReference {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        if !self.domain.is_empty() {
            write!(formatter, "{}/", self.domain)?;
        }
        formatter.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(formatter, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(formatter, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits a name into its registry host and the rest, defaulting to Docker Hub: the first
/// segment is a host when it is `localhost`, contains `.` or `:`, or has an uppercase letter.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((first, rest)) = name.split_once('/') else {
        // A single element is always a familiar Docker Hub name: `ubuntu`, `ubuntu:24.04`.
        return (
            DEFAULT_DOMAIN.into(),
            format!("{OFFICIAL_REPOSITORY_PREFIX}{name}"),
        );
    };
    let (domain, remainder) = if first == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, rest)
    } else if first == LOCALHOST
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
    {
        (first, rest)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (
            domain.into(),
            format!("{OFFICIAL_REPOSITORY_PREFIX}{remainder}"),
        );
    }
    (domain.into(), remainder.into())
}

/// Parses a full `name[:tag][@digest]` reference.
fn parse_reference(reference: &str) -> Result<ImageReference, String> {
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        validate_digest(digest)?;
    }
    // A tag can only follow the last path segment: neither a tag nor a path has a '/'.
    let last_segment_start = name_and_tag.rfind('/').map_or(0, |slash| slash + 1);
    let (name, tag) = match name_and_tag[last_segment_start..].find(':') {
        Some(colon) => {
            let colon = last_segment_start + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag.filter(|tag| !is_tag(tag)) {
        return Err(format!(
            "the tag {tag:?} is invalid: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters"
        ));
    }
    let (domain, path) =
        split_name(name).ok_or_else(|| format!("{reference:?} is not a valid image reference"))?;
    if path.len() > PATH_LENGTH_MAX {
        return Err(format!(
            "the repository name is longer than {PATH_LENGTH_MAX} characters"
        ));
    }
    Ok(ImageReference {
        domain: domain.into(),
        path: path.into(),
        tag: tag.map(Into::into),
        digest: digest.map(Into::into),
    })
}

/// Splits a name into host and path, preferring a host when the first segment is one.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain_and_port(first)
        && is_path(rest)
    {
        return Some((first, rest));
    }
    is_path(name).then_some(("", name))
}

/// `host [':' port]`, where host is a domain name, an IPv4 address or a bracketed IPv6 address.
fn is_domain_and_port(domain: &str) -> bool {
    let (host_ok, port) = match domain.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((address, port)) => (
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
                port,
            ),
            None => return false,
        },
        None => {
            let (host, port) = domain.split_at(domain.find(':').unwrap_or(domain.len()));
            (host.split('.').all(is_domain_component), port)
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// One or more path components separated by '/'.
fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `[a-z0-9]+` runs joined by exactly one of `.`, `_`, `__` or a run of `-`.
fn is_path_component(component: &str) -> bool {
    let is_alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut index = 0;
    loop {
        let run_start = index;
        while index < bytes.len() && is_alphanumeric(bytes[index]) {
            index += 1;
        }
        if index == run_start {
            return false;
        }
        if index == bytes.len() {
            return true;
        }
        let separator_start = index;
        while index < bytes.len() && !is_alphanumeric(bytes[index]) {
            index += 1;
        }
        match &component[separator_start..index] {
            "." | "_" | "__" => {}
            dashes if dashes.bytes().all(|b| b == b'-') => {}
            _ => return false,
        }
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_LENGTH_MAX
        && is_word(bytes[0])
        && bytes.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
}

/// `[a-f0-9]{64}`: an image ID, which is not a name.
fn is_identifier(reference: &str) -> bool {
    reference.len() == 64
        && reference
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A digest of a registered algorithm with its exact lowercase hex length, as go-digest checks.
fn validate_digest(digest: &str) -> Result<(), String> {
    let (algorithm, encoded) = digest
        .split_once(':')
        .ok_or_else(|| format!("the digest {digest:?} is invalid: expected algorithm:hex"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "the digest algorithm {algorithm:?} is not supported: use sha256, sha384 or sha512"
            ));
        }
    };
    let lowercase_hex = encoded
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if encoded.len() != length || !lowercase_hex {
        return Err(format!(
            "the {algorithm} digest must be {length} lowercase hexadecimal characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn repository(image: &str) -> String {
        let parsed = ImageReference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        if parsed.domain.is_empty() {
            parsed.path
        } else {
            format!("{}/{}", parsed.domain, parsed.path)
        }
    }

    fn invalid(image: &str) -> String {
        match ImageReference::parse(image) {
            Ok(parsed) => panic!("{image} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn familiar_names_are_docker_hub_library_images() {
        assert_eq!(repository("nginx"), "docker.io/library/nginx");
        assert_eq!(repository("nginx:1.27"), "docker.io/library/nginx");
        assert_eq!(repository("docker.io/nginx"), "docker.io/library/nginx");
        assert_eq!(
            repository("index.docker.io/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(repository("library/nginx"), "docker.io/library/nginx");
        assert_eq!(
            repository("istio/proxyv2:1.22.0"),
            "docker.io/istio/proxyv2"
        );
        assert_eq!(
            repository("index.docker.io/istio/proxyv2"),
            "docker.io/istio/proxyv2"
        );
        assert_eq!(
            repository("docker.io/library/nginx:1.27"),
            "docker.io/library/nginx"
        );
    }

    #[test]
    fn tags_and_digests_are_split_off() {
        let parsed = ImageReference::parse(&format!("nginx:1.27@sha256:{SHA}")).unwrap();
        assert_eq!(parsed.path, "library/nginx");
        assert_eq!(parsed.tag.as_deref(), Some("1.27"));
        assert_eq!(parsed.digest, Some(format!("sha256:{SHA}")));
        let image = format!("my.registry:5000/mirror/istio/proxyv2@sha256:{SHA}");
        let parsed = ImageReference::parse(&image).unwrap();
        assert_eq!(parsed.domain, "my.registry:5000");
        assert_eq!(parsed.path, "mirror/istio/proxyv2");
        assert_eq!(parsed.tag, None);
        assert_eq!(
            parsed.path_segments().collect::<Vec<_>>(),
            ["mirror", "istio", "proxyv2"]
        );
        let parsed = ImageReference::parse("nginx:Latest_1.2-rc").unwrap();
        assert_eq!(parsed.tag.as_deref(), Some("Latest_1.2-rc"));
    }

    #[test]
    fn displays_the_normalised_reference() {
        let normalised = |image: &str| ImageReference::parse(image).unwrap().to_string();
        assert_eq!(normalised("nginx"), "docker.io/library/nginx");
        assert_eq!(
            normalised("index.docker.io/istio/proxyv2:1.22"),
            "docker.io/istio/proxyv2:1.22"
        );
        assert_eq!(
            normalised(&format!("k8s.gcr.io/pause:3.9@sha256:{SHA}")),
            format!("k8s.gcr.io/pause:3.9@sha256:{SHA}")
        );
        assert_eq!(normalised("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(
            normalised("my_registry.com/app:v1"),
            "my_registry.com/app:v1"
        );
    }

    fn prefix(text: &str) -> RepositoryPrefix {
        RepositoryPrefix::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn replaced(image: &str, from: &str, to: &str) -> Option<String> {
        ImageReference::parse(image)
            .unwrap()
            .replace_prefix(&prefix(from), &prefix(to))
    }

    #[test]
    fn prefixes_are_hosts_with_optional_paths() {
        assert_eq!(prefix("k8s.gcr.io").to_string(), "k8s.gcr.io");
        assert_eq!(prefix("k8s.gcr.io").segment_count(), 1);
        let cache = prefix("harbor.example.com:8443/k8s/mirror");
        assert_eq!(cache.domain, "harbor.example.com:8443");
        assert_eq!(cache.path, "k8s/mirror");
        assert_eq!(cache.segment_count(), 3);
        assert_eq!(prefix("index.docker.io").domain, "docker.io");
        assert_eq!(prefix("localhost").domain, "localhost");
        assert_eq!(prefix("registry:5000").domain, "registry:5000");
        assert_eq!(prefix("[::1]:5000/k8s").domain, "[::1]:5000");
        for (bad, reason) in [
            ("", "empty"),
            ("https://k8s.gcr.io", "scheme"),
            ("k8s.gcr.io/pause:3.9", "tag"),
            (&format!("k8s.gcr.io/pause@sha256:{SHA}"), "digest"),
            ("k8s.gcr.io:latest", "registry host"),
            ("google-containers", "registry host"),
            ("k8s.gcr.io/", "invalid path"),
            ("k8s.gcr.io//pause", "invalid path"),
            ("k8s.gcr.io/Pause", "invalid path"),
            ("-k8s.gcr.io", "registry host"),
        ] {
            let error = RepositoryPrefix::parse(bad).unwrap_err();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn prefixes_are_replaced_on_segment_boundaries() {
        let to = "registry.k8s.io";
        assert_eq!(
            replaced("k8s.gcr.io/pause:3.9", "k8s.gcr.io", to).as_deref(),
            Some("registry.k8s.io/pause:3.9")
        );
        let digest = format!("k8s.gcr.io/ingress-nginx/controller:v1.2.1@sha256:{SHA}");
        assert_eq!(
            replaced(&digest, "k8s.gcr.io", to),
            Some(format!(
                "registry.k8s.io/ingress-nginx/controller:v1.2.1@sha256:{SHA}"
            ))
        );
        assert_eq!(replaced("k8s.gcr.io.evil.com/x", "k8s.gcr.io", to), None);
        assert_eq!(replaced("k8s.gcr.io:443/pause", "k8s.gcr.io", to), None);
        assert_eq!(replaced("eu.k8s.gcr.io/pause", "k8s.gcr.io", to), None);
        assert_eq!(
            replaced("nginx:1.27", "docker.io", "harbor.example.com/hub").as_deref(),
            Some("harbor.example.com/hub/library/nginx:1.27")
        );
        let google = "gcr.io/google-containers";
        assert_eq!(
            replaced("gcr.io/google-containers/pause:3.1", google, to).as_deref(),
            Some("registry.k8s.io/pause:3.1")
        );
        assert_eq!(
            replaced("gcr.io/google-containers-extra/pause", google, to),
            None
        );
        assert_eq!(
            replaced("gcr.io/google-containers", google, "harbor.example.com/k8s").as_deref(),
            Some("harbor.example.com/k8s")
        );
        // A host alone cannot stand for a whole repository.
        assert_eq!(replaced("gcr.io/google-containers", google, to), None);
    }

    #[test]
    fn registry_hosts_ports_and_localhost() {
        assert_eq!(
            repository("gcr.io/istio-release/proxyv2:1.22.0"),
            "gcr.io/istio-release/proxyv2"
        );
        assert_eq!(
            repository("registry.local:5000/proxyv2"),
            "registry.local:5000/proxyv2"
        );
        assert_eq!(repository("localhost/app"), "localhost/app");
        assert_eq!(repository("localhost:5000/app:v1"), "localhost:5000/app");
        assert_eq!(repository("registry:5000/app"), "registry:5000/app");
        assert_eq!(repository("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
        assert_eq!(repository("[::1]:5000/app"), "[::1]:5000/app");
        assert_eq!(repository("[fe80::1]/app"), "[fe80::1]/app");
        // An uppercase first segment is a host, like Docker's.
        assert_eq!(repository("Registry/app"), "Registry/app");
        // A single element is a familiar name even when it looks like a host.
        assert_eq!(repository("localhost"), "docker.io/library/localhost");
        let parsed = ImageReference::parse("localhost:5000").unwrap();
        assert_eq!(parsed.path, "library/localhost");
        assert_eq!(parsed.tag.as_deref(), Some("5000"));
        // Not a valid host, but a valid path: the reference keeps no host.
        assert_eq!(repository("my_registry.com/app"), "my_registry.com/app");
    }

    #[test]
    fn path_component_separators() {
        assert_eq!(repository("a/b__c"), "docker.io/a/b__c");
        assert_eq!(repository("a/b---c"), "docker.io/a/b---c");
        assert_eq!(repository("a/b.c_d"), "docker.io/a/b.c_d");
        for image in [
            "a/b___c", "a/b.-c", "a/b..c", "a/-b", "a/b-", "a/.b", "a/b_",
        ] {
            invalid(image);
        }
    }

    #[test]
    fn uppercase_repositories_are_rejected() {
        assert!(
            invalid("NGINX").contains("must be lowercase"),
            "{}",
            invalid("NGINX")
        );
        assert!(invalid("istio/ProxyV2:1.22").contains("must be lowercase"));
        assert!(invalid("gcr.io/Istio/proxyv2").contains("must be lowercase"));
    }

    #[test]
    fn malformed_references_are_rejected() {
        invalid("");
        invalid(SHA);
        invalid("a//b");
        invalid("/nginx");
        invalid("nginx/");
        invalid("nginx:");
        invalid("nginx:-1");
        invalid("nginx:.1");
        invalid("nginx:1:2");
        invalid("nginx@");
        invalid(&format!("nginx@sha256:{}", &SHA[..32]));
        invalid(&format!("nginx@sha256:{}", SHA.to_uppercase()));
        invalid(&format!("nginx@md5:{SHA}"));
        invalid(&format!("nginx@sha256:{SHA}@sha256:{SHA}"));
        invalid("example.com:port/app");
        invalid("[fe80::1%eth0]:5000/app");
        invalid("[::1]x/app");
        invalid("-registry.io/app");
        invalid("nginx 1.27");
        invalid("ngin$x");
        assert!(ImageReference::parse(&format!("nginx:{}", "a".repeat(128))).is_ok());
        invalid(&format!("nginx:{}", "a".repeat(129)));
        assert!(ImageReference::parse(&format!("r.io/{}", "a".repeat(255))).is_ok());
        invalid(&format!("r.io/{}", "a".repeat(256)));
        assert!(ImageReference::parse(&format!("nginx@sha512:{SHA}{SHA}")).is_ok());
        invalid(&format!("nginx@sha512:{SHA}"));
    }
}
