//! The first bytes of a connection, as the accept loop reads them to
//! decide whether it answers a stream request itself, without hyper
//! (`server::parse_stream_request`, behind `server/event_streams.rs`).
//!
//! Must never panic. What it takes must be what the router would route to
//! a stream and what hyper would read the same way: a whole `GET` head
//! (httparse agrees on its length), on a path the stream routes match, with
//! no body, no upgrade and no other method; everything else is left to
//! hyper.

#![no_main]

use gifchat::{routes::is_stream_path, server::parse_stream_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(taken) = parse_stream_request(data) else {
        return;
    };
    assert!(taken.head_len() <= data.len());
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Request::new(&mut headers);
    let parsed = head.parse(data).expect("a taken head parses");
    assert_eq!(parsed, httparse::Status::Complete(taken.head_len()));
    assert_eq!(head.method, Some("GET"));
    assert!(is_stream_path(taken.uri().path()), "{:?}", taken.uri());
    for header in head.headers.iter() {
        let name = header.name.to_ascii_lowercase();
        assert!(name != "transfer-encoding" && name != "upgrade", "{name}");
        if name == "content-length" {
            assert_eq!(header.value, b"0");
        }
    }
});
