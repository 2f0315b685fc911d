//! Content negotiation, as API.md sets it: every page also answers JSON
//! when asked (`Accept: application/json`), and every POST body may be an
//! HTML form or JSON.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use utoipa::openapi::{
    Type,
    schema::{AllOfBuilder, ObjectBuilder, Schema},
};

use crate::error::AppError;

/// How to answer: JSON for API clients, HTML (pages, 303s) for browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    pub fn of(headers: &HeaderMap) -> Format {
        let accept = header_text(headers, header::ACCEPT).to_ascii_lowercase();
        let content_type = media_type(header_text(headers, header::CONTENT_TYPE));
        if accept.contains("application/json") || content_type == "application/json" {
            Format::Json
        } else {
            Format::Html
        }
    }

    /// Whether an error should be rendered for a person rather than a
    /// program: only when a browser asked for HTML. curl (`*/*`) and
    /// EventSource get the JSON error.
    pub fn error_wants_html(headers: &HeaderMap) -> bool {
        Format::of(headers) == Format::Html
            && header_text(headers, header::ACCEPT).contains("text/html")
    }

    /// The answer to a successful POST: the JSON body with `status`, or a
    /// 303 to `location` for an HTML form.
    pub fn created(
        self,
        status: axum::http::StatusCode,
        body: &impl Serialize,
        location: &str,
    ) -> Response {
        match self {
            Format::Json => (status, Json(body)).into_response(),
            Format::Html => Redirect::to(location).into_response(),
        }
    }

    /// The answer to a successful POST about a room: the JSON body, or a
    /// 303 back to the room's page for an HTML form.
    pub fn done_in_room(
        self,
        status: axum::http::StatusCode,
        body: &impl Serialize,
        room_id: &str,
    ) -> Response {
        self.created(status, body, &format!("/rooms/{room_id}"))
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Format::of(&parts.headers))
    }
}

/// A POST body from a form (`application/x-www-form-urlencoded`, also when
/// no type is given, as `curl -d` sends) or from JSON. A body that does not
/// parse is 400 `bad_request`; bounds are the handler's job (422).
pub struct Input<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = header_text(request.headers(), header::CONTENT_TYPE).to_owned();
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge("the request body is too large".into())
            } else {
                AppError::bad_request(format!("unreadable body: {e}"))
            }
        })?;
        parse_body(&content_type, &body).map(Input)
    }
}

/// A body that may say nothing at all: JSON `null`, or an object (a form
/// always is one), for bodies whose every field is optional. `Option<T>`
/// would do for JSON only: forms have no `null` to tell it by.
pub struct Maybe<T>(pub Option<T>);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Maybe<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);

        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = Maybe<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or null")
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Maybe(None))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Maybe(None))
            }

            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(|t| Maybe(Some(t)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| Maybe(Some(t)))
            }
        }

        deserializer.deserialize_option(Visit(std::marker::PhantomData))
    }
}

/// Parses a form or JSON body by its `Content-Type` (`""` when absent), as
/// [`Input`] does: 400 when it does not parse, 415 for another type.
pub fn parse_body<T: DeserializeOwned>(content_type: &str, body: &[u8]) -> Result<T, AppError> {
    // Media types are case-insensitive (RFC 9110 §8.3.1).
    let mime = media_type(content_type);
    match mime.as_str() {
        "application/json" => serde_json::from_slice(body)
            .map_err(|e| AppError::bad_request(format!("malformed JSON: {e}"))),
        "" | "application/x-www-form-urlencoded" => {
            serde_urlencoded::from_bytes(&lists_joined(body))
                .map_err(|e| AppError::bad_request(format!("malformed form: {e}")))
        }
        other => Err(AppError::UnsupportedMediaType(format!(
            "send a form or JSON, not {other}"
        ))),
    }
}

/// Fields a form may repeat, one value each time (`mentions=a&mentions=b`,
/// as forms send a list): their values are joined with commas, as the
/// field also takes them. Any other field repeated is refused (400).
const LIST_FIELDS: [&str; 1] = ["mentions"];

/// `body` with the values of each repeated list field joined into one.
fn lists_joined(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let repeated = LIST_FIELDS
        .iter()
        .any(|list| pairs.iter().filter(|(key, _)| key == list).count() > 1);
    if !repeated {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut joined: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let list = LIST_FIELDS.contains(&key.as_str());
        match joined.iter_mut().find(|(seen, _)| list && *seen == key) {
            Some((_, values)) => {
                values.push(',');
                values.push_str(&value);
            }
            None => joined.push((key, value)),
        }
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.extend_pairs(joined);
    std::borrow::Cow::Owned(out.finish().into_bytes())
}

/// A resume cursor (`after`, `last_event_id`): absent, or an event id,
/// which is never negative.
pub fn cursor_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, AppError> {
    let cursor = parse_param::<i64>(name, raw)?;
    if cursor.is_some_and(|c| c < 0) {
        return Err(AppError::invalid(format!("{name} must not be negative")));
    }
    Ok(cursor)
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
fn media_type(content_type: &str) -> String {
    let mime = content_type.split(';').next().unwrap_or("");
    mime.trim().to_ascii_lowercase()
}

/// A number field that forms send as text and JSON as a number.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum Loose {
    Number(serde_json::Number),
    Text(String),
}

impl Loose {
    /// For `#[serde(default, deserialize_with = "Loose::present")]`: an
    /// absent field is `None`, and `null` is refused (400) like any other
    /// value that is no number, where a plain `Option` would take it for
    /// absence.
    pub fn present<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Loose>, D::Error> {
        <Loose as serde::Deserialize>::deserialize(deserializer).map(Some)
    }

    /// `None` when absent or empty; 422 when it is not a whole number.
    /// A JSON number is whole when its fraction is zero (`12.0` is 12, as
    /// JSON Schema's `integer` has it); one beyond an `i64` saturates,
    /// which no bound admits. Text is read the same way: digits, with a
    /// sign and a fraction of zeros if it likes (`+12.0`, as a form
    /// writes a float), and spaces around ([`whole_text_pattern`]).
    pub fn whole(field: &str, value: Option<&Loose>) -> Result<Option<i64>, AppError> {
        let not_whole = || AppError::invalid(format!("{field} must be a whole number"));
        // What an i64 holds: 2^63 and beyond would saturate.
        let fits = |f: f64| f >= i64::MIN as f64 && f < i64::MAX as f64;
        match value {
            None => Ok(None),
            Some(Loose::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(n), _) => Ok(Some(n)),
                (None, Some(f)) if f.fract() == 0.0 && fits(f) => Ok(Some(f as i64)),
                (None, Some(f)) if f.fract() == 0.0 => {
                    Err(AppError::invalid(format!("{field} is out of range")))
                }
                _ => Err(not_whole()),
            },
            Some(Loose::Text(text)) if text.trim().is_empty() => Ok(None),
            Some(Loose::Text(text)) => whole_text(text.trim()).map(Some).ok_or_else(not_whole),
        }
    }
}

/// The pattern of a whole number's text as [`Loose::whole`] reads it, for
/// a schema: `number` is the pattern of its sign and digits (which sets its
/// range); empty text too (taken for absent) when `empty_too`.
pub fn whole_text_pattern(number: &str, empty_too: bool) -> String {
    let space = whitespace_class();
    let optional = if empty_too { "?" } else { "" };
    format!("^{space}*(?:(?:{number})(?:[.]0*)?){optional}{space}*$")
}

/// `text` (trimmed) as a whole number: an optional sign, digits, and an
/// optional fraction of zeros; `None` for anything else, or beyond an i64.
fn whole_text(text: &str) -> Option<i64> {
    let number = without_zero_fraction(text);
    let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// `text` without a fraction made of zeros (`12.0`, `12.`): JSON Schema's
/// integers include `12.0`, and that is how forms and query strings get
/// them written.
fn without_zero_fraction(text: &str) -> &str {
    match text.split_once('.') {
        Some((whole, zeros)) if zeros.bytes().all(|b| b == b'0') => whole,
        _ => text,
    }
}

/// The pattern of the positive numbers of as many digits as `max` has, up
/// to `max` (digits, the first not zero): with the patterns of shorter
/// numbers, a range's upper bound in a schema.
pub fn digits_up_to(max: &str) -> String {
    let digits = max.as_bytes();
    let mut ways: Vec<String> = Vec::with_capacity(digits.len() + 1);
    for (i, &digit) in digits.iter().enumerate() {
        // Equal to `max` before position i, lower at i, anything after.
        let lowest = if i == 0 { b'1' } else { b'0' };
        if digit > lowest {
            let rest = digits.len() - i - 1;
            ways.push(format!(
                "{}[{}-{}][0-9]{{{rest}}}",
                &max[..i],
                lowest as char,
                (digit - 1) as char
            ));
        }
    }
    ways.push(max.to_owned());
    format!("(?:{})", ways.join("|"))
}

/// Trims `raw` and checks its length in characters (not bytes), and that
/// it shows something: text made only of invisible characters (zero-width
/// spaces, joiners, fillers) is as empty as blank text.
pub fn bounded_text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(AppError::invalid(format!("{field} must not be empty")));
    }
    if text.chars().all(is_invisible) {
        return Err(AppError::invalid(format!(
            "{field} must contain something visible"
        )));
    }
    if chars > max {
        return Err(AppError::invalid(format!(
            "{field} must be at most {max} characters (got {chars})"
        )));
    }
    Ok(text.to_owned())
}

/// [`bounded_text`] for what names someone or something among others
/// (display names, room titles): without bidirectional embeddings,
/// overrides and isolates, which reorder the text shown after them (a name
/// that makes "joined" read backwards, a title that hides its ending).
pub fn bounded_name(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let text = bounded_text(field, raw, max)?;
    if text.chars().any(is_bidi_control) {
        return Err(AppError::invalid(format!(
            "{field} must not contain bidirectional control characters"
        )));
    }
    Ok(text)
}

/// Unicode's White_Space: what `str::trim` removes and `char::is_whitespace`
/// says (a test holds the two together), as ranges the schemas can name.
const WHITESPACE: &[(char, char)] = &[
    ('\t', '\r'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{A0}', '\u{A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

/// Characters that show nothing by themselves, besides whitespace.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{E0000}', '\u{E007F}'),
    ('\u{E0100}', '\u{E01EF}'),
];

/// Unicode's explicit bidirectional embeddings, overrides and isolates.
const BIDI_CONTROLS: &[(char, char)] = &[('\u{202A}', '\u{202E}'), ('\u{2066}', '\u{2069}')];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(from, to)| (from..=to).contains(&c))
}

/// Characters that show nothing by themselves.
fn is_invisible(c: char) -> bool {
    c.is_whitespace() || in_ranges(c, INVISIBLE)
}

fn is_bidi_control(c: char) -> bool {
    in_ranges(c, BIDI_CONTROLS)
}

/// The JSON Schema of what [`bounded_text`] accepts, as exact as patterns
/// make it: at most `max` characters once trimmed, at least one of them
/// visible. Every pattern is derived from the tables the check uses.
pub fn bounded_text_schema(max: usize, description: &str) -> Schema {
    text_schema(max, description, false)
}

/// The JSON Schema of what [`bounded_name`] accepts: [`bounded_text_schema`]
/// without bidirectional controls.
pub fn bounded_name_schema(max: usize, description: &str) -> Schema {
    text_schema(max, description, true)
}

/// A regular expression character class of what `str::trim` removes.
pub fn whitespace_class() -> String {
    format!("[{}]", char_class(&[WHITESPACE]))
}

fn text_schema(max: usize, description: &str, name: bool) -> Schema {
    let space = char_class(&[WHITESPACE]);
    let shown = format!("[^{}]", char_class(&[WHITESPACE, INVISIBLE]));
    // Whitespace, then the trimmed text (from its first to its last
    // character that is not whitespace), then whitespace.
    let trimmed = format!(
        "^[{space}]*[^{space}](?:[\\s\\S]{{0,{}}}[^{space}])?[{space}]*$",
        max.saturating_sub(2)
    );
    let pattern = |pattern: String| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
    };
    let mut all = AllOfBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .item(pattern(trimmed))
        .item(pattern(shown));
    if name {
        all = all.item(pattern(format!("^[^{}]*$", char_class(&[BIDI_CONTROLS]))));
    }
    all.into()
}

/// The ranges as the inside of a regular expression character class:
/// `\uXXXX` escapes, which ECMA-262, Python and Rust read alike, and the
/// characters themselves beyond the Basic Multilingual Plane (where an
/// escape is spelled differently in each; validators that read by code
/// point, as Schemathesis's do, all read the character).
fn char_class(tables: &[&[(char, char)]]) -> String {
    let one = |c: char| match u16::try_from(u32::from(c)) {
        Ok(unit) => format!("\\u{unit:04x}"),
        Err(_) => c.to_string(),
    };
    let mut class = String::new();
    for &(from, to) in tables.iter().flat_map(|table| table.iter()) {
        class.push_str(&one(from));
        if to != from {
            class.push('-');
            class.push_str(&one(to));
        }
    }
    class
}

/// A numeric query parameter: absent is `None`, anything that is not a
/// number is 400 `bad_request`, an empty value (`?limit=`) included: it
/// says neither "the default" nor a number.
pub fn parse_param<T: std::str::FromStr>(
    name: &str,
    raw: Option<&str>,
) -> Result<Option<T>, AppError> {
    match raw {
        None => Ok(None),
        Some(text) => without_zero_fraction(text)
            .parse()
            .map(Some)
            .map_err(|_| AppError::bad_request(format!("{name} must be a number"))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn media_types_are_case_insensitive() {
        let parsed: serde_json::Value =
            parse_body("Application/JSON; charset=UTF-8", b"{\"a\": 1}").unwrap();
        assert_eq!(parsed["a"], 1);
        assert!(parse_body::<serde_json::Value>("text/plain", b"x").is_err());
    }

    #[test]
    fn text_is_trimmed_and_bounded_in_characters() {
        assert_eq!(bounded_text("name", "  ana ", 32).unwrap(), "ana");
        assert!(bounded_text("name", "   ", 32).is_err());
        assert!(bounded_text("name", &"é".repeat(32), 32).is_ok());
        assert!(bounded_text("name", &"é".repeat(33), 32).is_err());
    }

    #[test]
    fn invisible_text_is_empty_and_names_keep_their_direction() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200D}\u{FEFF}",
            "\u{3164}",
            "\u{2800} \u{2060}",
        ] {
            let refused = bounded_text("chat", invisible, 100).unwrap_err();
            assert!(refused.to_string().contains("visible"), "{invisible:?}");
        }
        // Invisible characters inside visible text are fine (emoji use
        // joiners).
        assert!(bounded_text("chat", "👩\u{200D}💻 hi", 100).is_ok());
        for bidi in ["\u{202E}nimda", "ali\u{2066}ce", "\u{202B}x"] {
            assert!(bounded_name("name", bidi, 32).is_err(), "{bidi:?}");
            assert!(bounded_text("chat", bidi, 100).is_ok(), "messages may");
        }
        assert_eq!(bounded_name("name", " עברית ", 32).unwrap(), "עברית");
    }

    #[test]
    fn a_maybe_body_is_null_or_an_object_in_json_and_in_forms() {
        #[derive(serde::Deserialize)]
        struct Form {
            a: Option<String>,
        }
        let some = |content_type: &str, body: &str| -> Option<Option<String>> {
            parse_body::<Maybe<Form>>(content_type, body.as_bytes())
                .ok()
                .map(|Maybe(form)| form.and_then(|f| f.a))
        };
        assert_eq!(some("application/json", "null"), Some(None));
        assert_eq!(
            some("application/json", r#"{"a":"x"}"#),
            Some(Some("x".into()))
        );
        assert_eq!(some("application/json", "{}"), Some(None));
        assert_eq!(some("application/json", "[1]"), None);
        assert_eq!(some("", "a=x"), Some(Some("x".into())));
        assert_eq!(some("", ""), Some(None));
    }

    /// Texts to hold a whole number's pattern to the check of its field:
    /// numbers as forms and people write them, and near misses.
    const NUMBER_TEXTS: &[&str] = &[
        "0",
        "-0",
        "+0",
        "-00.0",
        "7",
        " 7 ",
        "\u{a0}12\t",
        "007",
        "+12.0",
        "12.",
        "12.000",
        "-5",
        "-5.0",
        "12.5",
        "12.01",
        ".0",
        "+",
        "-",
        "1e3",
        "0x10",
        "1_000",
        "1 000",
        "٣",
        "12.0.0",
        "++1",
        "10000",
        "10001",
        "9999",
        "1",
        "2",
        "   ",
        "",
        "99999999999999999999",
        "999999999999999999",
        "1000000000000000000",
        "0001000000000000000",
    ];

    /// Holds the schema pattern of a number field to `accepts`, what its
    /// route takes as text: a pattern that admits less than the route is
    /// the schema refusing valid input, one that admits more the route
    /// refusing what the schema calls valid.
    pub fn pattern_agrees_with(pattern: &str, accepts: impl Fn(&str) -> bool) {
        let pattern = regex::Regex::new(pattern).unwrap();
        for text in NUMBER_TEXTS {
            assert_eq!(pattern.is_match(text), accepts(text), "{text:?}");
        }
    }

    #[test]
    fn whole_number_text_is_what_its_pattern_says() {
        let read = |text: &str| Loose::whole("n", Some(&Loose::Text(text.into())));
        let up_to_max = digits_up_to(&i64::MAX.to_string());
        let pattern = whole_text_pattern(&format!("[+-]?0*(?:[0-9]{{1,18}}|{up_to_max})"), true);
        pattern_agrees_with(&pattern, |text| read(text).is_ok());
        assert_eq!(read(" +12.00 ").unwrap(), Some(12));
        assert_eq!(read("-0").unwrap(), Some(0));
        assert_eq!(read("").unwrap(), None);
        assert_eq!(
            read("-999999999999999999").unwrap(),
            Some(-999_999_999_999_999_999)
        );
    }

    #[test]
    fn a_range_of_digits_is_spelled_out_exactly() {
        let pattern = regex::Regex::new(&format!("^{}$", digits_up_to("3405"))).unwrap();
        for n in 0..10_000 {
            let text = n.to_string();
            assert_eq!(pattern.is_match(&text), (1000..=3405).contains(&n), "{n}");
        }
        assert!(!pattern.is_match("0999"));
    }

    #[test]
    fn query_numbers_may_have_a_fraction_of_zeros() {
        assert_eq!(parse_param::<i64>("n", Some("1759.0")).unwrap(), Some(1759));
        assert_eq!(parse_param::<u64>("n", Some("25.")).unwrap(), Some(25));
        assert!(parse_param::<i64>("n", Some("1759.5")).is_err());
        assert!(parse_param::<i64>("n", Some("1e3")).is_err());
    }

    #[test]
    fn the_whitespace_table_is_what_trim_removes() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(c.is_whitespace(), in_ranges(c, WHITESPACE), "{c:?}");
        }
    }
}
