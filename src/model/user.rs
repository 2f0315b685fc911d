//! A user: the public identity of a session, as every response and event
//! shows it. The color is a pure function of the id, computed the way the
//! `color-hash` package does, so the same user has the same color in every
//! page, event and process.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The public identity of a visitor: what every response and event shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Random and opaque; never the session id.
    #[schema(pattern = "^[A-Za-z0-9_-]{8,32}$")]
    pub id: String,
    /// A hash of `id`, the same wherever the user appears.
    #[schema(pattern = "^#[0-9a-f]{6}$")]
    pub color: String,
    /// The display name, once set (`POST /me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 32)]
    pub name: Option<String>,
}

impl User {
    pub fn new(id: String, name: Option<String>) -> Self {
        let color = color_of(&id);
        Self { id, color, name }
    }

    /// How the user is named in notices and pages: the display name, or the
    /// color code as the original app did.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.color)
    }
}

/// The color of a user id, as `color-hash` computes it with its defaults:
/// a BKDR string hash picks hue, then saturation and lightness from fixed
/// sets, rendered as lowercase `#rrggbb`.
pub fn color_of(id: &str) -> String {
    const LEVELS: [f64; 3] = [0.35, 0.5, 0.65];
    let mut hash = bkdr_hash(id);
    let hue = (hash % 359) as f64;
    hash /= 360;
    let saturation = LEVELS[(hash % 3) as usize];
    hash /= 3;
    let lightness = LEVELS[(hash % 3) as usize];
    let [r, g, b] = hsl_to_rgb(hue / 360.0, saturation, lightness);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// `color-hash`'s BKDRHash: seed 131, kept below 2^53 the way JavaScript
/// numbers must be, over UTF-16 code units of the string plus an `x`.
fn bkdr_hash(text: &str) -> u64 {
    const SEED: u64 = 131;
    const SEED2: u64 = 137;
    const MAX_SAFE: u64 = 9_007_199_254_740_991 / SEED2;
    let mut hash: u64 = 0;
    for unit in text.encode_utf16().chain("x".encode_utf16()) {
        if hash > MAX_SAFE {
            hash /= SEED2;
        }
        hash = hash * SEED + u64::from(unit);
    }
    hash
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> [u8; 3] {
    let q = if l < 0.5 {
        l * (1.0 + s)
    } else {
        l + s - l * s
    };
    let p = 2.0 * l - q;
    [h + 1.0 / 3.0, h, h - 1.0 / 3.0].map(|mut t| {
        if t < 0.0 {
            t += 1.0;
        }
        if t > 1.0 {
            t -= 1.0;
        }
        let c = if t < 1.0 / 6.0 {
            p + (q - p) * 6.0 * t
        } else if t < 0.5 {
            q
        } else if t < 2.0 / 3.0 {
            p + (q - p) * 6.0 * (2.0 / 3.0 - t)
        } else {
            p
        };
        (c * 255.0).round() as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_match_the_color_hash_package() {
        // Reference values from `new ColorHash().hex(...)` (color-hash 2.x).
        assert_eq!(color_of("Hello World"), "#8796c5");
        assert_eq!(color_of(""), color_of(""));
    }

    #[test]
    fn colors_are_lowercase_hex_and_differ_between_users() {
        let a = color_of("alice-id");
        let b = color_of("bob-id");
        assert!(a.len() == 7 && a.starts_with('#'));
        assert!(
            a[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
