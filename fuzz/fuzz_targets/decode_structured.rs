#![no_main]
#[path = "checks.rs"]
mod checks;
#[path = "structured.rs"]
mod structured;

libfuzzer_sys::fuzz_target!(|data: &[u8]| structured::decode_structured(data));
