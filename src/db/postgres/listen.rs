//! News of other writers' commits: every batch that stores events
//! announces its last id with `NOTIFY` ([`announce`]), and each node
//! listens ([`start`]) and tells its writer ([`Writer::news`]), which reads
//! the log from where it was up to there.
//!
//! The notification is only a wake-up, never the events (a payload is
//! capped at 8,000 bytes, and the log in the table is the truth): a lost
//! one costs latency, never an event. The listener asks the writer to read
//! the log whenever it (re)connects, and every [`BACKSTOP`] in any case.
//!
//! Who is typing is never stored: it travels in the notification itself
//! ([`announce_typing`], on a channel of its own), and a lost one is a
//! missed "is typing", nothing more.

use std::time::Duration;

use deadpool_postgres::Transaction;
use futures_util::{StreamExt, stream};
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::{db::writer::Writer, model::User};

/// The channel batches are announced on.
const CHANNEL: &str = "gifchat_log";
/// The channel `typing` travels on between nodes.
const TYPING: &str = "gifchat_typing";

/// Who is typing where, as a notification carries it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Typing {
    room: String,
    id: String,
    name: Option<String>,
}

/// Tells every node (this one too, whose hub lets the echo pass as a
/// repeat) that `user` is typing in the room.
pub(super) async fn announce_typing(
    client: &deadpool_postgres::Client,
    room_id: &str,
    user: &User,
) -> Result<(), tokio_postgres::Error> {
    let typing = Typing {
        room: room_id.to_owned(),
        id: user.id.clone(),
        name: user.name.clone(),
    };
    let payload = serde_json::to_string(&typing).unwrap_or_default();
    let statement = client.prepare_cached("SELECT pg_notify($1, $2)").await?;
    client
        .execute(&statement, &[&TYPING, &payload])
        .await
        .map(|_| ())
}

/// What a notification says.
enum Heard {
    /// Ids are committed up to this one, if it says.
    Log(Option<i64>),
    Typing {
        room: String,
        user: User,
    },
}
/// How often the log is read without news: the most a lost notification
/// can delay an event.
pub const BACKSTOP: Duration = Duration::from_secs(1);
/// The wait before connecting again after the listening connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announces, when `tx` commits, that ids up to `through` are committed.
pub(super) async fn announce(
    tx: &Transaction<'_>,
    through: i64,
) -> Result<(), tokio_postgres::Error> {
    let statement = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    tx.execute(&statement, &[&CHANNEL, &through.to_string()])
        .await
        .map(|_| ())
}

/// What starts the listener once the writer runs: a task that ends when
/// the writer has stopped.
pub(super) fn start(url: String) -> impl FnOnce(Writer) + Send + 'static {
    move |writer| {
        tokio::spawn(listen(url, writer));
    }
}

async fn listen(url: String, writer: Writer) {
    loop {
        match connect(&url).await {
            Ok((client, mut news)) => {
                tracing::debug!("listening for other writers' commits");
                // Whatever was announced while nobody listened.
                if !writer.news(None) {
                    return;
                }
                loop {
                    let hint = match tokio::time::timeout(BACKSTOP, news.recv()).await {
                        Ok(Some(Heard::Log(hint))) => hint,
                        Ok(Some(Heard::Typing { room, user })) => {
                            writer.typing_elsewhere(room, user);
                            continue;
                        }
                        // The connection ended: connect again.
                        Ok(None) => break,
                        Err(_) => None,
                    };
                    if !writer.news(hint) {
                        return;
                    }
                }
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for other writers' commits"),
        }
        tokio::time::sleep(RECONNECT).await;
        if !writer.news(None) {
            return;
        }
    }
}

/// A connection that has run `LISTEN`, and what it hears: ids announced
/// (`None` for a payload that is not one), who is typing; the channel
/// closes when the connection ends.
async fn connect(
    url: &str,
) -> Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<Heard>), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.application_name("gifchat listener");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(RECONNECT * 5);
    }
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (heard, news) = mpsc::unbounded_channel();
    // The connection is driven here, which is where notifications arrive.
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            let AsyncMessage::Notification(note) = message else {
                continue;
            };
            let said = match note.channel() {
                TYPING => match serde_json::from_str::<Typing>(note.payload()) {
                    Ok(typing) => Heard::Typing {
                        room: typing.room,
                        user: User::new(typing.id, typing.name),
                    },
                    Err(_) => continue,
                },
                _ => Heard::Log(note.payload().parse().ok()),
            };
            if heard.send(said).is_err() {
                return;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {TYPING}"))
        .await?;
    Ok((client, news))
}
