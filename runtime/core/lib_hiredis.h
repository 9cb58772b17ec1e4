/*
 * lib_hiredis.h: hiredis, loaded on first use (core/lazylib.h): the Redis channel backend (core/backend_redis.c).
 * Include this instead of <hiredis.h>; call lazylib_need(&lazy_hiredis, ...) before the first call.
 */
#ifndef STRATRUN_LIB_HIREDIS_H
#define STRATRUN_LIB_HIREDIS_H

#include <hiredis.h>

#include "core/lazylib.h"

#define LIB_HIREDIS_FUNCTIONS(X)                                                                                  \
    X(freeReplyObject) X(redisAppendCommand) X(redisAppendCommandArgv) X(redisBufferRead) X(redisBufferWrite)     \
    X(redisCommand) X(redisConnectWithTimeout) X(redisFree) X(redisGetReply) X(redisGetReplyFromReader)           \
    X(redisSetTimeout)

LAZYLIB_DECLARE(hiredis, LIB_HIREDIS_FUNCTIONS)

#define freeReplyObject (*lib_hiredis.fn_freeReplyObject)
#define redisAppendCommand (*lib_hiredis.fn_redisAppendCommand)
#define redisAppendCommandArgv (*lib_hiredis.fn_redisAppendCommandArgv)
#define redisBufferRead (*lib_hiredis.fn_redisBufferRead)
#define redisBufferWrite (*lib_hiredis.fn_redisBufferWrite)
#define redisCommand (*lib_hiredis.fn_redisCommand)
#define redisConnectWithTimeout (*lib_hiredis.fn_redisConnectWithTimeout)
#define redisFree (*lib_hiredis.fn_redisFree)
#define redisGetReply (*lib_hiredis.fn_redisGetReply)
#define redisGetReplyFromReader (*lib_hiredis.fn_redisGetReplyFromReader)
#define redisSetTimeout (*lib_hiredis.fn_redisSetTimeout)

#endif
