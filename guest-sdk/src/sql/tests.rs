use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;
use crate::{Error, Response, params};

const SCHEMA: &str = "
create table notes (
    id integer primary key,
    title text not null unique,
    body text,
    score real,
    data blob,
    done integer not null default 0 check (done in (0, 1))
);
create table tags (note_id integer not null references notes (id), tag text not null);
";

fn db() -> Db {
    testing::database("main").execute_batch(SCHEMA);
    Db::open("main").expect("open")
}

#[derive(Debug, PartialEq, Deserialize)]
struct Note {
    id: i64,
    title: String,
    body: Option<String>,
    score: Option<f64>,
    data: Option<Vec<u8>>,
    done: bool,
}

fn insert(db: &Db, id: i64, title: &str) {
    db.execute("insert into notes (id, title) values ($1, $2)", (id, title)).expect("insert");
}

#[test]
fn parameters_convert_to_values() {
    assert_eq!(7i32.to_value(), Value::Integer(7));
    assert_eq!(u32::MAX.to_value(), Value::Integer(4_294_967_295));
    assert_eq!(2.5f64.to_value(), Value::Real(2.5));
    assert_eq!(true.to_value(), Value::Boolean(true));
    assert_eq!("x".to_value(), Value::Text("x".into()));
    assert_eq!(String::from("y").to_value(), Value::Text("y".into()));
    assert_eq!(b"\x00\xff"[..].to_value(), Value::Blob(vec![0, 255]));
    assert_eq!(vec![1u8].to_value(), Value::Blob(vec![1]));
    assert_eq!(None::<i64>.to_value(), Value::Null);
    assert_eq!(Some("z").to_value(), Value::Text("z".into()));
    assert_eq!(serde_json::json!({"a": [1]}).to_value(), Value::Text(r#"{"a":[1]}"#.into()));
    assert_eq!(Value::Real(1.0).to_value(), Value::Real(1.0));

    assert!(().into_values().is_empty());
    assert_eq!((1, "a").into_values(), [Value::Integer(1), Value::Text("a".into())]);
    assert_eq!([1, 2].into_values(), [Value::Integer(1), Value::Integer(2)]);
    let ids = vec![3i64, 4];
    assert_eq!(ids.as_slice().into_values(), [Value::Integer(3), Value::Integer(4)]);
    let title = String::from("t");
    let mixed = params![1, &title, None::<String>, false, 0.5].into_values();
    assert_eq!(
        mixed,
        [Value::Integer(1), Value::Text("t".into()), Value::Null, Value::Boolean(false), Value::Real(0.5)]
    );
    assert_eq!(title, "t", "params! borrows");
}

#[test]
fn rows_deserialize_into_structs_keeping_every_type() {
    let db = db();
    db.execute(
        "insert into notes (id, title, body, score, data, done) values ($1, $2, $3, $4, $5, $6)",
        params![1, "first", None::<String>, 2.5, vec![0u8, 255], true],
    )
    .expect("insert");
    db.execute("insert into notes (id, title, body) values ($1, $2, $3)", (2, "second", "text")).expect("insert");
    let notes: Vec<Note> = db.query("select * from notes order by id", ()).expect("query");
    assert_eq!(
        notes,
        [
            Note { id: 1, title: "first".into(), body: None, score: Some(2.5), data: Some(vec![0, 255]), done: true },
            Note { id: 2, title: "second".into(), body: Some("text".into()), score: None, data: None, done: false },
        ]
    );
}

#[test]
fn numbered_parameters_take_their_values_wherever_they_appear() {
    let db = db();
    let swapped: (String, String) =
        db.query_one("select $2 || '-' || $1, $1 || '-' || $2", ("one", "two")).expect("numbered parameters");
    assert_eq!(swapped, ("two-one".to_owned(), "one-two".to_owned()));
    assert!(db.query::<(i64,)>("select $2", (1,)).is_err(), "`$2` needs two values");
}

#[test]
fn rows_deserialize_into_tuples_scalars_and_maps() {
    let db = db();
    insert(&db, 1, "a");
    insert(&db, 2, "b");
    let pairs: Vec<(i64, String)> = db.query("select id, title from notes order by id", ()).expect("tuples");
    assert_eq!(pairs, [(1, "a".to_owned()), (2, "b".to_owned())]);
    let count: i64 = db.query_one("select count(*) from notes", ()).expect("count");
    assert_eq!(count, 2);
    let small: u8 = db.query_one("select 200", ()).expect("fits a u8");
    assert_eq!(small, 200);
    let maps: Vec<BTreeMap<String, Value>> = db.query("select id, title from notes where id = $1", (2,)).expect("maps");
    assert_eq!(maps[0]["title"], Value::Text("b".into()));
    let json: Vec<serde_json::Value> = db.query("select id, title, x'00ff' as raw from notes", ()).expect("json");
    assert_eq!(json[0], serde_json::json!({"id": 1, "title": "a", "raw": [0, 255]}));
    let values: Vec<(Value, Value)> = db.query("select null, 1.5", ()).expect("values");
    assert_eq!(values, [(Value::Null, Value::Real(1.5))]);
    let optional: Option<i64> = db.query_one("select null", ()).expect("a NULL single column");
    assert_eq!(optional, None);
}

#[test]
fn booleans_blobs_enums_and_json_text() {
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Open,
        Done,
    }
    /// Bytes the way `serde_bytes` reads them (`deserialize_byte_buf`).
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);
    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Bytes, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Meta {
        tags: Vec<String>,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Row {
        yes: bool,
        no: bool,
        maybe: Option<bool>,
        status: Status,
        raw: Bytes,
        meta: Meta,
        list: Vec<i64>,
    }
    let db = db();
    let row: Row = db
        .query_one(
            "select 1 as yes, 0 as no, null as maybe, $1 as status, x'0102' as raw, $2 as meta, '[1,2]' as list",
            params!["done", serde_json::json!({"tags": ["a"]})],
        )
        .expect("row");
    assert_eq!(
        row,
        Row {
            yes: true,
            no: false,
            maybe: None,
            status: Status::Done,
            raw: Bytes(vec![1, 2]),
            meta: Meta { tags: vec!["a".into()] },
            list: vec![1, 2],
        }
    );
    // A boolean parameter is stored as 1 and reads back as a bool.
    db.execute("insert into notes (id, title, done) values (1, 'b', $1)", (true,)).expect("insert");
    let done: bool = db.query_one("select done from notes", ()).expect("done");
    assert!(done);
    let stored: i64 = db.query_one("select done from notes", ()).expect("as stored");
    assert_eq!(stored, 1);
    let _ = Status::Open;
}

fn decode_error<T: std::fmt::Debug>(result: std::result::Result<T, SqlError>) -> String {
    match result {
        Err(SqlError::Decode(message)) => message,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn values_that_do_not_fit_name_their_column() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Flag {
        id: i64,
        done: bool,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Small {
        n: u8,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Titled {
        title: String,
    }
    let db = db();
    let m = decode_error(db.query_one::<Flag>("select 1 as id, 2 as done", ()));
    assert!(m.contains("column `done`") && m.contains("integer `2`") && m.contains("0 or 1"), "{m}");
    let m = decode_error(db.query_one::<Small>("select 300 as n", ()));
    assert!(m.contains("column `n`") && m.contains("300"), "{m}");
    let m = decode_error(db.query_one::<Titled>("select 5 as title", ()));
    assert!(m.contains("column `title`") && m.contains("expected a string"), "{m}");
    let m = decode_error(db.query_one::<Titled>("select null as title", ()));
    assert!(m.contains("column `title`") && m.contains("NULL"), "{m}");
    let m = decode_error(db.query_one::<Titled>("select 'x' as name", ()));
    assert!(m.contains("missing field `title`") && m.contains("columns (name)"), "{m}");
    let m = decode_error(db.query_one::<(i64, i64)>("select 1, 2, 3", ()));
    assert!(m.contains("3 columns") && m.contains("2 fields"), "{m}");
    let m = decode_error(db.query_one::<i64>("select 1, 2", ()));
    assert!(m.contains("a row of 2 columns cannot be read as an integer"), "{m}");
    let m = decode_error(db.query_one::<i64>("select 2.5 as r", ()));
    assert!(m.contains("column `r`") && m.contains("floating point"), "{m}");
}

#[test]
fn query_one_and_query_opt_count_rows() {
    let db = db();
    assert_eq!(db.query_opt::<String>("select title from notes where id = $1", (1,)).expect("none"), None);
    assert!(matches!(
        db.query_one::<String>("select title from notes where id = $1", (1,)),
        Err(SqlError::RowCount(m)) if m.contains("got 0")
    ));
    insert(&db, 1, "a");
    insert(&db, 2, "b");
    assert_eq!(
        db.query_opt::<String>("select title from notes where id = $1", (1,)).expect("one").as_deref(),
        Some("a")
    );
    assert!(matches!(
        db.query_opt::<String>("select title from notes", ()),
        Err(SqlError::RowCount(m)) if m.contains("at most one row, got 2")
    ));
    let status = Response::from(Error::from(db.query_one::<String>("select title from notes", ()).unwrap_err()));
    assert_eq!(status.status_code(), 500);
}

#[test]
fn raw_rows_and_row_access() {
    let db = db();
    insert(&db, 1, "a");
    let rows = db.query_rows("select id, title, null as body from notes", ()).expect("rows");
    assert_eq!(rows.columns(), ["id", "title", "body"]);
    assert_eq!(rows.len(), 1);
    let row = rows.get(0).expect("row 0");
    assert_eq!(row.value("title"), Some(&Value::Text("a".into())));
    assert_eq!(row.value(0), Some(&Value::Integer(1)));
    assert_eq!(row.value("nope"), None);
    assert_eq!(row.get::<i64>("id").expect("id"), 1);
    assert_eq!(row.get::<Option<String>>(2).expect("body"), None);
    assert!(matches!(row.get::<i64>("nope"), Err(SqlError::Decode(m)) if m.contains("no column `nope`")));
    assert_eq!(row.deserialize::<(i64, String, Option<String>)>().expect("tuple"), (1, "a".into(), None));
    let titles: Vec<String> = rows.iter().map(|r| r.get("title")).collect::<std::result::Result<_, _>>().unwrap();
    assert_eq!(titles, ["a"]);
    assert_eq!((&rows).into_iter().count(), 1);
    let (columns, values) = rows.into_parts();
    assert_eq!((columns.len(), values[0][0].as_i64()), (3, Some(1)));
}

#[test]
fn execute_reports_changes_and_ids() {
    let db = db();
    let done = db.execute("insert into notes (title) values ($1), ($2)", ("a", "b")).expect("insert");
    assert_eq!(done, Executed { rows_affected: 2, last_insert_id: Some(2) });
    let done = db.execute("update notes set body = $1", ("x",)).expect("update");
    assert_eq!(done.rows_affected, 2);
    // A parameter may appear twice.
    let both: Vec<i64> =
        db.query("select id from notes where title = $1 or body = $1 order by id", ("a",)).expect("query");
    assert_eq!(both, [1]);
}

#[test]
fn statements_are_checked_as_on_the_host() {
    let db = db();
    let invalid = |result: std::result::Result<Executed, SqlError>, needle: &str| match result {
        Err(SqlError::InvalidStatement(m)) => assert!(m.contains(needle), "`{m}` does not say `{needle}`"),
        other => panic!("expected an invalid statement saying `{needle}`, got {other:?}"),
    };
    invalid(db.execute("selec 1", ()), "syntax error");
    invalid(db.execute("select * from nowhere", ()), "no such table: nowhere");
    invalid(db.execute("insert into notes (title) values ($1)", ()), "1 parameter(s), 0 given");
    invalid(db.execute("delete from notes; delete from tags", ()), "one statement per call");
    invalid(db.execute("create table x (y)", ()), "put them in a migration");
    invalid(db.execute("drop table notes", ()), "put them in a migration");
    invalid(db.execute("pragma foreign_keys = off", ()), "PRAGMA foreign_keys is not allowed");
    invalid(db.execute("begin", ()), "use the interface's begin");
    invalid(db.execute("vacuum", ()), "VACUUM");
    invalid(db.execute("select 1", ()), "run it with query, not execute");
    let columns = db.query_rows("pragma table_info(notes)", ()).expect("reading the schema is allowed");
    assert_eq!(columns.len(), 6);
}

#[test]
fn constraints_are_typed() {
    let db = db();
    let kind = |result: std::result::Result<Executed, SqlError>| match result {
        Err(e @ SqlError::Constraint { .. }) => e.constraint_kind().expect("a kind"),
        other => panic!("expected a constraint error, got {other:?}"),
    };
    insert(&db, 1, "a");
    let duplicate = db.execute("insert into notes (id, title) values ($1, $2)", (2, "a"));
    assert!(duplicate.as_ref().is_err_and(SqlError::is_unique_violation));
    assert_eq!(kind(duplicate), ConstraintKind::Unique);
    assert_eq!(kind(db.execute("insert into notes (id, title) values (1, 'b')", ())), ConstraintKind::Unique);
    assert_eq!(kind(db.execute("insert into notes (title) values (null)", ())), ConstraintKind::NotNull);
    assert_eq!(kind(db.execute("insert into notes (title, done) values ('c', 5)", ())), ConstraintKind::Check);
    assert_eq!(kind(db.execute("insert into tags values (99, 'x')", ())), ConstraintKind::ForeignKey);
    assert!(!SqlError::Timeout("t".into()).is_unique_violation());
}

#[test]
fn a_transaction_commits_on_ok_and_rolls_back_on_err() {
    let db = db();
    let id: i64 = db
        .transaction(|tx| {
            tx.execute("insert into notes (id, title) values (1, 'kept')", ())?;
            tx.query_one("select id from notes where title = 'kept'", ())
        })
        .expect("committed");
    assert_eq!(id, 1);

    let failed: std::result::Result<(), Error> = db.transaction(|tx| {
        tx.execute("insert into notes (id, title) values (2, 'undone')", ())?;
        Err(Error::not_found("changed my mind"))
    });
    assert_eq!(failed.unwrap_err().status(), 404, "the closure's own error comes back");

    let refused: std::result::Result<(), SqlError> = db.transaction(|tx| {
        tx.execute("insert into notes (id, title) values (3, 'first half')", ())?;
        tx.execute("insert into notes (id, title) values (4, 'kept')", ())?;
        Ok(())
    });
    assert!(refused.is_err_and(|e| e.is_unique_violation()));

    let titles: Vec<String> = db.query("select title from notes order by id", ()).expect("titles");
    assert_eq!(titles, ["kept"], "only the committed transaction stays");
    // Nothing is left open: statements commit on their own again.
    insert(&db, 5, "after");
    db.transaction(|tx| tx.execute("delete from notes", ()).map(|_| ())).expect("and a new transaction begins");
}

#[test]
fn a_transaction_rolls_back_when_its_closure_panics() {
    let db = db();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: std::result::Result<(), SqlError> = db.transaction(|tx| {
            tx.execute("insert into notes (id, title) values (1, 'lost')", ())?;
            panic!("the handler has a bug");
        });
    }));
    assert!(panicked.is_err());
    let count: i64 = db.query_one("select count(*) from notes", ()).expect("count");
    assert_eq!(count, 0);
    db.transaction(|tx| tx.execute("insert into notes (id, title) values (2, 'next')", ()).map(|_| ()))
        .expect("a new transaction begins: none was left open");
}

#[test]
fn databases_belong_to_the_test_that_made_them() {
    assert!(matches!(Db::open("main"), Err(SqlError::NoSuchDatabase(name)) if name == "main"));
    let db = db();
    insert(&db, 1, "a");
    testing::database("main").execute_batch(SCHEMA);
    let count: i64 = db.query_one("select count(*) from notes", ()).expect("count");
    assert_eq!(count, 0, "database() starts afresh");
    testing::drop_database("main");
    assert!(matches!(Db::open("main"), Err(SqlError::NoSuchDatabase(_))));
}

#[test]
fn migrations_apply_in_name_order_and_a_bad_one_names_its_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::write(dir.join("0002_more.sql"), "alter table things add column size integer;").unwrap();
    std::fs::write(dir.join("0001_things.sql"), "create table things (id integer primary key, name text);").unwrap();
    std::fs::write(dir.join("README.md"), "not a migration").unwrap();
    testing::database("things").migrations(dir);
    let db = Db::open("things").expect("open");
    db.execute("insert into things (name, size) values ($1, $2)", ("x", 3)).expect("both migrations ran");

    std::fs::write(dir.join("0003_broken.sql"), "create table t (x); insert into nowhere values (1);").unwrap();
    let failed = std::panic::catch_unwind(|| {
        testing::database("broken").migrations(dir);
    });
    let message = failed.unwrap_err().downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(message.contains("0003_broken.sql: migration failed") && message.contains("nowhere"), "{message}");
    let tables: Vec<String> = Db::open("broken")
        .unwrap()
        .query("select name from sqlite_schema where type = 'table' order by name", ())
        .unwrap();
    assert_eq!(tables, ["things"], "nothing of the failed migration stays");
}

#[test]
fn injected_failures_fail_the_calls_as_the_host_would() {
    let db = db();
    testing::fail("main", SqlError::Unavailable("busy".into()));
    assert!(matches!(db.query::<i64>("select 1", ()), Err(SqlError::Unavailable(_))));
    assert!(Db::open("main").is_ok(), "open fails only for the errors the host gives open");
    testing::fail("main", SqlError::AccessDenied("main".into()));
    assert!(matches!(Db::open("main"), Err(SqlError::AccessDenied(_))));
    testing::recover("main");
    assert_eq!(db.query_one::<i64>("select 1", ()).expect("works again"), 1);
}

#[test]
fn results_over_the_row_limit_are_refused() {
    let db = db();
    let series = "with recursive c(i) as (select 1 union all select i + 1 from c where i < $1) select i from c";
    assert_eq!(db.query::<i64>(series, (testing::MAX_ROWS as i64,)).expect("at the limit").len(), testing::MAX_ROWS);
    let over = db.query::<i64>(series, (testing::MAX_ROWS as i64 + 1,));
    assert!(matches!(over, Err(SqlError::LimitExceeded(m)) if m.contains("more than 10000 rows")));
}

fn answer(err: SqlError) -> Response {
    Response::from(Error::from(err))
}

#[test]
fn errors_map_to_statuses_and_messages() {
    let constraint = |kind| SqlError::Constraint { kind, message: "UNIQUE constraint failed: notes.title".into() };
    let cases = [
        (SqlError::NoSuchDatabase("main".into()), 500, "Internal server error"),
        (SqlError::AccessDenied("main".into()), 500, "Internal server error"),
        (constraint(ConstraintKind::Unique), 409, "Conflict: a unique constraint refused the change"),
        (constraint(ConstraintKind::ForeignKey), 409, "Conflict: a foreign key constraint refused the change"),
        (constraint(ConstraintKind::NotNull), 409, "Conflict: a not-null constraint refused the change"),
        (constraint(ConstraintKind::Check), 409, "Conflict: a check constraint refused the change"),
        (constraint(ConstraintKind::Other), 409, "Conflict: a constraint refused the change"),
        (SqlError::Unavailable("busy".into()), 503, "Storage is temporarily unavailable; try again shortly"),
        (SqlError::Timeout("5s".into()), 504, "The database took too long to answer"),
        (SqlError::LimitExceeded("rows".into()), 500, "Internal server error"),
        (SqlError::InvalidStatement("syntax".into()), 500, "Internal server error"),
        (SqlError::Internal("disk".into()), 500, "Internal server error"),
        (SqlError::Decode("column".into()), 500, "Internal server error"),
        (SqlError::RowCount("0".into()), 500, "Internal server error"),
    ];
    for (err, status, message) in cases {
        let resp = answer(err.clone());
        assert_eq!(resp.status_code(), status, "{err:?}");
        assert_eq!(resp.json_body().unwrap(), serde_json::json!({ "error": message }), "{err:?}");
    }
}

#[test]
fn unavailable_asks_to_retry_and_others_do_not() {
    let resp = answer(SqlError::Unavailable("database `main` is busy".into()));
    assert_eq!(resp.header_value("retry-after"), Some("1"));
    assert_eq!(answer(SqlError::Timeout("slow".into())).header_value("retry-after"), None);
    let body = String::from_utf8_lossy(answer(SqlError::Internal("private detail".into())).body_bytes()).into_owned();
    assert!(!body.contains("private"), "{body}");
}

#[test]
fn constraint_kinds_and_errors_read_well() {
    assert_eq!(ConstraintKind::ForeignKey.as_str(), "foreign-key");
    assert_eq!(ConstraintKind::NotNull.to_string(), "not-null");
    let err = SqlError::AccessDenied("sessions".into()).to_string();
    assert!(err.contains("`sessions`") && err.contains("databases"), "{err}");
    let err = SqlError::Constraint { kind: ConstraintKind::Unique, message: "m".into() };
    assert_eq!(err.to_string(), "unique constraint failed: m");
}
