//! `copy-database` on SQLite: rows out of a snapshot, rows into an empty
//! database (see `db/copy.rs`).

use std::path::Path;

use rusqlite::{
    Connection, OpenFlags,
    types::{ToSqlOutput, ValueRef},
};
use tokio::sync::mpsc;

use super::{configure, events, make_private, schema};
use crate::db::{
    StoreError, StoreResult,
    copy::{CHUNK_ROWS, Chunk, Copied, TABLES, Tally, Value, cut_short, not_empty},
};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

fn value(cell: ValueRef<'_>) -> rusqlite::Result<Value> {
    Ok(match cell {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Text(bytes) => Value::Text(
            std::str::from_utf8(bytes)
                .map_err(|e| rusqlite::Error::Utf8Error(0, e))?
                .to_owned(),
        ),
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                0,
                format!("{other:?}"),
                other.data_type(),
            ));
        }
    })
}

/// Sends every row of the database `path`, read in one transaction, then
/// the newest id. A target that stopped listening ends it quietly (the
/// target says why).
pub fn export(path: &Path, chunks: &mpsc::Sender<Chunk>) -> StoreResult<()> {
    if !path.exists() {
        return Err(StoreError::Database(
            format!("{} does not exist", path.display()).into(),
        ));
    }
    let mut conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    configure(&conn)?;
    let tx = conn.transaction()?;
    for (index, table) in TABLES.iter().enumerate() {
        let mut statement = tx.prepare(&table.select_sql())?;
        let mut rows = statement.query([])?;
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        while let Some(row) = rows.next()? {
            let cells = (0..table.columns.len())
                .map(|column| value(row.get_ref(column)?))
                .collect::<rusqlite::Result<Vec<Value>>>()?;
            chunk.push(cells);
            if chunk.len() == CHUNK_ROWS {
                let rows = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                if chunks
                    .blocking_send(Chunk::Rows { table: index, rows })
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        if !chunk.is_empty()
            && chunks
                .blocking_send(Chunk::Rows {
                    table: index,
                    rows: chunk,
                })
                .is_err()
        {
            return Ok(());
        }
    }
    let _ = chunks.blocking_send(Chunk::NewestId(events::newest_id(&tx)?));
    Ok(())
}

/// Writes what `chunks` brings into the database `path` (created and
/// migrated if new), refusing one that holds anything; all in one
/// transaction, committed only once the last chunk came.
pub fn import(path: &Path, mut chunks: mpsc::Receiver<Chunk>) -> Result<Copied, crate::BoxError> {
    make_private(path)?;
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    configure(&conn)?;
    schema::migrate(&mut conn)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut held = Vec::new();
    for table in TABLES {
        let count: i64 =
            tx.query_row(&format!("SELECT count(*) FROM {}", table.name), [], |row| {
                row.get(0)
            })?;
        held.push((table.name, count));
    }
    held.push(("ids handed out", events::newest_id(&tx)?));
    if held.iter().any(|(_, count)| *count > 0) {
        return Err(not_empty(&held));
    }
    let mut tally = Tally::default();
    while let Some(chunk) = chunks.blocking_recv() {
        match chunk {
            Chunk::Rows { table, rows } => {
                let spec = &TABLES[table];
                let mut insert = tx.prepare_cached(&spec.insert_sql(|n| format!("?{n}")))?;
                for row in &rows {
                    insert.execute(rusqlite::params_from_iter(row))?;
                }
                tally.add(table, rows.len());
            }
            Chunk::NewestId(newest) => {
                // Inserting ids moved the counter to the highest copied;
                // the source may have handed out higher ones since.
                let moved = tx.execute(
                    "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'events'",
                    [newest],
                )?;
                if moved == 0 && newest > 0 {
                    tx.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
                        [newest],
                    )?;
                }
                tx.commit()?;
                return Ok(tally.done(newest));
            }
        }
    }
    Err(cut_short().into())
}
