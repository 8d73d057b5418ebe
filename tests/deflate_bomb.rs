//! A real decompression bomb: 1 GiB of zeros, compressed to about 1 MiB, sent
//! as one message. It must fail with 1009 once the inflated size passes the
//! limit, having held no more than about the limit in memory.
#![cfg(feature = "deflate")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use webwire::ws::deflate::DeflateConfig;
use webwire::ws::handshake::parse_extensions;
use webwire::ws::{CloseCode, Decoder, Limits, ProtocolError, Role};

struct Peak;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: a test-only wrapper around the system allocator that tracks the
// peak of live bytes; the library itself forbids unsafe code.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Old and new blocks may coexist while copying.
        grew(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        p
    }
}

#[global_allocator]
static ALLOC: Peak = Peak;

#[test]
fn one_gib_bomb_fails_with_1009_within_the_limit() {
    // Compress 1 GiB of zeros, 1 MiB at a time.
    let mut enc = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut compressed = Vec::with_capacity(8 << 20);
    for _ in 0..1024 {
        let before = enc.total_in();
        while enc.total_in() - before < zeros.len() as u64 {
            let done = (enc.total_in() - before) as usize;
            enc.compress_vec(&zeros[done..], &mut compressed, flate2::FlushCompress::None)
                .unwrap();
            if compressed.capacity() - compressed.len() < 1024 {
                compressed.reserve(1 << 20);
            }
        }
    }
    enc.compress_vec(&[], &mut compressed, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(
        compressed.len() < 4 << 20,
        "bomb is {} bytes",
        compressed.len()
    );
    let mut wire = vec![0xc2, 0x7f];
    wire.extend_from_slice(&(compressed.len() as u64).to_be_bytes());
    wire.extend_from_slice(&compressed);
    drop(compressed);
    drop(zeros);

    let limit = 16 << 20;
    let offers = parse_extensions("permessage-deflate").unwrap();
    let (params, _) = DeflateConfig::default().accept_offers(&offers).unwrap();
    let mut dec =
        Decoder::with_limits(Role::Client, Limits::default().with_max_message_size(limit))
            .with_deflate(&params);

    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let mut err = None;
    for piece in wire.chunks(64 << 10) {
        if let Err(e) = dec.decode(piece) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the bomb must be refused");
    assert!(
        matches!(err, ProtocolError::MessageTooLarge { max, len } if max == limit && len as usize <= limit + (16 << 10)),
        "{err:?}"
    );
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
    let peak = PEAK.load(Ordering::SeqCst) - base;
    eprintln!(
        "bomb: {} compressed bytes, peak {} bytes while inflating (limit {limit})",
        wire.len(),
        peak
    );
    // The inflated bytes held at most the limit; the last growth of the
    // message buffer briefly holds old and new blocks (a realloc), and the
    // inflater keeps its window.
    assert!(peak <= limit + limit / 2 + (2 << 20), "peak {peak} bytes");
}
