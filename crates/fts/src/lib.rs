//! One FTS5 auxiliary function, `bm25_tf`, for search on SQLite.
//!
//! FTS5's `bm25` weighs each phrase of a query by its inverse document
//! frequency, and to know it, counts the phrase's matches in the whole
//! table: at the first row of every statement it walks every match of
//! every phrase. A search runs one statement a kind, ranking only each
//! kind's newest matches, so that walk was a third of a search's time on
//! 100,000 documents (docs/benchmarks.md, issue 17). `bm25_tf` is bm25 with
//! every phrase's weight taken as 1: for a query of one phrase, bm25 is this
//! times that phrase's weight, a positive number that is the same for every
//! row, so both put rows in the same order. It refuses a query of more than
//! one phrase, where the weights change the order. Like bm25, it takes the
//! columns' weights as its arguments after the table.
//!
//! Owns: `register`, which adds `bm25_tf(<fts5 table>, <weight>...)` to a
//! rusqlite connection.
//!
//! Must not touch: anything else. This is the only crate with unsafe code
//! (the workspace forbids it everywhere else): the few calls of FTS5's C
//! interface that registering and computing the function need, each with
//! the reason it is sound.

use std::ffi::{CStr, c_int, c_void};
use std::ptr;

use rusqlite::ffi;

/// bm25's constants, as FTS5 sets them (`fts5_aux.c`).
const K1: f64 = 1.2;
const B: f64 = 0.75;

const ONE_PHRASE: &CStr =
    c"bm25_tf orders rows as bm25 does only for a query of one phrase; use bm25 for more";

/// Adds `bm25_tf` to FTS5 on `conn`, for the connection's life.
pub fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is used only within this call, while `conn` is
    // borrowed and so open.
    let db = unsafe { conn.handle() };
    let api = fts5_api(db)?;
    // SAFETY: `api` is this connection's FTS5 interface, which lives as long
    // as the connection; FTS5 copies the name, and the function is a plain
    // `extern "C" fn` with no user data to free.
    let rc = unsafe {
        match (*api).xCreateFunction {
            Some(create) => create(
                api,
                c"bm25_tf".as_ptr(),
                ptr::null_mut(),
                Some(bm25_tf),
                None,
            ),
            None => ffi::SQLITE_MISUSE,
        }
    };
    check(rc, "FTS5 would not add bm25_tf")
}

/// The connection's FTS5 interface, which FTS5 hands out through a pointer
/// bound to its `fts5(?)` function.
fn fts5_api(db: *mut ffi::sqlite3) -> rusqlite::Result<*mut ffi::fts5_api> {
    let mut api: *mut ffi::fts5_api = ptr::null_mut();
    let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
    // SAFETY: `db` is an open connection. The statement is finalized before
    // this block ends (finalizing a null one is a no-op), and `api`, which
    // FTS5 writes through the bound pointer while the statement steps,
    // outlives it. The type tag is a static string, as SQLite requires.
    let rc = unsafe {
        let mut rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            ptr::null_mut(),
        );
        if rc == ffi::SQLITE_OK {
            rc = ffi::sqlite3_bind_pointer(
                stmt,
                1,
                (&raw mut api).cast::<c_void>(),
                c"fts5_api_ptr".as_ptr(),
                None,
            );
        }
        if rc == ffi::SQLITE_OK && ffi::sqlite3_step(stmt) != ffi::SQLITE_ROW {
            rc = ffi::sqlite3_errcode(db);
        }
        ffi::sqlite3_finalize(stmt);
        rc
    };
    check(rc, "could not reach FTS5")?;
    // SAFETY: a pointer FTS5 set points at its interface, which lives as
    // long as the connection.
    if api.is_null() || unsafe { (*api).iVersion } < 2 {
        return Err(failure(ffi::SQLITE_ERROR, "this SQLite has no FTS5"));
    }
    Ok(api)
}

fn failure(rc: c_int, what: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(what.to_string()))
}

fn check(rc: c_int, what: &str) -> rusqlite::Result<()> {
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(failure(rc, what))
    }
}

/// Why a row has no score.
enum Fail {
    /// An error FTS5 reported.
    Code(c_int),
    /// A query of more than one phrase.
    Phrases,
}

/// Called by FTS5 for each row the function is asked of.
unsafe extern "C" fn bm25_tf(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    n_args: c_int,
    args: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: FTS5 passes its interface, the context of the row being read
    // and `n_args` values after the table's, all valid for this call.
    let score = unsafe {
        let args: &[*mut ffi::sqlite3_value] = match usize::try_from(n_args) {
            Ok(n) if n > 0 && !args.is_null() => std::slice::from_raw_parts(args, n),
            _ => &[],
        };
        score(&*api, fts, args)
    };
    // SAFETY: `ctx` is the call's own result context; SQLite copies the
    // message.
    unsafe {
        match score {
            Ok(s) => ffi::sqlite3_result_double(ctx, s),
            Err(Fail::Code(rc)) => ffi::sqlite3_result_error_code(ctx, rc),
            Err(Fail::Phrases) => ffi::sqlite3_result_error(ctx, ONE_PHRASE.as_ptr(), -1),
        }
    }
}

/// bm25 of the current row with the phrase's weight taken as 1, in the
/// same operations as FTS5's `fts5Bm25Function`, so that the two differ
/// only by that factor. `weights` are the columns' (1 for a column past
/// them, as bm25 has it).
///
/// # Safety
/// `api` and `fts` must be what FTS5 passed to an auxiliary function for
/// the row being read, and `weights` the values it passed.
unsafe fn score(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    weights: &[*mut ffi::sqlite3_value],
) -> Result<f64, Fail> {
    let ok = |rc: c_int| {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(Fail::Code(rc))
        }
    };
    let (Some(phrases), Some(rows), Some(total), Some(inst_count), Some(inst), Some(size)) = (
        api.xPhraseCount,
        api.xRowCount,
        api.xColumnTotalSize,
        api.xInstCount,
        api.xInst,
        api.xColumnSize,
    ) else {
        return Err(Fail::Code(ffi::SQLITE_MISUSE));
    };
    // SAFETY: `fts` is the row's context for this call, each out parameter
    // is a local that outlives the call it is passed to, and each weight is
    // a value FTS5 passed for this call.
    let (freq, length, avgdl) = unsafe {
        if phrases(fts) != 1 {
            return Err(Fail::Phrases);
        }
        let (mut n_rows, mut n_tokens) = (0i64, 0i64);
        ok(rows(fts, &mut n_rows))?;
        ok(total(fts, -1, &mut n_tokens))?;
        let avgdl = n_tokens as f64 / n_rows.max(1) as f64;
        let mut n_inst: c_int = 0;
        ok(inst_count(fts, &mut n_inst))?;
        let mut freq = 0.0f64;
        for i in 0..n_inst {
            let (mut phrase, mut column, mut offset): (c_int, c_int, c_int) = (0, 0, 0);
            ok(inst(fts, i, &mut phrase, &mut column, &mut offset))?;
            freq += match usize::try_from(column).ok().and_then(|c| weights.get(c)) {
                Some(w) => ffi::sqlite3_value_double(*w),
                None => 1.0,
            };
        }
        let mut length: c_int = 0;
        ok(size(fts, -1, &mut length))?;
        (freq, length, avgdl)
    };
    let d = f64::from(length);
    let tf = (freq * (K1 + 1.0)) / (freq + K1 * (1.0 - B + B * d / avgdl));
    Ok(-tf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table like the search index (two columns, Porter stemming) of
    /// `n` documents of very different lengths and word counts.
    fn table(n: u64) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(title, body, \
             tokenize = 'porter unicode61 remove_diacritics 2')",
        )
        .unwrap();
        let words = [
            "blueprint",
            "desktop",
            "agency",
            "sponsor",
            "deploy",
            "secure",
            "letter",
            "workshop",
            "tenant",
            "intune",
            "policy",
            "review",
            "stage",
            "risk",
            "benefit",
            "survey",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for id in 1..=n {
            let len = 1 + next() % 120;
            let skew = next() % 4;
            let body: Vec<&str> = (0..len)
                .map(|_| words[((next() % 16) >> skew) as usize])
                .collect();
            let title = words[(next() % 16) as usize];
            conn.execute(
                "INSERT INTO t(rowid, title, body) VALUES (?1, ?2, ?3)",
                (id as i64, title, body.join(" ")),
            )
            .unwrap();
        }
        register(&conn).unwrap();
        conn
    }

    fn ids(conn: &rusqlite::Connection, order: &str, q: &str) -> Vec<i64> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY {order}, rowid"
            ))
            .unwrap();
        stmt.query_map([q], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// For words common and rare, and phrases, with the columns' weights
    /// or without, the rows come in bm25's order, and each score is bm25's
    /// divided by one factor for the query.
    #[test]
    fn one_phrase_is_ranked_in_bm25s_order() {
        let conn = table(600);
        for (weights, q) in ["", ", 8.0, 1.0", ", 0.5"].into_iter().flat_map(|w| {
            [
                "\"blueprint\"",
                "\"agency\"",
                "\"survey\"",
                "\"policies\"",
                "\"blueprint desktop\"",
                "\"sponsor agency\"",
            ]
            .map(|q| (w, q))
        }) {
            let bm25 = ids(&conn, &format!("bm25(t{weights})"), q);
            assert!(bm25.len() > 5, "{q} matches {} rows", bm25.len());
            assert_eq!(
                ids(&conn, &format!("bm25_tf(t{weights})"), q),
                bm25,
                "{q}{weights}"
            );
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT bm25(t{weights}), bm25_tf(t{weights}) FROM t WHERE t MATCH ?1"
                ))
                .unwrap();
            let pairs: Vec<(f64, f64)> = stmt
                .query_map([q], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let idf = pairs[0].0 / pairs[0].1;
            assert!(idf > 0.0, "{q}: {idf}");
            for (bm25, tf) in pairs {
                assert!(tf < 0.0, "{q}: {tf}");
                assert!(
                    (tf * idf - bm25).abs() <= 1e-12 * bm25.abs(),
                    "{q}{weights}: {bm25} {tf}"
                );
            }
        }
    }

    /// Two phrases are weighed against each other by bm25 alone: the
    /// function says so instead of ranking in another order.
    #[test]
    fn more_than_one_phrase_is_refused_with_a_reason() {
        let conn = table(50);
        let err = conn
            .query_row(
                "SELECT bm25_tf(t) FROM t WHERE t MATCH '\"blueprint\" \"agency\"'",
                [],
                |r| r.get::<_, f64>(0),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("only for a query of one phrase"),
            "{err}"
        );
    }

    /// Outside a full-text query FTS5 itself refuses the function.
    #[test]
    fn outside_a_match_it_is_an_error_not_a_crash() {
        let conn = table(5);
        let err = conn
            .query_row("SELECT bm25_tf(t) FROM t", [], |r| r.get::<_, f64>(0))
            .unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
