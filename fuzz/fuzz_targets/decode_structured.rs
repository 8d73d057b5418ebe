//! Frames built by `webwire::ws::arbitrary` (valid and deliberately broken),
//! so the fuzzer spends its time past the header checks.
#![no_main]
#[path = "checks.rs"]
mod checks;

use arbitrary::Unstructured;
use webwire::ws::arbitrary::WireFrame;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(role_byte) = u.arbitrary::<u8>() else { return };
    let Ok(stream) = WireFrame::stream(&mut u) else { return };
    let role = if role_byte & 1 == 0 { webwire::ws::Role::Server } else { webwire::ws::Role::Client };
    let mut input = vec![role_byte];
    input.extend_from_slice(&stream);
    checks::decode(role, &input);
});
