//! An upload as it arrives: arbitrary bytes, cut into arbitrary chunks,
//! through the checks `Incoming::write` makes on every chunk (signature,
//! also when split; size limit) and the ones `Incoming::finish` makes
//! (`Intake::complete`, then the decoding). Only the disk is left out.
//!
//! Input: `[limit][n][n chunk lengths][file]` (see `gifchat_fuzz::chunks`);
//! `limit` < 128 sets a small size limit (8 bytes a step), else 5 MiB.
//!
//! Besides "no panic": whether a file is accepted must not depend on how
//! it was cut, and a refusal must give a true reason.

#![no_main]

use gifchat::uploads::{GifLimits, Intake, inspect_bytes};
use gifchat_fuzz::{assert_refusal, chunks};
use libfuzzer_sys::fuzz_target;

const MAGICS: [&[u8]; 2] = [b"GIF87a", b"GIF89a"];

fuzz_target!(|input: &[u8]| {
    let Some((&limit, rest)) = input.split_first() else {
        return;
    };
    let max = if limit < 128 {
        u64::from(limit) * 8
    } else {
        5 << 20
    };
    let (chunks, whole) = chunks(rest);
    let mut intake = Intake::new(max);
    let received = chunks
        .iter()
        .try_for_each(|chunk| intake.accept(chunk))
        .and_then(|()| intake.complete());

    let signed = MAGICS
        .iter()
        .any(|magic| magic.starts_with(&whole[..whole.len().min(6)]));
    let fits = whole.len() as u64 <= max;
    match &received {
        Ok(size) => {
            assert_eq!(*size, whole.len() as u64);
            assert!(signed && fits && whole.len() >= 6);
        }
        Err(error) => {
            assert_refusal(error);
            match error.code() {
                "unsupported_media_type" => assert!(!signed || whole.len() < 6),
                "too_large" => assert!(!fits),
                "invalid" => assert!(whole.is_empty()),
                other => panic!("unexpected refusal {other}: {error:?}"),
            }
            // Accepted or not regardless of the cuts.
            assert!(!(signed && fits && whole.len() >= 6), "{error:?}");
        }
    }
    if received.is_ok()
        && let Err(error) = inspect_bytes(whole, GifLimits::default())
    {
        assert_eq!(error.code(), "invalid", "{error:?}");
    }
});
