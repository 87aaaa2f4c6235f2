//! What every SQL backend must do, as one suite each backend's tests run
//! against a real database holding [`SCHEMA`] (in that backend's dialect),
//! so the backends agree on values, errors and transactions.
//!
//! Parameters are written `$1`, `$2`…: PostgreSQL's syntax, which SQLite
//! reads as parameters numbered in order of appearance.

use super::{ConstraintKind, Database, Executed, SqlError, SqlValue};

/// The tables the suite expects, in SQLite's dialect; other backends write
/// the same in theirs (types that hold the same values).
pub(crate) const SCHEMA: &str = "\
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL UNIQUE CHECK (length(title) > 0),
    body TEXT,
    score REAL,
    data BLOB
);
CREATE TABLE tags (
    note_id INTEGER NOT NULL REFERENCES notes (id),
    tag TEXT NOT NULL
);";

/// Runs every case against `db`, whose tables are [`SCHEMA`], empty.
pub(crate) async fn run(db: &dyn Database) {
    values_round_trip(db).await;
    statements_are_checked(db).await;
    constraints_are_typed(db).await;
    transactions_commit_roll_back_and_end_with_their_session(db).await;
    db.ping().await.expect("ping");
}

fn text(t: &str) -> SqlValue {
    SqlValue::Text(t.to_owned())
}

async fn values_round_trip(db: &dyn Database) {
    let mut s = db.session();
    let insert = "INSERT INTO notes (id, title, body, score, data) VALUES ($1, $2, $3, $4, $5)";
    let done = s
        .execute(
            insert,
            vec![
                SqlValue::Integer(1),
                text("first"),
                SqlValue::Null,
                SqlValue::Real(2.5),
                SqlValue::Blob(vec![0, 255]),
            ],
        )
        .await
        .expect("insert");
    assert_eq!(done.rows_affected, 1);
    s.execute(
        insert,
        vec![SqlValue::Integer(i64::MAX), text("ünïcode ✓"), text("b"), SqlValue::Real(-0.0), SqlValue::Null],
    )
    .await
    .expect("insert");

    let rows = s.query("SELECT id, title, body, score, data FROM notes ORDER BY id", vec![]).await.expect("select");
    assert_eq!(rows.columns, ["id", "title", "body", "score", "data"]);
    assert_eq!(
        rows.rows,
        [
            vec![
                SqlValue::Integer(1),
                text("first"),
                SqlValue::Null,
                SqlValue::Real(2.5),
                SqlValue::Blob(vec![0, 255])
            ],
            vec![SqlValue::Integer(i64::MAX), text("ünïcode ✓"), text("b"), SqlValue::Real(-0.0), SqlValue::Null],
        ]
    );
    // A parameter used twice, and a result with no rows.
    let none =
        s.query("SELECT id FROM notes WHERE title = $1 OR body = $1", vec![text("nobody")]).await.expect("select");
    assert_eq!((none.columns.len(), none.rows.len()), (1, 0));
    // `$N` is the N-th value wherever it first appears.
    let swapped = s
        .query("SELECT $2 || '-' || $1, $1 || '-' || $2", vec![text("one"), text("two")])
        .await
        .expect("numbered parameters");
    assert_eq!(swapped.rows, [vec![text("two-one"), text("one-two")]]);
    // A change that returns rows.
    let returned = s
        .query("UPDATE notes SET score = score * 2 WHERE id = $1 RETURNING score", vec![SqlValue::Integer(1)])
        .await
        .expect("update returning");
    assert_eq!(returned.rows, [vec![SqlValue::Real(5.0)]]);
    let Executed { rows_affected, .. } =
        s.execute("DELETE FROM notes WHERE id = $1", vec![SqlValue::Integer(i64::MAX)]).await.expect("delete");
    assert_eq!(rows_affected, 1);
}

async fn statements_are_checked(db: &dyn Database) {
    let mut s = db.session();
    let invalid = |result: Result<_, SqlError>, needle: &str| match result {
        Err(SqlError::InvalidStatement(message)) => {
            assert!(message.to_lowercase().contains(needle), "`{message}` does not say `{needle}`")
        }
        other => panic!("expected an invalid statement saying `{needle}`, got {other:?}"),
    };
    invalid(s.query("SELEC 1", vec![]).await.map(|_| ()), "syntax error");
    invalid(s.query("SELECT * FROM no_such_table", vec![]).await.map(|_| ()), "no_such_table");
    invalid(s.query("SELECT $1, $2", vec![SqlValue::Integer(1)]).await.map(|_| ()), "2 parameter");
    invalid(s.execute("DELETE FROM tags; DELETE FROM notes", vec![]).await.map(|_| ()), "one statement");
    invalid(s.commit().await, "without an open transaction");
    invalid(s.rollback().await, "without an open transaction");
}

async fn constraints_are_typed(db: &dyn Database) {
    let mut s = db.session();
    let constraint = |result: Result<Executed, SqlError>| match result {
        Err(SqlError::Constraint { kind, message }) => {
            assert!(!message.is_empty());
            kind
        }
        other => panic!("expected a constraint error, got {other:?}"),
    };
    let insert = "INSERT INTO notes (id, title) VALUES ($1, $2)";
    s.execute(insert, vec![SqlValue::Integer(10), text("ten")]).await.expect("insert");
    let again = s.execute(insert, vec![SqlValue::Integer(11), text("ten")]).await;
    assert_eq!(constraint(again), ConstraintKind::Unique);
    let same_id = s.execute(insert, vec![SqlValue::Integer(10), text("other")]).await;
    assert_eq!(constraint(same_id), ConstraintKind::Unique, "a primary key is unique");
    let null = s.execute(insert, vec![SqlValue::Integer(12), SqlValue::Null]).await;
    assert_eq!(constraint(null), ConstraintKind::NotNull);
    let empty = s.execute(insert, vec![SqlValue::Integer(13), text("")]).await;
    assert_eq!(constraint(empty), ConstraintKind::Check);
    let orphan =
        s.execute("INSERT INTO tags (note_id, tag) VALUES ($1, $2)", vec![SqlValue::Integer(99), text("x")]).await;
    assert_eq!(constraint(orphan), ConstraintKind::ForeignKey);
    // Nothing of the refused statements was written.
    let count = s.query("SELECT count(*) FROM notes WHERE id >= 10", vec![]).await.expect("count");
    assert_eq!(count.rows, [vec![SqlValue::Integer(1)]]);
}

async fn transactions_commit_roll_back_and_end_with_their_session(db: &dyn Database) {
    let count = |title: &'static str| async move {
        let rows = db.session().query("SELECT count(*) FROM notes WHERE title = $1", vec![text(title)]).await;
        match rows.expect("count").rows.as_slice() {
            [row] => row[0].clone(),
            other => panic!("count(*) gave {other:?}"),
        }
    };
    let insert = "INSERT INTO notes (id, title) VALUES ($1, $2)";

    let mut s = db.session();
    s.begin().await.expect("begin");
    assert!(matches!(s.begin().await, Err(SqlError::InvalidStatement(m)) if m.contains("already open")));
    s.execute(insert, vec![SqlValue::Integer(20), text("committed")]).await.expect("insert");
    let own = s.query("SELECT title FROM notes WHERE id = $1", vec![SqlValue::Integer(20)]).await.expect("read own");
    assert_eq!(own.rows, [vec![text("committed")]], "a transaction sees its own writes");
    assert_eq!(count("committed").await, SqlValue::Integer(0), "others do not, before the commit");
    s.commit().await.expect("commit");
    assert_eq!(count("committed").await, SqlValue::Integer(1));

    s.begin().await.expect("begin");
    s.execute(insert, vec![SqlValue::Integer(21), text("rolled back")]).await.expect("insert");
    s.rollback().await.expect("rollback");
    assert_eq!(count("rolled back").await, SqlValue::Integer(0));

    // A failed statement inside a transaction leaves it open and usable.
    s.begin().await.expect("begin");
    s.execute(insert, vec![SqlValue::Integer(22), text("kept")]).await.expect("insert");
    assert!(s.execute(insert, vec![SqlValue::Integer(22), text("dup")]).await.is_err());
    s.commit().await.expect("commit after a refused statement");
    assert_eq!(count("kept").await, SqlValue::Integer(1));

    // An instance that ends with its transaction open leaves nothing, and
    // the next writer is not kept waiting.
    let mut abandoned = db.session();
    abandoned.begin().await.expect("begin");
    abandoned.execute(insert, vec![SqlValue::Integer(23), text("abandoned")]).await.expect("insert");
    drop(abandoned);
    let mut next = db.session();
    next.execute(insert, vec![SqlValue::Integer(24), text("next")]).await.expect("the writer is free again");
    assert_eq!(count("abandoned").await, SqlValue::Integer(0));
}
