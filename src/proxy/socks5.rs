//! SOCKS5 (RFC 1928) CONNECT with optional username/password (RFC 1929).

use std::fmt;
use std::net::IpAddr;

use super::{Credentials, ProxyError, TunnelStatus, check_target};

/// A SOCKS5 server's reply code other than success (RFC 1928 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Socks5Reply {
    /// 1: general SOCKS server failure.
    GeneralFailure,
    /// 2: connection not allowed by ruleset.
    NotAllowed,
    /// 3: network unreachable.
    NetworkUnreachable,
    /// 4: host unreachable (includes names the proxy cannot resolve).
    HostUnreachable,
    /// 5: connection refused by the target.
    ConnectionRefused,
    /// 6: TTL expired.
    TtlExpired,
    /// 7: command not supported.
    CommandNotSupported,
    /// 8: address type not supported.
    AddressTypeNotSupported,
    /// Any other code.
    Other(u8),
}

impl Socks5Reply {
    fn from_code(code: u8) -> Self {
        match code {
            1 => Self::GeneralFailure,
            2 => Self::NotAllowed,
            3 => Self::NetworkUnreachable,
            4 => Self::HostUnreachable,
            5 => Self::ConnectionRefused,
            6 => Self::TtlExpired,
            7 => Self::CommandNotSupported,
            8 => Self::AddressTypeNotSupported,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for Socks5Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::GeneralFailure => "general failure",
            Self::NotAllowed => "not allowed by the proxy's rules",
            Self::NetworkUnreachable => "network unreachable",
            Self::HostUnreachable => "host unreachable",
            Self::ConnectionRefused => "connection refused",
            Self::TtlExpired => "TTL expired",
            Self::CommandNotSupported => "command not supported",
            Self::AddressTypeNotSupported => "address type not supported",
            Self::Other(code) => return write!(f, "reply code {code}"),
        };
        f.write_str(text)
    }
}

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASS: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Method,
    Auth,
    Reply,
    Done,
}

/// A SOCKS5 tunnel being negotiated: see [`Tunnel`](super::Tunnel).
///
/// Offers "no authentication" and, given credentials, username/password;
/// asks the proxy to connect to the target by name (address type 3), so
/// the proxy resolves it; IP literals go as addresses.
pub struct Socks5 {
    phase: Phase,
    out: Option<Vec<u8>>,
    /// The reply bytes so far of the current phase (at most 262).
    reply: Vec<u8>,
    auth: Option<Vec<u8>>,
    connect: Vec<u8>,
}

impl fmt::Debug for Socks5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The auth message holds the password.
        f.debug_struct("Socks5")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Socks5 {
    /// A CONNECT to `host:port`, with credentials if given.
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<&Credentials>,
    ) -> Result<Self, ProxyError> {
        let host = check_target(host)?;
        let mut connect = vec![VERSION, 1, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => {
                connect.push(1);
                connect.extend_from_slice(&v4.octets());
            }
            Ok(IpAddr::V6(v6)) => {
                connect.push(4);
                connect.extend_from_slice(&v6.octets());
            }
            Err(_) => {
                connect.push(3);
                connect.push(
                    u8::try_from(host.len()).map_err(|_| ProxyError::InvalidTarget(host.into()))?,
                );
                connect.extend_from_slice(host.as_bytes());
            }
        }
        connect.extend_from_slice(&port.to_be_bytes());
        let auth = match credentials {
            Some(c) => {
                let user =
                    u8::try_from(c.user.len()).map_err(|_| ProxyError::CredentialsTooLong)?;
                let pass =
                    u8::try_from(c.password.len()).map_err(|_| ProxyError::CredentialsTooLong)?;
                let mut m = vec![1, user];
                m.extend_from_slice(c.user.as_bytes());
                m.push(pass);
                m.extend_from_slice(c.password.as_bytes());
                Some(m)
            }
            None => None,
        };
        let greeting = if auth.is_some() {
            vec![VERSION, 2, NO_AUTH, USER_PASS]
        } else {
            vec![VERSION, 1, NO_AUTH]
        };
        Ok(Self {
            phase: Phase::Method,
            out: Some(greeting),
            reply: Vec::new(),
            auth,
            connect,
        })
    }

    /// The next message to send, if one is due.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.take()
    }

    /// Feeds the proxy's replies.
    pub fn receive(&mut self, data: &[u8]) -> Result<TunnelStatus, ProxyError> {
        let mut offset = 0;
        loop {
            if self.phase == Phase::Done {
                return Err(ProxyError::Finished);
            }
            let want = self.wanted();
            let take = want
                .saturating_sub(self.reply.len())
                .min(data.len() - offset);
            self.reply.extend_from_slice(&data[offset..offset + take]);
            offset += take;
            // A reply's length is known only once its first bytes are in.
            if self.reply.len() < self.wanted() {
                if offset < data.len() {
                    continue;
                }
                return Ok(TunnelStatus::NeedMore);
            }
            let result = self.step();
            self.reply.clear();
            match result {
                Err(e) => {
                    self.phase = Phase::Done;
                    return Err(e);
                }
                Ok(true) => return Ok(TunnelStatus::Established { consumed: offset }),
                // The proxy answers only after our next message.
                Ok(false) if offset == data.len() => return Ok(TunnelStatus::NeedMore),
                Ok(false) => {
                    return Err(self.fail(ProxyError::MalformedReply("bytes ahead of a request")));
                }
            }
        }
    }

    /// Bytes the current reply has, as far as known (at most 262).
    fn wanted(&self) -> usize {
        match self.phase {
            Phase::Method | Phase::Auth => 2,
            Phase::Reply => match (self.reply.get(3), self.reply.get(4)) {
                (Some(1), _) => 10,
                (Some(4), _) => 22,
                (Some(3), Some(&len)) => 7 + usize::from(len),
                (Some(3), None) => 5,
                _ => 4,
            },
            Phase::Done => 0,
        }
    }

    /// Acts on a complete reply: `true` once established.
    fn step(&mut self) -> Result<bool, ProxyError> {
        let r = &self.reply;
        match self.phase {
            Phase::Method => {
                if r[0] != VERSION {
                    return Err(ProxyError::MalformedReply("not a SOCKS5 reply"));
                }
                match (r[1], self.auth.take()) {
                    (NO_ACCEPTABLE, _) => Err(ProxyError::NoAcceptableMethod),
                    (NO_AUTH, _) => {
                        self.out = Some(std::mem::take(&mut self.connect));
                        self.phase = Phase::Reply;
                        Ok(false)
                    }
                    (USER_PASS, Some(auth)) => {
                        self.out = Some(auth);
                        self.phase = Phase::Auth;
                        Ok(false)
                    }
                    _ => Err(ProxyError::MalformedReply("a method that was not offered")),
                }
            }
            Phase::Auth => {
                // RFC 1929 says version 1; some servers answer 5.
                if r[1] != 0 {
                    return Err(ProxyError::AuthenticationFailed { status: r[1] });
                }
                self.out = Some(std::mem::take(&mut self.connect));
                self.phase = Phase::Reply;
                Ok(false)
            }
            Phase::Reply => {
                if r[0] != VERSION {
                    return Err(ProxyError::MalformedReply("not a SOCKS5 reply"));
                }
                if r[1] != 0 {
                    return Err(ProxyError::Refused(Socks5Reply::from_code(r[1])));
                }
                if !matches!(r[3], 1 | 3 | 4) {
                    return Err(ProxyError::MalformedReply("unknown address type"));
                }
                self.phase = Phase::Done;
                Ok(true)
            }
            Phase::Done => Err(ProxyError::Finished),
        }
    }

    fn fail(&mut self, e: ProxyError) -> ProxyError {
        self.phase = Phase::Done;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user: "alice".into(),
            password: "pw".into(),
        }
    }

    #[test]
    fn with_credentials_byte_by_byte() {
        let mut t = Socks5::new("example.com", 443, Some(&creds())).unwrap();
        assert_eq!(t.poll_transmit().unwrap(), [5, 2, 0, 2]);
        assert_eq!(t.receive(&[5]), Ok(TunnelStatus::NeedMore));
        assert_eq!(t.receive(&[2]), Ok(TunnelStatus::NeedMore));
        assert_eq!(t.poll_transmit().unwrap(), b"\x01\x05alice\x02pw");
        assert_eq!(t.receive(&[1, 0]), Ok(TunnelStatus::NeedMore));
        let mut connect = vec![5, 1, 0, 3, 11];
        connect.extend_from_slice(b"example.com");
        connect.extend_from_slice(&[1, 187]);
        assert_eq!(t.poll_transmit().unwrap(), connect);
        // Bound to a name (type 3), then a byte from the target.
        let reply = [5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80, b'X'];
        for b in &reply[..9] {
            assert_eq!(
                t.receive(std::slice::from_ref(b)),
                Ok(TunnelStatus::NeedMore)
            );
        }
        assert_eq!(
            t.receive(&reply[9..]),
            Ok(TunnelStatus::Established { consumed: 1 })
        );
        assert_eq!(t.receive(b"more"), Err(ProxyError::Finished));
    }

    #[test]
    fn addresses_and_whole_replies() {
        let mut t = Socks5::new("[2001:db8::1]", 8080, None).unwrap();
        assert_eq!(t.poll_transmit().unwrap(), [5, 1, 0]);
        assert_eq!(t.receive(&[5, 0]), Ok(TunnelStatus::NeedMore));
        let connect = t.poll_transmit().unwrap();
        assert_eq!((connect[3], connect.len()), (4, 22));
        let mut reply = vec![5, 0, 0, 1, 10, 0, 0, 1, 0, 80];
        reply.extend_from_slice(b"tail");
        assert_eq!(
            t.receive(&reply),
            Ok(TunnelStatus::Established { consumed: 10 })
        );
        let mut v4 = Socks5::new("127.0.0.1", 1, None).unwrap();
        v4.poll_transmit();
        v4.receive(&[5, 0]).unwrap();
        assert_eq!(
            v4.poll_transmit().unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 0, 1]
        );
    }

    #[test]
    fn refusals() {
        let method = |reply: &[u8], credentials: Option<&Credentials>| {
            let mut t = Socks5::new("h", 1, credentials).unwrap();
            t.poll_transmit();
            t.receive(reply)
        };
        assert_eq!(
            method(&[5, 0xFF], None),
            Err(ProxyError::NoAcceptableMethod)
        );
        assert_eq!(
            method(&[5, 2], None),
            Err(ProxyError::MalformedReply("a method that was not offered"))
        );
        assert_eq!(
            method(&[4, 0], None),
            Err(ProxyError::MalformedReply("not a SOCKS5 reply"))
        );
        assert_eq!(
            method(&[5, 0, 1], None),
            Err(ProxyError::MalformedReply("bytes ahead of a request"))
        );
        let mut t = Socks5::new("h", 1, Some(&creds())).unwrap();
        t.receive(&[5, 2]).unwrap();
        assert_eq!(
            t.receive(&[1, 1]),
            Err(ProxyError::AuthenticationFailed { status: 1 })
        );
        for (code, reply) in [
            (1, Socks5Reply::GeneralFailure),
            (5, Socks5Reply::ConnectionRefused),
            (9, Socks5Reply::Other(9)),
        ] {
            let mut t = Socks5::new("h", 1, None).unwrap();
            t.receive(&[5, 0]).unwrap();
            assert_eq!(
                t.receive(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]),
                Err(ProxyError::Refused(reply))
            );
        }
        let mut t = Socks5::new("h", 1, None).unwrap();
        t.receive(&[5, 0]).unwrap();
        assert_eq!(
            t.receive(&[5, 0, 0, 7]),
            Err(ProxyError::MalformedReply("unknown address type"))
        );
        assert!(matches!(
            Socks5::new(&"a".repeat(256), 1, None),
            Err(ProxyError::InvalidTarget(_))
        ));
        assert!(!format!("{:?}", Socks5::new("h", 1, Some(&creds())).unwrap()).contains("pw"));
    }
}
