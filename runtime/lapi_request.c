/* The request object scripts see: method, path, target, query, headers, body, peer, loopback, id,
 * params (set by the router); form, form_all, json and json_error are parsed on first use. */
#include "lapi_request.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "form.h"
#include "lapi_json.h"

#define REQUEST_MT_KEY "dialtone.request_mt"
#define FORM_CONTENT_TYPE "application/x-www-form-urlencoded"

static int content_type_is(lua_State *L, int req, const char *type)
{
  lua_getfield(L, req, "headers");
  lua_getfield(L, -1, "content-type");
  const char *ct = lua_tostring(L, -1);
  size_t n = strlen(type);
  int yes = ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
  lua_pop(L, 2);
  return yes;
}

static int push_pairs(lua_State *L)
{
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  return dt_form_push(L, s, len);
}

/* Parses urlencoded text into t[name] and t[name_all]; on hostile input (too many fields)
 * both are empty and t[name_error] says why, instead of raising in the handler. */
void dt_request_set_pairs(lua_State *L, int t, const char *text, size_t len, const char *name)
{
  char key[32];
  lua_pushcfunction(L, push_pairs);
  lua_pushlstring(L, text, len);
  if (lua_pcall(L, 1, 2, 0) != 0) {
    snprintf(key, sizeof key, "%s_error", name);
    lua_setfield(L, t, key);
    lua_newtable(L);
    lua_newtable(L);
  }
  snprintf(key, sizeof key, "%s_all", name);
  lua_setfield(L, t, key);
  lua_setfield(L, t, name);
}

static void parse_form(lua_State *L, int req)
{
  size_t len = 0;
  lua_getfield(L, req, "body");
  const char *body = lua_tolstring(L, -1, &len);
  if (!content_type_is(L, req, FORM_CONTENT_TYPE)) len = 0;
  dt_request_set_pairs(L, req, body ? body : "", len, "form");
  lua_pop(L, 1);
}

/* Sets json (the decoded value) or json_error; json_error is false after a good parse, so
 * its presence marks the body as parsed. */
static void parse_json(lua_State *L, int req)
{
  size_t len = 0;
  lua_getfield(L, req, "body");
  const char *body = lua_tolstring(L, -1, &len);
  if (len == 0) {
    lua_pushliteral(L, "empty body");
  } else if (dt_json_push_decoded(L, body, len) == 2) {
    lua_remove(L, -2);
  } else {
    lua_setfield(L, req, "json");
    lua_pushboolean(L, 0);
  }
  lua_setfield(L, req, "json_error");
  lua_pop(L, 1);
}

/* __index: computes the lazy fields once; other missing fields are simply nil. */
static int request_index(lua_State *L)
{
  const char *key = lua_tostring(L, 2);
  if (!key) return 0;
  if (strcmp(key, "form") == 0 || strcmp(key, "form_all") == 0 || strcmp(key, "form_error") == 0) {
    lua_pushliteral(L, "form_all");
    lua_rawget(L, 1);
    if (lua_isnil(L, -1)) parse_form(L, 1);
  } else if (strcmp(key, "json") == 0 || strcmp(key, "json_error") == 0) {
    lua_pushliteral(L, "json_error");
    lua_rawget(L, 1);
    if (lua_isnil(L, -1)) parse_json(L, 1);
  } else {
    return 0;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, 1);
  return 1;
}

static void set_string(lua_State *L, const char *key, const char *value, size_t len)
{
  lua_pushlstring(L, value, len);
  lua_setfield(L, -2, key);
}

/* Header names arrive lower-cased; repeated headers are joined with ", " (RFC 9110 5.3). */
static void push_headers(lua_State *L, const dt_http_request *r)
{
  lua_createtable(L, 0, (int)r->header_count);
  for (size_t i = 0; i < r->header_count; i++) {
    lua_getfield(L, -1, r->headers[i].name);
    if (lua_isstring(L, -1)) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, r->headers[i].value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, r->headers[i].value);
    }
    lua_setfield(L, -2, r->headers[i].name);
  }
}

static void push_metatable(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, REQUEST_MT_KEY);
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, request_index);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, REQUEST_MT_KEY);
}

void dt_request_push(lua_State *L, const dt_http_request *r)
{
  lua_createtable(L, 0, 16);
  int t = lua_gettop(L);
  set_string(L, "method", r->method, strlen(r->method));
  set_string(L, "target", r->target, strlen(r->target));
  set_string(L, "path", r->path, strlen(r->path));
  set_string(L, "query_string", r->query, strlen(r->query));
  set_string(L, "body", r->body ? r->body : "", r->body_len);
  set_string(L, "peer", r->peer_ip, strlen(r->peer_ip));
  lua_pushnumber(L, (double)r->id);
  lua_setfield(L, t, "id");
  lua_pushboolean(L, r->peer_is_loopback);
  lua_setfield(L, t, "loopback");
  push_headers(L, r);
  lua_setfield(L, t, "headers");
  lua_newtable(L);
  lua_setfield(L, t, "params");
  dt_request_set_pairs(L, t, r->query, strlen(r->query), "query");
  push_metatable(L);
  lua_setmetatable(L, t);
}
