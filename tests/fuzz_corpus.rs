//! Replays the checked-in fuzz corpus (fuzz/corpus/<target>/) through the
//! same invariant checks the fuzz targets assert.
#![cfg(feature = "ws")]

#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;
#[cfg(feature = "arbitrary")]
#[path = "../fuzz/fuzz_targets/structured.rs"]
mod structured;

use std::fs;
use std::path::Path;

fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = fs::read(&path).expect("corpus file");
        check(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
    n
}

#[test]
fn frame_header_corpus() {
    replay("frame_header", checks::frame_header);
}

#[test]
fn decode_server_corpus() {
    replay("decode_server", |d| {
        checks::decode(webwire::ws::Role::Server, d)
    });
}

#[test]
fn decode_client_corpus() {
    replay("decode_client", |d| {
        checks::decode(webwire::ws::Role::Client, d)
    });
}

#[cfg(feature = "arbitrary")]
#[test]
fn decode_structured_corpus() {
    replay("decode_structured", structured::decode_structured);
}

#[test]
fn handshake_request_corpus() {
    replay("handshake_request", checks::handshake_request);
}

#[test]
fn handshake_response_corpus() {
    replay("handshake_response", checks::handshake_response);
}

#[cfg(feature = "deflate")]
#[test]
fn decode_deflate_corpus() {
    replay("decode_deflate", checks::decode_deflate);
}

#[test]
fn connection_config_corpus() {
    replay("connection_config", checks::connection_config);
}

#[test]
fn proxy_http_connect_corpus() {
    replay("proxy_http_connect", |d| {
        checks::proxy_tunnel(webwire::proxy::ProxyKind::Http, d)
    });
}

#[test]
fn proxy_socks5_corpus() {
    replay("proxy_socks5", |d| {
        checks::proxy_tunnel(webwire::proxy::ProxyKind::Socks5, d)
    });
}
