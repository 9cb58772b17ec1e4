/*
 * lib_wslay.h: wslay, loaded on first use (core/lazylib.h): Dial's WebSocket framing (core/dial.c). Include this
 * instead of <wslay/wslay.h>; call lazylib_need(&lazy_wslay, ...) before the first call.
 */
#ifndef STRATRUN_LIB_WSLAY_H
#define STRATRUN_LIB_WSLAY_H

#include <wslay/wslay.h>

#include "core/lazylib.h"

#define LIB_WSLAY_FUNCTIONS(X)                                                                                    \
    X(wslay_event_config_set_max_recv_msg_length) X(wslay_event_context_client_init) X(wslay_event_context_free)  \
    X(wslay_event_get_queued_msg_length) X(wslay_event_queue_close) X(wslay_event_queue_msg) X(wslay_event_recv)  \
    X(wslay_event_send) X(wslay_event_set_error) X(wslay_event_shutdown_read) X(wslay_event_want_read)            \
    X(wslay_event_want_write)

LAZYLIB_DECLARE(wslay, LIB_WSLAY_FUNCTIONS)

#define wslay_event_config_set_max_recv_msg_length (*lib_wslay.fn_wslay_event_config_set_max_recv_msg_length)
#define wslay_event_context_client_init (*lib_wslay.fn_wslay_event_context_client_init)
#define wslay_event_context_free (*lib_wslay.fn_wslay_event_context_free)
#define wslay_event_get_queued_msg_length (*lib_wslay.fn_wslay_event_get_queued_msg_length)
#define wslay_event_queue_close (*lib_wslay.fn_wslay_event_queue_close)
#define wslay_event_queue_msg (*lib_wslay.fn_wslay_event_queue_msg)
#define wslay_event_recv (*lib_wslay.fn_wslay_event_recv)
#define wslay_event_send (*lib_wslay.fn_wslay_event_send)
#define wslay_event_set_error (*lib_wslay.fn_wslay_event_set_error)
#define wslay_event_shutdown_read (*lib_wslay.fn_wslay_event_shutdown_read)
#define wslay_event_want_read (*lib_wslay.fn_wslay_event_want_read)
#define wslay_event_want_write (*lib_wslay.fn_wslay_event_want_write)

#endif
