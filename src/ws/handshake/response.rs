//! Parsing the server's response (client side) and writing response heads.

use http::{HeaderMap, Response};

use super::HandshakeError;
use super::head::{MAX_HEADER_LINES, header_map, httparse_error, version};

/// Parses a complete response head.
pub(crate) fn parse_response_head(
    head: &[u8],
    max_headers: usize,
) -> Result<Response<()>, HandshakeError> {
    let max_headers = max_headers.min(MAX_HEADER_LINES);
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut res = httparse::Response::new(&mut headers);
    match res
        .parse(head)
        .map_err(|e| httparse_error(e, max_headers))?
    {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(HandshakeError::Malformed("incomplete head")),
    }
    let status = http::StatusCode::from_u16(res.code.unwrap_or_default())
        .map_err(|_| HandshakeError::Malformed("invalid status"))?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version(res.version);
    *response.headers_mut() = header_map(head, res.headers)?;
    Ok(response)
}

/// Appends an HTTP/1.1 response head (status line, headers, blank line).
///
/// ```
/// use webwire::ws::handshake::write_response;
///
/// let response = http::Response::builder().status(101).header("upgrade", "websocket").body(())?;
/// let mut out = Vec::new();
/// write_response(&response, &mut out);
/// assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
/// # Ok::<(), http::Error>(())
/// ```
pub fn write_response(response: &Response<()>, out: &mut Vec<u8>) {
    let status = response.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(response.headers(), out);
}

/// Appends headers and the blank line that ends the head.
pub(crate) fn write_headers(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
