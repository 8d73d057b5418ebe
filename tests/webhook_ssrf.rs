//! SSRF guard vectors: schemes, user information, IPv4 and IPv6 literals of
//! every special range, IPv4-mapped and embedded forms, and hosts that some
//! parser would read as a decimal, octal or hexadecimal IPv4 address.
#![cfg(feature = "webhook")]

use std::net::IpAddr;

use proptest::prelude::*;
use webwire::webhook::{AddressClass, SsrfError, SsrfPolicy};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn public_urls_pass() {
    let guard = SsrfPolicy::default();
    for url in [
        "https://hooks.example.com/in",
        "https://hooks.example.com:8443/in?a=1",
        "HTTPS://Hooks.Example.COM/",
        "https://example.com./",
        "https://my_host.example.com/",
        "https://93.184.215.14/hooks",
        "https://8.8.8.8:443/",
        "https://[2606:4700:4700::1111]/",
        "https://[2001:4860:4860::8888]:8443/x",
        "https://1.1.1.1",
        "https://xn--bcher-kva.example/",
        "https://123.example.com/", // numeric label, but not the last one
        "https://example.0com/",
    ] {
        let uri = guard
            .check_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(uri.host().is_some());
    }
}

#[test]
fn schemes_and_userinfo() {
    let guard = SsrfPolicy::default();
    for url in [
        "http://example.com/",
        "ftp://example.com/",
        "file://example.com/etc/passwd",
        "gopher://example.com/",
        "ws://example.com/",
    ] {
        assert!(
            matches!(guard.check_url(url), Err(SsrfError::SchemeNotAllowed(_))),
            "{url}"
        );
    }
    assert!(
        SsrfPolicy::default()
            .allow_http()
            .check_url("http://example.com/")
            .is_ok()
    );
    for url in [
        "https://user@example.com/",
        "https://user:pass@example.com/",
        "https://@example.com/",
        "https://example.com@127.0.0.1/",
        "https://127.0.0.1@example.com/",
    ] {
        assert_eq!(guard.check_url(url), Err(SsrfError::UserInfo), "{url}");
    }
    for url in [
        "",
        "/relative",
        "example.com",
        "https://",
        "https:///path",
        "https://exa mple.com/",
        "not a url",
    ] {
        assert!(guard.check_url(url).is_err(), "{url}");
    }
}

#[test]
fn ipv4_literals_by_class() {
    let vectors = [
        ("0.0.0.0", AddressClass::Unspecified),
        ("0.1.2.3", AddressClass::Unspecified),
        ("10.0.0.1", AddressClass::Private),
        ("10.255.255.255", AddressClass::Private),
        ("100.64.0.1", AddressClass::SharedCgnat),
        ("100.127.255.254", AddressClass::SharedCgnat),
        ("127.0.0.1", AddressClass::Loopback),
        ("127.255.255.254", AddressClass::Loopback),
        ("169.254.169.254", AddressClass::LinkLocal),
        ("172.16.0.1", AddressClass::Private),
        ("172.31.255.255", AddressClass::Private),
        ("192.0.0.8", AddressClass::Reserved),
        ("192.0.2.10", AddressClass::Documentation),
        ("192.88.99.1", AddressClass::Reserved),
        ("192.168.1.1", AddressClass::Private),
        ("198.18.0.1", AddressClass::Benchmarking),
        ("198.19.255.255", AddressClass::Benchmarking),
        ("198.51.100.7", AddressClass::Documentation),
        ("203.0.113.9", AddressClass::Documentation),
        ("224.0.0.1", AddressClass::Multicast),
        ("239.255.255.250", AddressClass::Multicast),
        ("240.0.0.1", AddressClass::Reserved),
        ("255.255.255.254", AddressClass::Reserved),
        ("255.255.255.255", AddressClass::Broadcast),
    ];
    let guard = SsrfPolicy::default();
    for (addr, class) in vectors {
        assert_eq!(AddressClass::of(ip(addr)), Some(class), "{addr}");
        assert_eq!(
            guard.check_url(&format!("https://{addr}/")),
            Err(SsrfError::BlockedAddress {
                ip: ip(addr),
                class
            }),
            "{addr}"
        );
        assert!(guard.check_ip(ip(addr)).is_err());
        assert!(
            SsrfPolicy::default()
                .allow(class)
                .check_url(&format!("https://{addr}/"))
                .is_ok()
        );
    }
    // Neighbours of the ranges are public.
    for addr in [
        "1.0.0.1",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.255",
        "192.0.3.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ] {
        assert_eq!(AddressClass::of(ip(addr)), None, "{addr}");
        assert!(SsrfPolicy::default().check_ip(ip(addr)).is_ok());
    }
}

#[test]
fn ipv6_literals_by_class() {
    let vectors = [
        ("::", AddressClass::Unspecified),
        ("::1", AddressClass::Loopback),
        ("::ffff:127.0.0.1", AddressClass::Loopback),
        ("::ffff:7f00:1", AddressClass::Loopback),
        ("::ffff:10.1.2.3", AddressClass::Private),
        ("::ffff:169.254.169.254", AddressClass::LinkLocal),
        ("::ffff:8.8.8.8", AddressClass::Ipv4Mapped),
        ("::127.0.0.1", AddressClass::Reserved),
        ("::8.8.8.8", AddressClass::Reserved),
        ("64:ff9b::127.0.0.1", AddressClass::Loopback),
        ("64:ff9b::a9fe:a9fe", AddressClass::LinkLocal),
        ("64:ff9b:1::1", AddressClass::Private),
        ("100::1", AddressClass::Reserved),
        ("2001::1", AddressClass::Reserved),
        ("2001:2::1", AddressClass::Benchmarking),
        ("2001:db8::1", AddressClass::Documentation),
        ("3fff::1", AddressClass::Documentation),
        ("2002:7f00:1::", AddressClass::Loopback),
        ("2002:c0a8:101::1", AddressClass::Private),
        ("fc00::1", AddressClass::Private),
        ("fd12:3456::1", AddressClass::Private),
        ("fe80::1", AddressClass::LinkLocal),
        ("febf::1", AddressClass::LinkLocal),
        ("fec0::1", AddressClass::Private),
        ("ff02::1", AddressClass::Multicast),
        ("ff0e::1", AddressClass::Multicast),
    ];
    let guard = SsrfPolicy::default();
    for (addr, class) in vectors {
        assert_eq!(AddressClass::of(ip(addr)), Some(class), "{addr}");
        assert_eq!(
            guard.check_url(&format!("https://[{addr}]:8443/x")),
            Err(SsrfError::BlockedAddress {
                ip: ip(addr),
                class
            }),
            "{addr}"
        );
    }
    for addr in [
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2a00:1450::1",
    ] {
        assert_eq!(AddressClass::of(ip(addr)), None, "{addr}");
    }
    // Mapped public addresses only with permission; mapped special ones
    // never through that permission alone.
    let mapped = SsrfPolicy::default().allow(AddressClass::Ipv4Mapped);
    assert!(mapped.check_url("https://[::ffff:8.8.8.8]/").is_ok());
    assert!(mapped.check_url("https://[::ffff:127.0.0.1]/").is_err());
    // Zone ids and malformed literals.
    for url in [
        "https://[fe80::1%25eth0]/",
        "https://[::1/",
        "https://[not:an:ip]/",
        "https://[127.0.0.1]/",
    ] {
        assert!(guard.check_url(url).is_err(), "{url}");
    }
}

/// `::/8` is reserved by the IETF (RFC 4291 §2.4) apart from what IANA's
/// special-purpose registry carves out of it: `::`, `::1`, IPv4-mapped
/// `::ffff:0:0/96` and NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`. IPv4-
/// translated addresses `::ffff:0:a.b.c.d` (RFC 2765, SIIT) reach the
/// embedded IPv4 address through a translator, so they take its class; the
/// rest of `::/8` is not public.
#[test]
fn ipv4_translated_and_the_rest_of_the_reserved_slash_8() {
    let guard = SsrfPolicy::default();
    for (addr, class) in [
        ("::ffff:0:127.0.0.1", AddressClass::Loopback),
        ("::ffff:0:7f00:1", AddressClass::Loopback),
        ("::ffff:0:10.1.2.3", AddressClass::Private),
        ("::ffff:0:169.254.169.254", AddressClass::LinkLocal),
        ("::ffff:0:0.0.0.0", AddressClass::Unspecified),
        ("::ffff:0:100.64.0.1", AddressClass::SharedCgnat),
        ("::ffff:0:224.0.0.1", AddressClass::Multicast),
        // IPv4-compatible, and everything else in ::/8.
        ("::1.2.3.4", AddressClass::Reserved),
        ("::2", AddressClass::Reserved),
        ("::1:0:0:0", AddressClass::Reserved),
        ("::fffe:8.8.8.8", AddressClass::Reserved),
        ("::1:ffff:8.8.8.8", AddressClass::Reserved),
        ("0:0:0:1::", AddressClass::Reserved),
        ("0:1::8.8.8.8", AddressClass::Reserved),
        ("1::", AddressClass::Reserved),
        ("ff::1", AddressClass::Reserved),
        ("64:ff9a::8.8.8.8", AddressClass::Reserved),
        ("64:ff9b:2::1", AddressClass::Reserved),
        ("64:ff9b:0:0:1::8.8.8.8", AddressClass::Reserved),
    ] {
        assert_eq!(AddressClass::of(ip(addr)), Some(class), "{addr}");
        assert_eq!(
            guard.check_url(&format!("https://[{addr}]/")),
            Err(SsrfError::BlockedAddress {
                ip: ip(addr),
                class
            }),
            "{addr}"
        );
        assert!(guard.check_resolved([ip(addr)]).is_err(), "{addr}");
    }
    // A translated public address is as public as the address it reaches,
    // as with NAT64; the carved-out ranges keep their classes.
    for addr in [
        "::ffff:0:8.8.8.8",
        "::ffff:0:93.184.215.14",
        "64:ff9b::8.8.8.8",
    ] {
        assert_eq!(AddressClass::of(ip(addr)), None, "{addr}");
    }
    assert_eq!(
        AddressClass::of(ip("::ffff:8.8.8.8")),
        Some(AddressClass::Ipv4Mapped)
    );
    assert_eq!(
        AddressClass::of(ip("64:ff9b:1::8.8.8.8")),
        Some(AddressClass::Private)
    );
    // Just outside ::/8.
    assert_eq!(AddressClass::of(ip("100::1")), Some(AddressClass::Reserved));
    assert_eq!(AddressClass::of(ip("101::1")), None);
}

#[test]
fn numeric_looking_hosts_are_ambiguous() {
    let guard = SsrfPolicy::default().allow(AddressClass::Loopback);
    for host in [
        "2130706433",   // 127.0.0.1 as one decimal number
        "017700000001", // ...in octal
        "0x7f000001",   // ...in hex
        "0177.0.0.1",   // octal first octet
        "0x7f.0.0.1",   // hex first octet
        "0x7f.1",       // two parts
        "127.1",        // short form
        "127.0.1",      // three parts
        "127.0.0.01",   // leading zero
        "127.0.0.1.",   // trailing dot is fine, but see below
        "1.2.3.4.5",    // too many parts
        "256.0.0.1",    // out of range
        "3232235777",   // 192.168.1.1
        "0",            // 0.0.0.0
        "0x",           // WHATWG reads it as 0
        "example.0x1",  // numeric last label
        "example.123",
        "1.2.3.0X10",
    ] {
        let result = guard.check_url(&format!("https://{host}/"));
        if host == "127.0.0.1." {
            // Canonical apart from the root dot: treated as 127.0.0.1.
            assert!(result.is_ok(), "{host}: {result:?}");
            assert!(
                SsrfPolicy::default()
                    .check_url("https://127.0.0.1./")
                    .is_err()
            );
            continue;
        }
        assert_eq!(
            result,
            Err(SsrfError::AmbiguousIpv4(host.to_owned())),
            "{host}"
        );
    }
    // Names that merely contain digits or hex letters are fine.
    for host in [
        "0x7f.example.com",
        "1e100.net",
        "deadbeef.example",
        "v4.0x.example",
    ] {
        assert!(
            guard.check_url(&format!("https://{host}/")).is_ok(),
            "{host}"
        );
    }
}

#[test]
fn localhost_names_are_loopback() {
    let guard = SsrfPolicy::default();
    for host in [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "api.localhost",
        "a.b.Localhost",
    ] {
        assert!(
            matches!(
                guard.check_url(&format!("https://{host}/")),
                Err(SsrfError::BlockedAddress {
                    class: AddressClass::Loopback,
                    ..
                })
            ),
            "{host}"
        );
    }
    assert!(guard.check_url("https://localhost.example.com/").is_ok());
    assert!(guard.check_url("https://notlocalhost/").is_ok());
    let local = SsrfPolicy::default()
        .allow_http()
        .allow(AddressClass::Loopback);
    assert!(local.check_url("http://localhost:8080/hooks").is_ok());
    assert!(local.check_url("http://127.0.0.1:8080/hooks").is_ok());
    assert!(local.check_url("http://[::1]:8080/hooks").is_ok());
    assert!(local.check_url("http://10.0.0.1/").is_err());
}

#[test]
fn resolved_addresses() {
    let guard = SsrfPolicy::default();
    assert_eq!(guard.check_resolved([]), Err(SsrfError::NoAddresses));
    assert!(
        guard
            .check_resolved([
                ip("93.184.215.14"),
                ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
            ])
            .is_ok()
    );
    // One bad answer spoils the lot (DNS rebinding mixes them).
    assert_eq!(
        guard.check_resolved([ip("93.184.215.14"), ip("169.254.169.254")]),
        Err(SsrfError::BlockedAddress {
            ip: ip("169.254.169.254"),
            class: AddressClass::LinkLocal
        })
    );
    assert!(guard.check_resolved([ip("::ffff:10.0.0.1")]).is_err());
    let permissive = SsrfPolicy::default().allow(AddressClass::Private);
    assert!(
        permissive
            .check_resolved([ip("10.0.0.1"), ip("fd00::1")])
            .is_ok()
    );
}

#[test]
fn serde_round_trip() {
    let policy = SsrfPolicy::new()
        .allow_http()
        .allow(AddressClass::Loopback)
        .allow(AddressClass::Loopback)
        .allow(AddressClass::Private);
    assert_eq!(policy.allowed.len(), 2);
    let json = serde_json::to_string(&policy).unwrap();
    assert_eq!(
        json,
        r#"{"allow_http":true,"allowed":["loopback","private"]}"#
    );
    assert_eq!(serde_json::from_str::<SsrfPolicy>(&json).unwrap(), policy);
    assert_eq!(
        serde_json::from_str::<SsrfPolicy>("{}").unwrap(),
        SsrfPolicy::default()
    );
}

/// The safe path: the addresses the caller's resolver returned go in, the
/// socket addresses to connect to come out, all checked (one blocked answer
/// refuses them all), with the URL's port.
#[test]
fn addresses_to_connect() {
    use std::net::SocketAddr;
    use webwire::webhook::{Endpoint, Scheme, Secret, Signer};

    let guard = SsrfPolicy::default();
    let url = guard.check_url("https://hooks.example.com/in").unwrap();
    let sock = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(
        guard.connect_addrs(
            &url,
            [
                ip("93.184.215.14"),
                ip("2606:2800:21f::1"),
                ip("93.184.215.14")
            ]
        ),
        Ok(vec![
            sock("93.184.215.14:443"),
            sock("[2606:2800:21f::1]:443")
        ])
    );
    assert_eq!(
        guard.connect_addrs(&url, [ip("93.184.215.14"), ip("::ffff:0:127.0.0.1")]),
        Err(SsrfError::BlockedAddress {
            ip: ip("::ffff:0:127.0.0.1"),
            class: AddressClass::Loopback
        })
    );
    assert_eq!(guard.connect_addrs(&url, []), Err(SsrfError::NoAddresses));
    // The port comes from the URL, or its scheme's default.
    let with_port = guard.check_url("https://hooks.example.com:8443/").unwrap();
    assert_eq!(
        guard.connect_addrs(&with_port, [ip("1.1.1.1")]),
        Ok(vec![sock("1.1.1.1:8443")])
    );
    let http = SsrfPolicy::default().allow_http();
    let plain = http.check_url("http://hooks.example.com/").unwrap();
    assert_eq!(
        http.connect_addrs(&plain, [ip("1.1.1.1")]),
        Ok(vec![sock("1.1.1.1:80")])
    );
    // An IP literal is the one address to connect to, whatever a resolver
    // said; the URL itself is checked again.
    let literal = guard
        .check_url("https://[2606:4700:4700::1111]:8443/")
        .unwrap();
    assert_eq!(
        guard.connect_addrs(&literal, [ip("10.0.0.1")]),
        Ok(vec![sock("[2606:4700:4700::1111]:8443")])
    );
    let local: http::Uri = "https://127.0.0.1/".parse().unwrap();
    assert!(guard.connect_addrs(&local, [ip("8.8.8.8")]).is_err());
    let ftp: http::Uri = "ftp://hooks.example.com/".parse().unwrap();
    assert!(guard.connect_addrs(&ftp, [ip("8.8.8.8")]).is_err());

    // An endpoint remembers its policy: resolve its host, check, connect.
    let scheme = Scheme::standard();
    let signer = Signer::new(
        scheme.clone(),
        Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
    )
    .unwrap();
    let endpoint = Endpoint::new("ep", "https://[::1]:9000/in", signer.clone(), &guard);
    assert!(endpoint.is_err());
    let local_guard = SsrfPolicy::default().allow(AddressClass::Loopback);
    let endpoint =
        Endpoint::new("ep", "https://hooks.example.com/in", signer, &local_guard).unwrap();
    assert_eq!(endpoint.host_and_port(), ("hooks.example.com", 443));
    assert_eq!(
        endpoint.connect_addrs([ip("127.0.0.1")]),
        Ok(vec![sock("127.0.0.1:443")])
    );
    assert!(endpoint.connect_addrs([ip("10.0.0.1")]).is_err());
}

proptest! {
    /// Every address in `::/8` outside the ranges carved out of it is
    /// refused.
    #[test]
    fn reserved_slash_8_is_never_public(bits in any::<u128>()) {
        let addr = std::net::Ipv6Addr::from(bits & (u128::MAX >> 8));
        let s = addr.segments();
        let carved_out = bits & (u128::MAX >> 8) <= 1
            || (s[..5] == [0; 5] && s[5] == 0xffff)
            || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            || s[..3] == [0x64, 0xff9b, 1];
        if !carved_out {
            prop_assert_eq!(AddressClass::of(IpAddr::V6(addr)), Some(AddressClass::Reserved));
        }
    }

    /// Translated addresses take the class of the embedded IPv4 address.
    #[test]
    fn translated_matches_v4(a in any::<u32>()) {
        let [h0, h1, l0, l1] = a.to_be_bytes();
        let translated = std::net::Ipv6Addr::new(
            0, 0, 0, 0, 0xffff, 0,
            u16::from_be_bytes([h0, h1]),
            u16::from_be_bytes([l0, l1]),
        );
        prop_assert_eq!(
            AddressClass::of(IpAddr::V6(translated)),
            AddressClass::of(IpAddr::V4(std::net::Ipv4Addr::from(a)))
        );
    }

    /// Any string: no panic, and whatever passes is https with a host.
    #[test]
    fn check_url_is_total(url in "\\PC{0,60}", tail in "[0-9a-zA-Z.:\\[\\]@%/-]{0,30}") {
        let guard = SsrfPolicy::default();
        for candidate in [url.clone(), format!("https://{tail}"), format!("https://{url}")] {
            if let Ok(uri) = guard.check_url(&candidate) {
                prop_assert_eq!(uri.scheme_str(), Some("https"));
                prop_assert!(uri.host().is_some_and(|h| !h.is_empty()));
            }
        }
    }

    /// Every IPv4 literal in canonical form is classified the same way as
    /// its IPv4-mapped IPv6 form, unless public.
    #[test]
    fn mapped_matches_v4(a in any::<u32>()) {
        let v4 = std::net::Ipv4Addr::from(a);
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        match AddressClass::of(IpAddr::V4(v4)) {
            Some(class) => prop_assert_eq!(AddressClass::of(mapped), Some(class)),
            None => prop_assert_eq!(AddressClass::of(mapped), Some(AddressClass::Ipv4Mapped)),
        }
        let guard = SsrfPolicy::default();
        prop_assert_eq!(
            guard.check_url(&format!("https://{v4}/")).is_ok(),
            AddressClass::of(IpAddr::V4(v4)).is_none()
        );
    }
}
