//! GIF uploads: what is accepted, what is refused, what is left on disk,
//! and how the files are served and cleaned up.

use std::{borrow::Cow, path::Path, time::Duration};

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{Client, TestApp, eventually, history_ids};

/// A `width`x`height` GIF of `frames` frames of noise (so it does not
/// compress much and its size follows its dimensions); `seed` varies it.
pub fn gif(width: u16, height: u16, frames: usize, seed: u32) -> Vec<u8> {
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, i / 2, 255 - i]).collect();
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).unwrap();
        for _ in 0..frames {
            let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (state >> 16) as u8
                })
                .collect();
            let frame = gif::Frame {
                width,
                height,
                delay: 10,
                buffer: Cow::Owned(pixels),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

/// Every entry of the uploads folder, hidden ones included, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The file name behind an event's `gif` URL, checked to be server-made.
fn stored_name(event: &Value) -> String {
    let url = event["gif"].as_str().expect("a gif URL");
    let name = url.strip_prefix("/gif/").expect("under /gif/");
    let (stem, extension) = name.split_once('.').expect("an extension");
    assert_eq!(extension, "gif", "{url}");
    assert!(
        stem.len() == 32
            && stem
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "a server-made name: {url}"
    );
    name.to_owned()
}

async fn public_room(client: &Client) -> String {
    let room = client.create_room("Gifs", 50, None).await;
    room["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_gif_is_stored_and_served_back_byte_for_byte() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let bytes = gif(48, 32, 3, 1);

    let answer = alice.post_gif(&room, "party.gif", bytes.clone()).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    let event = answer.json();
    assert_eq!(event["type"], "gif");
    assert_eq!(event["room"], room.as_str());
    assert_eq!(event["user"], alice.me().await);
    assert_eq!(event["chat"], json!(null));
    assert_eq!(
        event["gif_info"],
        json!({ "width": 48, "height": 32, "frames": 3 })
    );
    let name = stored_name(&event);
    assert_eq!(files_in(&app.uploads_dir()), std::slice::from_ref(&name));

    let history = alice
        .get_json(&format!("/rooms/{room}/messages"))
        .await
        .json();
    assert_eq!(
        history["events"].as_array().unwrap().last().unwrap(),
        &event
    );

    let served = alice
        .http
        .get(app.url(&format!("/gif/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status().as_u16(), 200);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/gif");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(headers.contains_key("last-modified"));
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn a_served_gif_answers_conditional_and_range_requests() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let bytes = gif(20, 20, 1, 2);
    let name = stored_name(&alice.post_gif(&room, "a.gif", bytes.clone()).await.json());
    let url = app.url(&format!("/gif/{name}"));

    let first = alice.http.get(&url).send().await.unwrap();
    let modified = first.headers()["last-modified"].clone();
    let again = alice
        .http
        .get(&url)
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    let head = alice
        .http
        .get(&url)
        .header("range", "bytes=0-5")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 206);
    assert_eq!(head.headers()["content-type"], "image/gif");
    assert_eq!(
        head.headers()["content-range"],
        format!("bytes 0-5/{}", bytes.len()).as_str()
    );
    assert_eq!(head.bytes().await.unwrap().as_ref(), b"GIF89a");
}

#[tokio::test]
async fn only_server_made_names_are_served() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let name = stored_name(&alice.post_gif(&room, "a.gif", gif(8, 8, 1, 3)).await.json());
    let dir = app.uploads_dir();
    std::fs::write(dir.join(".tmp-0123456789abcdef"), b"GIF89a half").unwrap();
    std::fs::write(dir.join("plain.gif"), gif(8, 8, 1, 4)).unwrap();
    std::fs::create_dir(dir.join("0123456789abcdef0123456789abcdef.gif")).unwrap();

    for path in [
        "/gif/.tmp-0123456789abcdef".to_owned(),
        "/gif/plain.gif".to_owned(),
        "/gif/0123456789abcdef0123456789abcdef.gif".to_owned(),
        "/gif/ffffffffffffffffffffffffffffffff.gif".to_owned(),
        format!("/gif/{}", name.to_uppercase()),
        "/gif/..%2F..%2Fdata%2Fgifchat.sqlite3".to_owned(),
        "/gif/%3Cscript%3E.gif".to_owned(),
        "/gif/".to_owned(),
        "/gif/../data/gifchat.sqlite3".to_owned(),
    ] {
        let answer = alice.get_json(&path).await;
        answer.assert_error(404, "not_found");
    }
    let served = alice.get_json(&format!("/gif/{name}")).await;
    assert_eq!(served.status.as_u16(), 200);
}

#[tokio::test]
async fn a_png_and_a_text_file_named_gif_are_refused_as_unsupported() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let text = b"GIF is a lovely format, but this is text.\n".to_vec();
    for (file_name, bytes) in [
        ("pic.png", png),
        ("notes.gif", text),
        ("tiny.gif", b"GIF8".to_vec()),
    ] {
        alice
            .post_gif(&room, file_name, bytes)
            .await
            .assert_error(415, "unsupported_media_type");
    }
    assert!(history_ids(&alice, &room).await.is_empty());
    assert!(files_in(&app.uploads_dir()).is_empty());
}

#[tokio::test]
async fn a_gif_at_the_limit_is_accepted_and_one_byte_over_is_refused_leaving_nothing() {
    let bytes = gif(40, 40, 2, 5);
    let limit = bytes.len() as u64;
    let app = TestApp::spawn_with(|c| c.max_upload = limit).await;
    let alice = app.client();
    let room = public_room(&alice).await;

    let accepted = alice.post_gif(&room, "exact.gif", bytes.clone()).await;
    assert_eq!(accepted.status.as_u16(), 201, "{}", accepted.text);
    let stored = files_in(&app.uploads_dir());
    assert_eq!(stored, [stored_name(&accepted.json())]);

    // The same GIF with one byte after its trailer: it would decode, but
    // it is one byte over the limit.
    let mut over = bytes.clone();
    over.push(0);
    alice
        .post_gif(&room, "over.gif", over)
        .await
        .assert_error(413, "too_large");
    // Far over the limit (past the multipart allowance as well).
    alice
        .post_gif(&room, "huge.gif", gif(400, 400, 1, 6))
        .await
        .assert_error(413, "too_large");

    assert_eq!(
        files_in(&app.uploads_dir()),
        stored,
        "nothing new, no temporary file"
    );
    assert_eq!(history_ids(&alice, &room).await.len(), 1);
}

#[tokio::test]
async fn a_truncated_or_corrupt_gif_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let whole = gif(30, 30, 2, 7);
    let mut corrupt = whole.clone();
    // The first image's separator (`,`, after the 13-byte header and the
    // 256-colour palette) becomes a byte no block starts with.
    let separator = 13 + 768 + corrupt[13 + 768..].iter().position(|&b| b == b',').unwrap();
    corrupt[separator] = 0x99;
    for bytes in [
        whole[..whole.len() / 2].to_vec(),
        whole[..whole.len() - 1].to_vec(),
        whole[..13].to_vec(),
        corrupt,
    ] {
        alice
            .post_gif(&room, "broken.gif", bytes)
            .await
            .assert_error(422, "invalid");
    }
    assert!(history_ids(&alice, &room).await.is_empty());
    assert!(files_in(&app.uploads_dir()).is_empty());
}

#[tokio::test]
async fn client_file_names_never_reach_the_disk() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let dir = app.uploads_dir();
    let root = dir.parent().unwrap().to_owned();
    let before_root = files_in(&root);
    let escape = format!("gifchat-escape-{}.gif", std::process::id());

    let mut names = Vec::new();
    for (i, file_name) in [
        format!("../../{escape}"),
        "../data/gifchat.sqlite3".to_owned(),
        "<script>alert(1)</script>.gif".to_owned(),
        ".tmp-evil.gif".to_owned(),
        "/etc/passwd".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = alice
            .post_gif(&room, &file_name, gif(8, 8, 1, 10 + i as u32))
            .await;
        assert_eq!(answer.status.as_u16(), 201, "{file_name}: {}", answer.text);
        names.push(stored_name(&answer.json()));
    }
    names.sort();
    assert_eq!(files_in(&dir), names);
    assert_eq!(
        files_in(&root),
        before_root,
        "nothing written beside the uploads"
    );
    assert!(!root.join("..").join(&escape).exists());
    assert!(!dir.join("../..").join(&escape).exists());
}

#[tokio::test]
async fn concurrent_uploads_are_all_stored_under_distinct_names() {
    // Eight at once from one address: more than one client is allowed by
    // default (that cap is tested below).
    let app = TestApp::spawn_with(|c| c.max_uploads_per_addr = 8).await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let files: Vec<Vec<u8>> = (0..8).map(|i| gif(16 + i, 16, 2, u32::from(i))).collect();

    let answers = join_all(
        files
            .iter()
            .map(|bytes| alice.post_gif(&room, "same.gif", bytes.clone())),
    )
    .await;
    let mut names = Vec::new();
    for (bytes, answer) in files.iter().zip(&answers) {
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
        let name = stored_name(&answer.json());
        let served = alice
            .http
            .get(app.url(&format!("/gif/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            served.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "each its own file"
        );
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8, "eight distinct names");
    assert_eq!(files_in(&app.uploads_dir()), names);
    assert_eq!(history_ids(&alice, &room).await.len(), 8);
}

#[tokio::test]
async fn deleting_a_room_removes_its_files() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let other = public_room(&alice).await;
    let gone: Vec<String> = vec![
        stored_name(
            &alice
                .post_gif(&room, "a.gif", gif(8, 8, 1, 20))
                .await
                .json(),
        ),
        stored_name(
            &alice
                .post_gif(&room, "b.gif", gif(9, 9, 1, 21))
                .await
                .json(),
        ),
    ];
    let kept = stored_name(
        &alice
            .post_gif(&other, "c.gif", gif(10, 10, 1, 22))
            .await
            .json(),
    );

    let deleted = alice
        .http
        .delete(app.url(&format!("/rooms/{room}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(files_in(&app.uploads_dir()), std::slice::from_ref(&kept));
    for name in &gone {
        alice
            .get_json(&format!("/gif/{name}"))
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(
        alice
            .get_json(&format!("/gif/{kept}"))
            .await
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn the_start_up_sweep_removes_orphans_and_stale_temporary_files() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let kept = stored_name(
        &alice
            .post_gif(&room, "a.gif", gif(8, 8, 1, 30))
            .await
            .json(),
    );
    let dir = app.uploads_dir();
    let orphan = "0123456789abcdef0123456789abcdef.gif";
    std::fs::write(dir.join(orphan), gif(8, 8, 1, 31)).unwrap();
    std::fs::write(dir.join(".tmp-0123456789abcdef"), b"GIF89a, cut short").unwrap();
    std::fs::write(dir.join(".gitkeep"), b"").unwrap();
    // Left by a crash an hour ago: with PostgreSQL the folder may be shared
    // by several nodes, and only files older than any upload are swept.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for name in [orphan, ".tmp-0123456789abcdef"] {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .unwrap();
        file.set_modified(hour_ago).unwrap();
    }

    let app = app.restart().await;
    // The first answer comes after the sweep: it runs before serving.
    let alice = app.client();
    assert_eq!(
        alice
            .get_json(&format!("/gif/{kept}"))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(files_in(&dir), [".gitkeep".to_owned(), kept.clone()]);
}

#[tokio::test]
async fn a_subscriber_receives_the_gif_event_live() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let bob = app.client();
    let mut stream = bob.sse(&format!("/rooms/{room}/events"), None).await;
    stream
        .next_of("members")
        .await
        .expect("a members snapshot first");

    let event = alice
        .post_gif(&room, "hi.gif", gif(12, 12, 2, 40))
        .await
        .json();
    let live = stream.next_of("gif").await.expect("the gif event");
    assert_eq!(live.id_number(), event["id"].as_i64());
    assert_eq!(live.json(), event);
}

#[tokio::test]
async fn posting_needs_admission_and_an_existing_room() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Secret", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    let guest = app.client();
    guest
        .post_gif(id, "a.gif", gif(8, 8, 1, 50))
        .await
        .assert_error(403, "forbidden");
    guest
        .post_gif("no-such-room", "a.gif", gif(8, 8, 1, 50))
        .await
        .assert_error(404, "not_found");
    assert!(files_in(&app.uploads_dir()).is_empty());

    guest
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    let answer = guest.post_gif(id, "a.gif", gif(8, 8, 1, 50)).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
}

#[tokio::test]
async fn a_form_without_a_gif_file_or_a_body_that_is_no_form_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let path = format!("/rooms/{room}/gifs");

    let no_gif = reqwest::multipart::Form::new().text("caption", "where is it?");
    let answer = Client::answer(
        alice
            .http
            .post(alice.url(&path))
            .header("accept", "application/json")
            .multipart(no_gif),
    )
    .await;
    answer.assert_error(422, "invalid");
    // What a browser sends when no file was chosen.
    alice
        .post_gif(&room, "", Vec::new())
        .await
        .assert_error(422, "invalid");
    alice
        .post_raw(&path, "application/json", "{\"gif\": \"GIF89a\"}")
        .await
        .assert_error(415, "unsupported_media_type");
    alice
        .post_raw(
            &path,
            "multipart/form-data; boundary=XyZ",
            "--AbC\r\nnonsense",
        )
        .await
        .assert_error(400, "bad_request");
    assert!(history_ids(&alice, &room).await.is_empty());
    assert!(files_in(&app.uploads_dir()).is_empty());
}

#[tokio::test]
async fn a_browser_form_upload_answers_303_back_to_the_room() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let part = reqwest::multipart::Part::bytes(gif(8, 8, 1, 60)).file_name("cat.gif");
    let answer = alice
        .http
        .post(alice.url(&format!("/rooms/{room}/gifs")))
        .header("accept", "text/html")
        .multipart(reqwest::multipart::Form::new().part("gif", part))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("/rooms/{room}").as_str()
    );
    assert_eq!(history_ids(&alice, &room).await.len(), 1);
}

/// Starts an upload by hand (chunked, so no length is declared) and sends
/// the multipart preamble and `body`, leaving the request unfinished.
async fn start_raw_upload(app: &TestApp, room: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /rooms/{room}/gifs HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut data = b"--XyZ\r\nContent-Disposition: form-data; name=\"gif\"; filename=\"a.gif\"\r\n\
                     Content-Type: image/gif\r\n\r\n"
        .to_vec();
    data.extend_from_slice(body);
    send_chunks(&mut stream, &data).await;
    stream
}

/// Sends the rest of the file, closes the form and the body, and reads
/// the answer (the server closes the connection after it).
async fn finish_raw_upload(mut stream: TcpStream, rest: &[u8]) -> String {
    let mut data = rest.to_vec();
    data.extend_from_slice(b"\r\n--XyZ--\r\n");
    send_chunks(&mut stream, &data).await;
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    read_answer_head(&mut stream).await
}

async fn send_chunks(stream: &mut TcpStream, data: &[u8]) {
    for chunk in data.chunks(4096) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.flush().await.unwrap();
}

/// Reads until the end of the answer's head, within 5 s.
async fn read_answer_head(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "connection closed without an answer");
            answer.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 5 s");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits until an upload in progress shows as a temporary file.
async fn temporary_file_appears(dir: &Path) -> bool {
    eventually(Duration::from_secs(5), || async {
        files_in(dir).iter().any(|name| name.starts_with(".tmp-"))
    })
    .await
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_upload_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let dir = app.uploads_dir();
    let bytes = gif(64, 64, 2, 70);
    let stream = start_raw_upload(&app, &room, &bytes[..bytes.len() / 2]).await;

    // The upload goes to disk while it arrives...
    assert!(
        temporary_file_appears(&dir).await,
        "a temporary file while the upload is in progress"
    );
    // ...and disappears when the client goes away.
    drop(stream);
    assert!(
        eventually(Duration::from_secs(5), || async {
            files_in(&dir).is_empty()
        })
        .await,
        "left behind: {:?}",
        files_in(&dir)
    );
    assert!(history_ids(&alice, &room).await.is_empty());
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_before_it_ends() {
    let app = TestApp::spawn_with(|c| c.max_upload = 8 * 1024).await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let mut body = b"GIF89a".to_vec();
    body.resize(16 * 1024, 0);
    // The request never ends: only a limit enforced while streaming can
    // answer it.
    let mut stream = start_raw_upload(&app, &room, &body).await;
    let answer = read_answer_head(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(stream);
    assert!(
        eventually(Duration::from_secs(5), || async {
            files_in(&app.uploads_dir()).is_empty()
        })
        .await
    );
}

#[tokio::test]
async fn a_room_deleted_during_an_upload_keeps_neither_event_nor_file() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let dir = app.uploads_dir();
    let bytes = gif(64, 64, 2, 80);
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    // Admitted, and half way through the file...
    let stream = start_raw_upload(&app, &room, first).await;
    assert!(temporary_file_appears(&dir).await);
    // ...when the owner deletes the room.
    let deleted = alice
        .http
        .delete(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);

    let answer = finish_raw_upload(stream, rest).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(
        files_in(&dir).is_empty(),
        "left behind: {:?}",
        files_in(&dir)
    );
}

#[tokio::test]
async fn a_stalled_upload_is_cut_at_the_deadline_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| c.upload_timeout = Duration::from_secs(1)).await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let dir = app.uploads_dir();
    let bytes = gif(64, 64, 2, 90);
    // Half the file, then nothing more: the connection stays open.
    let mut stream = start_raw_upload(&app, &room, &bytes[..bytes.len() / 2]).await;
    assert!(temporary_file_appears(&dir).await);
    let started = std::time::Instant::now();
    let answer = read_answer_head(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        files_in(&dir).is_empty(),
        "the partial file is removed: {:?}",
        files_in(&dir)
    );
    assert!(history_ids(&alice, &room).await.is_empty());
}

#[tokio::test]
async fn one_address_may_send_only_so_many_uploads_at_once() {
    let app = TestApp::spawn_with(|c| c.max_uploads_per_addr = 2).await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let bytes = gif(64, 64, 2, 91);
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    let one = start_raw_upload(&app, &room, first).await;
    let two = start_raw_upload(&app, &room, first).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            files_in(&app.uploads_dir()).len() == 2
        })
        .await
    );
    let third = alice.post_gif(&room, "c.gif", gif(8, 8, 1, 92)).await;
    third.assert_error(429, "rate_limited");
    assert!(third.headers.contains_key("retry-after"));

    // A finished upload frees its slot.
    let answer = finish_raw_upload(one, rest).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let again = alice.post_gif(&room, "c.gif", gif(8, 8, 1, 92)).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.text);
    drop(two);
}

/// A GIF made by hand: a `canvas` logical screen, no palette, and one
/// `frame`-sized image whose data is a single clear code and an end code.
fn claimed_gif(canvas: (u16, u16), frame: (u16, u16)) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&canvas.0.to_le_bytes());
    out.extend_from_slice(&canvas.1.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0]); // no global palette
    out.push(b',');
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&frame.0.to_le_bytes());
    out.extend_from_slice(&frame.1.to_le_bytes());
    out.extend_from_slice(&[0, 2, 2, 0x44, 0x01, 0, b';']);
    out
}

#[tokio::test]
async fn gifs_that_claim_a_huge_canvas_or_frame_are_refused_before_decoding() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = public_room(&alice).await;
    let bomb = claimed_gif((65535, 65535), (1, 1));
    assert!(bomb.len() <= 35, "{} bytes", bomb.len());
    let refused = alice.post_gif(&room, "bomb.gif", bomb).await;
    refused.assert_error(422, "invalid");
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("65535×65535") && message.contains("4096 px a side"),
        "{message}"
    );
    let frame_bomb = claimed_gif((100, 100), (16384, 16384));
    alice
        .post_gif(&room, "bomb.gif", frame_bomb)
        .await
        .assert_error(422, "invalid");
    assert!(files_in(&app.uploads_dir()).is_empty());
    assert!(history_ids(&alice, &room).await.is_empty());
}

#[tokio::test]
async fn a_gif_composing_too_many_pixels_in_all_is_refused() {
    let app = TestApp::spawn_with(|c| c.max_gif_pixels = 10_000).await;
    let alice = app.client();
    let room = public_room(&alice).await;
    // Tiny frames on a 50x50 canvas: each composes 2,500 pixels, so four
    // fit and five do not.
    let canvas = |frames| {
        let mut bytes = gif(2, 2, frames, 93);
        bytes[6..8].copy_from_slice(&50u16.to_le_bytes());
        bytes[8..10].copy_from_slice(&50u16.to_le_bytes());
        bytes
    };
    let ok = alice.post_gif(&room, "ok.gif", canvas(4)).await;
    assert_eq!(ok.status.as_u16(), 201, "{}", ok.text);
    let refused = alice.post_gif(&room, "many.gif", canvas(5)).await;
    refused.assert_error(422, "invalid");
    assert!(refused.text.contains("too many pixels"), "{}", refused.text);
    assert_eq!(history_ids(&alice, &room).await.len(), 1);
}
