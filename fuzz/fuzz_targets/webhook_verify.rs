#![no_main]
//! Webhook verification with arbitrary headers and body, for every built-in
//! scheme. The checks live in tests/webhook_fuzz.rs, which `cargo test` runs
//! over generated inputs too.
#[path = "../../tests/webhook_fuzz.rs"]
mod webhook_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| webhook_fuzz::webhook_verify(data));
