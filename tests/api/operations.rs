//! Operations: health and metrics.

use std::time::Duration;

use crate::helpers::TestApp;

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
