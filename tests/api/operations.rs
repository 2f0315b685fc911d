//! Operations: health and metrics.

use std::time::Duration;

use crate::helpers::{Client, TestApp};

/// The value of one sample line of the Prometheus text, e.g.
/// `gifchat_connections{transport="sse"}`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let answer = app.client().get_json("/healthz").await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.text, "ok");
}

#[tokio::test]
async fn metrics_count_connections_events_uploads_and_latency() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Measured", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let mut sse = alice.sse(&format!("/rooms/{id}/events"), None).await;
    for i in 0..3 {
        alice.say(id, &format!("m{i}")).await;
    }
    sse.stored(3).await;
    let gif = crate::uploads::gif(8, 8, 2, 7);
    let size = gif.len() as f64;
    assert_eq!(alice.post_gif(id, "a.gif", gif).await.status.as_u16(), 201);

    let answer = app.client().get_json("/metrics").await;
    assert_eq!(answer.status.as_u16(), 200);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = answer.text;
    assert_eq!(
        sample(&text, "gifchat_connections{transport=\"sse\"}"),
        Some(1.0)
    );
    assert!(sample(&text, "gifchat_events_stored_total").unwrap() >= 4.0);
    assert!(sample(&text, "gifchat_events_delivered_total").unwrap() >= 3.0);
    assert_eq!(sample(&text, "gifchat_upload_bytes_total"), Some(size));
    assert!(
        text.contains("gifchat_http_request_duration_seconds_bucket{method=\"POST\",route=\"/rooms/{id}/messages\""),
        "{text}"
    );

    drop(sse);
    let closed = crate::helpers::eventually(Duration::from_secs(3), || async {
        let text = app.client().get_json("/metrics").await.text;
        sample(&text, "gifchat_connections{transport=\"sse\"}") == Some(0.0)
    })
    .await;
    assert!(closed, "the gauge follows closed streams");
}

#[tokio::test]
async fn metrics_tell_the_memory_allocated_from_the_memory_held() {
    let app = TestApp::spawn().await;
    let text = app.client().get_json("/metrics").await.text;
    let allocated = sample(&text, "gifchat_heap_allocated_bytes").unwrap();
    let resident = sample(&text, "gifchat_heap_resident_bytes").unwrap();
    // Whatever else this test process holds, a running server has
    // allocated more than a megabyte's worth of state and buffers.
    assert!(allocated > 1_000_000.0, "{allocated}");
    assert!(resident >= allocated, "{resident} < {allocated}");

    // Read anew at each scrape: 256 MiB held by the process shows, with
    // room for what the tests running beside this one free meanwhile.
    let held = std::hint::black_box(vec![0u8; 256 << 20]);
    let text = app.client().get_json("/metrics").await.text;
    let more = sample(&text, "gifchat_heap_allocated_bytes").unwrap();
    assert!(
        more >= allocated + 192.0 * 1048576.0,
        "{allocated} then {more}"
    );
    drop(held);
}

#[tokio::test]
async fn invented_methods_and_paths_cannot_grow_the_metrics() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let before = app.client().get_json("/metrics").await.text.len();
    for i in 0..300 {
        let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let request = format!(
            "INVENTED{i} /no/such/path/{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        assert!(!answer.is_empty(), "an invented method is answered");
    }
    let text = app.client().get_json("/metrics").await.text;
    assert!(!text.contains("INVENTED"), "methods come from a fixed set");
    assert!(!text.contains("/no/such/path"), "paths are route templates");
    assert!(
        text.contains("method=\"other\",route=\"unmatched\""),
        "{text}"
    );
    assert!(
        text.len() < before + 4096,
        "300 invented requests add one series, not 300: {} -> {} bytes",
        before,
        text.len()
    );
}

#[tokio::test]
async fn metrics_can_be_kept_off_the_public_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::spawn_with(|c| c.metrics_addr = Some(metrics_addr)).await;
    let public = app.client().get_json("/metrics").await;
    public.assert_error(404, "not_found");
    let private = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(private.status().as_u16(), 200);
    let text = private.text().await.unwrap();
    assert!(text.contains("gifchat_events_stored_total"), "{text}");
    // Nothing else is served there.
    let other = reqwest::get(format!("http://{metrics_addr}/rooms"))
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
    assert_eq!(app.client().get_json("/healthz").await.status.as_u16(), 200);
}

#[tokio::test]
async fn a_nonsense_setting_stops_the_server_at_start_up_with_a_reason() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gifchat"))
        .args(["--addr", "127.0.0.1:0", "--post-rate", "NaN", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("--post-rate") && said.contains("NaN"),
        "{said}"
    );
}

/// `gifchat_insecure_requests_total`, read over a request that a trusted
/// proxy says came over HTTPS (so the reading itself does not count).
async fn insecure_requests(client: &Client) -> f64 {
    let answer = client
        .http
        .get(client.url("/metrics"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let text = answer.text().await.unwrap();
    sample(&text, "gifchat_insecure_requests_total").unwrap()
}

#[tokio::test]
async fn plain_http_with_secure_cookies_is_counted_unless_a_trusted_proxy_says_https() {
    let app = TestApp::spawn_with(|c| {
        c.secure_cookies = true;
        c.trust_proxy = vec!["loopback".parse().unwrap()];
    })
    .await;
    let client = app.client();
    let https = |path: &str| {
        client
            .http
            .get(client.url(path))
            .header("x-forwarded-proto", "https")
            .send()
    };
    https("/healthz").await.unwrap();
    assert_eq!(insecure_requests(&client).await, 0.0);
    client
        .http
        .get(client.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        insecure_requests(&client).await,
        1.0,
        "plain HTTP, said nothing"
    );

    // From a peer that is not trusted, the header is anyone's word.
    let untrusting = TestApp::spawn_with(|c| c.secure_cookies = true).await;
    let client = untrusting.client();
    let said = client
        .http
        .get(client.url("/healthz"))
        .header("x-forwarded-proto", "https")
        .send();
    said.await.unwrap();
    // That request and the reading's own: neither's word is taken.
    assert_eq!(insecure_requests(&client).await, 2.0);
}
