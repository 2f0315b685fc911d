//! An upload request's body, exactly as `POST /rooms/{id}/gifs` reads it:
//! the `Content-Type` (its boundary) and `Content-Length` headers into
//! `routes::uploads::multipart`, then `gif_field` to find the `gif` field,
//! `next_chunk` to stream it through the upload checks (`Intake`), and the
//! decoding. Only the temporary file is left out.
//!
//! Input: `[n][n chunk lengths][content type]\n[body]`, the body cut into
//! chunks as `gifchat_fuzz::chunks` says. Bit 0x80 of `n` sends a
//! `Content-Length`, bit 0x40 sets a 256-byte size limit (else 5 MiB).
//!
//! Must never panic or hang; every failure is a refusal (4xx), never a 500.

#![no_main]

use std::{convert::Infallible, sync::LazyLock};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, header},
};
use gifchat::{
    error::AppResult,
    routes::uploads::{gif_field, multipart, next_chunk},
    uploads::{GifLimits, Intake, inspect_bytes},
};
use gifchat_fuzz::{assert_refusal, chunks};
use libfuzzer_sys::fuzz_target;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fuzz_target!(|input: &[u8]| {
    let Some(&flags) = input.first() else {
        return;
    };
    let (parts, whole) = chunks(input);
    let (content_type, body) = match whole.iter().position(|&b| b == b'\n') {
        Some(at) => (&whole[..at], &whole[at + 1..]),
        None => (whole, &[][..]),
    };
    // The cuts fall on `whole`; keep the ones inside the body.
    let body_start = whole.len() - body.len();
    let mut offset = 0;
    let mut pieces: Vec<Result<Bytes, Infallible>> = Vec::new();
    for part in parts {
        let (start, end) = (offset, offset + part.len());
        offset = end;
        if end > body_start {
            let from = start.max(body_start) - body_start;
            pieces.push(Ok(Bytes::copy_from_slice(&body[from..end - body_start])));
        }
    }
    let max = if flags & 0x40 != 0 { 256 } else { 5 << 20 };

    let mut request = Request::new(Body::from_stream(futures_util::stream::iter(pieces)));
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        request.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    if flags & 0x80 != 0 {
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let received: AppResult<Vec<u8>> = RUNTIME.block_on(async {
        let mut form = multipart(request, max)?;
        let (mut field, _client_id) = gif_field(&mut form).await?;
        let mut intake = Intake::new(max);
        let mut file = Vec::new();
        while let Some(chunk) = next_chunk(&mut field).await? {
            intake.accept(&chunk)?;
            file.extend_from_slice(&chunk);
        }
        intake.complete()?;
        Ok(file)
    });
    match received {
        Ok(file) => {
            assert!(file.len() as u64 <= max);
            if let Err(error) = inspect_bytes(&file, GifLimits::default()) {
                assert_eq!(error.code(), "invalid", "{error:?}");
            }
        }
        Err(error) => assert_refusal(&error),
    }
});
