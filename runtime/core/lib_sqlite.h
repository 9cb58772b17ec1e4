/*
 * lib_sqlite.h: SQLite, loaded on first use (core/lazylib.h): DBExec. Include this instead of <sqlite3.h>; call
 * lazylib_need(&lazy_sqlite, ...) before the first sqlite3_* call.
 */
#ifndef STRATRUN_LIB_SQLITE_H
#define STRATRUN_LIB_SQLITE_H

#include <sqlite3.h>

#include "core/lazylib.h"

#if SQLITE_VERSION_NUMBER >= 3037000
#define LIB_SQLITE_CHANGES(X) X(sqlite3_changes64) X(sqlite3_total_changes64)
#else
#define LIB_SQLITE_CHANGES(X) X(sqlite3_changes) X(sqlite3_total_changes)
#endif
#define LIB_SQLITE_FUNCTIONS(X)                                                                                   \
    LIB_SQLITE_CHANGES(X) X(sqlite3_bind_blob64) X(sqlite3_bind_double) X(sqlite3_bind_int) X(sqlite3_bind_int64) \
    X(sqlite3_bind_null) X(sqlite3_bind_parameter_count) X(sqlite3_bind_text64) X(sqlite3_busy_handler)          \
    X(sqlite3_close) X(sqlite3_close_v2) X(sqlite3_column_blob) X(sqlite3_column_bytes) X(sqlite3_column_count)  \
    X(sqlite3_column_double) X(sqlite3_column_int64) X(sqlite3_column_name) X(sqlite3_column_text)               \
    X(sqlite3_column_type) X(sqlite3_db_config) X(sqlite3_errmsg) X(sqlite3_errstr) X(sqlite3_finalize)          \
    X(sqlite3_open_v2) X(sqlite3_prepare_v2) X(sqlite3_progress_handler) X(sqlite3_step)

LAZYLIB_DECLARE(sqlite, LIB_SQLITE_FUNCTIONS)

#if SQLITE_VERSION_NUMBER >= 3037000
#define sqlite3_changes64 (*lib_sqlite.fn_sqlite3_changes64)
#define sqlite3_total_changes64 (*lib_sqlite.fn_sqlite3_total_changes64)
#else
#define sqlite3_changes (*lib_sqlite.fn_sqlite3_changes)
#define sqlite3_total_changes (*lib_sqlite.fn_sqlite3_total_changes)
#endif
#define sqlite3_bind_blob64 (*lib_sqlite.fn_sqlite3_bind_blob64)
#define sqlite3_bind_double (*lib_sqlite.fn_sqlite3_bind_double)
#define sqlite3_bind_int (*lib_sqlite.fn_sqlite3_bind_int)
#define sqlite3_bind_int64 (*lib_sqlite.fn_sqlite3_bind_int64)
#define sqlite3_bind_null (*lib_sqlite.fn_sqlite3_bind_null)
#define sqlite3_bind_parameter_count (*lib_sqlite.fn_sqlite3_bind_parameter_count)
#define sqlite3_bind_text64 (*lib_sqlite.fn_sqlite3_bind_text64)
#define sqlite3_busy_handler (*lib_sqlite.fn_sqlite3_busy_handler)
#define sqlite3_close (*lib_sqlite.fn_sqlite3_close)
#define sqlite3_close_v2 (*lib_sqlite.fn_sqlite3_close_v2)
#define sqlite3_column_blob (*lib_sqlite.fn_sqlite3_column_blob)
#define sqlite3_column_bytes (*lib_sqlite.fn_sqlite3_column_bytes)
#define sqlite3_column_count (*lib_sqlite.fn_sqlite3_column_count)
#define sqlite3_column_double (*lib_sqlite.fn_sqlite3_column_double)
#define sqlite3_column_int64 (*lib_sqlite.fn_sqlite3_column_int64)
#define sqlite3_column_name (*lib_sqlite.fn_sqlite3_column_name)
#define sqlite3_column_text (*lib_sqlite.fn_sqlite3_column_text)
#define sqlite3_column_type (*lib_sqlite.fn_sqlite3_column_type)
#define sqlite3_db_config (*lib_sqlite.fn_sqlite3_db_config)
#define sqlite3_errmsg (*lib_sqlite.fn_sqlite3_errmsg)
#define sqlite3_errstr (*lib_sqlite.fn_sqlite3_errstr)
#define sqlite3_finalize (*lib_sqlite.fn_sqlite3_finalize)
#define sqlite3_open_v2 (*lib_sqlite.fn_sqlite3_open_v2)
#define sqlite3_prepare_v2 (*lib_sqlite.fn_sqlite3_prepare_v2)
#define sqlite3_progress_handler (*lib_sqlite.fn_sqlite3_progress_handler)
#define sqlite3_step (*lib_sqlite.fn_sqlite3_step)

#endif
