//! API.md: "While the database is unreachable, posts answer 503
//! `unavailable` with `Retry-After`, never a 2xx for an uncommitted event."
//! The server's connections are cut and new ones refused, as while
//! PostgreSQL restarts; once it takes connections again, so does gifchat.

use gifchat::db::DatabaseUrl;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_answer_503_while_the_database_is_unreachable_and_work_again_after() {
    let app = TestApp::spawn().await;
    let Some(DatabaseUrl::Postgres(url)) = app.config.database.clone() else {
        panic!("this suite runs on PostgreSQL");
    };
    let config: tokio_postgres::Config = url.parse().unwrap();
    let name = config.get_dbname().unwrap().to_owned();
    let alice = app.client();
    let room = alice.new_room("Outage", 10, None).await;
    let before = alice.say(&room, "before").await;

    let admin = crate::postgres::admin().await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ))
        .await
        .unwrap();
    let refused = alice
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "during" }),
        )
        .await;
    refused.assert_error(503, "unavailable");
    assert!(
        refused.headers.contains_key("retry-after"),
        "{:?}",
        refused.headers
    );

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let after = alice.say(&room, "after").await;
    assert!(after["id"].as_i64() > before["id"].as_i64());
    let history = alice
        .get_json(&format!("/rooms/{room}/messages"))
        .await
        .json();
    let chats: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["chat"].as_str())
        .collect();
    assert_eq!(
        chats,
        ["before", "after"],
        "nothing stored during the outage"
    );
}
