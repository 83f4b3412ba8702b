//! Multi-row INSERTs: many rows of one table in as few statements as the engines allow.
//! A group of messages is written with one statement per table instead of one per row,
//! because on SQLite every statement is a hand-off to the driver's worker thread and on
//! PostgreSQL a round trip.
//!
//! SQLite gets a VALUES list of placeholders. PostgreSQL gets one array per column and
//! `unnest`s them: the statement's text is then the same whatever the number of rows, so it
//! is parsed and planned once per connection, where a VALUES list of thousands of
//! placeholders was parsed, analysed and planned again at every group (a sixth of
//! PostgreSQL's time in an import; docs/benchmarks.md).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::StoreError;

/// Bound values per SQLite statement: below its limit of 32,766. (PostgreSQL's statements
/// bind one array per column.)
const MAX_VALUES: usize = 30_000;

/// One bound value.
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Value {
        Value::Int(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(Some(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(Some(v.to_string()))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(Some(v.clone()))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        Value::Text(v)
    }
}

/// Rows waiting to be inserted into one table.
pub struct Rows {
    /// `INSERT INTO t (a, b, c)`
    head: &'static str,
    /// What follows the VALUES list: `ON CONFLICT …`, `RETURNING id`, or nothing.
    tail: &'static str,
    columns: usize,
    values: Vec<Value>,
}

impl Rows {
    pub fn new(head: &'static str, columns: usize, tail: &'static str) -> Rows {
        Rows {
            head,
            tail,
            columns,
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns);
        self.values.extend(row);
    }

    /// `INSERT INTO t (a, b, c)`
    pub fn head(&self) -> &'static str {
        self.head
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.columns
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// SQLite's statements: VALUES lists of placeholders, in chunks below its limit.
    fn statements(&self) -> impl Iterator<Item = (String, &[Value])> {
        self.statements_ending(self.tail)
    }

    fn statements_ending<'a>(
        &'a self,
        tail: &'a str,
    ) -> impl Iterator<Item = (String, &'a [Value])> {
        let style = Placeholders::Positional;
        let per_statement = (MAX_VALUES / self.columns).max(1) * self.columns;
        self.values.chunks(per_statement).map(move |chunk| {
            let sql = format!(
                "{} VALUES {} {}",
                self.head,
                style.value_lists(chunk.len() / self.columns, self.columns),
                tail
            );
            (sql, chunk)
        })
    }

    /// Inserts the rows; answers how many were inserted (conflicts skipped do not count).
    pub async fn execute(&self, conn: &mut AnyConnection) -> Result<u64, StoreError> {
        if Placeholders::of(conn) == Placeholders::Numbered {
            if self.is_empty() {
                return Ok(0);
            }
            let (sql, arrays) = self.unnested();
            let q = arrays
                .iter()
                .fold(sqlx::query(&sql), |q, a| q.bind(a.as_str()));
            return Ok(q.execute(&mut *conn).await?.rows_affected());
        }
        let mut inserted = 0;
        for (sql, chunk) in self.statements() {
            inserted += bound(&sql, chunk)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
        Ok(inserted)
    }

    /// Inserts the rows (the tail must be `RETURNING id`); answers their ids in row order.
    pub async fn returning_ids(&self, conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
        if Placeholders::of(conn) == Placeholders::Positional {
            return self.numbered_by_sqlite(conn).await;
        }
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, arrays) = self.unnested();
        // The rows of one INSERT … SELECT are numbered in the order the SELECT yields
        // them, the arrays' order; RETURNING's own order is not promised, so sort.
        let q = arrays
            .iter()
            .fold(sqlx::query_as::<_, (i64,)>(&sql), |q, a| q.bind(a.as_str()));
        let mut out: Vec<i64> = q
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect();
        out.sort_unstable();
        if out.len() != self.len() {
            return Err(StoreError::Conflict(format!(
                "{} rows inserted, {} ids returned",
                self.len(),
                out.len()
            )));
        }
        Ok(out)
    }

    /// PostgreSQL: `INSERT INTO t (a, b) SELECT * FROM unnest($1::bigint[], $2::text[])`
    /// and the arrays to bind, one per column, typed by the rows' values (every column of
    /// this schema is BIGINT or TEXT).
    fn unnested(&self) -> (String, Vec<String>) {
        let rows: Vec<&[Value]> = self.values.chunks(self.columns).collect();
        let mut types = Vec::with_capacity(self.columns);
        let mut arrays = Vec::with_capacity(self.columns);
        for c in 0..self.columns {
            let column = rows.iter().map(|r| &r[c]);
            let integer = matches!(rows[0][c], Value::Int(_));
            types.push(format!(
                "${}::{}[]",
                c + 1,
                if integer { "bigint" } else { "text" }
            ));
            arrays.push(array_literal(column));
        }
        let sql = format!(
            "{} SELECT * FROM unnest({}) {}",
            self.head,
            types.join(", "),
            self.tail
        );
        (sql, arrays)
    }

    /// SQLite: inserts the rows without `RETURNING` and answers the ids SQLite gave them.
    /// A rowid table gives each new row the highest rowid plus one, in the order of the
    /// VALUES list, so one statement's rows are numbered consecutively up to
    /// `last_insert_rowid()` (the pipelined writer foresees ids by the same rule).
    /// `RETURNING` would hand every id back as a row of its own through the driver's
    /// worker thread, a few microseconds each on the writer's path.
    async fn numbered_by_sqlite(&self, conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
        let mut out = Vec::with_capacity(self.len());
        for (sql, chunk) in self.statements_ending("") {
            let rows = (chunk.len() / self.columns) as i64;
            let inserted = bound(&sql, chunk)
                .execute(&mut *conn)
                .await?
                .rows_affected() as i64;
            let (last,): (i64,) = sqlx::query_as("SELECT last_insert_rowid()")
                .fetch_one(&mut *conn)
                .await?;
            if inserted != rows || last < rows {
                return Err(StoreError::Conflict(format!(
                    "{rows} rows to insert, {inserted} inserted"
                )));
            }
            out.extend(last - rows + 1..=last);
        }
        Ok(out)
    }
}

/// PostgreSQL's text form of a one-dimensional array: `{1,NULL}`, `{"a","b \"c\""}`,
/// each item written by `push`.
fn array_of<T>(items: impl IntoIterator<Item = T>, push: impl Fn(&mut String, T)) -> String {
    let mut out = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push(&mut out, item);
    }
    out.push('}');
    out
}

/// A column of [`Rows`] as an array, a missing value as NULL.
fn array_literal<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    array_of(values, |out, v| match v {
        Value::Int(Some(n)) => push_int(out, *n),
        Value::Text(Some(t)) => push_quoted(out, t),
        Value::Int(None) | Value::Text(None) => out.push_str("NULL"),
    })
}

fn push_int(out: &mut String, n: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{n}");
}

/// Every text element is quoted, with `"` and `\` escaped by a backslash, so no content
/// can end an element or the array early.
fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    // Copied a run at a time: most texts hold nothing to escape (an import's arrays are
    // megabytes, and a character at a time was a third of the time spent building them).
    let mut rest = text;
    while let Some(at) = rest.find(['"', '\\']) {
        out.push_str(&rest[..at]);
        out.push('\\');
        out.push_str(&rest[at..=at]);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// A PostgreSQL array of texts, bound as text and cast by the statement (`$1::text[]`):
/// one value and one statement text however many there are.
pub fn text_array<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    array_of(values, push_quoted)
}

/// A PostgreSQL array of integers (`$1::bigint[]`), as [`text_array`].
pub fn int_array(values: impl IntoIterator<Item = i64>) -> String {
    array_of(values, push_int)
}

/// A statement with its values bound, not kept in the statement cache (the text changes
/// with the number of rows).
fn bound<'q>(sql: &'q str, values: &'q [Value]) -> Query<'q, Any, AnyArguments<'q>> {
    let mut q = sqlx::query(sql).persistent(false);
    for v in values {
        q = match v {
            Value::Int(i) => q.bind(*i),
            Value::Text(t) => q.bind(t.as_deref()),
        };
    }
    q
}

/// How bound values are written in SQL. SQLite gets plain `?`: it looks each `$n` up in a
/// list as a name, which grows quadratic with thousands of values in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    Numbered,
    Positional,
}

impl Placeholders {
    pub fn of(conn: &AnyConnection) -> Placeholders {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Placeholders::Positional
        } else {
            Placeholders::Numbered
        }
    }

    /// Whether a statement that takes a list has one text whatever the list's length
    /// (PostgreSQL binds the list as an array), and so is worth preparing once.
    pub fn one_text_for_any_length(self) -> bool {
        self == Placeholders::Numbered
    }

    /// The `n`th (from 1) bound value.
    pub fn nth(self, n: usize) -> String {
        match self {
            Placeholders::Numbered => format!("${n}"),
            Placeholders::Positional => "?".to_string(),
        }
    }

    /// `($1, $2), ($3, $4)` for `rows` rows of `columns` values, numbered from `$1`.
    pub fn value_lists(self, rows: usize, columns: usize) -> String {
        self.value_lists_from(1, rows, columns)
    }

    /// As [`Placeholders::value_lists`], numbered from `$first`.
    pub fn value_lists_from(self, first: usize, rows: usize, columns: usize) -> String {
        let mut s = String::with_capacity(rows * columns * 6);
        for r in 0..rows {
            if r > 0 {
                s.push_str(", ");
            }
            s.push('(');
            for c in 0..columns {
                if c > 0 {
                    s.push_str(", ");
                }
                s.push_str(&self.nth(first + r * columns + c));
            }
            s.push(')');
        }
        s
    }

    /// `$first, …` for an IN list of `n` values.
    pub fn list(self, first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| self.nth(i))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imms_db::Engine;

    #[test]
    fn array_literals_quote_every_text_and_escape_quotes_and_backslashes() {
        let values = [
            Value::Text(Some(r#"O"Brien\, {Jr}"#.into())),
            Value::Text(None),
            Value::Text(Some(String::new())),
        ];
        assert_eq!(
            array_literal(values.iter()),
            r#"{"O\"Brien\\, {Jr}",NULL,""}"#
        );
        let numbers = [Value::Int(Some(-3)), Value::Int(None)];
        assert_eq!(array_literal(numbers.iter()), "{-3,NULL}");
        assert_eq!(text_array(["a\\", "\"", ""]), r#"{"a\\","\"",""}"#);
        assert_eq!(int_array([1, -2]), "{1,-2}");
        assert_eq!(int_array([]), "{}");
    }

    /// Whatever a text holds (quotes, backslashes, braces, commas, the word NULL, accents,
    /// an empty string, no value) comes back as it went in, on both engines; ids follow
    /// the rows' order.
    async fn hostile_texts_round_trip(engine: Engine) {
        let t = imms_db::testing::fresh(engine).await;
        let mut pooled = t.db.pool().acquire().await.unwrap();
        let conn = &mut *pooled;
        sqlx::query("CREATE TABLE rows_probe (id BIGINT, t TEXT, n BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let texts: Vec<Option<String>> = vec![
            Some(r#"a "quoted" \ back\slash"#.into()),
            Some("{braces},commas,NULL".into()),
            Some("NULL".into()),
            None,
            Some(String::new()),
            Some("Nuñez-Ó'Connor\t\n\r".into()),
            Some("\\".into()),
        ];
        let mut rows = Rows::new("INSERT INTO rows_probe (id, t, n)", 3, "");
        for (i, t) in texts.iter().enumerate() {
            let n = (i % 2 == 0).then_some(i as i64 * -1_000_000_007);
            rows.push(vec![(i as i64).into(), t.clone().into(), n.into()]);
        }
        assert_eq!(rows.execute(conn).await.unwrap(), texts.len() as u64);
        let back: Vec<(i64, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT id, t, n FROM rows_probe ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        for (i, (id, t, n)) in back.iter().enumerate() {
            assert_eq!(*id, i as i64);
            assert_eq!(t, &texts[i], "row {i}");
            assert_eq!(*n, (i % 2 == 0).then_some(i as i64 * -1_000_000_007));
        }
        assert_eq!(back.len(), texts.len());
        drop(pooled);
        t.drop_database().await;
    }

    #[tokio::test]
    async fn hostile_texts_round_trip_on_sqlite() {
        hostile_texts_round_trip(Engine::Sqlite).await;
    }

    #[tokio::test]
    async fn hostile_texts_round_trip_on_postgres() {
        hostile_texts_round_trip(Engine::Postgres).await;
    }

    #[test]
    fn value_lists_number_placeholders_row_by_row() {
        let numbered = Placeholders::Numbered;
        assert_eq!(numbered.value_lists(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(numbered.value_lists_from(3, 1, 1), "($3)");
        assert_eq!(Placeholders::Positional.value_lists(2, 2), "(?, ?), (?, ?)");
        assert_eq!(numbered.list(2, 3), "$2, $3, $4");
    }

    #[test]
    fn rows_split_below_the_bound_value_limit() {
        let mut rows = Rows::new("INSERT INTO t (a, b, c)", 3, "");
        for i in 0..25_000 {
            rows.push(vec![i.into(), "x".into(), Value::Int(None)]);
        }
        let parts: Vec<usize> = rows.statements().map(|(_, c)| c.len() / 3).collect();
        assert_eq!(parts, vec![10_000, 10_000, 5_000]);
    }
}
