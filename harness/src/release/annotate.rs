//! `kepguard annotate`: embeds a policy's metadata in its module, as `kwctl annotate` does.

use crate::host::{Limits, Policy};
use crate::release::metadata::{CUSTOM_SECTION, Metadata, USAGE};
use anyhow::{Context, Result, anyhow, bail};
use wasm_encoder::{CustomSection, RawSection};

/// Asks the module which waPC protocol it speaks, as `kwctl annotate` does.
pub fn protocol_version(name: &str, module: &[u8]) -> Result<String> {
    let policy = Policy::from_bytes(name, module, Limits::default(), false)?;
    let answer = policy
        .call("protocol_version", b"")
        .map_err(|error| anyhow!("module {name}: protocol_version failed: {error}"))?;
    let version: String = serde_json::from_slice(&answer).with_context(|| {
        format!(
            "module {name}: protocol_version answered {:?}, not a JSON string",
            String::from_utf8_lossy(&answer)
        )
    })?;
    if version != "v1" {
        bail!("module {name} speaks protocol {version}; Kubewarden's waPC protocol is v1");
    }
    Ok(version)
}

/// Returns the module with `metadata` (plus the protocol version and the README as the usage
/// annotation) in its `io.kubewarden.metadata` custom section, replacing any earlier one.
pub fn annotate(name: &str, module: &[u8], metadata: &Metadata, readme: &str) -> Result<Vec<u8>> {
    let mut metadata = metadata.clone();
    metadata.protocol_version = Some(protocol_version(name, module)?);
    metadata
        .annotations
        .insert(USAGE.to_string(), readme.to_string());
    let json = serde_json::to_vec(&metadata)?;

    let mut output = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.with_context(|| format!("module {name} is not valid WebAssembly"))?;
        if let wasmparser::Payload::CustomSection(reader) = &payload
            && reader.name() == CUSTOM_SECTION
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let range = usize::try_from(range.start)?..usize::try_from(range.end)?;
            output.section(&RawSection {
                id,
                data: &module[range],
            });
        }
    }
    output.section(&CustomSection {
        name: CUSTOM_SECTION.into(),
        data: json.into(),
    });
    let annotated = output.finish();
    wasmparser::validate(&annotated)
        .map_err(|error| anyhow!("the annotated module {name} is invalid: {error}"))?;
    Ok(annotated)
}
