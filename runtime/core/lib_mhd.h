/*
 * lib_mhd.h: libmicrohttpd, loaded on first use (core/lazylib.h): stratrun serve, the dashboard. Include this
 * instead of <microhttpd.h>; call lazylib_need(&lazy_mhd, ...) before the first MHD_* call.
 */
#ifndef STRATRUN_LIB_MHD_H
#define STRATRUN_LIB_MHD_H

#include <microhttpd.h>

#include "core/lazylib.h"

#define LIB_MHD_FUNCTIONS(X)                                                                                      \
    X(MHD_add_response_header) X(MHD_create_response_from_buffer) X(MHD_create_response_from_callback)          \
    X(MHD_destroy_response) X(MHD_lookup_connection_value) X(MHD_queue_response) X(MHD_start_daemon)            \
    X(MHD_stop_daemon)

LAZYLIB_DECLARE(mhd, LIB_MHD_FUNCTIONS)

#define MHD_add_response_header (*lib_mhd.fn_MHD_add_response_header)
#define MHD_create_response_from_buffer (*lib_mhd.fn_MHD_create_response_from_buffer)
#define MHD_create_response_from_callback (*lib_mhd.fn_MHD_create_response_from_callback)
#define MHD_destroy_response (*lib_mhd.fn_MHD_destroy_response)
#define MHD_lookup_connection_value (*lib_mhd.fn_MHD_lookup_connection_value)
#define MHD_queue_response (*lib_mhd.fn_MHD_queue_response)
#define MHD_start_daemon (*lib_mhd.fn_MHD_start_daemon)
#define MHD_stop_daemon (*lib_mhd.fn_MHD_stop_daemon)

#endif
