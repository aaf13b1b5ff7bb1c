//! The signing commands: generate-key-pair, sign, verify, sign-blob and verify-blob.

use crate::release::signing::{self, PASSWORD_VARIABLE, SigningKey};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct GenerateKeyPairArgs {
    /// Writes PREFIX.key (encrypted with $COSIGN_PASSWORD) and PREFIX.pub.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: PathBuf,
}

#[derive(Args)]
pub struct SignArgs {
    /// registry/repository@sha256:..., as `kepguard push` prints it.
    pub reference: String,
    /// A cosign private key; its password comes from $COSIGN_PASSWORD.
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// registry/repository:tag or registry/repository@sha256:...
    pub reference: String,
    /// The PEM public key (cosign.pub).
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Args)]
pub struct SignBlobArgs {
    pub file: PathBuf,
    /// A cosign private key; its password comes from $COSIGN_PASSWORD.
    #[arg(long)]
    pub key: PathBuf,
    /// Where the base64 signature goes; default: FILE.sig.
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyBlobArgs {
    pub file: PathBuf,
    /// The PEM public key (cosign.pub).
    #[arg(long)]
    pub key: PathBuf,
    /// The base64 signature; default: FILE.sig.
    #[arg(long)]
    pub signature: Option<PathBuf>,
}

/// The password of the private key, from the environment as cosign reads it; unset means empty.
pub fn password() -> String {
    std::env::var(PASSWORD_VARIABLE).unwrap_or_default()
}

/// Reads and decrypts a private key, so that a bad key stops a command before it writes.
pub fn signing_key(path: &Path) -> Result<SigningKey> {
    signing::load_signing_key(path, &password())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub fn generate_key_pair(args: GenerateKeyPairArgs) -> Result<ExitCode> {
    let private_path = with_suffix(&args.output_key_prefix, ".key");
    let public_path = with_suffix(&args.output_key_prefix, ".pub");
    for path in [&private_path, &public_path] {
        if path.exists() {
            bail!("{} exists already; not overwriting a key", path.display());
        }
    }
    if std::env::var_os(PASSWORD_VARIABLE).is_none() {
        bail!("set ${PASSWORD_VARIABLE} to the password that encrypts the private key");
    }
    let (private, public) = signing::generate_key_pair(&password())?;
    std::fs::write(&private_path, private)
        .with_context(|| format!("cannot write {}", private_path.display()))?;
    std::fs::write(&public_path, public)
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!(
        "Private key written to {}\nPublic key written to {}",
        private_path.display(),
        public_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sign(args: SignArgs) -> Result<ExitCode> {
    signing::pinned_reference(&args.reference)?;
    let key = signing_key(&args.key)?;
    let signature = signing::sign(&args.reference, &key)
        .with_context(|| format!("cannot sign {}", args.reference))?;
    println!("{signature}");
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let public_key = signing::load_public_key(&args.key)?;
    let verified = signing::verify(&args.reference, &public_key)?;
    println!(
        "{}: {} is signed with {} (signature {})",
        args.reference,
        verified.digest,
        args.key.display(),
        verified.signature_image
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sign_blob(args: SignBlobArgs) -> Result<ExitCode> {
    let key = signing_key(&args.key)?;
    let blob = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let signature = signing::sign_blob(&blob, &key)?;
    let output = args
        .output_signature
        .unwrap_or_else(|| with_suffix(&args.file, ".sig"));
    std::fs::write(&output, &signature)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!("{}", output.display());
    Ok(ExitCode::SUCCESS)
}

pub fn verify_blob(args: VerifyBlobArgs) -> Result<ExitCode> {
    let public_key = signing::load_public_key(&args.key)?;
    let blob = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let signature_path = args
        .signature
        .unwrap_or_else(|| with_suffix(&args.file, ".sig"));
    let signature = std::fs::read_to_string(&signature_path)
        .with_context(|| format!("cannot read {}", signature_path.display()))?;
    signing::verify_blob(&blob, &signature, &public_key)
        .with_context(|| format!("{} is not verified", args.file.display()))?;
    println!(
        "{}: signature {} verified with {}",
        args.file.display(),
        signature_path.display(),
        args.key.display()
    );
    Ok(ExitCode::SUCCESS)
}
