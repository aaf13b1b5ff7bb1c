//! A waPC host over the browser's (or Node's) `WebAssembly` API. It answers the imports of a
//! Kubewarden policy module the way the kepguard harness does on wasmtime: the waPC exchange,
//! the SDK's log call answered with success, every other host capability refused with a clear
//! error, and the few WASI preview 1 functions the Rust toolchain links in.

use js_sys::{Array, Function, Object, Reflect, Uint8Array, WebAssembly};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const WAPC: &str = "wapc";
const WASI: &str = "wasi_snapshot_preview1";

/// Every import the host answers, by module. Any other import is refused before instantiation.
const ANSWERED: [(&str, &[&str]); 2] = [
    (
        WAPC,
        &[
            "__guest_request",
            "__guest_response",
            "__guest_error",
            "__host_call",
            "__host_response",
            "__host_response_len",
            "__host_error",
            "__host_error_len",
            "__console_log",
        ],
    ),
    (
        WASI,
        &[
            "random_get",
            "environ_get",
            "environ_sizes_get",
            "fd_write",
            "proc_exit",
        ],
    ),
];

/// The one host capability answered: the SDK's log call.
const LOG_CAPABILITY: &str = "kubewarden/tracing/log";

/// The exports a host runs after instantiation, in this order, when the module has them.
const INITIALISERS: [&str; 3] = ["_initialize", "_start", "wapc_init"];

/// The waPC exchange of the current call, and what the guest logged.
#[derive(Default)]
struct Exchange {
    memory: Option<WebAssembly::Memory>,
    operation: Vec<u8>,
    payload: Vec<u8>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<Vec<u8>>,
    host_error: Vec<u8>,
    log: Vec<String>,
}

/// A compiled policy module and the imports each of its instances gets.
pub struct Guest {
    module: WebAssembly::Module,
    imports: Object,
    initialisers: Vec<&'static str>,
    exchange: Rc<RefCell<Exchange>>,
    /// Keeps the import dispatcher alive as long as the module can call it.
    _dispatcher: Closure<dyn FnMut(String, Array) -> Result<JsValue, JsValue>>,
}

fn js_error(message: impl AsRef<str>) -> JsValue {
    js_sys::Error::new(message.as_ref()).into()
}

fn message_of(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

impl Guest {
    /// Compiles a module, refusing it, by name, if it is not WebAssembly, is no waPC policy,
    /// or imports anything the host does not answer.
    pub fn compile(bytes: &[u8]) -> Result<Guest, String> {
        let module = WebAssembly::Module::new(&Uint8Array::from(bytes))
            .map_err(|error| format!("not a valid WebAssembly module: {}", message_of(&error)))?;
        let unknown: Vec<String> = WebAssembly::Module::imports(&module)
            .iter()
            .filter_map(|import| {
                let field = |name: &str| {
                    Reflect::get(&import, &name.into())
                        .ok()
                        .and_then(|value| value.as_string())
                        .unwrap_or_default()
                };
                let (module, name, kind) = (field("module"), field("name"), field("kind"));
                let answered = kind == "function"
                    && ANSWERED
                        .iter()
                        .any(|(m, names)| *m == module && names.contains(&name.as_str()));
                (!answered).then(|| format!("{module}.{name} ({kind})"))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "the module imports what the playground does not provide: {}",
                unknown.join(", ")
            ));
        }
        let exports: Vec<String> = WebAssembly::Module::exports(&module)
            .iter()
            .filter_map(|export| Reflect::get(&export, &"name".into()).ok()?.as_string())
            .collect();
        if !exports.iter().any(|name| name == "__guest_call") {
            return Err("not a waPC policy: the module does not export __guest_call".into());
        }
        let initialisers = INITIALISERS
            .into_iter()
            .filter(|name| exports.iter().any(|export| export == name))
            .collect();
        let exchange = Rc::new(RefCell::new(Exchange::default()));
        let state = exchange.clone();
        let dispatcher = Closure::<dyn FnMut(String, Array) -> Result<JsValue, JsValue>>::new(
            move |name: String, args: Array| answer(&mut state.borrow_mut(), &name, &args),
        );
        let imports = import_object(dispatcher.as_ref().unchecked_ref())?;
        Ok(Guest {
            module,
            imports,
            initialisers,
            exchange,
            _dispatcher: dispatcher,
        })
    }

    /// The text of a custom section, such as `io.kubewarden.metadata`.
    pub fn custom_section(&self, name: &str) -> Option<String> {
        let sections = WebAssembly::Module::custom_sections(&self.module, name);
        let section = sections.get(0);
        let buffer = section.dyn_ref::<js_sys::ArrayBuffer>()?;
        String::from_utf8(Uint8Array::new(buffer).to_vec()).ok()
    }

    /// Takes the lines the guest logged since the last time.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.exchange.borrow_mut().log)
    }

    /// Runs one waPC operation on a fresh instance, as policy-server does.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let instance =
            WebAssembly::Instance::new(&self.module, &self.imports).map_err(|error| {
                format!("the module cannot be instantiated: {}", message_of(&error))
            })?;
        let exports = instance.exports();
        let export =
            |name: &str| Reflect::get(&exports, &name.into()).unwrap_or(JsValue::UNDEFINED);
        {
            let mut exchange = self.exchange.borrow_mut();
            exchange.memory = export("memory").dyn_into().ok();
            if exchange.memory.is_none() {
                return Err("the module does not export its memory".into());
            }
            exchange.operation = operation.as_bytes().to_vec();
            exchange.payload = payload.to_vec();
            exchange.guest_response = None;
            exchange.guest_error = None;
        }
        let trapped = |error: JsValue| format!("the guest trapped: {}", message_of(&error));
        for initialiser in &self.initialisers {
            let function: Function = export(initialiser)
                .dyn_into()
                .map_err(|_| format!("{initialiser} is not a function"))?;
            function.call0(&JsValue::NULL).map_err(trapped)?;
        }
        let guest_call: Function = export("__guest_call")
            .dyn_into()
            .map_err(|_| "__guest_call is not a function".to_string())?;
        let outcome = guest_call
            .call2(
                &JsValue::NULL,
                &(operation.len() as f64).into(),
                &(payload.len() as f64).into(),
            )
            .map_err(trapped)?;
        let mut exchange = self.exchange.borrow_mut();
        exchange.memory = None;
        exchange.payload = Vec::new();
        if outcome.as_f64() == Some(1.0) {
            exchange
                .guest_response
                .take()
                .ok_or_else(|| "the guest reported success but sent no response".into())
        } else {
            Err(exchange
                .guest_error
                .take()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_else(|| "the guest reported failure without a message".into()))
        }
    }
}

/// `{wapc: {...}, wasi_snapshot_preview1: {...}}`, each import a small JS function that hands
/// its name and arguments to `dispatcher` (one closure serves every arity).
fn import_object(dispatcher: &Function) -> Result<Object, String> {
    let forwarder = Function::new_with_args(
        "dispatch, name",
        "return function (...args) { return dispatch(name, args); };",
    );
    let imports = Object::new();
    for (module, names) in ANSWERED {
        let functions = Object::new();
        for name in names {
            let function = forwarder
                .call2(&JsValue::NULL, dispatcher, &JsValue::from_str(name))
                .map_err(|error| message_of(&error))?;
            Reflect::set(&functions, &JsValue::from_str(name), &function)
                .map_err(|error| message_of(&error))?;
        }
        Reflect::set(&imports, &JsValue::from_str(module), &functions)
            .map_err(|error| message_of(&error))?;
    }
    Ok(imports)
}

fn arg(args: &Array, index: u32) -> u32 {
    // Wasm i32 arguments arrive as JS numbers; pointers and lengths are unsigned.
    args.get(index).as_f64().unwrap_or_default() as i32 as u32
}

/// Answers one import call. An `Err` throws, which traps the guest.
fn answer(exchange: &mut Exchange, name: &str, args: &Array) -> Result<JsValue, JsValue> {
    let ok = JsValue::UNDEFINED;
    match name {
        "__guest_request" => {
            let operation = std::mem::take(&mut exchange.operation);
            let payload = std::mem::take(&mut exchange.payload);
            exchange.write(arg(args, 0), &operation)?;
            exchange.write(arg(args, 1), &payload)?;
            exchange.operation = operation;
            Ok(ok)
        }
        "__guest_response" => {
            exchange.guest_response = Some(exchange.read(arg(args, 0), arg(args, 1))?);
            Ok(ok)
        }
        "__guest_error" => {
            exchange.guest_error = Some(exchange.read(arg(args, 0), arg(args, 1))?);
            Ok(ok)
        }
        "__host_call" => {
            let mut parts = Vec::with_capacity(4);
            for pair in 0..4 {
                parts.push(exchange.read(arg(args, 2 * pair), arg(args, 2 * pair + 1))?);
            }
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let capability = format!(
                "{}/{}/{}",
                text(&parts[0]),
                text(&parts[1]),
                text(&parts[2])
            );
            exchange.host_error.clear();
            // The SDK traps when its log call fails, so logging always succeeds.
            if capability == LOG_CAPABILITY {
                exchange.log.push(text(&parts[3]));
                return Ok(1.into());
            }
            exchange.host_error =
                format!("host capability {capability} is not available in the playground")
                    .into_bytes();
            Ok(0.into())
        }
        "__host_response" => Ok(ok),
        "__host_response_len" => Ok(0.into()),
        "__host_error" => {
            let error = exchange.host_error.clone();
            exchange.write(arg(args, 0), &error)?;
            Ok(ok)
        }
        "__host_error_len" => Ok((exchange.host_error.len() as u32).into()),
        "__console_log" => {
            let line = exchange.read(arg(args, 0), arg(args, 1))?;
            exchange
                .log
                .push(String::from_utf8_lossy(&line).into_owned());
            Ok(ok)
        }
        "random_get" => {
            // Only hash-map seeds come from here; Math.random is enough for those.
            let bytes: Vec<u8> = (0..arg(args, 1))
                .map(|_| (js_sys::Math::random() * 256.0) as u8)
                .collect();
            exchange.write(arg(args, 0), &bytes)?;
            Ok(0.into())
        }
        "environ_sizes_get" => {
            exchange.write(arg(args, 0), &0u32.to_le_bytes())?;
            exchange.write(arg(args, 1), &0u32.to_le_bytes())?;
            Ok(0.into())
        }
        "environ_get" => Ok(0.into()),
        "fd_write" => {
            let (iovs, count, written_ptr) = (arg(args, 1), arg(args, 2), arg(args, 3));
            let mut text = Vec::new();
            for index in 0..count.min(1024) {
                let iov = exchange.read(iovs.wrapping_add(index * 8), 8)?;
                let ptr = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
                let len = u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
                text.extend(exchange.read(ptr, len)?);
            }
            exchange.write(written_ptr, &(text.len() as u32).to_le_bytes())?;
            exchange
                .log
                .extend(String::from_utf8_lossy(&text).lines().map(str::to_string));
            Ok(0.into())
        }
        "proc_exit" => Err(js_error(format!(
            "the module called proc_exit({})",
            arg(args, 0) as i32
        ))),
        other => Err(js_error(format!("import {other} is not answered"))),
    }
}

impl Exchange {
    fn bytes(&self) -> Result<Uint8Array, JsValue> {
        self.memory
            .as_ref()
            .map(|memory| Uint8Array::new(&memory.buffer()))
            .ok_or_else(|| js_error("the guest called the host outside a call"))
    }

    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>, JsValue> {
        let bytes = self.bytes()?;
        let end = u64::from(ptr) + u64::from(len);
        if end > u64::from(bytes.length()) {
            return Err(js_error(format!(
                "guest buffer {ptr}..{end} is out of bounds"
            )));
        }
        Ok(bytes.subarray(ptr, ptr + len).to_vec())
    }

    fn write(&self, ptr: u32, data: &[u8]) -> Result<(), JsValue> {
        let bytes = self.bytes()?;
        let end = u64::from(ptr) + data.len() as u64;
        if end > u64::from(bytes.length()) {
            return Err(js_error(format!("guest buffer at {ptr} is out of bounds")));
        }
        bytes.subarray(ptr, ptr + data.len() as u32).copy_from(data);
        Ok(())
    }
}
