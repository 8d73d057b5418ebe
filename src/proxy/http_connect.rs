//! HTTP CONNECT (RFC 9110 §9.3.6): one request, one response head.

use super::{Credentials, MAX_REPLY_LEN, ProxyError, TunnelStatus, check_target};

/// An HTTP CONNECT tunnel being negotiated: see [`Tunnel`](super::Tunnel).
///
/// Sends `CONNECT host:port HTTP/1.1` with `Host` and, given credentials,
/// `Proxy-Authorization: Basic`; reads the response head (interim 1xx
/// responses are skipped) and succeeds on any 2xx.
#[derive(Debug)]
pub struct HttpConnect {
    request: Option<Vec<u8>>,
    head: Vec<u8>,
    done: bool,
}

impl HttpConnect {
    /// A CONNECT to `host:port`, with Basic credentials if given.
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<&Credentials>,
    ) -> Result<Self, ProxyError> {
        let host = check_target(host)?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(c) = credentials {
            let mut token = String::new();
            crate::encoding::b64_encode(
                format!("{}:{}", c.user, c.password).as_bytes(),
                &mut token,
            );
            request.push_str("Proxy-Authorization: Basic ");
            request.push_str(&token);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        Ok(Self {
            request: Some(request.into_bytes()),
            head: Vec::new(),
            done: false,
        })
    }

    /// The request, once.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.request.take()
    }

    /// Feeds the proxy's response.
    pub fn receive(&mut self, data: &[u8]) -> Result<TunnelStatus, ProxyError> {
        if self.done {
            return Err(ProxyError::Finished);
        }
        let mut offset = 0;
        loop {
            let before = self.head.len();
            let room = MAX_REPLY_LEN - before;
            let take = (data.len() - offset).min(room);
            self.head.extend_from_slice(&data[offset..offset + take]);
            // The head ends at the first CRLF CRLF; search only where it can
            // newly appear.
            let from = before.saturating_sub(3);
            let Some(end) = find_head_end(&self.head[from..]).map(|e| from + e) else {
                if self.head.len() >= MAX_REPLY_LEN {
                    self.done = true;
                    return Err(ProxyError::ReplyTooLong);
                }
                return Ok(TunnelStatus::NeedMore);
            };
            offset += end - before;
            let status = self.status(end);
            let status = match status {
                Ok(status) => status,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            if (100..200).contains(&status) {
                // An interim response: the real one follows.
                self.head.clear();
                if offset == data.len() {
                    return Ok(TunnelStatus::NeedMore);
                }
                continue;
            }
            self.done = true;
            return match status {
                200..=299 => Ok(TunnelStatus::Established { consumed: offset }),
                407 => Err(ProxyError::AuthenticationRequired {
                    challenge: self.header(end, "proxy-authenticate"),
                }),
                _ => Err(ProxyError::HttpStatus { status }),
            };
        }
    }

    /// The status code of the head in `self.head[..end]`.
    fn status(&self, end: usize) -> Result<u16, ProxyError> {
        let line_end = self.head[..end]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(end);
        let line = &self.head[..line_end];
        let rest = line
            .strip_prefix(b"HTTP/1.")
            .filter(|r| r.len() >= 5 && r[0].is_ascii_digit() && r[1] == b' ')
            .ok_or(ProxyError::MalformedReply("not an HTTP/1.x status line"))?;
        let code = &rest[2..5];
        if !code.iter().all(u8::is_ascii_digit) || rest.get(5).is_some_and(|&b| b != b' ') {
            return Err(ProxyError::MalformedReply("bad status code"));
        }
        Ok(code
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
    }

    /// The value of header `name` (lower case) in the head, if present and
    /// printable.
    fn header(&self, end: usize, name: &str) -> Option<String> {
        let head = std::str::from_utf8(&self.head[..end]).ok()?;
        head.split("\r\n").skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// The offset just past the first `\r\n\r\n`.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tunnel(credentials: Option<&Credentials>) -> HttpConnect {
        HttpConnect::new("example.com", 443, credentials).unwrap()
    }

    #[test]
    fn request_bytes() {
        let c = Credentials {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        };
        let mut t = tunnel(Some(&c));
        assert_eq!(
            t.poll_transmit().unwrap(),
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
              Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert_eq!(t.poll_transmit(), None);
        let mut v6 = HttpConnect::new("[::1]", 80, None).unwrap();
        assert!(
            v6.poll_transmit()
                .unwrap()
                .starts_with(b"CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n")
        );
        assert!(matches!(
            HttpConnect::new("a b\r\nX: y", 80, None),
            Err(ProxyError::InvalidTarget(_))
        ));
    }

    #[test]
    fn responses_byte_by_byte_with_interim_and_early_tunnel_bytes() {
        let reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nVia: x\r\n\r\nHELLO";
        let mut t = tunnel(None);
        for (i, b) in reply.iter().enumerate() {
            match t.receive(std::slice::from_ref(b)).unwrap() {
                TunnelStatus::NeedMore => assert!(i < reply.len() - 6),
                TunnelStatus::Established { consumed } => {
                    assert_eq!((i, consumed), (reply.len() - 6, 1));
                    break;
                }
            }
        }
        let mut t = tunnel(None);
        assert_eq!(
            t.receive(reply).unwrap(),
            TunnelStatus::Established {
                consumed: reply.len() - 5
            }
        );
        assert_eq!(t.receive(b"x"), Err(ProxyError::Finished));
    }

    #[test]
    fn refusals() {
        let cases: [(&[u8], ProxyError); 5] = [
            (
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n",
                ProxyError::AuthenticationRequired {
                    challenge: Some("Basic realm=\"corp\"".into()),
                },
            ),
            (b"HTTP/1.1 403 Forbidden\r\n\r\n", ProxyError::HttpStatus { status: 403 }),
            (b"HTTP/1.1 502\r\n\r\n", ProxyError::HttpStatus { status: 502 }),
            (b"SSH-2.0-OpenSSH\r\n\r\n", ProxyError::MalformedReply("not an HTTP/1.x status line")),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", ProxyError::MalformedReply("bad status code")),
        ];
        for (reply, error) in cases {
            assert_eq!(tunnel(None).receive(reply), Err(error));
        }
        let mut t = tunnel(None);
        let endless = vec![b'a'; MAX_REPLY_LEN + 10];
        assert_eq!(
            t.receive(b"HTTP/1.1 200 OK\r\n"),
            Ok(TunnelStatus::NeedMore)
        );
        assert_eq!(t.receive(&endless), Err(ProxyError::ReplyTooLong));
    }
}
