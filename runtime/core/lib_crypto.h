/*
 * lib_crypto.h: OpenSSL's libcrypto, loaded on first use (core/lazylib.h): Encode, MD5 (lua/crypto.c), a mail's
 * encoded subject (lua/http.c), Dial (core/dial.c). Include this instead of OpenSSL's headers; call
 * lazylib_need(&lazy_crypto, ...) before the first call.
 */
#ifndef STRATRUN_LIB_CRYPTO_H
#define STRATRUN_LIB_CRYPTO_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/lazylib.h"

#define LIB_CRYPTO_FUNCTIONS(X)                                                                                   \
    X(ERR_clear_error) X(ERR_error_string_n) X(ERR_get_error) X(ERR_peek_error) X(ERR_peek_last_error)          \
    X(EVP_DecodeBlock) X(EVP_Digest) X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex2) X(EVP_DigestUpdate)             \
    X(EVP_EncodeBlock) X(EVP_MD_CTX_free) X(EVP_MD_CTX_new) X(EVP_MD_fetch) X(EVP_MD_free) X(EVP_Q_mac)          \
    X(EVP_sha1) X(OSSL_PARAM_construct_end) X(OSSL_PARAM_construct_size_t) X(OpenSSL_version) X(RAND_bytes)     \
    X(X509_VERIFY_PARAM_set1_ip_asc) X(X509_verify_cert_error_string)

LAZYLIB_DECLARE(crypto, LIB_CRYPTO_FUNCTIONS)

#define ERR_clear_error (*lib_crypto.fn_ERR_clear_error)
#define ERR_error_string_n (*lib_crypto.fn_ERR_error_string_n)
#define ERR_get_error (*lib_crypto.fn_ERR_get_error)
#define ERR_peek_error (*lib_crypto.fn_ERR_peek_error)
#define ERR_peek_last_error (*lib_crypto.fn_ERR_peek_last_error)
#define EVP_DecodeBlock (*lib_crypto.fn_EVP_DecodeBlock)
#define EVP_Digest (*lib_crypto.fn_EVP_Digest)
#define EVP_DigestFinal_ex (*lib_crypto.fn_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex2 (*lib_crypto.fn_EVP_DigestInit_ex2)
#define EVP_DigestUpdate (*lib_crypto.fn_EVP_DigestUpdate)
#define EVP_EncodeBlock (*lib_crypto.fn_EVP_EncodeBlock)
#define EVP_MD_CTX_free (*lib_crypto.fn_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*lib_crypto.fn_EVP_MD_CTX_new)
#define EVP_MD_fetch (*lib_crypto.fn_EVP_MD_fetch)
#define EVP_MD_free (*lib_crypto.fn_EVP_MD_free)
#define EVP_Q_mac (*lib_crypto.fn_EVP_Q_mac)
#define EVP_sha1 (*lib_crypto.fn_EVP_sha1)
#define OSSL_PARAM_construct_end (*lib_crypto.fn_OSSL_PARAM_construct_end)
#define OSSL_PARAM_construct_size_t (*lib_crypto.fn_OSSL_PARAM_construct_size_t)
#define OpenSSL_version (*lib_crypto.fn_OpenSSL_version)
#define RAND_bytes (*lib_crypto.fn_RAND_bytes)
#define X509_VERIFY_PARAM_set1_ip_asc (*lib_crypto.fn_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_verify_cert_error_string (*lib_crypto.fn_X509_verify_cert_error_string)

#endif
