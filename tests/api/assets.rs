//! The browser client's files: every ES module a page loads (and every
//! module those import, by relative path) is served from the page's
//! release path, as JavaScript, cached for good; the pages carry the
//! templates the client clones.

use std::collections::{BTreeSet, VecDeque};

use reqwest::Url;

use crate::helpers::{Client, TestApp};

/// The `src`/`href` values of `html` under `/assets/`.
fn linked_assets(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

/// What a module imports: the specifiers of its `import ... from "x"` and
/// `import "x"` statements.
fn imports(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with("import ") || line.starts_with("} from "))
        .filter_map(|line| {
            let quoted = line.rsplit_once(" from ").map_or(line, |(_, from)| from);
            quoted.split('"').nth(1).map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn every_module_a_page_loads_is_served_from_its_release_for_good() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Modules", 10, None).await;
    let mut queue = VecDeque::new();
    for page in ["/", &format!("/rooms/{room}")] {
        let html = alice.get_html(page).await;
        assert_eq!(html.status, 200);
        queue.extend(linked_assets(&html.text));
    }
    let release = queue
        .iter()
        .find_map(|url| url.strip_prefix("/assets/")?.split_once('/'))
        .map(|(release, _)| release.to_owned())
        .expect("the pages link their assets under a release path");

    let base = Url::parse(&app.url("/")).unwrap();
    let mut fetched = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if !fetched.insert(path.clone()) {
            continue;
        }
        assert!(
            path.starts_with(&format!("/assets/{release}/")),
            "{path} is outside the page's release"
        );
        let answer = app.client().get_json(&path).await;
        assert_eq!(answer.status, 200, "GET {path}");
        assert_eq!(
            answer.headers["cache-control"], "public, max-age=31536000, immutable",
            "{path}"
        );
        if !path.ends_with(".js") {
            continue;
        }
        assert_eq!(
            answer.headers["content-type"], "text/javascript; charset=utf-8",
            "{path}"
        );
        let here = base.join(&path).unwrap();
        for specifier in imports(&answer.text) {
            assert!(specifier.starts_with('.'), "{path} imports {specifier}");
            queue.push_back(here.join(&specifier).unwrap().path().to_owned());
        }
    }
    for module in [
        "chat.js",
        "lobby.js",
        "site.js",
        "lib/tabs.js",
        "lib/transport.js",
    ] {
        let path = format!("/assets/{release}/{module}");
        assert!(
            fetched.contains(&path),
            "{path} was not loaded: {fetched:?}"
        );
    }
}

#[tokio::test]
async fn an_asset_outside_this_release_is_revalidated_and_an_unknown_one_is_not_found() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for path in ["/assets/0123456789abcdef/lib/render.js", "/assets/chat.js"] {
        let answer = client.get_json(path).await;
        assert_eq!(answer.status, 200, "GET {path}");
        assert_eq!(answer.headers["cache-control"], "no-cache", "{path}");
        assert!(answer.headers.contains_key("etag"), "{path}");
    }
    let etag = client.get_json("/assets/chat.js").await.headers["etag"].clone();
    let again = Client::answer(
        client
            .http
            .get(app.url("/assets/chat.js"))
            .header("if-none-match", etag),
    )
    .await;
    assert_eq!(again.status, 304);
    for path in [
        "/assets/nothing.js",
        "/assets/0123456789abcdef/lib/nothing.js",
    ] {
        client.get_json(path).await.assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn the_pages_carry_the_templates_the_client_clones() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Templates", 10, None).await;
    let chat = alice.get_html(&format!("/rooms/{room}")).await.text;
    for template in [
        r#"<template id="tpl-message"><li class="msg msg-chat edited deleted" id="m0" data-id="0">"#,
        r#"<template id="tpl-member"><li class="member you" data-user="">"#,
        r#"<template id="tpl-badge"><span class="who""#,
    ] {
        assert!(chat.contains(template), "the chat page lacks {template}");
    }
    let lobby = alice.get_html("/").await.text;
    assert!(lobby.contains(r#"<template id="tpl-room"><tr data-room="">"#));
}
