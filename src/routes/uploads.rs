//! GIF uploads at the HTTP edge: receiving a multipart upload into a `gif`
//! event, and serving the stored files. What happens to the bytes on disk
//! (temporary file, limits, decoding, names, clean-up) is `crate::uploads`.

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Path, Request, State, rejection::PathRejection},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{
        KnownFormat, RefOr, SchemaFormat, Type,
        schema::{ObjectBuilder, Schema},
    },
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

use crate::{
    db::writer::Post,
    error::{AppError, AppResult, ErrorBody},
    identity::Visitor,
    model::{EventRecord, Kind, NewEvent, RoomRow, User},
    routes::{
        access::admitted_room,
        limits::{ClientAddr, rate_limited},
        messages::{check_client_id, posted_status},
        negotiate::{Format, Loose},
        openapi::{Conflict, Failed, InRoom, Missing, Ordinary, Posted, Unavailable},
        references::{IdList, mentioned, mentions_schema, reply_to, reply_to_schema},
        rooms::RoomPath,
        visits::visit,
    },
    state::AppState,
    uploads::{self, Incoming},
};

/// The multipart field that carries the file.
const FIELD: &str = "gif";
/// The fields that may carry the post's `client_id`, the message it
/// replies to and whom it mentions, before or after the file.
const CLIENT_ID_FIELD: &str = "client_id";
const REPLY_TO_FIELD: &str = "reply_to";
const MENTIONS_FIELD: &str = "mentions";
/// Room the form may take beyond the file itself: part headers,
/// boundaries, and any small fields a browser form sends along.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// What a client with all its uploads in progress is asked to wait.
const UPLOAD_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        // The body is read as a stream and its size enforced while
        // streaming, against `config.max_upload` (see `post_gif`); axum's
        // default 2 MB limit would cut a legal 5 MiB upload.
        .routes(routes!(post_gif).layer(DefaultBodyLimit::disable()))
        .routes(routes!(serve_gif))
}

/// The form of `POST /rooms/{id}/gifs`, for the document only: the handler
/// streams the field to disk as it arrives instead of parsing the form.
pub struct GifForm;

impl PartialSchema for GifForm {
    fn schema() -> RefOr<Schema> {
        let gif = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("image/gif")
            .description(Some(
                "A whole GIF (`GIF87a` or `GIF89a`), at most `--max-upload` bytes (5 MiB \
                 unless configured), at most `--max-gif-side` pixels wide and tall",
            ));
        // Other fields are skipped, but every field's name is written in a
        // part's header, where control characters cannot be.
        let names = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"));
        let client_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z0-9_-]{1,64}$"))
            .description(Some(
                "The poster's own name for this post: a repeat stores nothing new and \
                 answers 200 with the event stored the first time",
            ));
        ObjectBuilder::new()
            .property("gif", gif)
            .required("gif")
            .property(CLIENT_ID_FIELD, client_id)
            .property(REPLY_TO_FIELD, reply_to_schema())
            .property(MENTIONS_FIELD, mentions_schema())
            .property_names(Some(names))
            .description(Some(
                "The GIF in the field `gif`, and optional `client_id`, `reply_to` and \
                 `mentions` (before or after it); other fields are ignored",
            ))
            .into()
    }
}

impl ToSchema for GifForm {}

/// POST /rooms/{id}/gifs: streams the multipart field `gif` to disk, checks
/// it is a whole GIF within the size limit, and stores a `gif` event; 201 +
/// the event once committed (303 back to the room for a browser form).
/// One address sends at most `--max-uploads-per-addr` at once (429), each
/// within `--upload-timeout` (408; the partial file is removed).
#[utoipa::path(
    post,
    path = "/rooms/{id}/gifs",
    operation_id = "post_gif",
    tag = "uploads",
    params(RoomPath),
    request_body(content(
        (GifForm = "multipart/form-data", encoding(("gif" = (content_type = "image/gif"))))
    )),
    responses(
        (status = OK, description = "A repeat (same `client_id`): the event stored the first time", body = EventRecord),
        (status = CREATED, description = "The stored `gif` event", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Ordinary, Unavailable, Failed
    )
)]
async fn post_gif(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    ClientAddr(addr): ClientAddr,
    visitor: Visitor,
    request: Request,
) -> AppResult<Response> {
    // Admission first: a visitor who may not post never gets to make the
    // server write a byte.
    let room = admitted_room(&state, &room_id, &visitor).await?;
    visit(&state, &room, &visitor.user)?;
    let posted = store_gif(&state, room, visitor.user, addr, request).await?;
    let record = posted.record();
    Ok(format.done_in_room(posted_status(&posted), record, &record.room))
}

/// Receives the GIF form of `request` and stores `user`'s `gif` event in
/// `room` (which they may post in): what `POST /rooms/{id}/gifs` and a
/// bot's GIFs do once they know who posts.
pub async fn store_gif(
    state: &AppState,
    room: RoomRow,
    user: User,
    addr: std::net::IpAddr,
    request: Request,
) -> AppResult<Post> {
    let Some(_slot) = state.limits.open_upload(addr) else {
        return Err(rate_limited(UPLOAD_BUSY_WAIT));
    };
    let max = state.config.max_upload;
    let mut form = multipart(request, max)?;
    let receiving = receive(
        &mut form,
        &state.config.uploads_dir,
        max,
        state.config.gif_limits(),
    );
    // On time out the receiving future is dropped, and the temporary
    // file's guard with it.
    let (incoming, fields) = tokio::time::timeout(state.config.upload_timeout, receiving)
        .await
        .map_err(|_| AppError::Timeout)??;
    let mentions = mentioned(state, &room, fields.mentions.as_ref()).await?;

    // From here on the file is whole. The rest runs in its own task, so a
    // client that hangs up now cannot cancel it halfway: had the handler's
    // future been dropped after the event was queued for the writer, the
    // file's guard would remove a file that a committed event refers to.
    let writer = state.writer.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let upload = incoming.finish().await?;
        let posted = writer
            .post(NewEvent {
                gif: Some(upload.url()),
                gif_info: Some(upload.info()),
                client_id: fields.client_id,
                reply_to: fields.reply_to,
                mentions,
                ..NewEvent::by(user, &room.id, Kind::Gif)
            })
            .await?;
        // Committed: the file now belongs to the event. On every error
        // above (room deleted meanwhile, writer gone) it was removed; so
        // it is for a repeat, whose event has the first upload's file.
        if let Post::New(_) = posted {
            metrics.upload_bytes.inc_by(upload.size());
            upload.keep();
        }
        Ok::<_, AppError>(posted)
    })
    .await?
}

/// The request body as a multipart stream, bounded as a whole. 415 when it
/// is not `multipart/form-data`; 413 at once when its declared length
/// already exceeds what any acceptable upload needs.
pub fn multipart(request: Request, max: u64) -> AppResult<multer::Multipart<'static>> {
    let headers = request.headers();
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            AppError::UnsupportedMediaType(format!(
                "send multipart/form-data with the GIF in a `{FIELD}` field"
            ))
        })?;
    let whole = max.saturating_add(FORM_OVERHEAD);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > whole) {
        return Err(uploads::too_large(max));
    }
    let limits =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(whole));
    Ok(multer::Multipart::with_constraints(
        request.into_body().into_data_stream(),
        boundary,
        limits,
    ))
}

/// The text fields of a GIF form, before or after the file.
#[derive(Default)]
struct TextFields {
    client_id: Option<String>,
    reply_to: Option<i64>,
    mentions: Option<IdList>,
}

impl TextFields {
    /// Reads `field` if it is one of ours (others are skipped).
    async fn read(&mut self, field: &mut multer::Field<'static>) -> AppResult<()> {
        match field.name() {
            Some(CLIENT_ID_FIELD) => {
                self.client_id = check_client_id(Some(&small_text(field, 64).await?))?;
            }
            Some(REPLY_TO_FIELD) => {
                let text = small_text(field, 32).await?;
                self.reply_to = reply_to(Some(&Loose::Text(text)))?;
            }
            // Repeated, or separated by commas: every one counts.
            Some(MENTIONS_FIELD) => {
                let text = small_text(field, 1024).await?;
                let mut ids = self.mentions.take().map(|m| m.ids()).unwrap_or_default();
                ids.extend(IdList::Text(text).ids());
                self.mentions = Some(IdList::List(ids));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Finds the `gif` field and streams it into a temporary file, chunk by
/// chunk; and the text fields around it.
async fn receive(
    form: &mut multer::Multipart<'static>,
    dir: &std::path::Path,
    max: u64,
    gif: uploads::GifLimits,
) -> AppResult<(Incoming, TextFields)> {
    let mut fields = TextFields::default();
    let mut field = gif_field(form, &mut fields).await?;
    let mut incoming = Incoming::create(dir, max, gif).await?;
    while let Some(chunk) = next_chunk(&mut field).await? {
        incoming.write(&chunk).await?;
    }
    drop(field);
    // Fields after the file count as well.
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        fields.read(&mut field).await?;
    }
    Ok((incoming, fields))
}

/// A text field's value, read a little at a time: past `max` bytes it is
/// cut (and then refused by the check that follows, as no valid value is
/// that long).
async fn small_text(field: &mut multer::Field<'static>, max: usize) -> AppResult<String> {
    let mut text = Vec::new();
    while let Some(chunk) = next_chunk(field).await? {
        text.extend_from_slice(&chunk);
        if text.len() > max {
            break;
        }
    }
    Ok(String::from_utf8(text).unwrap_or_default())
}

/// The `gif` field of the form, with the text fields that came before it
/// read into `fields` (the caller reads those after the file); other
/// fields before it are skipped (and count against the whole-body limit).
/// 422 when the form has no `gif` field or a malformed text field.
async fn gif_field(
    form: &mut multer::Multipart<'static>,
    fields: &mut TextFields,
) -> AppResult<multer::Field<'static>> {
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        // The client's file name and content type are ignored: the bytes
        // decide what the file is, and the server names it.
        if field.name() == Some(FIELD) {
            return Ok(field);
        }
        fields.read(&mut field).await?;
    }
    Err(AppError::invalid(format!(
        "the form has no `{FIELD}` file field"
    )))
}

/// The next chunk of a field's bytes, `None` after the last.
pub async fn next_chunk(field: &mut multer::Field<'static>) -> AppResult<Option<Bytes>> {
    field.chunk().await.map_err(multipart_error)
}

fn multipart_error(error: multer::Error) -> AppError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            AppError::TooLarge("the form is too large".into())
        }
        // Most likely the client went away; nobody may read this answer.
        multer::Error::StreamReadFailed(e) => {
            AppError::bad_request(format!("the upload was interrupted: {e}"))
        }
        other => AppError::bad_request(format!("malformed multipart body: {other}")),
    }
}

/// The file a `GET /gif/{file}` asks for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct GifPath {
    /// A name the server made (the `gif` of a `gif` event ends with it).
    #[param(pattern = "^[0-9a-f]{32}[.]gif$")]
    file: String,
}

/// GET /gif/{file}: an uploaded file, as `image/gif`, cacheable forever
/// (names are never reused), with `Last-Modified`/`If-Modified-Since` and
/// ranges handled by tower-http. Only names the server makes are served:
/// temporary and hidden files, odd characters and paths are 404.
#[utoipa::path(
    get,
    path = "/gif/{file}",
    operation_id = "get_gif",
    tag = "uploads",
    params(GifPath),
    responses(
        (status = OK, description = "The GIF", content_type = "image/gif"),
        (status = PARTIAL_CONTENT, description = "The range asked for (`Range`)",
            content_type = "image/gif"),
        (status = NOT_MODIFIED, description = "Not modified since `If-Modified-Since`"),
        (status = RANGE_NOT_SATISFIABLE, description = "A `Range` outside the file",
            body = ErrorBody),
        Missing, Failed
    )
)]
async fn serve_gif(
    State(state): State<AppState>,
    file: Result<Path<GifPath>, PathRejection>,
    request: Request,
) -> AppResult<Response> {
    let name = match file {
        Ok(Path(GifPath { file })) if uploads::is_upload_name(&file) => file,
        _ => return Err(AppError::not_found("GIF")),
    };
    let path = state.config.uploads_dir.join(name);
    // ServeFile would try to stream a directory and break the connection.
    let is_file = tokio::fs::metadata(&path)
        .await
        .is_ok_and(|meta| meta.is_file());
    if !is_file {
        return Err(AppError::not_found("GIF"));
    }
    let response = match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        // Removed in the meantime (its room was deleted).
        return Err(AppError::not_found("GIF"));
    }
    let (mut parts, body) = response.into_parts();
    let headers = &mut parts.headers;
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if parts.status.is_success() {
        // Set, not guessed: the file was decoded as a GIF on the way in.
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    }
    if parts.status.is_success() || parts.status == StatusCode::NOT_MODIFIED {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    Ok(Response::from_parts(parts, body))
}
