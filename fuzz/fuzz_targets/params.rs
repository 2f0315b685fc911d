//! Query parameters: `parse_param` (behind `after`, `last_event_id`,
//! `timeout`, `before`, `limit`) for every numeric type the routes use,
//! against `str::parse` as the reference; and whole query strings decoded
//! the way axum's `Query` does into `HistoryQuery`, then its bounds.
//!
//! Input: arbitrary bytes, as one parameter value (lossily UTF-8: a query
//! reaches the handler as a `String`) and as a whole query string.

#![no_main]

use std::{fmt::Debug, str::FromStr};

use gifchat::routes::{
    messages::{HistoryQuery, MAX_HISTORY},
    negotiate::parse_param,
};
use libfuzzer_sys::fuzz_target;

/// `parse_param` agrees with `str::parse` on the trimmed text; absent or
/// blank is `None`; anything else is 400.
fn check<T: FromStr + PartialEq + Debug>(raw: &str) {
    assert!(matches!(parse_param::<T>("n", None), Ok(None)));
    let trimmed = raw.trim();
    match parse_param::<T>("n", Some(raw)) {
        Ok(None) => assert!(trimmed.is_empty(), "{raw:?} read as absent"),
        Ok(Some(n)) => assert_eq!(Some(n), trimmed.parse::<T>().ok(), "{raw:?}"),
        Err(error) => {
            assert_eq!(error.code(), "bad_request", "{raw:?}: {error:?}");
            assert!(!trimmed.is_empty() && trimmed.parse::<T>().is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    // `after`, `last_event_id`, `before`: i64; `timeout`: u64; `limit`: usize.
    check::<i64>(&raw);
    check::<u64>(&raw);
    check::<usize>(&raw);

    if let Ok(query) = serde_urlencoded::from_bytes::<HistoryQuery>(data) {
        match query.check() {
            Ok((_, limit)) => assert!((1..=MAX_HISTORY).contains(&limit)),
            Err(error) => assert!(
                matches!(error.code(), "bad_request" | "invalid"),
                "{error:?}"
            ),
        }
    }
});
