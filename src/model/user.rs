//! A user: the public identity of a session, as every response and event
//! shows it. The colors are a pure function of the id, so the same user
//! has the same colors in every page, event and process: the hue and
//! saturation the `color-hash` package gives the id, at the lightness
//! nearest to color-hash's own that every theme's backgrounds need for a
//! name to meet WCAG AA (a contrast of 4.5:1): one color for the light
//! theme, one for the dark.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The public identity of a visitor: what every response and event shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Random and opaque; never the session id.
    #[schema(pattern = "^[A-Za-z0-9_-]{8,32}$")]
    pub id: String,
    /// A hash of `id`, the same wherever the user appears: readable on
    /// the light theme's backgrounds.
    #[schema(pattern = "^#[0-9a-f]{6}$")]
    pub color: String,
    /// The same hue, readable on the dark theme's backgrounds.
    #[schema(pattern = "^#[0-9a-f]{6}$")]
    pub color_dark: String,
    /// The display name, once set (`POST /me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 32)]
    pub name: Option<String>,
}

impl User {
    pub fn new(id: String, name: Option<String>) -> Self {
        let [color, color_dark] = colors_of(&id);
        Self {
            id,
            color,
            color_dark,
            name,
        }
    }

    /// How the user is named in notices and pages: the display name, or the
    /// color code as the original app did.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.color)
    }
}

/// Where names are written, by theme (`assets/style.css`): the page, the
/// panels, message bubbles, one's own messages, whispers.
const LIGHT_BACKGROUNDS: [[u8; 3]; 5] = [
    [0xf6, 0xf7, 0xf9],
    [0xff, 0xff, 0xff],
    [0xdc, 0xe7, 0xff],
    [0xf1, 0xe8, 0xff],
    [0xff, 0xf4, 0xd6],
];
const DARK_BACKGROUNDS: [[u8; 3]; 6] = [
    [0x14, 0x17, 0x1d],
    [0x1c, 0x20, 0x28],
    [0x23, 0x28, 0x33],
    [0x22, 0x3a, 0x66],
    [0x34, 0x28, 0x4a],
    [0x3a, 0x30, 0x14],
];
/// WCAG AA for normal text.
const AA: f64 = 4.5;

/// The user's colors, light theme then dark (see the module docs).
pub fn colors_of(id: &str) -> [String; 2] {
    let (hue, saturation, lightness) = color_hash(id);
    let rgb = |l: f64| hsl_to_rgb(hue / 360.0, saturation, l);
    let readable = |l: f64, on: &[[u8; 3]]| {
        let text = luminance(rgb(l));
        on.iter().all(|bg| contrast(text, luminance(*bg)) >= AA)
    };
    // Steps of a percent from color-hash's lightness: darker for light
    // backgrounds, lighter for dark ones. Black and white meet AA on all.
    let light = (0..=100)
        .map(|step| (lightness - f64::from(step) / 100.0).max(0.0))
        .find(|l| readable(*l, &LIGHT_BACKGROUNDS))
        .unwrap_or(0.0);
    let dark = (0..=100)
        .map(|step| (lightness + f64::from(step) / 100.0).min(1.0))
        .find(|l| readable(*l, &DARK_BACKGROUNDS))
        .unwrap_or(1.0);
    [hex(rgb(light)), hex(rgb(dark))]
}

/// Hue (degrees), saturation and lightness as `color-hash` computes them
/// with its defaults: a BKDR string hash picks the hue, then saturation
/// and lightness from fixed sets.
fn color_hash(id: &str) -> (f64, f64, f64) {
    const LEVELS: [f64; 3] = [0.35, 0.5, 0.65];
    let mut hash = bkdr_hash(id);
    let hue = (hash % 359) as f64;
    hash /= 360;
    let saturation = LEVELS[(hash % 3) as usize];
    hash /= 3;
    let lightness = LEVELS[(hash % 3) as usize];
    (hue, saturation, lightness)
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// WCAG's contrast ratio of two relative luminances, 1 to 21.
fn contrast(la: f64, lb: f64) -> f64 {
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Each sRGB channel value in linear light, as WCAG computes it: made once.
/// Every request makes its visitor's `User`, so colors must be cheap: a
/// `powf` per channel per step per background was a tenth of a long-poll's
/// CPU.
static LINEAR: LazyLock<[f64; 256]> = LazyLock::new(|| {
    std::array::from_fn(|channel| {
        let c = channel as f64 / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    })
});

/// WCAG's relative luminance of an sRGB color.
fn luminance(rgb: [u8; 3]) -> f64 {
    let [r, g, b] = rgb.map(|channel| LINEAR[usize::from(channel)]);
    0.2126 * r + 0.7152 * g + 0.0722 * b
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
    fn hue_and_saturation_are_the_color_hash_packages() {
        // Reference from `new ColorHash().hex("Hello World")` (color-hash
        // 2.x): #8796c5, which is HSL(225, 35%, 65%).
        let (h, s, l) = color_hash("Hello World");
        assert_eq!(hex(hsl_to_rgb(h / 360.0, s, l)), "#8796c5");
        assert_eq!(colors_of(""), colors_of(""));
    }

    /// WCAG's contrast ratio straight from its formulas (no table), to
    /// check the colors chosen with the table.
    fn wcag_contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
        let luminance = |rgb: [u8; 3]| {
            let [r, g, b] = rgb.map(|channel| {
                let c = f64::from(channel) / 255.0;
                if c <= 0.040_45 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            });
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn every_name_meets_wcag_aa_on_every_background_of_its_theme() {
        let mut kept = 0;
        for n in 0..3000 {
            let id = format!("user-{n}-{}", n * 7919);
            let [light, dark] = colors_of(&id);
            let parse = |text: &str| {
                let v = u32::from_str_radix(&text[1..], 16).unwrap();
                [(v >> 16) as u8, (v >> 8) as u8, v as u8]
            };
            for bg in LIGHT_BACKGROUNDS {
                assert!(
                    wcag_contrast(parse(&light), bg) >= AA,
                    "{id}: {light} on {bg:?}"
                );
            }
            for bg in DARK_BACKGROUNDS {
                assert!(
                    wcag_contrast(parse(&dark), bg) >= AA,
                    "{id}: {dark} on {bg:?}"
                );
            }
            // color-hash's own color is kept wherever it was readable.
            let (h, s, l) = color_hash(&id);
            let original = hsl_to_rgb(h / 360.0, s, l);
            if LIGHT_BACKGROUNDS
                .iter()
                .all(|bg| wcag_contrast(original, *bg) >= AA)
            {
                assert_eq!(light, hex(original), "{id}");
                kept += 1;
            }
        }
        assert!(kept > 0, "some color-hash colors are readable as they are");
    }

    #[test]
    fn colors_are_lowercase_hex_and_differ_between_users() {
        let [a, _] = colors_of("alice-id");
        let [b, _] = colors_of("bob-id");
        assert!(a.len() == 7 && a.starts_with('#'));
        assert!(
            a[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
