//! Why a call into a module failed.

use super::Limits;
use std::fmt;
use std::time::Duration;
use wasmtime::Trap;

/// Why a call into a module failed.
#[derive(Debug)]
pub enum CallError {
    /// The module answered the call with a waPC error (`__guest_error`).
    Guest(String),
    /// The evaluation ran past its deadline and was stopped.
    Timeout(Duration),
    /// The module tried to grow its memory past the limit.
    MemoryLimit(usize),
    /// The module trapped, or the host could not run it.
    Trap(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Guest(message) => write!(f, "the policy returned an error: {message}"),
            CallError::Timeout(limit) => {
                write!(f, "evaluation stopped: deadline of {limit:?} exceeded")
            }
            CallError::MemoryLimit(limit) => write!(
                f,
                "evaluation stopped: memory limit of {} MiB exceeded",
                limit >> 20
            ),
            CallError::Trap(message) => write!(f, "the policy trapped: {message}"),
        }
    }
}

pub(crate) fn classify(error: wasmtime::Error, limits: Limits) -> CallError {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Timeout(limits.timeout);
    }
    let message = format!("{error:#}");
    if message.contains("forcing trap when growing memory") {
        return CallError::MemoryLimit(limits.memory_bytes);
    }
    CallError::Trap(message)
}
