//! Input for `decode_structured`: frames built by `webwire::ws::arbitrary`
//! (valid and deliberately broken), so the fuzzer spends its time past the
//! header checks. Shared with `tests/fuzz_corpus.rs`.

use arbitrary::Unstructured;
use webwire::ws::Role;
use webwire::ws::arbitrary::WireFrame;

/// Builds a frame stream from fuzzer bytes and runs the decode checks on it.
pub fn decode_structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(role_byte) = u.arbitrary::<u8>() else {
        return;
    };
    let Ok(stream) = WireFrame::stream(&mut u) else {
        return;
    };
    let role = if role_byte & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let mut input = vec![role_byte];
    input.extend_from_slice(&stream);
    super::checks::decode(role, &input);
}
