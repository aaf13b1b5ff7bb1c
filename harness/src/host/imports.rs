//! The host side of the waPC protocol, in the import module `wapc`: one function per import.
//! The SDK's logging call is answered with success (it traps otherwise); every other host
//! capability is refused by name.

use super::instance::HostState;
use wasmtime::{Caller, Extern, Linker};

/// The import module of every waPC host function.
pub const WAPC: &str = "wapc";
pub const GUEST_REQUEST: &str = "__guest_request";
pub const GUEST_RESPONSE: &str = "__guest_response";
pub const GUEST_ERROR: &str = "__guest_error";
pub const HOST_CALL: &str = "__host_call";
pub const HOST_RESPONSE: &str = "__host_response";
pub const HOST_RESPONSE_LEN: &str = "__host_response_len";
pub const HOST_ERROR: &str = "__host_error";
pub const HOST_ERROR_LEN: &str = "__host_error_len";
pub const CONSOLE_LOG: &str = "__console_log";
/// The one host capability answered: the SDK's log call.
pub const LOG_CAPABILITY: &str = "kubewarden/tracing/log";

// Host functions answer in wasmtime's own error type; an error there traps the guest.

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the module does not export its memory"),
    }
}

fn read_guest(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start.saturating_add(len as u32 as usize);
    memory
        .data(&caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("guest buffer {start}..{end} is out of bounds"))
}

fn write_guest(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|_| wasmtime::format_err!("guest buffer at {ptr} is out of bounds"))
}

/// Links every waPC import.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(WAPC, GUEST_REQUEST, guest_request)?;
    linker.func_wrap(WAPC, GUEST_RESPONSE, guest_response)?;
    linker.func_wrap(WAPC, GUEST_ERROR, guest_error)?;
    linker.func_wrap(WAPC, HOST_CALL, host_call)?;
    linker.func_wrap(WAPC, HOST_RESPONSE, host_response)?;
    linker.func_wrap(WAPC, HOST_RESPONSE_LEN, host_response_len)?;
    linker.func_wrap(WAPC, HOST_ERROR, host_error)?;
    linker.func_wrap(WAPC, HOST_ERROR_LEN, host_error_len)?;
    linker.func_wrap(WAPC, CONSOLE_LOG, console_log)?;
    Ok(())
}

/// Writes the operation and payload of the current call into the guest's buffers.
fn guest_request(
    mut caller: Caller<'_, HostState>,
    operation_ptr: i32,
    payload_ptr: i32,
) -> wasmtime::Result<()> {
    let operation = std::mem::take(&mut caller.data_mut().operation);
    let payload = std::mem::take(&mut caller.data_mut().payload);
    write_guest(&mut caller, operation_ptr, &operation)?;
    write_guest(&mut caller, payload_ptr, &payload)?;
    caller.data_mut().operation = operation;
    Ok(())
}

fn guest_response(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let bytes = read_guest(&mut caller, ptr, len)?;
    caller.data_mut().guest_response = Some(bytes);
    Ok(())
}

fn guest_error(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let bytes = read_guest(&mut caller, ptr, len)?;
    caller.data_mut().guest_error = Some(bytes);
    Ok(())
}

#[allow(clippy::too_many_arguments)] // The waPC ABI passes four (pointer, length) pairs.
fn host_call(
    mut caller: Caller<'_, HostState>,
    binding_ptr: i32,
    binding_len: i32,
    namespace_ptr: i32,
    namespace_len: i32,
    operation_ptr: i32,
    operation_len: i32,
    payload_ptr: i32,
    payload_len: i32,
) -> wasmtime::Result<i32> {
    let binding = read_guest(&mut caller, binding_ptr, binding_len)?;
    let namespace = read_guest(&mut caller, namespace_ptr, namespace_len)?;
    let operation = read_guest(&mut caller, operation_ptr, operation_len)?;
    let payload = read_guest(&mut caller, payload_ptr, payload_len)?;
    let state = caller.data_mut();
    state.host_response.clear();
    state.host_error.clear();
    let capability = format!(
        "{}/{}/{}",
        String::from_utf8_lossy(&binding),
        String::from_utf8_lossy(&namespace),
        String::from_utf8_lossy(&operation)
    );
    // The SDK traps when its log call fails, so logging always succeeds.
    if capability == LOG_CAPABILITY {
        if state.verbose {
            eprintln!("policy log: {}", String::from_utf8_lossy(&payload));
        }
        return Ok(1);
    }
    state.host_error =
        format!("host capability {capability} is not available in the kepguard harness")
            .into_bytes();
    Ok(0)
}

fn host_response(mut caller: Caller<'_, HostState>, ptr: i32) -> wasmtime::Result<()> {
    let bytes = caller.data().host_response.clone();
    write_guest(&mut caller, ptr, &bytes)
}

fn host_response_len(caller: Caller<'_, HostState>) -> i32 {
    caller.data().host_response.len() as i32
}

fn host_error(mut caller: Caller<'_, HostState>, ptr: i32) -> wasmtime::Result<()> {
    let bytes = caller.data().host_error.clone();
    write_guest(&mut caller, ptr, &bytes)
}

fn host_error_len(caller: Caller<'_, HostState>) -> i32 {
    caller.data().host_error.len() as i32
}

fn console_log(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let bytes = read_guest(&mut caller, ptr, len)?;
    if caller.data().verbose {
        eprintln!("policy console: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(())
}
