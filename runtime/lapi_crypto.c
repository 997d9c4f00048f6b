/* dialtone.crypto: hashes, HMACs, base64, comparison, randomness and JWTs for scripts.
 *
 *   hmac_sha1(key, msg), hmac_sha256(key, msg), sha256(msg) -> raw bytes; hex(s) -> lowercase
 *   base64_encode(s), base64url_encode(s) (no padding); *_decode(s) -> bytes or nil, err
 *   constant_time_equal(a, b) -> boolean (the time depends on the lengths only)
 *   ed25519_verify(public_key, message, signature) -> boolean; raw bytes (32-byte key, 64-byte
 *     signature: callers base64-decode first), other lengths raise
 *   random_bytes(n) -> n bytes from OpenSSL's CSPRNG, 0 <= n <= 65536
 *   jwt_sign_rs256(claims, pem [, header_extra]) -> token, or nil, err (bad key)
 *   jwt_verify_hs256(token, secret [, {leeway=, now=, max_age=, claims={name=value}}])
 *     -> claims table, or nil, err: "malformed", "alg not allowed", "bad signature",
 *        "expired", "not yet valid", "claim NAME mismatch" (missing or different)
 *
 * JSON: claims and headers are encoded by dialtone.json's encoder, taken from a private copy
 * of the json module at open time (scripts cannot swap it); verification parses with cJSON in
 * jwt.c, and the returned table is dialtone.json's decoding of the same verified bytes.
 * leeway defaults to DT_JWT_DEFAULT_LEEWAY (30 s) and is at most DT_JWT_MAX_LEEWAY (600 s);
 * max_age (seconds, 0 = off) requires iat no older than that, for tokens without exp such as
 * Vonage's signed webhooks. */
#include "lapi.h"

#include <lauxlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "crypto.h"
#include "jwt.h"
#include "lapi_json.h"

#define MAX_RANDOM 65536
#define MAX_CLAIMS 32
#define STACK_OUT 4096

static char *out_buffer(lua_State *L, size_t n, char *buf)
{
  return n <= STACK_OUT ? buf : lua_newuserdata(L, n);
}

static int push_fail(lua_State *L, const char *err)
{
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

static int push_hmac(lua_State *L, dt_hash hash)
{
  size_t key_len, msg_len, len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *msg = luaL_checklstring(L, 2, &msg_len);
  uint8_t mac[DT_HMAC_MAX_LEN];
  if (dt_hmac(hash, key, key_len, msg, msg_len, mac, &len) != 0)
    return luaL_error(L, "dialtone.crypto: HMAC failed");
  lua_pushlstring(L, (const char *)mac, len);
  return 1;
}

static int l_hmac_sha1(lua_State *L) { return push_hmac(L, DT_HASH_SHA1); }
static int l_hmac_sha256(lua_State *L) { return push_hmac(L, DT_HASH_SHA256); }

static int l_sha256(lua_State *L)
{
  size_t len;
  const char *msg = luaL_checklstring(L, 1, &len);
  uint8_t out[DT_SHA256_LEN];
  if (dt_sha256(msg, len, out) != 0) return luaL_error(L, "dialtone.crypto.sha256: failed");
  lua_pushlstring(L, (const char *)out, sizeof out);
  return 1;
}

static int l_hex(lua_State *L)
{
  static const char digits[] = "0123456789abcdef";
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < len; i++) {
    luaL_addchar(&b, digits[s[i] >> 4]);
    luaL_addchar(&b, digits[s[i] & 15]);
  }
  luaL_pushresult(&b);
  return 1;
}

static int encode(lua_State *L, int alphabet)
{
  size_t n, len;
  const uint8_t *s = (const uint8_t *)luaL_checklstring(L, 1, &n);
  size_t need = dt_base64_encoded_len(n, alphabet);
  if (need == (size_t)-1) return luaL_error(L, "dialtone.crypto: base64 input too large");
  char stack[STACK_OUT], *out = out_buffer(L, need, stack);
  if (dt_base64_encode(s, n, out, need, alphabet, &len) != 0)
    return luaL_error(L, "dialtone.crypto: base64 encoding failed");
  lua_pushlstring(L, out, len);
  return 1;
}

static int decode(lua_State *L, int alphabet)
{
  size_t n, len;
  const char *s = luaL_checklstring(L, 1, &n);
  size_t cap = dt_base64_decoded_max(n);
  char stack[STACK_OUT], *out = out_buffer(L, cap, stack);
  if (dt_base64_decode(s, n, (uint8_t *)out, cap, alphabet, &len) != 0)
    return push_fail(L, alphabet == DT_BASE64_URL ? "invalid base64url" : "invalid base64");
  lua_pushlstring(L, out, len);
  return 1;
}

static int l_base64_encode(lua_State *L) { return encode(L, DT_BASE64_STD); }
static int l_base64_decode(lua_State *L) { return decode(L, DT_BASE64_STD); }
static int l_base64url_encode(lua_State *L) { return encode(L, DT_BASE64_URL); }
static int l_base64url_decode(lua_State *L) { return decode(L, DT_BASE64_URL); }

static int l_constant_time_equal(lua_State *L)
{
  size_t a_len, b_len;
  const char *a = luaL_checklstring(L, 1, &a_len), *b = luaL_checklstring(L, 2, &b_len);
  lua_pushboolean(L, dt_crypto_equal(a, a_len, b, b_len));
  return 1;
}

static int l_ed25519_verify(lua_State *L)
{
  size_t key_len, msg_len, sig_len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *msg = luaL_checklstring(L, 2, &msg_len);
  const char *sig = luaL_checklstring(L, 3, &sig_len);
  if (key_len != DT_ED25519_KEY_LEN)
    return luaL_error(L, "dialtone.crypto.ed25519_verify: public_key must be %d bytes, got %d",
                      DT_ED25519_KEY_LEN, (int)(key_len > INT_MAX ? INT_MAX : key_len));
  if (sig_len != DT_ED25519_SIG_LEN)
    return luaL_error(L, "dialtone.crypto.ed25519_verify: signature must be %d bytes, got %d",
                      DT_ED25519_SIG_LEN, (int)(sig_len > INT_MAX ? INT_MAX : sig_len));
  int rc = dt_ed25519_verify((const uint8_t *)key, msg, msg_len, (const uint8_t *)sig);
  if (rc == DT_CRYPTO_ERR) return luaL_error(L, "dialtone.crypto.ed25519_verify: OpenSSL failure");
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_random_bytes(lua_State *L)
{
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > MAX_RANDOM)
    return luaL_error(L, "dialtone.crypto.random_bytes: n must be between 0 and %d", MAX_RANDOM);
  char stack[STACK_OUT], *out = out_buffer(L, (size_t)n, stack);
  if (dt_random_bytes(out, (size_t)n) != 0) return push_fail(L, "random generator failed");
  lua_pushlstring(L, out, (size_t)n);
  return 1;
}

/* Encodes the value at idx with the private json encoder (upvalue 1); leaves the text pushed. */
static const char *encode_json(lua_State *L, int idx, size_t *len)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  return lua_tolstring(L, -1, len);
}

/* {alg = "RS256", typ = "JWT"} merged with the extra header fields at idx (may be nil). */
static void push_header(lua_State *L, int idx)
{
  lua_newtable(L);
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_rawset(L, -5);
    }
  }
  lua_getfield(L, -1, "alg");
  int is_rs256 = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "RS256");
  if (!lua_isnil(L, -1) && !is_rs256)
    luaL_error(L, "dialtone.crypto.jwt_sign_rs256: header_extra cannot change alg");
  lua_pop(L, 1);
  lua_pushliteral(L, "RS256");
  lua_setfield(L, -2, "alg");
  lua_getfield(L, -1, "typ");
  if (lua_isnil(L, -1)) {
    lua_pushliteral(L, "JWT");
    lua_setfield(L, -3, "typ");
  }
  lua_pop(L, 1);
}

static int l_jwt_sign_rs256(lua_State *L)
{
  size_t pem_len, claims_len, header_len, len;
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *pem = luaL_checklstring(L, 2, &pem_len);
  push_header(L, 3);
  int header_idx = lua_gettop(L);
  const char *claims = encode_json(L, 1, &claims_len);
  if (claims_len == 0 || claims[0] != '{')
    return luaL_error(L, "dialtone.crypto.jwt_sign_rs256: claims must be an object (string keys)");
  const char *header = encode_json(L, header_idx, &header_len);
  size_t cap = dt_jwt_sign_cap(header_len, claims_len);
  if (cap == 0) return push_fail(L, "claims too large");
  char *out = lua_newuserdata(L, cap);
  int rc = dt_jwt_sign_rs256(header, header_len, claims, claims_len, pem, pem_len, out, cap, &len);
  if (rc != 0) return push_fail(L, dt_jwt_strerror(rc));
  lua_pushlstring(L, out, len);
  return 1;
}

static double opt_number(lua_State *L, int idx, const char *name, double dflt, double max)
{
  lua_getfield(L, idx, name);
  int type = lua_type(L, -1);
  double v = type == LUA_TNIL ? dflt : lua_tonumber(L, -1);
  lua_pop(L, 1);
  if ((type != LUA_TNIL && type != LUA_TNUMBER) || !(v >= 0 && v <= max))
    luaL_error(L, "dialtone.crypto.jwt_verify_hs256: %s must be a number between 0 and %f",
               name, max);
  return v;
}

/* Expected claims from the table at idx (which keeps the strings alive). */
static size_t read_claims(lua_State *L, int idx, dt_jwt_claim *out)
{
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING || n == MAX_CLAIMS)
      luaL_error(L, "dialtone.crypto.jwt_verify_hs256: claims needs at most %d string keys",
                 MAX_CLAIMS);
    dt_jwt_claim *c = &out[n++];
    memset(c, 0, sizeof *c);
    c->name = lua_tostring(L, -2);
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
      c->type = DT_JWT_STRING;
      c->str = lua_tolstring(L, -1, &c->str_len);
      break;
    case LUA_TNUMBER: c->type = DT_JWT_NUMBER, c->num = lua_tonumber(L, -1); break;
    case LUA_TBOOLEAN: c->type = DT_JWT_BOOL, c->boolean = lua_toboolean(L, -1); break;
    default:
      luaL_error(L, "dialtone.crypto.jwt_verify_hs256: claim %s must be a string, number or "
                    "boolean", c->name);
    }
  }
  return n;
}

static void check_option_names(lua_State *L, int idx)
{
  static const char *const known[] = { "leeway", "now", "max_age", "claims", NULL };
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    int i = 0;
    while (known[i] && strcmp(known[i], key) != 0) i++;
    if (!known[i]) luaL_error(L, "dialtone.crypto.jwt_verify_hs256: unknown option '%s'", key);
  }
}

static void read_opts(lua_State *L, int idx, dt_jwt_verify_opts *o, dt_jwt_claim *claims)
{
  o->now = (double)time(NULL);
  o->leeway = DT_JWT_DEFAULT_LEEWAY;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  check_option_names(L, idx);
  o->leeway = opt_number(L, idx, "leeway", DT_JWT_DEFAULT_LEEWAY, DT_JWT_MAX_LEEWAY);
  o->now = opt_number(L, idx, "now", o->now, 1e15);
  o->max_age = opt_number(L, idx, "max_age", 0, 1e15);
  lua_getfield(L, idx, "claims");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    o->claims = claims;
    o->nclaims = read_claims(L, lua_gettop(L), claims);
  }
  /* the claims table stays on the stack, anchoring its strings */
}

static int l_jwt_verify_hs256(lua_State *L)
{
  size_t len, secret_len;
  const char *token = luaL_checklstring(L, 1, &len);
  const char *secret = luaL_checklstring(L, 2, &secret_len);
  if (secret_len == 0) return luaL_error(L, "dialtone.crypto.jwt_verify_hs256: empty secret");
  dt_jwt_claim claims[MAX_CLAIMS];
  dt_jwt_verify_opts opts = { 0 };
  read_opts(L, 3, &opts, claims);
  dt_jwt_result *res = lua_newuserdata(L, sizeof *res);
  int rc = dt_jwt_verify_hs256(token, len, secret, secret_len, &opts, res);
  if (rc == DT_JWT_CLAIM_MISMATCH) {
    lua_pushnil(L);
    lua_pushfstring(L, "claim %s mismatch", res->bad_claim);
    return 2;
  }
  if (rc != 0) return push_fail(L, dt_jwt_strerror(rc));
  if (dt_json_push_decoded(L, res->payload, res->payload_len) != 1)
    return push_fail(L, "malformed");
  return 1;
}

int dt_lapi_crypto_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "hmac_sha1", l_hmac_sha1 },           { "hmac_sha256", l_hmac_sha256 },
    { "sha256", l_sha256 },                 { "hex", l_hex },
    { "base64_encode", l_base64_encode },   { "base64_decode", l_base64_decode },
    { "base64url_encode", l_base64url_encode }, { "base64url_decode", l_base64url_decode },
    { "constant_time_equal", l_constant_time_equal }, { "random_bytes", l_random_bytes },
    { "ed25519_verify", l_ed25519_verify },
    { "jwt_verify_hs256", l_jwt_verify_hs256 }, { NULL, NULL },
  };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  dt_lapi_json_open(L);
  lua_getfield(L, -1, "encode");
  lua_remove(L, -2);
  lua_pushcclosure(L, l_jwt_sign_rs256, 1);
  lua_setfield(L, -2, "jwt_sign_rs256");
  return 1;
}
