//! SSRF guard vectors: schemes, user information, IPv4 and IPv6 literals of
//! every special range, IPv4-mapped and embedded forms, and hosts that some
//! parser would read as a decimal, octal or hexadecimal IPv4 address.

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

proptest! {
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
