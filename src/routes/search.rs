//! Search in a room: its messages as they are now (edited text; deleted
//! ones never), as the caller may see them (whispers only to their two
//! users), newest first. JSON for scripts and the page's search box; a
//! page of results for a browser without JavaScript.

use axum::{
    Json,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    flash,
    identity::Visitor,
    model::EventRecord,
    routes::{
        access::admitted_room,
        negotiate::{Format, parse_param},
        openapi::{Failed, InRoom, Invalid, Ordinary},
        rooms::RoomPath,
    },
    state::AppState,
    views,
};

const DEFAULT_RESULTS: usize = 20;
pub const MAX_RESULTS: usize = 100;
/// Longest query, in characters.
const MAX_QUERY_CHARS: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(search))
}

/// The query of `GET /rooms/{id}/search`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// The words to find (each as a word or the start of one), all of
    /// them: letters and digits count, the rest separates words.
    #[param(required = true, value_type = String, min_length = 1, max_length = 200)]
    q: Option<String>,
    /// How many messages at most.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
}

/// `{"events": [...]}`: what a search found.
#[derive(Serialize, ToSchema)]
struct Found {
    /// Newest first, as they are now.
    #[schema(max_items = 100)]
    events: Vec<EventRecord>,
}

/// The words of a query: runs of letters and digits, lowercased, each
/// once (none, for a query of punctuation: nothing to find). 422 for an
/// empty or too long one.
pub fn words_of(q: &str) -> AppResult<Vec<String>> {
    if q.is_empty() {
        return Err(AppError::invalid("q is required: the words to find"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::invalid(format!(
            "q must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let mut words: Vec<String> = Vec::new();
    for word in q.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if !word.is_empty() && !words.contains(&word) {
            words.push(word);
        }
    }
    Ok(words)
}

/// GET /rooms/{id}/search?q=&limit=: the messages of the room, as the
/// caller sees them now, whose text has every word of `q`, newest first.
#[utoipa::path(
    get,
    path = "/rooms/{id}/search",
    operation_id = "search",
    tag = "messages",
    params(RoomPath, SearchQuery),
    responses(
        (status = OK, description = "What was found: JSON when asked for, else a page of \
            results linking to each message",
            content((Found = "application/json"), (String = "text/html"))),
        InRoom, Invalid, Ordinary, Failed
    )
)]
async fn search(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<SearchQuery>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let q = query.q.unwrap_or_default();
    let words = words_of(&q)?;
    let limit = parse_param::<usize>("limit", query.limit.as_deref())?.unwrap_or(DEFAULT_RESULTS);
    if !(1..=MAX_RESULTS).contains(&limit) {
        return Err(AppError::invalid(format!(
            "limit must be between 1 and {MAX_RESULTS}"
        )));
    }
    let room = admitted_room(&state, &room_id, &visitor).await?;
    let events = match words.is_empty() {
        true => Vec::new(),
        false => {
            (state.db)
                .search(&room.id, &visitor.user.id, &words, limit)
                .await?
        }
    };
    if format == Format::Json {
        return Ok(Json(Found { events }).into_response());
    }
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    let public = room.public(state.hub.member_count(&room.id));
    Ok(views::room::search_results(&page, &public, q.trim(), &events).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_its_words() {
        assert_eq!(words_of("Cats, dogs & CATS!").unwrap(), ["cats", "dogs"]);
        assert_eq!(words_of("don't").unwrap(), ["don", "t"]);
        assert!(words_of(" !? ").unwrap().is_empty(), "nothing to find");
        assert!(words_of("").is_err());
        assert_eq!(
            words_of(&"a ".repeat(11)).unwrap(),
            ["a"],
            "one word, repeated"
        );
        assert!(words_of(&"a".repeat(201)).is_err());
    }
}
