//! `kepguard push` and `pull`: annotated modules in an OCI registry, in Kubewarden's layout
//! (the one `kwctl push` writes and policy-server pulls): an image manifest whose config has
//! media type `application/vnd.wasm.config.v1+json`, one `application/vnd.wasm.content.layer.v1+wasm`
//! layer, and the module's single-line metadata annotations as manifest annotations.

use crate::release::metadata::{Metadata, SOURCE};
use anyhow::{Context, Result, anyhow, bail};
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{OciImageManifest, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const OCI_IMAGE_SOURCE: &str = "org.opencontainers.image.source";

/// Parses `registry/repo:tag` or `registry/repo@sha256:...`, with or without `registry://`.
pub fn parse_reference(text: &str) -> Result<Reference> {
    let bare = text.strip_prefix("registry://").unwrap_or(text);
    bare.parse()
        .map_err(|error| anyhow!("{text} is not an image reference: {error}"))
}

/// Whether the registry is on this machine, where plain HTTP is used.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.split(':').next().unwrap_or(registry)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// Registries to reach without TLS, and extra certificate authorities, in the format of
/// kwctl's and policy-server's `sources.yml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sources {
    pub insecure_sources: Vec<String>,
    /// Per registry, its CA certificates: `- path: ca.pem` or `- data: <PEM>`.
    pub source_authorities: BTreeMap<String, Vec<SourceAuthority>>,
}

/// One CA certificate of `source_authorities`; kwctl's older `type: Path|Data` is accepted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceAuthority {
    #[serde(rename = "type")]
    _type: Option<String>,
    path: Option<std::path::PathBuf>,
    data: Option<String>,
}

impl Sources {
    pub fn load(path: &std::path::Path) -> Result<Sources> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the sources file {}", path.display()))?;
        serde_norway::from_str(&text)
            .with_context(|| format!("the sources file {} is not valid", path.display()))
    }

    fn certificates(&self) -> Result<Vec<Certificate>> {
        let mut certificates = Vec::new();
        for (registry, authorities) in &self.source_authorities {
            for authority in authorities {
                let data = match (&authority.path, &authority.data) {
                    (Some(path), None) => std::fs::read(path).with_context(|| {
                        format!("cannot read the CA of {registry}: {}", path.display())
                    })?,
                    (None, Some(data)) => data.clone().into_bytes(),
                    _ => bail!("each CA of {registry} needs either a path or data"),
                };
                let encoding = if data.starts_with(b"-----BEGIN") {
                    CertificateEncoding::Pem
                } else {
                    CertificateEncoding::Der
                };
                certificates.push(Certificate { encoding, data });
            }
        }
        Ok(certificates)
    }
}

fn client(reference: &Reference, sources: &Sources) -> Result<Client> {
    let registry = reference.resolve_registry().to_string();
    let mut insecure = sources.insecure_sources.clone();
    if is_loopback(&registry) {
        insecure.push(registry);
    }
    let protocol = if insecure.is_empty() {
        ClientProtocol::Https
    } else {
        ClientProtocol::HttpsExcept(insecure)
    };
    Ok(Client::new(ClientConfig {
        protocol,
        extra_root_certificates: sources.certificates()?,
        ..Default::default()
    }))
}

/// Credentials for the registry from the Docker config file (`$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`, credential helpers included); anonymous when it has none.
pub fn registry_auth(reference: &Reference) -> Result<RegistryAuth> {
    use docker_credential::{CredentialRetrievalError as Error, DockerCredential};
    let server = reference.resolve_registry();
    match docker_credential::get_credential(server) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(RegistryAuth::Bearer(token)),
        Err(Error::ConfigNotFound | Error::ConfigReadError | Error::NoCredentialConfigured) => {
            Ok(RegistryAuth::Anonymous)
        }
        Err(error) => Err(anyhow!(
            "cannot read the credentials for {server} from the Docker config: {error}"
        )),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The manifest annotations for a module's metadata: the single-line annotations, trimmed, plus
/// `org.opencontainers.image.source`, as `kwctl push` does.
pub fn manifest_annotations(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = metadata
        .annotations
        .iter()
        .filter(|(_, value)| value.trim().lines().count() <= 1)
        .map(|(key, value)| (key.clone(), value.trim().to_string()))
        .collect();
    if let Some(source) = annotations.get(SOURCE).cloned() {
        annotations
            .entry(OCI_IMAGE_SOURCE.to_string())
            .or_insert(source);
    }
    annotations
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Pushes an annotated module; returns the immutable reference `registry/repo@sha256:...`.
pub fn push(module: &[u8], target: &str) -> Result<String> {
    let metadata = Metadata::from_module(module)?.ok_or_else(|| {
        anyhow!("the module is not annotated: run `kepguard annotate` first, then push build/annotated/<policy>.wasm")
    })?;
    let reference = parse_reference(target)?;
    if reference.digest().is_some() {
        bail!("{target}: push to a tag, not to a digest");
    }
    let layers = [ImageLayer::new(
        module.to_vec(),
        WASM_LAYER_MEDIA_TYPE.to_string(),
        None,
    )];
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_string(), None);
    let manifest = OciImageManifest::build(&layers, &config, Some(manifest_annotations(&metadata)));
    let client = client(&reference, &Sources::default())?;
    let auth = registry_auth(&reference)?;
    let digest = runtime()?.block_on(async {
        client
            .push(&reference, &layers, config, &auth, Some(manifest))
            .await
            .with_context(|| format!("cannot push to {target}"))?;
        client
            .fetch_manifest_digest(&reference, &auth)
            .await
            .with_context(|| format!("cannot read back the digest of {target}"))
    })?;
    Ok(format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    ))
}

/// Whether the registry holds a manifest at `reference`.
pub fn manifest_exists(reference: &str) -> Result<bool> {
    let parsed = parse_reference(reference)?;
    let client = client(&parsed, &Sources::default())?;
    let auth = registry_auth(&parsed)?;
    match runtime()?.block_on(client.fetch_manifest_digest(&parsed, &auth)) {
        Ok(_) => Ok(true),
        Err(oci_client::errors::OciDistributionError::ImageManifestNotFoundError(_)) => Ok(false),
        Err(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
            if envelope
                .errors
                .iter()
                .any(|error| error.code == oci_client::errors::OciErrorCode::ManifestUnknown) =>
        {
            Ok(false)
        }
        Err(oci_client::errors::OciDistributionError::ServerError { code: 404, .. }) => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot look up {reference}")),
    }
}

/// A module fetched from a registry.
pub struct Pulled {
    pub module: Vec<u8>,
    /// The manifest's digest.
    pub digest: String,
    /// `registry/repo@sha256:...`.
    pub reference: String,
    pub annotations: BTreeMap<String, String>,
}

/// The immutable reference `registry/repo@sha256:...` a reference points at now: a tag is
/// resolved by the registry, a digest reference is returned as it is.
pub fn resolve(source: &str, sources: &Sources) -> Result<String> {
    let reference = parse_reference(source)?;
    let digest = match reference.digest() {
        Some(digest) => digest.to_string(),
        None => {
            let client = client(&reference, sources)?;
            let auth = registry_auth(&reference)?;
            runtime()?
                .block_on(client.fetch_manifest_digest(&reference, &auth))
                .with_context(|| format!("cannot resolve {source}"))?
        }
    };
    Ok(format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    ))
}

/// Pulls a policy module pushed in Kubewarden's layout, checking the layout and the layer digest.
pub fn pull(source: &str) -> Result<Pulled> {
    pull_from(source, &Sources::default())
}

/// [`pull`] with the registries' settings of a `sources.yml`.
pub fn pull_from(source: &str, sources: &Sources) -> Result<Pulled> {
    let reference = parse_reference(source)?;
    let client = client(&reference, sources)?;
    let auth = registry_auth(&reference)?;
    let image = runtime()?
        .block_on(client.pull(&reference, &auth, vec![WASM_LAYER_MEDIA_TYPE]))
        .with_context(|| format!("cannot pull {source}"))?;
    if image.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        bail!(
            "{source} is not a Kubewarden policy: its config media type is {}",
            image.config.media_type
        );
    }
    let manifest = image
        .manifest
        .ok_or_else(|| anyhow!("{source}: the registry sent no manifest"))?;
    let [layer] = image.layers.as_slice() else {
        bail!(
            "{source} has {} layers; a policy has exactly one",
            image.layers.len()
        );
    };
    let expected = &manifest.layers[0].digest;
    let actual = sha256(&layer.data);
    if &actual != expected {
        bail!("{source}: the layer's digest is {actual}, but the manifest says {expected}");
    }
    let digest = image
        .digest
        .ok_or_else(|| anyhow!("{source}: the registry sent no manifest digest"))?;
    Ok(Pulled {
        module: layer.data.to_vec(),
        reference: format!(
            "{}/{}@{digest}",
            reference.registry(),
            reference.repository()
        ),
        digest,
        annotations: manifest.annotations.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_registries_use_plain_http() {
        for registry in [
            "localhost:5000",
            "127.0.0.1:41234",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "docker.io",
        ] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }

    #[test]
    fn sources_files_in_kwctl_s_format_are_read() {
        let sources: Sources = serde_norway::from_str(
            "insecure_sources: [\"registry.local:5000\"]\nsource_authorities:\n  \"corp.example:5000\":\n    - type: Data\n      data: \"-----BEGIN CERTIFICATE-----\\nAA==\\n-----END CERTIFICATE-----\\n\"\n    - path: /nonexistent/ca.der\n",
        )
        .unwrap();
        assert_eq!(sources.insecure_sources, ["registry.local:5000"]);
        // The unreadable file is named with its registry.
        let error = sources.certificates().unwrap_err().to_string();
        assert!(
            error.contains("corp.example:5000") && error.contains("/nonexistent/ca.der"),
            "{error}"
        );
        let typo = serde_norway::from_str::<Sources>("insecure_source: [x]\n");
        assert!(typo.is_err());
    }

    #[test]
    fn references_accept_the_registry_scheme() {
        let reference = parse_reference("registry://ghcr.io/kepguard/policies/x:v0.1.0").unwrap();
        assert_eq!(reference.registry(), "ghcr.io");
        assert_eq!(reference.repository(), "kepguard/policies/x");
        assert_eq!(reference.tag(), Some("v0.1.0"));
    }
}
