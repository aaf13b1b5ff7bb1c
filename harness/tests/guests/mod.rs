//! Small hand-written waPC guests shared by the harness's tests.

/// A waPC guest whose answer depends on the operation's name length:
/// `validate_settings` (17), `validate` (8), `protocol_version` (16).
pub fn answering_guest(settings_answer: &str, validate_answer: &str) -> Vec<u8> {
    let data = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    wat::parse_str(format!(
        r#"(module
          (import "wapc" "__guest_request" (func $request (param i32 i32)))
          (import "wapc" "__guest_response" (func $response (param i32 i32)))
          (memory (export "memory") 2)
          (data (i32.const 1024) "{settings}")
          (data (i32.const 8192) "{validate}")
          (func (export "wapc_init"))
          (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
            (call $request (i32.const 65536) (i32.const 65600))
            (if (i32.eq (local.get $op_len) (i32.const 17))
              (then (call $response (i32.const 1024) (i32.const {settings_len})))
              (else (call $response (i32.const 8192) (i32.const {validate_len}))))
            (i32.const 1)))"#,
        settings = data(settings_answer),
        validate = data(validate_answer),
        settings_len = settings_answer.len(),
        validate_len = validate_answer.len(),
    ))
    .expect("valid WAT")
}

/// A guest whose `__guest_call` body is `body`.
pub fn guest_with_body(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
          (memory (export "memory") 1)
          (func (export "__guest_call") (param i32 i32) (result i32) {body}))"#
    ))
    .expect("valid WAT")
}
