//! `kepguard sign`, `verify`, `sign-blob`, `verify-blob` and `generate-key-pair`: cosign
//! signatures made and checked with sigstore-rs, the crate policy-evaluator (and so kwctl and
//! policy-server) verifies policies with.
//!
//! A signature is what `cosign sign --key` writes: a simple-signing payload naming the signed
//! manifest digest, in a layer of media type `application/vnd.dev.cosign.simplesigning.v1+json`
//! whose `dev.cosignproject.cosign/signature` annotation holds the base64 ECDSA signature, in an
//! image tagged `sha256-<hex>.sig` in the policy's repository. Keys are cosign's: an
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (scrypt + secretbox) opened with `$COSIGN_PASSWORD`, and a
//! PEM public key. Blob signatures are `cosign sign-blob`'s: base64 of the ECDSA signature.

use crate::release::oci;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use sigstore::cosign::constraint::PrivateKeySigner;
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{
    ClientBuilder, Constraint, CosignCapabilities, SignatureLayer, verify_constraints,
};
use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
use sigstore::crypto::signing_key::{
    COSIGN_PRIVATE_KEY_PEM_LABEL, PRIVATE_KEY_PEM_LABEL, SIGSTORE_PRIVATE_KEY_PEM_LABEL,
};
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, Signature};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
use std::path::Path;

/// Where cosign, and so kepguard, reads the private key's password.
pub const PASSWORD_VARIABLE: &str = "COSIGN_PASSWORD";

/// A new cosign key pair: the private key encrypted with `password`, and the public key, both PEM.
pub fn generate_key_pair(password: &str) -> Result<(String, String)> {
    let keys = ECDSAKeys::new(EllipticCurve::P256).context("cannot generate an ECDSA P-256 key")?;
    let private = keys
        .as_inner()
        .private_key_to_encrypted_pem(password.as_bytes())
        .context("cannot encrypt the private key")?;
    let public = keys
        .as_inner()
        .public_key_to_pem()
        .context("cannot encode the public key")?;
    Ok((private.to_string(), public))
}

/// A private key, read and decrypted once; it makes one signer per signature.
pub struct SigningKey(ECDSAKeys);

impl SigningKey {
    fn signer(&self) -> Result<SigStoreSigner> {
        self.0
            .to_sigstore_signer()
            .context("cannot sign with the key")
    }
}

/// Reads a cosign private key, decrypting it with `password` (`$COSIGN_PASSWORD`).
pub fn load_signing_key(path: &Path, password: &str) -> Result<SigningKey> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read the private key {}", path.display()))?;
    let label =
        pem_label(&text).with_context(|| format!("{} is not a PEM private key", path.display()))?;
    let keys = match label.as_str() {
        COSIGN_PRIVATE_KEY_PEM_LABEL | SIGSTORE_PRIVATE_KEY_PEM_LABEL => {
            ECDSAKeys::from_encrypted_pem(&text, password.as_bytes()).map_err(|error| {
                anyhow!(
                    "cannot decrypt the private key {} with ${PASSWORD_VARIABLE} (wrong password?): {error}",
                    path.display()
                )
            })?
        }
        PRIVATE_KEY_PEM_LABEL => ECDSAKeys::from_pem(&text).map_err(|error| {
            anyhow!(
                "{} is not an ECDSA private key: {error}",
                path.display()
            )
        })?,
        other => bail!(
            "{} holds a {other}; expected a cosign private key (ENCRYPTED SIGSTORE PRIVATE KEY), \
             as `cosign generate-key-pair` or `kepguard generate-key-pair` write",
            path.display()
        ),
    };
    Ok(SigningKey(keys))
}

/// Reads a PEM public key (`cosign.pub`).
pub fn load_public_key(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    CosignVerificationKey::try_from_pem(&text)
        .map_err(|error| anyhow!("{} is not a PEM public key: {error}", path.display()))?;
    Ok(text)
}

fn pem_label(text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(text[start..start + end].to_string())
}

/// Parses a reference and requires it to name a manifest digest.
pub fn pinned_reference(text: &str) -> Result<OciReference> {
    let reference = oci::parse_reference(text)?;
    if reference.digest().is_none() {
        bail!(
            "{text} names no digest: sign registry/repository@sha256:..., the reference \
             `kepguard push` and `make publish` print, so the signature covers exactly that module"
        );
    }
    cosign_reference(text)
}

fn cosign_reference(text: &str) -> Result<OciReference> {
    let bare = text.strip_prefix("registry://").unwrap_or(text);
    bare.parse()
        .map_err(|error| anyhow!("{text} is not an image reference: {error}"))
}

fn cosign_client(reference: &OciReference) -> Result<sigstore::cosign::Client> {
    let registry = reference.resolve_registry().to_string();
    let protocol = if oci::is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    ClientBuilder::default()
        .with_oci_client_config(ClientConfig {
            protocol,
            ..Default::default()
        })
        .build()
        .context("cannot set up the cosign client")
}

fn cosign_auth(text: &str) -> Result<Auth> {
    Ok(match oci::registry_auth(&oci::parse_reference(text)?)? {
        oci_client::secrets::RegistryAuth::Basic(user, password) => Auth::Basic(user, password),
        oci_client::secrets::RegistryAuth::Bearer(token) => Auth::Bearer(token),
        oci_client::secrets::RegistryAuth::Anonymous => Auth::Anonymous,
    })
}

/// Signs the manifest `reference` (`registry/repo@sha256:...`) names, and pushes the signature to
/// its `sha256-<hex>.sig` tag; returns that tag's reference. The key is read before the registry
/// is contacted, and the manifest must exist there.
///
/// Like `cosign sign --key`, without Rekor: the signature lives in the registry only.
pub fn sign(reference: &str, key: &SigningKey) -> Result<String> {
    let image = pinned_reference(reference)?;
    let signer = key.signer()?;
    let auth = cosign_auth(reference)?;
    let mut client = cosign_client(&image)?;
    oci::runtime()?.block_on(async {
        let (signature_image, digest) = client
            .triangulate(&image, &auth)
            .await
            .with_context(|| format!("cannot find {reference} in the registry"))?;
        let expected = image.digest().unwrap_or_default();
        if digest != expected {
            bail!("the registry answered digest {digest} for {reference}");
        }
        let mut layer = SignatureLayer::new_unsigned(&image, &digest)
            .context("cannot build the simple-signing payload")?;
        let signed = PrivateKeySigner::new_with_signer(signer)
            .add_constraint(&mut layer)
            .context("cannot sign the payload")?;
        if !signed {
            bail!("the payload for {reference} could not be signed");
        }
        client
            .push_signature(None, &auth, &signature_image, vec![layer])
            .await
            .with_context(|| format!("cannot push the signature to {signature_image}"))?;
        Ok(signature_image.to_string())
    })
}

/// What a successful verification found.
pub struct Verified {
    /// The manifest digest the reference resolved to, and the signatures cover.
    pub digest: String,
    /// `registry/repo:sha256-<hex>.sig`.
    pub signature_image: String,
}

/// Checks that the manifest `reference` resolves to has a cosign signature made with
/// `public_key` (PEM), as policy-server's verification does.
pub fn verify(reference: &str, public_key: &[u8]) -> Result<Verified> {
    let image = cosign_reference(reference)?;
    let verifier = PublicKeyVerifier::try_from(public_key)
        .map_err(|error| anyhow!("the public key is not usable: {error}"))?;
    let auth = cosign_auth(reference)?;
    let mut client = cosign_client(&image)?;
    let (signature_image, digest, layers) = oci::runtime()?.block_on(async {
        let (signature_image, digest) = client
            .triangulate(&image, &auth)
            .await
            .with_context(|| format!("cannot find {reference} in the registry"))?;
        // Only layers whose payload names `digest` come back: a signature copied from another
        // module is dropped here.
        let layers = client
            .trusted_signature_layers(&auth, &image)
            .await
            .with_context(|| format!("cannot read the signatures of {reference}"))?;
        anyhow::Ok((signature_image, digest, layers))
    })?;
    if let Some(expected) = image.digest()
        && expected != digest
    {
        bail!("{reference}: the registry resolved it to {digest}");
    }
    if layers.is_empty() {
        let tag_exists = oci::manifest_exists(&signature_image.to_string())?;
        if tag_exists {
            bail!(
                "{reference} ({digest}) is not signed: {signature_image} holds no signature of \
                 that digest (its signatures were made for another module)"
            );
        }
        bail!("{reference} ({digest}) is not signed: there is no {signature_image}");
    }
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    if verify_constraints(&layers, constraints.iter()).is_err() {
        bail!(
            "{reference} ({digest}) has {} signature(s) in {signature_image}, but none made with \
             this key",
            layers.len()
        );
    }
    Ok(Verified {
        digest,
        signature_image: signature_image.to_string(),
    })
}

/// The base64 signature of `blob`, as `cosign sign-blob --key` prints it.
pub fn sign_blob(blob: &[u8], key: &SigningKey) -> Result<String> {
    let signature = key.signer()?.sign(blob).context("cannot sign the blob")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}

/// Checks a `cosign sign-blob` signature (base64, surrounding whitespace ignored).
pub fn verify_blob(blob: &[u8], signature: &str, public_key: &[u8]) -> Result<()> {
    let key = CosignVerificationKey::try_from_pem(public_key)
        .map_err(|error| anyhow!("the public key is not usable: {error}"))?;
    key.verify_signature(Signature::Base64Encoded(signature.trim().as_bytes()), blob)
        .map_err(|_| anyhow!("the signature does not match this content and key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_pair_signs_and_verifies_blobs_and_needs_its_password() {
        let dir = std::env::temp_dir().join(format!("kepguard-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (private, public) = generate_key_pair("secret").unwrap();
        assert!(private.contains("BEGIN ENCRYPTED SIGSTORE PRIVATE KEY"));
        let key = dir.join("cosign.key");
        std::fs::write(&key, &private).unwrap();

        let signing_key = load_signing_key(&key, "secret").unwrap();
        let signature = sign_blob(b"content", &signing_key).unwrap();
        verify_blob(b"content", &signature, public.as_bytes()).unwrap();
        let error = verify_blob(b"changed", &signature, public.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
        let (_, other_public) = generate_key_pair("").unwrap();
        assert!(verify_blob(b"content", &signature, other_public.as_bytes()).is_err());

        let Err(error) = load_signing_key(&key, "wrong") else {
            panic!("a wrong password opened the key");
        };
        assert!(error.to_string().contains("wrong password"), "{error}");
        std::fs::write(&key, &public).unwrap();
        let Err(error) = load_signing_key(&key, "secret") else {
            panic!("a public key was taken for a private key");
        };
        assert!(error.to_string().contains("holds a PUBLIC KEY"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signing_needs_a_digest() {
        let error = pinned_reference("127.0.0.1:5000/policies/x:v1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("names no digest"), "{error}");
        let digest = format!("sha256:{}", "a".repeat(64));
        let reference = pinned_reference(&format!("127.0.0.1:5000/policies/x@{digest}")).unwrap();
        assert_eq!(reference.digest(), Some(digest.as_str()));
    }
}
