// Wrappers over the sqlite3_api_routines pointer (see CSQLiteExt.h for why).
// Renaming the api global keeps it from colliding with a host's own SQLITE_EXTENSION_INIT1.
#define sqlite3_api lectern_vec_sqlite3_api
#include "CSQLiteExt.h"
#include <string.h>

const sqlite3_api_routines *lectern_vec_sqlite3_api = 0;

void lx_set_api(const sqlite3_api_routines *api) { if (api) lectern_vec_sqlite3_api = api; }
int lx_has_api(void) { return lectern_vec_sqlite3_api != 0; }
int lx_libversion_number(void) { return sqlite3_libversion_number(); }

char *lx_strdup(const char *s) { return sqlite3_mprintf("%s", s ? s : ""); }
void lx_free(void *p) { sqlite3_free(p); }

int lx_create_function(sqlite3 *db, const char *name, int nArg, int flags, void *pApp,
                       void (*xFunc)(sqlite3_context *, int, sqlite3_value **)) {
  return sqlite3_create_function_v2(db, name, nArg, flags, pApp, xFunc, 0, 0, 0);
}
int lx_create_module(sqlite3 *db, const char *name, const sqlite3_module *m, void *pAux) {
  return sqlite3_create_module_v2(db, name, m, pAux, 0);
}
int lx_declare_vtab(sqlite3 *db, const char *sql) { return sqlite3_declare_vtab(db, sql); }
int lx_vtab_config_constraint_support(sqlite3 *db) {
  return sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
}
int lx_vtab_on_conflict(sqlite3 *db) { return sqlite3_vtab_on_conflict(db); }
int lx_vtab_nochange(sqlite3_context *ctx) { return sqlite3_vtab_nochange(ctx); }
// The IN routines exist from SQLite 3.38 on; older hosts' api tables lack the slots.
int lx_vtab_in(sqlite3_index_info *info, int i, int handle) {
  return sqlite3_libversion_number() >= 3038000 ? sqlite3_vtab_in(info, i, handle) : 0;
}
int lx_vtab_in_first(sqlite3_value *list, sqlite3_value **out) { return sqlite3_vtab_in_first(list, out); }
int lx_vtab_in_next(sqlite3_value *list, sqlite3_value **out) { return sqlite3_vtab_in_next(list, out); }

void lx_result_blob(sqlite3_context *c, const void *p, int n) { sqlite3_result_blob(c, p, n, SQLITE_TRANSIENT); }
void lx_result_text(sqlite3_context *c, const char *p, int n) { sqlite3_result_text(c, p, n, SQLITE_TRANSIENT); }
void lx_result_double(sqlite3_context *c, double v) { sqlite3_result_double(c, v); }
void lx_result_int64(sqlite3_context *c, sqlite3_int64 v) { sqlite3_result_int64(c, v); }
void lx_result_null(sqlite3_context *c) { sqlite3_result_null(c); }
void lx_result_error(sqlite3_context *c, const char *m) { sqlite3_result_error(c, m, -1); }
void lx_result_error_nomem(sqlite3_context *c) { sqlite3_result_error_nomem(c); }
void lx_result_subtype(sqlite3_context *c, unsigned int t) { sqlite3_result_subtype(c, t); }
void lx_result_value(sqlite3_context *c, sqlite3_value *v) { sqlite3_result_value(c, v); }
sqlite3 *lx_context_db_handle(sqlite3_context *c) { return sqlite3_context_db_handle(c); }

int lx_value_type(sqlite3_value *v) { return sqlite3_value_type(v); }
const void *lx_value_blob(sqlite3_value *v) { return sqlite3_value_blob(v); }
int lx_value_bytes(sqlite3_value *v) { return sqlite3_value_bytes(v); }
const unsigned char *lx_value_text(sqlite3_value *v) { return sqlite3_value_text(v); }
sqlite3_int64 lx_value_int64(sqlite3_value *v) { return sqlite3_value_int64(v); }
double lx_value_double(sqlite3_value *v) { return sqlite3_value_double(v); }
unsigned int lx_value_subtype(sqlite3_value *v) { return sqlite3_value_subtype(v); }

int lx_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out) { return sqlite3_prepare_v2(db, sql, -1, out, 0); }
int lx_step(sqlite3_stmt *s) { return sqlite3_step(s); }
int lx_reset(sqlite3_stmt *s) { return sqlite3_reset(s); }
int lx_finalize(sqlite3_stmt *s) { return sqlite3_finalize(s); }
int lx_clear_bindings(sqlite3_stmt *s) { return sqlite3_clear_bindings(s); }
int lx_bind_blob(sqlite3_stmt *s, int i, const void *p, int n) { return sqlite3_bind_blob(s, i, p, n, SQLITE_TRANSIENT); }
int lx_bind_text(sqlite3_stmt *s, int i, const char *p) { return sqlite3_bind_text(s, i, p, -1, SQLITE_TRANSIENT); }
int lx_bind_int64(sqlite3_stmt *s, int i, sqlite3_int64 v) { return sqlite3_bind_int64(s, i, v); }
int lx_bind_double(sqlite3_stmt *s, int i, double v) { return sqlite3_bind_double(s, i, v); }
int lx_bind_null(sqlite3_stmt *s, int i) { return sqlite3_bind_null(s, i); }
int lx_bind_value(sqlite3_stmt *s, int i, const sqlite3_value *v) { return sqlite3_bind_value(s, i, v); }
int lx_column_type(sqlite3_stmt *s, int i) { return sqlite3_column_type(s, i); }
const void *lx_column_blob(sqlite3_stmt *s, int i) { return sqlite3_column_blob(s, i); }
int lx_column_bytes(sqlite3_stmt *s, int i) { return sqlite3_column_bytes(s, i); }
sqlite3_int64 lx_column_int64(sqlite3_stmt *s, int i) { return sqlite3_column_int64(s, i); }
double lx_column_double(sqlite3_stmt *s, int i) { return sqlite3_column_double(s, i); }
const unsigned char *lx_column_text(sqlite3_stmt *s, int i) { return sqlite3_column_text(s, i); }
sqlite3_value *lx_column_value(sqlite3_stmt *s, int i) { return sqlite3_column_value(s, i); }
int lx_exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, 0, 0, 0); }
int lx_errcode(sqlite3 *db) { return sqlite3_errcode(db); }
const char *lx_errmsg(sqlite3 *db) { return sqlite3_errmsg(db); }
unsigned int lx_data_version(sqlite3 *db, const char *schema) {
  unsigned int v = 0;
  if (sqlite3_file_control(db, schema ? schema : "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK) return 0;
  return v;
}
int lx_blob_open(sqlite3 *db, const char *schema, const char *table, const char *column,
                 sqlite3_int64 rowid, int writable, sqlite3_blob **out) {
  return sqlite3_blob_open(db, schema, table, column, rowid, writable, out);
}
int lx_blob_read(sqlite3_blob *b, void *p, int n, int offset) { return sqlite3_blob_read(b, p, n, offset); }
int lx_blob_write(sqlite3_blob *b, const void *p, int n, int offset) { return sqlite3_blob_write(b, p, n, offset); }
int lx_blob_bytes(sqlite3_blob *b) { return sqlite3_blob_bytes(b); }
int lx_blob_close(sqlite3_blob *b) { return sqlite3_blob_close(b); }
int lx_bind_zeroblob(sqlite3_stmt *s, int i, int n) { return sqlite3_bind_zeroblob(s, i, n); }
sqlite3_int64 lx_last_insert_rowid(sqlite3 *db) { return sqlite3_last_insert_rowid(db); }
char *lx_format_f(double x) { return sqlite3_mprintf("%f", x); }
sqlite3_value *lx_value_dup(sqlite3_value *v) { return sqlite3_value_dup(v); }
void lx_value_free(sqlite3_value *v) { sqlite3_value_free(v); }
// vec_npy_file(path): the path travels to vec_npy_each as a typed pointer (sqlite3_result_pointer),
// so the file is opened by the table function, never copied into an SQL value.
static const char *lx_npy_file_type = "lectern_vec_npy_file";
void lx_result_npy_file(sqlite3_context *ctx, const char *path) {
    char *p = sqlite3_mprintf("%s", path);
    if (!p) { sqlite3_result_error_nomem(ctx); return; }
    sqlite3_result_pointer(ctx, p, lx_npy_file_type, sqlite3_free);
}
const char *lx_value_npy_file(sqlite3_value *v) { return (const char *)sqlite3_value_pointer(v, lx_npy_file_type); }
