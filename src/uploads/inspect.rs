//! Decoding an uploaded GIF in full: a file that is truncated or corrupt
//! anywhere is refused, and a good one tells its size and frame count.
//!
//! Blocking and CPU-bound: call it on the blocking pool. Pixels are decoded
//! into one small reused buffer, so memory stays flat whatever the frame
//! size claims. What a GIF claims is checked against [`GifLimits`] before
//! any work that scales with the claim: the canvas and every frame at most
//! `max_side` pixels a side (a 35-byte file may claim 65535×65535, which
//! would take every viewer's browser down), and the pixels a browser
//! composes (the canvas, once per frame) at most `max_pixels` in all, so
//! neither an LZW "bomb" (a few megabytes that expand to billions of
//! pixels) nor thousands of tiny frames on a huge canvas get through.

use std::{
    fs::File,
    io::{BufReader, Read},
    path::Path,
};

use gif::{ColorOutput, DecodeOptions, DecodingError};

use crate::{
    error::{AppError, AppResult},
    model::GifInfo,
};

/// Bytes of indexed pixels decoded per step.
const CHUNK: usize = 8 * 1024;

/// How big a GIF may be once decoded (`--max-gif-side`, `--max-gif-pixels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GifLimits {
    /// Widest and tallest canvas or frame, in pixels.
    pub max_side: u32,
    /// Most pixels composed in all: the canvas area times the frames.
    pub max_pixels: u64,
}

impl Default for GifLimits {
    /// 4096 px a side; 100 million pixels, which is a 480×270 GIF of 770
    /// frames (half a minute at 25 fps) and bounds the decoding at about a
    /// second.
    fn default() -> Self {
        GifLimits {
            max_side: 4096,
            max_pixels: 100_000_000,
        }
    }
}

/// Decodes the GIF at `path` to its end. 422 `invalid` when it does not
/// decode (its signature was already checked, so it claims to be a GIF:
/// the type is right, the content is broken); 500 for a disk error.
pub fn inspect(path: &Path, limits: GifLimits) -> AppResult<GifInfo> {
    decode(BufReader::new(File::open(path)?), limits)
}

/// [`inspect`] for a GIF already in memory: the same decoding and the same
/// answers, and never a 500 (there is no disk to fail). The fuzz targets
/// call this.
pub fn inspect_bytes(bytes: &[u8], limits: GifLimits) -> AppResult<GifInfo> {
    decode(bytes, limits)
}

fn decode(reader: impl Read, limits: GifLimits) -> AppResult<GifInfo> {
    let mut options = DecodeOptions::new();
    // Indexed output: no palette expansion, a pixel is one byte.
    options.set_color_output(ColorOutput::Indexed);
    let mut decoder = options.read_info(reader).map_err(refused)?;
    let (mut width, mut height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    within_sides(width, height, limits)?;
    let mut frames: u32 = 0;
    let mut budget = limits.max_pixels;
    let mut pixels = vec![0u8; CHUNK];
    loop {
        let frame = decoder.next_frame_info().map_err(refused)?;
        let Some((frame_width, frame_height)) = frame.map(|f| (f.width, f.height)) else {
            break;
        };
        let (frame_width, frame_height) = (u32::from(frame_width), u32::from(frame_height));
        within_sides(frame_width, frame_height, limits)?;
        // Some encoders leave the logical screen at 0x0; browsers then show
        // the first frame's size, and so do we.
        if frames == 0 && (width == 0 || height == 0) {
            (width, height) = (frame_width, frame_height);
        }
        frames = frames.saturating_add(1);
        // A frame holds exactly width x height pixels, at least one (as the
        // gif crate's own decoding requires). A browser composes the whole
        // canvas for it (or the frame, if larger): that is charged to the
        // budget before anything is decoded. Data past the frame's pixels
        // is skipped undecoded, as decoders do.
        let mut left = u64::from(frame_width) * u64::from(frame_height);
        if left == 0 {
            return Err(AppError::invalid("this GIF is damaged: a frame is empty"));
        }
        let composed = left.max(u64::from(width) * u64::from(height));
        budget = budget.checked_sub(composed).ok_or_else(|| {
            AppError::invalid(format!(
                "this GIF decodes to too many pixels: at most {} million in all frames \
                 together ({width}×{height} px, {frames} frames so far)",
                limits.max_pixels / 1_000_000
            ))
        })?;
        while left > 0 {
            let step = left.min(CHUNK as u64) as usize;
            // `false`: the frame's data ended before the step was filled.
            if !decoder.fill_buffer(&mut pixels[..step]).map_err(refused)? {
                return Err(AppError::invalid("this GIF is damaged: a frame ends early"));
            }
            left -= step as u64;
        }
    }
    if frames == 0 {
        return Err(AppError::invalid("this GIF holds no image"));
    }
    Ok(GifInfo {
        width,
        height,
        frames,
    })
}

/// 422 when a canvas or frame is wider or taller than the limit.
fn within_sides(width: u32, height: u32, limits: GifLimits) -> AppResult<()> {
    if width > limits.max_side || height > limits.max_side {
        return Err(AppError::invalid(format!(
            "this GIF is {width}×{height} px: at most {} px a side",
            limits.max_side
        )));
    }
    Ok(())
}

fn refused(error: DecodingError) -> AppError {
    match error {
        // Reading our own file failed: the server's problem, not the GIF's.
        DecodingError::Io(e) => AppError::internal(e),
        DecodingError::UnexpectedEof => AppError::invalid("this GIF is truncated"),
        other => AppError::invalid(format!("this GIF is damaged: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// A `width`x`height` GIF of `frames` frames, each a two-colour pattern.
    fn gif(width: u16, height: u16, frames: usize) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let palette = [0, 0, 0, 255, 255, 255];
            let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).unwrap();
            for n in 0..frames {
                let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
                    .map(|i| ((i + n) % 2) as u8)
                    .collect();
                let frame = gif::Frame {
                    width,
                    height,
                    buffer: Cow::Owned(pixels),
                    ..gif::Frame::default()
                };
                encoder.write_frame(&frame).unwrap();
            }
        }
        out
    }

    fn inspect_file(bytes: &[u8]) -> AppResult<GifInfo> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        inspect(file.path(), GifLimits::default())
    }

    #[test]
    fn a_whole_gif_tells_its_size_and_frames() {
        let info = inspect_file(&gif(40, 30, 3)).unwrap();
        assert_eq!(
            inspect_bytes(&gif(40, 30, 3), GifLimits::default()).unwrap(),
            info
        );
        assert_eq!(
            info,
            GifInfo {
                width: 40,
                height: 30,
                frames: 3
            }
        );
    }

    #[test]
    fn a_gif_cut_anywhere_is_refused() {
        let whole = gif(40, 30, 2);
        for cut in [13, whole.len() / 2, whole.len() - 1] {
            let error = inspect_file(&whole[..cut]).unwrap_err();
            assert_eq!(error.code(), "invalid", "cut at {cut}: {error}");
            assert_eq!(
                inspect_bytes(&whole[..cut], GifLimits::default())
                    .unwrap_err()
                    .code(),
                "invalid"
            );
        }
    }

    /// `gif` with its (first) frame's descriptor claiming another size.
    fn resized_frame(mut gif: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
        // The header and the global palette, then extensions (label, then
        // sub-blocks up to an empty one), then the descriptor.
        let mut at = 13 + 3 * (2 << (gif[10] & 7));
        while gif[at] == 0x21 {
            at += 2;
            while gif[at] != 0 {
                at += 1 + usize::from(gif[at]);
            }
            at += 1;
        }
        assert_eq!(gif[at], b',', "an image descriptor");
        gif[at + 5..at + 7].copy_from_slice(&width.to_le_bytes());
        gif[at + 7..at + 9].copy_from_slice(&height.to_le_bytes());
        gif
    }

    /// Found by `fuzz/fuzz_targets/gif_inspect.rs`: a frame whose data ended
    /// before its last pixel passed as a whole GIF.
    #[test]
    fn a_frame_whose_data_ends_early_is_refused() {
        let short = resized_frame(gif(4, 4, 1), 4, 5);
        let error = inspect_bytes(&short, GifLimits::default()).unwrap_err();
        assert_eq!(error.code(), "invalid");
        assert!(error.to_string().contains("a frame ends early"), "{error}");
        // The fuzzer's own find (fuzz/corpus/gif_inspect/regression-*).
        let found = b"GIF89a\0\0\0\0\x91\0\0\0\0\0\xff\xff\xf9\x04\x04\0\0\0\0\x2c\0\0\0\0\
                      \x03\0\x03\0\0\x02\x04\x44\x38\x86\x50\0\x3b";
        assert_eq!(
            inspect_bytes(found, GifLimits::default())
                .unwrap_err()
                .code(),
            "invalid"
        );
        // Whole frames, with the data of a frame that ends late ignored.
        assert!(inspect_bytes(&resized_frame(gif(4, 4, 1), 4, 3), GifLimits::default()).is_ok());
    }

    #[test]
    fn an_empty_frame_is_refused() {
        let empty = resized_frame(gif(4, 4, 1), 0, 0);
        let error = inspect_bytes(&empty, GifLimits::default()).unwrap_err();
        assert!(error.to_string().contains("a frame is empty"), "{error}");
    }

    #[test]
    fn a_frame_wider_than_the_limit_is_refused_before_decoding() {
        let huge = resized_frame(gif(4, 4, 1), u16::MAX, u16::MAX);
        let error = inspect_bytes(&huge, GifLimits::default()).unwrap_err();
        assert!(
            error.to_string().contains("at most 4096 px a side"),
            "{error}"
        );
    }

    /// A GIF whose logical screen claims `width`x`height`.
    fn resized_canvas(mut gif: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
        gif[6..8].copy_from_slice(&width.to_le_bytes());
        gif[8..10].copy_from_slice(&height.to_le_bytes());
        gif
    }

    #[test]
    fn a_canvas_wider_than_the_limit_is_refused() {
        let limits = GifLimits::default();
        let wide = resized_canvas(gif(4, 4, 1), 4097, 10);
        let error = inspect_bytes(&wide, limits).unwrap_err();
        assert!(error.to_string().contains("4097×10 px"), "{error}");
        assert!(inspect_bytes(&resized_canvas(gif(4, 4, 1), 4096, 4096), limits).is_ok());
    }

    #[test]
    fn every_frame_is_charged_the_whole_canvas() {
        let limits = GifLimits {
            max_side: 4096,
            max_pixels: 1000,
        };
        // 20x20 = 400 a frame: two fit, three do not, tiny frames or not.
        assert!(inspect_bytes(&gif(20, 20, 2), limits).is_ok());
        let error = inspect_bytes(&gif(20, 20, 3), limits).unwrap_err();
        assert!(error.to_string().contains("too many pixels"), "{error}");
        let tiny_frames = resized_canvas(gif(1, 1, 3), 20, 20);
        assert!(inspect_bytes(&tiny_frames, limits).is_err());
    }

    #[test]
    fn a_gif_without_frames_is_refused() {
        assert_eq!(inspect_file(&gif(4, 4, 0)).unwrap_err().code(), "invalid");
    }
}
