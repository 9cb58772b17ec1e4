/*
 * lib_ssl.h: OpenSSL's libssl, loaded on first use (core/lazylib.h): Dial's tls:// and wss:// (core/dial.c).
 * Include this instead of <openssl/ssl.h>, with core/lib_crypto.h; call lazylib_need(&lazy_ssl, ...) before the
 * first call. (SSL_CTX_set_mode and the like are OpenSSL's macros over SSL_CTX_ctrl and SSL_ctrl.)
 */
#ifndef STRATRUN_LIB_SSL_H
#define STRATRUN_LIB_SSL_H

#include <openssl/ssl.h>

#include "core/lazylib.h"

#define LIB_SSL_FUNCTIONS(X)                                                                                      \
    X(SSL_CTX_ctrl) X(SSL_CTX_new) X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_set_verify) X(SSL_connect)     \
    X(SSL_ctrl) X(SSL_free) X(SSL_get0_param) X(SSL_get_error) X(SSL_get_verify_result) X(SSL_new) X(SSL_read)  \
    X(SSL_set1_host) X(SSL_set_fd) X(SSL_shutdown) X(SSL_write) X(TLS_client_method)

LAZYLIB_DECLARE(ssl, LIB_SSL_FUNCTIONS)

#define SSL_CTX_ctrl (*lib_ssl.fn_SSL_CTX_ctrl)
#define SSL_CTX_new (*lib_ssl.fn_SSL_CTX_new)
#define SSL_CTX_set_default_verify_paths (*lib_ssl.fn_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_verify (*lib_ssl.fn_SSL_CTX_set_verify)
#define SSL_connect (*lib_ssl.fn_SSL_connect)
#define SSL_ctrl (*lib_ssl.fn_SSL_ctrl)
#define SSL_free (*lib_ssl.fn_SSL_free)
#define SSL_get0_param (*lib_ssl.fn_SSL_get0_param)
#define SSL_get_error (*lib_ssl.fn_SSL_get_error)
#define SSL_get_verify_result (*lib_ssl.fn_SSL_get_verify_result)
#define SSL_new (*lib_ssl.fn_SSL_new)
#define SSL_read (*lib_ssl.fn_SSL_read)
#define SSL_set1_host (*lib_ssl.fn_SSL_set1_host)
#define SSL_set_fd (*lib_ssl.fn_SSL_set_fd)
#define SSL_shutdown (*lib_ssl.fn_SSL_shutdown)
#define SSL_write (*lib_ssl.fn_SSL_write)
#define TLS_client_method (*lib_ssl.fn_TLS_client_method)

#endif
