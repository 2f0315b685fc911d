//! Arbitrary bytes into the full GIF decoding that every upload goes
//! through (`uploads::inspect_bytes`, the in-memory face of `inspect`).
//! Must never panic, never hang, and stay within memory; a broken GIF is a
//! 422, never a 500; an accepted one has at least one frame and a size.
//!
//! And it must agree with the `gif` crate's own complete decoding
//! (`read_next_frame`, which allocates whole frames, so it runs under a
//! memory limit and only judges the inputs that fit in it): same frames,
//! same verdict. That found frames whose data ends before their last pixel
//! passing as whole GIFs (now refused, see `inspect.rs`).

#![no_main]

use gif::{ColorOutput, DecodeOptions, DecodingError, MemoryLimit};
use gifchat::uploads::{GifLimits, inspect_bytes};
use libfuzzer_sys::fuzz_target;

/// Frames by the reference decoder, or `None` when it refuses, or no
/// opinion when the input is too big for it.
fn reference(data: &[u8]) -> Option<Option<u32>> {
    let mut options = DecodeOptions::new();
    options.set_color_output(ColorOutput::Indexed);
    options.set_memory_limit(MemoryLimit::Bytes((1 << 20).try_into().unwrap()));
    let verdict = (|| {
        let mut decoder = options.read_info(data)?;
        let mut frames = 0u32;
        while decoder.read_next_frame()?.is_some() {
            frames += 1;
        }
        Ok::<_, DecodingError>(frames)
    })();
    match verdict {
        Ok(0) => Some(None),
        Ok(frames) => Some(Some(frames)),
        Err(DecodingError::MemoryLimit | DecodingError::OutOfMemory) => None,
        Err(_) => Some(None),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = GifLimits::default();
    let ours = inspect_bytes(data, limits);
    match &ours {
        Ok(info) => {
            assert!(info.frames >= 1, "accepted without a frame: {info:?}");
            let sides = 1..=limits.max_side;
            assert!(sides.contains(&info.width) && sides.contains(&info.height));
        }
        Err(error) => {
            assert_eq!(error.code(), "invalid", "{error:?}");
        }
    }
    // Refusals the reference has no say in: our limits on sides and on
    // pixels for all frames together (its memory limit is for each), and
    // its verdict on an empty (0-pixel) frame depends on the data that
    // follows, ours is no.
    let no_say = matches!(&ours, Err(e) if {
        let message = e.to_string();
        message.contains("too many pixels")
            || message.contains("px a side")
            || message.contains("a frame is empty")
    });
    if let Some(theirs) = reference(data).filter(|_| !no_say) {
        match (&ours, theirs) {
            (Ok(info), Some(frames)) => assert_eq!(info.frames, frames),
            (Err(_), None) => {}
            (ours, theirs) => panic!("inspect: {ours:?}, the gif crate: {theirs:?} frames"),
        }
    }
});
