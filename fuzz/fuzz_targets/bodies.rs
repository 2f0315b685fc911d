//! Form and JSON bodies: `negotiate::parse_body` (what `Input<T>` runs on
//! every POST body) into each request struct that has bounds, then those
//! bounds (`NewRoom::check`, `ChatForm::check`, `WhisperForm::check`), and
//! `bounded_text` and `Loose::whole` on their own.
//!
//! Input: `[type][body]`; `type` picks the `Content-Type` from `TYPES`.
//!
//! Must never panic; a body that does not parse is 400 (415 for another
//! type), a value out of bounds 422; what passes is within the bounds.

#![no_main]

use gifchat::{
    error::AppError,
    routes::{
        messages::{ChatForm, MAX_CHAT_CHARS, WhisperForm},
        negotiate::{Loose, bounded_text, parse_body},
        rooms::{MAX_PASSWORD_CHARS, MAX_TITLE_CHARS, MEMBERS_RANGE, NewRoom},
    },
};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 7] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "",
    "application/json; charset=utf-8",
    " application/x-www-form-urlencoded ; charset=UTF-8",
    "text/plain",
    "multipart/form-data; boundary=x",
];

fn parsed<T: serde::de::DeserializeOwned>(content_type: &str, body: &[u8]) -> Option<T> {
    match parse_body::<T>(content_type, body) {
        Ok(value) => Some(value),
        Err(AppError::BadRequest(_)) => None,
        Err(AppError::UnsupportedMediaType(_)) => {
            let mime = content_type.split(';').next().unwrap_or("").trim();
            assert!(!matches!(
                mime,
                "" | "application/json" | "application/x-www-form-urlencoded"
            ));
            None
        }
        Err(other) => panic!("parse_body: {other:?}"),
    }
}

fn bounded(text: &str, max: usize) {
    assert_eq!(text, text.trim());
    let chars = text.chars().count();
    assert!((1..=max).contains(&chars), "{chars} characters");
}

fn refused(error: &AppError) {
    assert_eq!(error.code(), "invalid", "{error:?}");
}

fuzz_target!(|input: &[u8]| {
    let Some((&kind, body)) = input.split_first() else {
        return;
    };
    let content_type = TYPES[usize::from(kind) % TYPES.len()];

    if let Some(room) = parsed::<NewRoom>(content_type, body) {
        match room.check() {
            Ok(spec) => {
                bounded(&spec.title, MAX_TITLE_CHARS);
                assert!(MEMBERS_RANGE.contains(&i64::from(spec.max)));
                if let Some(password) = &spec.password {
                    let chars = password.chars().count();
                    assert!((1..=MAX_PASSWORD_CHARS).contains(&chars));
                }
            }
            Err(error) => refused(&error),
        }
    }
    if let Some(chat) = parsed::<ChatForm>(content_type, body) {
        match chat.check() {
            Ok(text) => bounded(&text, MAX_CHAT_CHARS),
            Err(error) => refused(&error),
        }
    }
    if let Some(whisper) = parsed::<WhisperForm>(content_type, body) {
        match whisper.check("me") {
            Ok((text, to)) => {
                bounded(&text, MAX_CHAT_CHARS);
                assert!(!to.is_empty() && to != "me" && to == to.trim());
            }
            Err(error) => refused(&error),
        }
    }

    // The helpers on their own, on the body as text.
    let text = String::from_utf8_lossy(body);
    let max = usize::from(kind);
    match bounded_text("field", &text, max) {
        Ok(kept) => bounded(&kept, max),
        Err(error) => refused(&error),
    }
    let loose = Loose::Text(text.clone().into_owned());
    match Loose::whole("field", Some(&loose)) {
        Ok(None) => assert!(text.trim().is_empty()),
        Ok(Some(n)) => assert_eq!(text.trim().parse::<i64>().ok(), Some(n)),
        Err(error) => {
            refused(&error);
            assert!(text.trim().parse::<i64>().is_err());
        }
    }
});
