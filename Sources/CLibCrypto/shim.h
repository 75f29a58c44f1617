// OpenSSL's libcrypto (3.x) for asymmetric signatures and key handling: the one crypto library Gatehouse
// links (Docs/architecture.md). Only what Sources/JOSE uses; the inline helpers stand in for macros and
// variadic calls Swift cannot import.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/hmac.h>

// BIO_get_mem_data is a macro over BIO_ctrl.
static inline long gatehouse_bio_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

// OPENSSL_free is a macro that passes the caller's file and line.
static inline void gatehouse_openssl_free(void *pointer) { OPENSSL_free(pointer); }

// OSSL_PARAM_BLD keeps the pointers it is given for names and strings until OSSL_PARAM_BLD_to_param, and
// the built params keep the name pointers: Swift's temporary C strings would dangle. These build public
// keys from their JWK values with literal names. NULL on failure, with the reason on the error queue.
static inline EVP_PKEY *gatehouse_public_key_from_params(const char *type, OSSL_PARAM_BLD *builder) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    if (context == NULL || EVP_PKEY_fromdata_init(context) != 1
        || EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    return key;
}

static inline EVP_PKEY *gatehouse_rsa_public_key(const unsigned char *n, int n_length, const unsigned char *e, int e_length) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    BIGNUM *modulus = BN_bin2bn(n, n_length, NULL), *exponent = BN_bin2bn(e, e_length, NULL);
    if (builder && modulus && exponent && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, modulus) == 1
        && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, exponent) == 1) {
        key = gatehouse_public_key_from_params("RSA", builder);
    }
    BN_free(modulus);
    BN_free(exponent);
    OSSL_PARAM_BLD_free(builder);
    return key;
}

// `point` is the SEC 1 uncompressed point 04 || x || y; OpenSSL checks that it is on the curve.
static inline EVP_PKEY *gatehouse_p256_public_key(const unsigned char *point, size_t length) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    if (builder && OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point, length) == 1) {
        key = gatehouse_public_key_from_params("EC", builder);
    }
    OSSL_PARAM_BLD_free(builder);
    return key;
}
