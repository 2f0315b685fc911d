//! The contract as a machine-readable document: `GET /openapi.json`, an
//! OpenAPI 3.1 description of the JSON API.
//!
//! This module owns what the operations share: the document's root (info,
//! tags, the error schema), the error responses every operation refers to,
//! the response sets ([`IntoResponses`]) that name them by where they come
//! from, and the one operation of its own, `GET /openapi.json`. The others
//! are not its: each feature documents its handlers with `#[utoipa::path]`
//! and registers them with `routes!`, so the route table and the document
//! are built by the same calls and cannot drift. `routes/mod.rs` collects
//! the document while it builds the router, and [`serve`] renders it once,
//! at start-up.

use std::collections::BTreeMap;

use axum::{
    Extension, Router,
    body::Bytes,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa::{
    IntoResponses, OpenApi,
    openapi::{
        self, ContentBuilder, Ref, RefOr, ResponseBuilder,
        extensions::Extensions,
        header::HeaderBuilder,
        schema::{ObjectBuilder, Type},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ErrorBody, ErrorCode},
    state::AppState,
};

/// The parts of the document that no operation brings: its info (title,
/// version and license from Cargo), the tags, and the error schema.
#[derive(OpenApi)]
#[openapi(
    info(description = "A self-hosted, real-time GIF chat server. Every POST body may be \
        JSON or an HTML form (`application/x-www-form-urlencoded`); an HTML form post that \
        does not ask for JSON (`Accept: application/json`) is answered with a 303 back to a \
        page instead. Every JSON error is `{\"error\": <code>, \"message\": <text>}`; a \
        browser (`Accept: text/html`) gets an HTML page, or a 303 with a flash message, \
        instead."),
    components(schemas(ErrorBody, ErrorCode)),
    tags(
        (name = "lobby", description = "The list of rooms"),
        (name = "rooms", description = "Creating, opening, joining and deleting rooms"),
        (name = "messages", description = "Posting, whispering and reading history"),
        (name = "uploads", description = "GIFs: uploading and serving them"),
        (name = "moderation", description = "The owner's powers"),
        (name = "streams", description = "Server-Sent Events"),
        (name = "polls", description = "Long-polling, for where streams do not work"),
        (name = "me", description = "The caller's identity"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
struct Root;

/// The error responses, by name: each status says which codes it carries.
/// `true`: the answer says when to try again (`Retry-After`, in seconds).
const ERRORS: [(&str, &str, bool); 11] = [
    (
        "BadRequest",
        "`bad_request`: the path, query or body could not be parsed",
        false,
    ),
    (
        "Forbidden",
        "`forbidden` (not admitted to this private room, not its owner, or a cross-site \
         request), `wrong_password` or `kicked`",
        false,
    ),
    ("NotFound", "`not_found`: no such room or file", false),
    (
        "Timeout",
        "`timeout`: the request took longer than the server allows",
        false,
    ),
    (
        "Conflict",
        "`room_full` (the room has no place left) or `conflict` (a user the request names \
         is not present in the room, or is the caller)",
        false,
    ),
    ("TooLarge", "`too_large`: the body is too large", false),
    (
        "UnsupportedMediaType",
        "`unsupported_media_type`: the body is not of a type this route takes",
        false,
    ),
    (
        "Invalid",
        "`invalid`: a value is out of its bounds (the message says which)",
        false,
    ),
    (
        "RateLimited",
        "`rate_limited`: too many requests from this session or address",
        true,
    ),
    (
        "Internal",
        "`internal`: the server failed; the cause is in its log",
        false,
    ),
    (
        "Unavailable",
        "`unavailable`: the server is busy or shutting down",
        true,
    ),
];

/// The document's root, with the error responses the operations refer to.
pub fn root() -> openapi::OpenApi {
    let mut api = Root::openapi();
    let components = api.components.get_or_insert_with(Default::default);
    for (name, description, retry_after) in ERRORS {
        components.responses.insert(
            name.to_owned(),
            error_response(description, retry_after).into(),
        );
    }
    api
}

fn error_response(description: &str, retry_after: bool) -> openapi::Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body);
    if !retry_after {
        return response.build();
    }
    // OpenAPI's Header Object has `required`, utoipa's has not: it is
    // written through the extensions map, which is flattened into the
    // header as it is.
    let required = Extensions::from_iter([("required", true)]);
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1));
    let header = HeaderBuilder::new()
        .schema(Some(seconds))
        .description(Some("Seconds to wait before trying again"))
        .extensions(Some(required))
        .build();
    response.header("Retry-After", header).build()
}

/// A named set of the error responses above, for `responses(...)` of
/// `#[utoipa::path]`: an operation lists the sets that apply to it.
macro_rules! response_set {
    ($(#[$doc:meta])* $set:ident: $($status:literal => $name:literal),+ $(,)?) => {
        $(#[$doc])*
        pub struct $set;

        impl IntoResponses for $set {
            fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                BTreeMap::from([$((
                    $status.to_owned(),
                    RefOr::Ref(Ref::from_response_name($name)),
                )),+])
            }
        }
    };
}

response_set!(
    /// Any handler can fail (the database, the disk): 500.
    Failed: "500" => "Internal"
);
response_set!(
    /// Ordinary requests answer within the request timeout (routes/mod.rs).
    Ordinary: "408" => "Timeout"
);
response_set!(
    /// A path, query or header value that does not parse.
    Malformed: "400" => "BadRequest"
);
response_set!(
    /// A file that is not there.
    Missing: "404" => "NotFound"
);
response_set!(
    /// A value out of its bounds.
    Invalid: "422" => "Invalid"
);
response_set!(
    /// At odds with the room as it is now: full, or without the user named.
    Conflict: "409" => "Conflict"
);
response_set!(
    /// Work that waits for the writer, or for a password check: the server
    /// may be stopping, or checking too many passwords at once.
    Unavailable: "503" => "Unavailable"
);
response_set!(
    /// Streams and polls hold a slot per client address (429).
    LongLived: "429" => "RateLimited"
);
response_set!(
    /// A room's routes: the id is decoded (400), the caller admitted (403:
    /// `forbidden` for a private room not yet joined, `kicked`), the room
    /// found (404).
    InRoom: "400" => "BadRequest", "403" => "Forbidden", "404" => "NotFound"
);
response_set!(
    /// Every state-changing request: refused when cross-site (403) or over
    /// the post rate (429).
    StateChange: "403" => "Forbidden", "429" => "RateLimited"
);
response_set!(
    /// A state-changing request with a form or JSON body: [`StateChange`],
    /// and a body that must parse (400), be small (413), be a form or JSON
    /// (415) and hold values within their bounds (422).
    Posted:
        "400" => "BadRequest",
        "403" => "Forbidden",
        "413" => "TooLarge",
        "415" => "UnsupportedMediaType",
        "422" => "Invalid",
        "429" => "RateLimited",
);

/// The document, rendered once: every request shares its bytes.
#[derive(Clone)]
struct Document(Bytes);

/// The route of `GET /openapi.json`, with `api` (everything else the
/// router serves) and this route itself rendered into it.
pub fn serve(api: openapi::OpenApi) -> Router<AppState> {
    let (router, api) = OpenApiRouter::with_openapi(api)
        .routes(routes!(document))
        .split_for_parts();
    // Serializing plain data into a string cannot fail; were it to, an
    // empty object is still JSON, and the test of the document says so.
    let rendered = api.to_json().unwrap_or_else(|_| "{}".to_owned());
    router.layer(Extension(Document(Bytes::from(rendered))))
}

/// GET /openapi.json: this API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses(
        (status = OK, description = "The OpenAPI document", content_type = "application/json",
            body = inline(Object))
    )
)]
async fn document(Extension(Document(bytes)): Extension<Document>) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}
