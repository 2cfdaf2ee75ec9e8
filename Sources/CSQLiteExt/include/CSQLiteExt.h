#ifndef LECTERN_CSQLITEEXT_H
#define LECTERN_CSQLITEEXT_H
// The C half of Lectern's vector extension. Swift cannot import sqlite3ext.h's macros, variadic
// functions or SQLITE_TRANSIENT, so every SQLite call the extension makes goes through one of
// these wrappers, and each wrapper calls through the sqlite3_api_routines pointer handed to the
// extension's entry point (never a libsqlite3 symbol: hosts may embed their own SQLite).
#include <stdint.h>
#include <sqlite3ext.h>

/// Records the api routines; call first in every entry point.
void lx_set_api(const sqlite3_api_routines *api);
/// Whether lx_set_api has been called.
int lx_has_api(void);
/// The library version of the SQLite that loaded us.
int lx_libversion_number(void);

/// A virtual table with a pointer to its Swift implementation (an Unmanaged object).
typedef struct lx_vtab { sqlite3_vtab base; void *impl; } lx_vtab;
/// A cursor with a pointer to its Swift implementation.
typedef struct lx_cursor { sqlite3_vtab_cursor base; void *impl; } lx_cursor;

// Memory and strings (sqlite3_malloc'd, as SQLite requires for error messages).
char *lx_strdup(const char *s);
void lx_free(void *p);
/// sqlite3_mprintf("%f", x): the caller frees it with lx_free.
char *lx_format_f(double x);

// Registration.
int lx_create_function(sqlite3 *db, const char *name, int nArg, int flags, void *pApp,
                       void (*xFunc)(sqlite3_context *, int, sqlite3_value **));
int lx_create_module(sqlite3 *db, const char *name, const sqlite3_module *m, void *pAux);
int lx_declare_vtab(sqlite3 *db, const char *sql);
int lx_vtab_config_constraint_support(sqlite3 *db);
int lx_vtab_on_conflict(sqlite3 *db);
int lx_vtab_nochange(sqlite3_context *ctx);
/// sqlite3_vtab_in: 0 on hosts older than SQLite 3.38 (no all-at-once IN there).
int lx_vtab_in(sqlite3_index_info *info, int i, int handle);
int lx_vtab_in_first(sqlite3_value *list, sqlite3_value **out);
int lx_vtab_in_next(sqlite3_value *list, sqlite3_value **out);

// Results.
void lx_result_blob(sqlite3_context *ctx, const void *p, int n);
void lx_result_text(sqlite3_context *ctx, const char *p, int n);
void lx_result_double(sqlite3_context *ctx, double v);
void lx_result_int64(sqlite3_context *ctx, sqlite3_int64 v);
void lx_result_null(sqlite3_context *ctx);
void lx_result_error(sqlite3_context *ctx, const char *msg);
void lx_result_error_nomem(sqlite3_context *ctx);
void lx_result_subtype(sqlite3_context *ctx, unsigned int t);
void lx_result_value(sqlite3_context *ctx, sqlite3_value *v);
sqlite3 *lx_context_db_handle(sqlite3_context *ctx);

// Values.
int lx_value_type(sqlite3_value *v);
sqlite3_value *lx_value_dup(sqlite3_value *v);
void lx_value_free(sqlite3_value *v);
/// vec_npy_file(path) as a typed pointer, and its reading back (NULL when the value is not one).
void lx_result_npy_file(sqlite3_context *ctx, const char *path);
const char *lx_value_npy_file(sqlite3_value *v);
const void *lx_value_blob(sqlite3_value *v);
int lx_value_bytes(sqlite3_value *v);
const unsigned char *lx_value_text(sqlite3_value *v);
sqlite3_int64 lx_value_int64(sqlite3_value *v);
double lx_value_double(sqlite3_value *v);
unsigned int lx_value_subtype(sqlite3_value *v);

// Statements.
int lx_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
int lx_step(sqlite3_stmt *s);
int lx_reset(sqlite3_stmt *s);
int lx_finalize(sqlite3_stmt *s);
int lx_clear_bindings(sqlite3_stmt *s);
int lx_bind_blob(sqlite3_stmt *s, int i, const void *p, int n);
int lx_bind_text(sqlite3_stmt *s, int i, const char *p);
int lx_bind_int64(sqlite3_stmt *s, int i, sqlite3_int64 v);
int lx_bind_double(sqlite3_stmt *s, int i, double v);
int lx_bind_null(sqlite3_stmt *s, int i);
int lx_bind_value(sqlite3_stmt *s, int i, const sqlite3_value *v);
int lx_column_type(sqlite3_stmt *s, int i);
const void *lx_column_blob(sqlite3_stmt *s, int i);
int lx_column_bytes(sqlite3_stmt *s, int i);
sqlite3_int64 lx_column_int64(sqlite3_stmt *s, int i);
double lx_column_double(sqlite3_stmt *s, int i);
const unsigned char *lx_column_text(sqlite3_stmt *s, int i);
sqlite3_value *lx_column_value(sqlite3_stmt *s, int i);
int lx_exec(sqlite3 *db, const char *sql);
int lx_errcode(sqlite3 *db);
const char *lx_errmsg(sqlite3 *db);
/// Counter that changes whenever the main database file changes (any connection); 0 if unknown.
unsigned int lx_data_version(sqlite3 *db, const char *schema);

// Incremental BLOB I/O: chunk slots are written in place, not by rewriting whole chunks.
int lx_blob_open(sqlite3 *db, const char *schema, const char *table, const char *column,
                 sqlite3_int64 rowid, int writable, sqlite3_blob **out);
int lx_blob_read(sqlite3_blob *b, void *p, int n, int offset);
int lx_blob_write(sqlite3_blob *b, const void *p, int n, int offset);
int lx_blob_bytes(sqlite3_blob *b);
int lx_blob_close(sqlite3_blob *b);
int lx_bind_zeroblob(sqlite3_stmt *s, int i, int n);
sqlite3_int64 lx_last_insert_rowid(sqlite3 *db);

#endif
