//! A tour of webwire: everything runs in one process, in memory, and prints
//! a timeline. `cargo run --example tour`
//!
//! The library does no I/O; this example plays both peers and moves the bytes
//! between them itself.

use bytes::BytesMut;
use webwire::random::SeededRandom;
use webwire::ws::{CloseCode, CloseFrame, Decoder, Encoder, Incoming, OpCode, Role};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== WebSocket frame codec (RFC 6455), in memory");
    let mut client_tx = Encoder::new(Role::Client, SeededRandom::new(2026));
    let mut server_rx = Decoder::new(Role::Server);
    let mut server_tx = Encoder::server();
    let mut client_rx = Decoder::new(Role::Client);

    // The client sends a text, a fragmented binary message, a ping and a close.
    let mut wire = Vec::new();
    client_tx.encode_text("hello, webwire", &mut wire);
    client_tx.encode_fragmented(
        OpCode::Binary,
        &[0xde, 0xad, 0xbe, 0xef, 0x01],
        2,
        &mut wire,
    )?;
    client_tx.encode_ping(b"are you there?", &mut wire)?;
    client_tx.encode_close(Some(&CloseFrame::new(CloseCode::NORMAL, "done")), &mut wire)?;
    println!("client -> {} bytes on the wire (masked)", wire.len());

    // The server reads them as they might arrive from a socket: in small
    // pieces. Partial frames are not errors, just "need more".
    let mut rx = BytesMut::new();
    let mut reply = Vec::new();
    for piece in wire.chunks(7) {
        rx.extend_from_slice(piece);
        while let Some(msg) = server_rx.decode_buf(&mut rx)? {
            match msg {
                Incoming::Text(text) => {
                    println!("server <- text {text:?}; echoing");
                    server_tx.encode_text(&text, &mut reply);
                }
                Incoming::Binary(data) => {
                    println!("server <- binary {data:02x?} (from 3 fragments); echoing");
                    server_tx.encode_binary(&data, &mut reply);
                }
                Incoming::Ping(data) => {
                    println!(
                        "server <- ping {:?}; answering pong",
                        String::from_utf8_lossy(&data)
                    );
                    server_tx.encode_pong(&data, &mut reply)?;
                }
                Incoming::Pong(_) => println!("server <- pong"),
                Incoming::Close(frame) => {
                    println!("server <- close {frame:?}; echoing the code");
                    server_tx.encode_close(frame.as_ref(), &mut reply)?;
                }
            }
        }
    }

    let mut rx = BytesMut::from(&reply[..]);
    while let Some(msg) = client_rx.decode_buf(&mut rx)? {
        println!("client <- {msg:?}");
    }

    // A peer that breaks the protocol gets the RFC close code.
    let mut bad = BytesMut::from(&b"\x81\x83\x00\x00\x00\x00\xff\xfe\xfd"[..]);
    let err = Decoder::new(Role::Server).decode_buf(&mut bad).unwrap_err();
    println!(
        "server <- invalid UTF-8: {err} -> close {}",
        err.close_code()
    );
    println!("tour complete");
    Ok(())
}
