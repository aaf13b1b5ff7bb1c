//! The host against small hand-written waPC modules: each misbehaviour must end in a clear
//! error that names the module, never a crash or a hang.

mod guests;

use guests::{answering_guest, guest_with_body};
use kepguard::host::{CallError, Limits, Policy};
use std::time::Duration;

fn load(name: &str, bytes: &[u8]) -> Policy {
    Policy::from_bytes(name, bytes, Limits::default(), false).expect("the module loads")
}

#[test]
fn answers_each_operation() {
    let policy = load(
        "answering.wasm",
        &answering_guest(r#"{"valid":true}"#, r#"{"accepted":true}"#),
    );
    assert_eq!(
        policy.call("validate_settings", b"{}").unwrap(),
        br#"{"valid":true}"#
    );
    assert_eq!(
        policy.call("validate", b"{}").unwrap(),
        br#"{"accepted":true}"#
    );
}

#[test]
fn a_trap_is_an_error_not_a_crash() {
    let policy = load("trap.wasm", &guest_with_body("unreachable"));
    let error = policy.call("validate", b"{}").unwrap_err();
    assert!(matches!(error, CallError::Trap(_)), "{error}");
    assert!(error.to_string().contains("unreachable"), "{error}");
}

#[test]
fn an_endless_loop_is_stopped_by_the_deadline() {
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let policy = Policy::from_bytes(
        "loop.wasm",
        &guest_with_body("(loop $forever (br $forever)) (i32.const 1)"),
        limits,
        false,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let error = policy.call("validate", b"{}").unwrap_err();
    assert!(matches!(error, CallError::Timeout(_)), "{error}");
    assert_eq!(
        error.to_string(),
        "evaluation stopped: deadline of 200ms exceeded"
    );
    // Generous: the point is that it returns at all.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn unbounded_allocation_is_stopped_by_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let body = "(loop $grow (drop (memory.grow (i32.const 16))) (br $grow)) (i32.const 1)";
    let policy = Policy::from_bytes("alloc.wasm", &guest_with_body(body), limits, false).unwrap();
    let error = policy.call("validate", b"{}").unwrap_err();
    assert!(matches!(error, CallError::MemoryLimit(_)), "{error}");
    assert_eq!(
        error.to_string(),
        "evaluation stopped: memory limit of 16 MiB exceeded"
    );
}

#[test]
fn a_guest_error_carries_its_message() {
    let bytes = wat::parse_str(
        r#"(module
          (import "wapc" "__guest_error" (func $error (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "no handler")
          (func (export "__guest_call") (param i32 i32) (result i32)
            (call $error (i32.const 16) (i32.const 10))
            (i32.const 0)))"#,
    )
    .unwrap();
    let error = load("error.wasm", &bytes)
        .call("validate", b"{}")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the policy returned an error: no handler"
    );
}

/// The guest logs through the SDK's host call, then asks for an OCI capability and
/// answers with the host's error text.
#[test]
fn logging_succeeds_and_other_capabilities_are_refused_by_name() {
    let bytes = wat::parse_str(
        r#"(module
          (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
          (import "wapc" "__host_error_len" (func $error_len (result i32)))
          (import "wapc" "__host_error" (func $host_error (param i32)))
          (import "wapc" "__guest_response" (func $response (param i32 i32)))
          (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "kubewarden")
          (data (i32.const 16) "tracing")
          (data (i32.const 32) "log")
          (data (i32.const 48) "{\"msg\":\"hello\"}")
          (data (i32.const 80) "oci")
          (data (i32.const 96) "v1/verify")
          (func (export "__guest_call") (param i32 i32) (result i32)
            (if (i32.ne (call $host_call (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 7)
                                         (i32.const 32) (i32.const 3) (i32.const 48) (i32.const 15))
                        (i32.const 1))
              (then (unreachable)))
            (if (i32.eq (call $host_call (i32.const 0) (i32.const 10) (i32.const 80) (i32.const 3)
                                         (i32.const 96) (i32.const 9) (i32.const 48) (i32.const 0))
                        (i32.const 1))
              (then (unreachable)))
            (call $host_error (i32.const 1024))
            (call $guest_error (i32.const 1024) (call $error_len))
            (i32.const 0)))"#,
    )
    .unwrap();
    let policy = Policy::from_bytes("capabilities.wasm", &bytes, Limits::default(), true).unwrap();
    let error = policy.call("validate", b"{}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the policy returned an error: host capability kubewarden/oci/v1/verify is not available in the kepguard harness"
    );
}

#[test]
fn a_module_without_the_wapc_exports_is_refused_by_name() {
    let bytes = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let error = Policy::from_bytes("empty.wasm", &bytes, Limits::default(), false)
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "module empty.wasm is not a waPC policy: it does not export __guest_call"
    );
}

#[test]
fn a_file_that_is_not_wasm_is_refused_by_name() {
    let error = Policy::from_bytes("notes.txt", b"hello, world", Limits::default(), false)
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("module notes.txt is not a valid WebAssembly module"),
        "{error}"
    );
}

#[test]
fn an_unknown_import_is_refused_by_name() {
    let bytes = wat::parse_str(
        r#"(module
          (import "env" "mystery" (func))
          (memory (export "memory") 1)
          (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    )
    .unwrap();
    let error = Policy::from_bytes("imports.wasm", &bytes, Limits::default(), false)
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("module imports.wasm cannot be linked"),
        "{error}"
    );
}

#[test]
fn every_call_gets_a_fresh_instance() {
    // The guest counts its calls in a global and answers with the count's digit.
    let bytes = wat::parse_str(
        r#"(module
          (import "wapc" "__guest_response" (func $response (param i32 i32)))
          (memory (export "memory") 1)
          (global $calls (mut i32) (i32.const 0))
          (func (export "__guest_call") (param i32 i32) (result i32)
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $calls)))
            (call $response (i32.const 0) (i32.const 1))
            (i32.const 1)))"#,
    )
    .unwrap();
    let policy = load("counter.wasm", &bytes);
    assert_eq!(policy.call("validate", b"").unwrap(), b"1");
    assert_eq!(policy.call("validate", b"").unwrap(), b"1");
    let mut warm = policy.instantiate().unwrap();
    assert_eq!(warm.call("validate", b"").unwrap(), b"1");
    assert_eq!(warm.call("validate", b"").unwrap(), b"2");
}
