//! Sessions are stored once they are worth keeping: cookie-less traffic
//! cannot grow the database, and stored sessions are bounded per address.

use crate::helpers::{Client, TestApp};

/// Sessions stored in the test server's database.
async fn stored_sessions(app: &TestApp) -> i64 {
    app.count_rows("sessions").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cookie_less_page_views_store_no_session() {
    let app = TestApp::spawn().await;
    let room = app.client().create_room("Visited", 10, None).await;
    let room = room["id"].as_str().unwrap().to_owned();
    let rows_before = stored_sessions(&app).await;
    // No cookie jar: every request is a new visitor, as with curl.
    let http = reqwest::Client::new();
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (http, lobby, page) = (
            http.clone(),
            app.url("/"),
            app.url(&format!("/rooms/{room}")),
        );
        workers.push(tokio::spawn(async move {
            for n in 0..625 {
                let url = if (worker + n) % 2 == 0 { &lobby } else { &page };
                let answer = http
                    .get(url)
                    .header("accept", "text/html")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status().as_u16(), 200);
                assert!(answer.headers().contains_key("set-cookie"));
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let rows = stored_sessions(&app).await - rows_before;
    println!("10,000 cookie-less page views: {rows} sessions stored");
    assert_eq!(rows, 0);

    // A visitor that comes back with its cookie is stored, and stays one
    // user across requests.
    let browser = app.client();
    let me = browser.me().await;
    assert_eq!(browser.me().await, me);
    assert_eq!(stored_sessions(&app).await - rows_before, 1);
}

#[tokio::test]
async fn stored_sessions_are_bounded_per_address_and_the_rest_still_work() {
    let app = TestApp::spawn_with(|c| c.new_sessions_per_addr = 3).await;
    let visitors: Vec<Client> = (0..5).map(|_| app.client()).collect();
    for visitor in &visitors {
        let me = visitor.me().await;
        for _ in 0..3 {
            assert_eq!(visitor.me().await, me, "one user across requests");
        }
    }
    assert_eq!(
        stored_sessions(&app).await,
        3,
        "three stored, two in memory only"
    );
    // Those in memory only can still do everything.
    let late = &visitors[4];
    let room = late.create_room("Late", 5, None).await;
    let said = late.say(room["id"].as_str().unwrap(), "still me").await;
    assert_eq!(said["user"], late.me().await);
}
