//! `copy-database` on PostgreSQL: rows out of a snapshot, rows into an
//! empty database (see `db/copy.rs`).

use std::error::Error;

use bytes::BytesMut;
use futures_util::{StreamExt, TryStreamExt, future::try_join_all, pin_mut};
use tokio::sync::mpsc;
use tokio_postgres::{
    IsolationLevel, Row,
    types::{IsNull, ToSql, Type, to_sql_checked},
};

use super::{pool, schema};
use crate::db::{
    StoreError, StoreResult,
    copy::{CHUNK_ROWS, Chunk, Copied, TABLES, Tally, Value, cut_short, not_empty},
};

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => n.to_sql(ty, out),
            Value::Text(text) => text.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

fn values(row: &Row) -> StoreResult<Vec<Value>> {
    (0..row.len())
        .map(|column| {
            let ty = row.columns()[column].type_();
            Ok(if *ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(column)?
                    .map_or(Value::Null, Value::Int)
            } else if *ty == Type::TEXT {
                row.try_get::<_, Option<String>>(column)?
                    .map_or(Value::Null, Value::Text)
            } else {
                return Err(StoreError::Database(
                    format!("column {} is of type {ty}", row.columns()[column].name()).into(),
                ));
            })
        })
        .collect()
}

/// Sends every row of the database at `url`, read in one read-only,
/// repeatable-read transaction (one snapshot), then the newest id. A
/// target that stopped listening ends it quietly (the target says why).
pub async fn export(url: &str, chunks: &mpsc::Sender<Chunk>) -> StoreResult<()> {
    let pool = pool(url, 1).map_err(StoreError::Database)?;
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    for (index, table) in TABLES.iter().enumerate() {
        let rows = tx
            .query_raw(&table.select_sql(), std::iter::empty::<i64>())
            .await?;
        let rows = rows.try_chunks(CHUNK_ROWS);
        pin_mut!(rows);
        while let Some(batch) = rows.next().await {
            let batch = batch.map_err(|e| e.1)?;
            let rows = batch.iter().map(values).collect::<StoreResult<_>>()?;
            if chunks
                .send(Chunk::Rows { table: index, rows })
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
    let newest: i64 = tx
        .query_one("SELECT last FROM event_ids", &[])
        .await?
        .try_get(0)?;
    let _ = chunks.send(Chunk::NewestId(newest)).await;
    Ok(())
}

/// Writes what `chunks` brings into the database at `url` (migrated
/// first), refusing one that holds anything; all in one transaction,
/// committed only once the last chunk came.
pub async fn import(
    url: &str,
    mut chunks: mpsc::Receiver<Chunk>,
) -> Result<Copied, crate::BoxError> {
    let pool = pool(url, 1)?;
    let mut client = pool.get().await?;
    schema::migrate(&mut client).await?;
    let tx = client.transaction().await?;
    let mut held = Vec::new();
    for table in TABLES {
        let count: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .await?
            .try_get(0)?;
        held.push((table.name, count));
    }
    let newest: i64 = tx
        .query_one("SELECT last FROM event_ids", &[])
        .await?
        .try_get(0)?;
    held.push(("ids handed out", newest));
    if held.iter().any(|(_, count)| *count > 0) {
        return Err(not_empty(&held));
    }
    let mut tally = Tally::default();
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Chunk::Rows { table, rows } => {
                let sql = TABLES[table].insert_sql(|n| format!("${n}"));
                let statement = tx.prepare_cached(&sql).await?;
                // Sent together, answered together: tokio-postgres
                // pipelines queries polled at once on one connection.
                try_join_all(rows.iter().map(|row| {
                    let params: Vec<&(dyn ToSql + Sync)> = row
                        .iter()
                        .map(|value| value as &(dyn ToSql + Sync))
                        .collect();
                    let (tx, statement) = (&tx, &statement);
                    async move { tx.execute(statement, &params).await }
                }))
                .await?;
                tally.add(table, rows.len());
            }
            Chunk::NewestId(newest) => {
                tx.execute("UPDATE event_ids SET last = $1", &[&newest])
                    .await?;
                tx.commit().await?;
                return Ok(tally.done(newest));
            }
        }
    }
    Err(cut_short().into())
}
