//! `GET /openapi.json`: the contract as a document, read from a real server
//! the way a client generator or Schemathesis reads it. The document is
//! built from the same `routes!` calls as the router; these tests hold both
//! to the list of operations API.md promises, so that a route dropped from
//! either (or added to one only) fails here.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Client, TestApp};

/// Every documented operation: API.md's JSON API, the streams (GET and
/// HEAD) and polls (GET and HEAD), operations, and the document itself.
const OPERATIONS: [(&str, &str); 38] = [
    ("get", "/"),
    ("get", "/rooms"),
    ("post", "/rooms"),
    ("get", "/rooms/{id}"),
    ("delete", "/rooms/{id}"),
    ("post", "/rooms/{id}/join"),
    ("get", "/rooms/{id}/members"),
    ("get", "/rooms/{id}/messages"),
    ("post", "/rooms/{id}/messages"),
    ("post", "/rooms/{id}/whispers"),
    ("post", "/rooms/{id}/gifs"),
    ("post", "/rooms/{id}/kick"),
    ("post", "/rooms/{id}/owner"),
    ("post", "/rooms/{id}/events/{event}/reactions"),
    ("delete", "/rooms/{id}/events/{event}/reactions/{reaction}"),
    ("patch", "/rooms/{id}/events/{event}"),
    ("delete", "/rooms/{id}/events/{event}"),
    ("post", "/rooms/{id}/typing"),
    ("post", "/rooms/{id}/read"),
    ("get", "/rooms/{id}/search"),
    ("post", "/rooms/{id}/settings"),
    ("post", "/rooms/{id}/bots"),
    ("post", "/rooms/{id}/bots/{key}/messages"),
    ("post", "/rooms/{id}/bots/{key}/gifs"),
    ("delete", "/rooms/{id}/bots/{key}"),
    ("get", "/me"),
    ("post", "/me"),
    ("get", "/rooms/{id}/poll"),
    ("head", "/rooms/{id}/poll"),
    ("get", "/poll"),
    ("head", "/poll"),
    ("get", "/rooms/{id}/events"),
    ("head", "/rooms/{id}/events"),
    ("get", "/events"),
    ("head", "/events"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/gif/{file}"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(app: &TestApp) -> Value {
    let answer = app.client().get_json("/openapi.json").await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    let content_type = answer.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    answer.json()
}

/// `(method, path)` of every operation in the document.
fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                found.push((method.to_owned(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &doc["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is documented");
    operation
}

/// Follows a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            resolve(doc, doc.pointer(pointer).expect("the reference resolves"))
        }
        None => value,
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_of_this_version() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["title"], "gifchat");
}

#[tokio::test]
async fn every_operation_of_the_contract_is_documented_and_nothing_else() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .chain(&[("get", "/openapi.json")])
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    expected.sort();
    // Pages for people only stay out: the create form and the assets.
    assert_eq!(documented(&doc), expected);

    let mut ids: Vec<&str> = expected
        .iter()
        .map(|(method, path)| {
            operation(&doc, method, path)["operationId"]
                .as_str()
                .unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected.len(), "operation ids are unique");

    // Streams answer text/event-stream; both body kinds are taken by posts.
    for path in ["/rooms/{id}/events", "/events"] {
        let ok = &operation(&doc, "get", path)["responses"]["200"];
        assert!(ok["content"]["text/event-stream"].is_object(), "{path}");
    }
    for path in ["/rooms", "/rooms/{id}/messages", "/rooms/{id}/join", "/me"] {
        let content = &operation(&doc, "post", path)["requestBody"]["content"];
        assert!(content["application/json"].is_object(), "{path}");
        assert!(
            content["application/x-www-form-urlencoded"].is_object(),
            "{path}"
        );
    }
    let upload = &operation(&doc, "post", "/rooms/{id}/gifs")["requestBody"]["content"];
    assert!(upload["multipart/form-data"].is_object());
    // The lobby page answers JSON on request, and the room page too.
    for path in ["/", "/rooms/{id}"] {
        let content = &operation(&doc, "get", path)["responses"]["200"]["content"];
        assert!(content["application/json"].is_object(), "{path}");
        assert!(content["text/html"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn metrics_kept_off_the_public_port_are_kept_off_the_document() {
    let app = TestApp::spawn_with(|c| c.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let doc = document(&app).await;
    assert!(doc["paths"]["/metrics"].is_null());
}

#[tokio::test]
async fn errors_have_one_schema_with_their_codes() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let body = &schemas["ErrorBody"];
    assert_eq!(body["required"], json!(["error", "message"]));
    assert_eq!(
        resolve(&doc, &body["properties"]["error"]),
        &schemas["ErrorCode"]
    );
    let codes = schemas["ErrorCode"]["enum"].as_array().unwrap();
    for code in [
        "bad_request",
        "invalid",
        "not_found",
        "forbidden",
        "wrong_password",
        "kicked",
        "room_full",
        "conflict",
        "too_large",
        "unsupported_media_type",
        "rate_limited",
        "timeout",
        "unavailable",
        "internal",
    ] {
        assert!(codes.contains(&json!(code)), "{code}");
    }

    // Every error answer of the JSON API is that schema; a 429 or a 503
    // says when to come back. (The health check's 503 is its plain text.)
    for (method, path) in documented(&doc) {
        let responses = operation(&doc, &method, &path)["responses"]
            .as_object()
            .unwrap();
        for (status, response) in responses {
            let status: u16 = status.parse().unwrap();
            if status < 400 || (path == "/healthz" && status == 503) {
                continue;
            }
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
            if status == 429 || status == 503 {
                let retry = &response["headers"]["Retry-After"];
                assert_eq!(retry["required"], true, "{method} {path} {status}");
                assert_eq!(retry["schema"]["type"], "integer");
            }
        }
    }
}

#[tokio::test]
async fn links_lead_from_a_new_room_and_a_new_message_to_real_operations() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let ids: Vec<String> = documented(&doc)
        .iter()
        .map(|(method, path)| {
            operation(&doc, method, path)["operationId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let created = &operation(&doc, "post", "/rooms")["responses"]["201"]["links"];
    let mut targets = Vec::new();
    for link in created
        .as_object()
        .expect("links from a created room")
        .values()
    {
        let target = link["operationId"].as_str().unwrap();
        assert!(ids.iter().any(|id| id == target), "{target}");
        assert_eq!(link["parameters"]["id"], "$response.body#/id", "{target}");
        targets.push(target.to_owned());
    }
    // Every operation on a room (but its never-ending GET stream) is one;
    // those on a message are linked from a posted message, and taking a
    // reaction back from the reaction given.
    let posted = &operation(&doc, "post", "/rooms/{id}/messages")["responses"]["201"]["links"];
    let given = &operation(&doc, "post", "/rooms/{id}/events/{event}/reactions")["responses"]["201"]
        ["links"];
    let made = &operation(&doc, "post", "/rooms/{id}/bots")["responses"]["201"]["links"];
    let linked = |links: &Value, id: &str| {
        links
            .as_object()
            .is_some_and(|links| links.values().any(|link| link["operationId"] == id))
    };
    for (method, path) in documented(&doc) {
        let id = operation(&doc, &method, &path)["operationId"]
            .as_str()
            .unwrap();
        if path.contains("{reaction}") {
            assert!(linked(given, id), "no link to {id}");
        } else if path.contains("{key}") {
            assert!(linked(made, id), "no link to {id}");
        } else if path.contains("{event}") {
            assert!(linked(posted, id), "no link to {id}");
        } else if path.starts_with("/rooms/{id}") && id != "room_events" {
            assert!(targets.iter().any(|t| t == id), "no link to {id}");
        }
    }
    let before = posted
        .as_object()
        .unwrap()
        .values()
        .find(|link| link["operationId"] == "room_history")
        .expect("a link to history");
    assert_eq!(before["parameters"]["before"], "$response.body#/id");
    assert_eq!(before["parameters"]["id"], "$response.body#/room");
}

#[tokio::test]
async fn every_documented_operation_answers_on_the_real_server() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let alice = app.client();
    let room = alice.create_room("Documented", 5, None).await;
    let room = room["id"].as_str().unwrap().to_owned();
    let gif = alice
        .post_gif(&room, "one.gif", crate::uploads::gif(2, 2, 1, 7))
        .await
        .json();
    let file = gif["gif"]
        .as_str()
        .unwrap()
        .trim_start_matches("/gif/")
        .to_owned();

    let bot = alice
        .post_json(
            &format!("/rooms/{room}/bots"),
            json!({ "name": "documented" }),
        )
        .await
        .json();
    let key = bot["key"].as_str().unwrap().to_owned();

    // The room is deleted last, so that every other operation finds it.
    let mut operations = documented(&doc);
    operations.sort_by_key(|(method, path)| (method == "delete", path == "/rooms/{id}"));
    for (method, path) in operations {
        let url = path
            .replace("{id}", &room)
            .replace("{file}", &file)
            .replace("{key}", &key);
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        // Routes that take a body get an empty JSON object: refused
        // (400, 415, 422) or taken, never unrouted.
        let status = answer_status(&alice, method.clone(), &url).await;
        assert!(
            status != 404 && status != 405,
            "{method} {path} is not served: {status}"
        );
    }
    let gone = answer_status(&alice, reqwest::Method::GET, &format!("/rooms/{room}")).await;
    assert_eq!(gone, 404, "DELETE /rooms/{{id}} deleted the room");
}

/// The status of `method url` (with `{}` as its body when it may take
/// one), without waiting for a stream's body.
async fn answer_status(client: &Client, method: reqwest::Method, url: &str) -> u16 {
    let mut request = client
        .http
        .request(method.clone(), client.url(url))
        .header("accept", "application/json");
    if method == reqwest::Method::POST {
        request = request.json(&json!({}));
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("an answer within 10 s")
        .expect("an answer");
    response.status().as_u16()
}
