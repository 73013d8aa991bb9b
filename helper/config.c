// SPDX-License-Identifier: GPL-2.0
/* cloudprintd configuration parsing; see config.h and docs/helper.md. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "config.h"

/* Config files are small; anything bigger is a mistake. */
#define CP_CONFIG_MAX_BYTES	(64 * 1024)

void cp_config_defaults(struct cp_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/cloudprintd");
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/cloudprintd.sock");
	snprintf(c->printer_name, sizeof(c->printer_name), "prengine printer");
	c->mode = CP_MODE_POLL;
	c->policy = CP_POLICY_DELETE;
	c->poll_interval_ms = 10000;
	c->poll_jitter_pct = 10;
	c->request_timeout_ms = 30000;
	c->backoff_base_ms = 1000;
	c->backoff_cap_ms = 300000;
	c->confirm_count = 1;
	c->heartbeat_interval_ms = 60000;
	/* 2.5 of the reference cloud's 15 s ping interval (docs/protocol.md). */
	c->stream_timeout_ms = 40000;
	c->stream_grace_ms = 5000;
	c->log_level = CP_LOG_INFO;
	cp_pattern_default(&c->patterns[0]);
	c->n_patterns = 1;
}

static int fail(char *err, size_t errlen, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "config key '%s': ", key);
	if (n < 0 || (size_t)n >= errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

typedef int (*cp_key_parser)(const cJSON *v, void *field, size_t size, const char *key,
			     char *err, size_t errlen);

static int parse_string(const cJSON *v, void *field, size_t size, const char *key,
			char *err, size_t errlen)
{
	if (!cJSON_IsString(v))
		return fail(err, errlen, key, "must be a string");
	if (strlen(v->valuestring) >= size)
		return fail(err, errlen, key, "longer than %zu characters", size - 1);
	if (memchr(v->valuestring, '\n', strlen(v->valuestring)))
		return fail(err, errlen, key, "must be one line");
	memcpy(field, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int parse_path(const cJSON *v, void *field, size_t size, const char *key,
		      char *err, size_t errlen)
{
	int r = parse_string(v, field, size, key, err, errlen);

	if (!r && ((char *)field)[0] != '/' && ((char *)field)[0])
		return fail(err, errlen, key, "must be an absolute path");
	return r;
}

/* Is @s a URL curl takes, https, without parts a server URL has no use for? */
static int check_server_url(const char *s, char *why, size_t n)
{
	static const CURLUPart none[] = { CURLUPART_USER, CURLUPART_PASSWORD,
					  CURLUPART_QUERY, CURLUPART_FRAGMENT };
	static const char *const what[] = { "a user name", "a password", "a query",
					    "a fragment" };
	CURLU *u = curl_url();
	char *part = NULL;
	CURLUcode rc;
	int r = -EINVAL;

	if (!u) {
		snprintf(why, n, "cannot be checked (out of memory)");
		return -ENOMEM;
	}
	rc = curl_url_set(u, CURLUPART_URL, s, 0);
	if (rc) {
		snprintf(why, n, "not a usable URL: %s", curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &part, 0) || strcmp(part, "https")) {
		snprintf(why, n, "must be https:// (TLS is always on)");
		goto out;
	}
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		curl_free(part);
		part = NULL;
		if (!curl_url_get(u, none[i], &part, 0)) {
			snprintf(why, n, "must be https://host[:port][/path], without %s", what[i]);
			goto out;
		}
	}
	r = 0;
out:
	curl_free(part);
	curl_url_cleanup(u);
	return r;
}

static int parse_server(const cJSON *v, void *field, size_t size, const char *key,
			char *err, size_t errlen)
{
	char *s = field, why[160];
	int r = parse_string(v, field, size, key, err, errlen);

	if (r)
		return r;
	if (strncmp(s, "https://", 8) || !s[8] || s[8] == '/')
		return fail(err, errlen, key, "must be an https:// URL with a host (TLS is always on)");
	if (check_server_url(s, why, sizeof(why)))
		return fail(err, errlen, key, "%s", why);
	/* No trailing slash: paths are appended. */
	while (strlen(s) > 8 && s[strlen(s) - 1] == '/')
		s[strlen(s) - 1] = '\0';
	return 0;
}

/* One or more "sha256//" + the base64 of 32 bytes, separated by ';'. */
static int parse_pin(const cJSON *v, void *field, size_t size, const char *key,
		     char *err, size_t errlen)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = field;
	int r = parse_string(v, field, size, key, err, errlen);

	if (r)
		return r;
	do {
		size_t n;

		if (strncmp(p, "sha256//", 8))
			goto bad;
		p += 8;
		n = strspn(p, b64);
		/* 32 bytes: 43 characters of base64 and one '=' of padding */
		if (n != 43 || p[43] != '=' || (p[44] && p[44] != ';'))
			goto bad;
		p += 44;
	} while (*p++ == ';');
	return 0;
bad:
	return fail(err, errlen, key, "must be sha256//BASE64 (the SHA-256 of the server's public "
		    "key), several separated by ';'");
}

/* A number of seconds within [min, max], stored in milliseconds. */
static int parse_seconds(const cJSON *v, uint32_t *ms, double min, double max, const char *key,
			 char *err, size_t errlen)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return fail(err, errlen, key, "must be a number of seconds");
	if (v->valuedouble < min || v->valuedouble > max)
		return fail(err, errlen, key, "must be between %g and %g seconds", min, max);
	*ms = (uint32_t)llround(v->valuedouble * 1000);
	return 0;
}

static int parse_uint(const cJSON *v, uint32_t *out, uint32_t min, uint32_t max, const char *key,
		      char *err, size_t errlen)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return fail(err, errlen, key, "must be a whole number");
	if (v->valuedouble < min || v->valuedouble > max)
		return fail(err, errlen, key, "must be between %u and %u", min, max);
	*out = (uint32_t)v->valuedouble;
	return 0;
}

static int parse_enum(const cJSON *v, int *out, const char *const *names, size_t n,
		      const char *key, char *err, size_t errlen)
{
	char list[128] = "";

	if (cJSON_IsString(v)) {
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(v->valuestring, names[i])) {
				*out = (int)i;
				return 0;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
		if (i + 1 < n)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	return fail(err, errlen, key, "must be one of %s", list);
}

const char *cp_config_status_never_deleted(int status)
{
	if (status < 200)
		return "is informational, never a final answer";
	if (status < 300)
		return "is a success: every successful answer would read as a deletion";
	if (status < 400)
		return "is a redirect, what captive portals and proxies answer with";
	if (status == 401)
		return "is an expired or invalid token, answered by a token refresh; a deletion "
		       "pattern would turn every expiry into a deletion";
	if (status == 429)
		return "is rate limiting, transient by design";
	if (status >= 500)
		return "is a server error, transient by design";
	return NULL;
}

static void warn(struct cp_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct cp_config *c, const char *fmt, ...)
{
	size_t n = strlen(c->warnings);
	va_list ap;

	if (n && n + 1 < sizeof(c->warnings))
		c->warnings[n++] = '\n';
	va_start(ap, fmt);
	vsnprintf(c->warnings + n, sizeof(c->warnings) - n, fmt, ap);
	va_end(ap);
}

static int parse_patterns(const cJSON *v, struct cp_config *c, char *err, size_t errlen)
{
	const cJSON *p;
	size_t n = 0;
	char key[32];

	if (!cJSON_IsArray(v))
		return fail(err, errlen, "patterns", "must be an array of {status, json_field, json_value}");
	if (cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > CP_PATTERNS_MAX)
		return fail(err, errlen, "patterns", "must have 1 to %d entries", CP_PATTERNS_MAX);
	cJSON_ArrayForEach(p, v) {
		struct cp_pattern *pat = &c->patterns[n];
		const cJSON *f;
		uint32_t status;
		int r;

		snprintf(key, sizeof(key), "patterns[%zu]", n);
		if (!cJSON_IsObject(p))
			return fail(err, errlen, key, "must be an object");
		memset(pat, 0, sizeof(*pat));
		cJSON_ArrayForEach(f, p) {
			if (strcmp(f->string, "status") && strcmp(f->string, "json_field") &&
			    strcmp(f->string, "json_value"))
				return fail(err, errlen, key, "unknown key '%s'", f->string);
		}
		f = cJSON_GetObjectItemCaseSensitive(p, "status");
		if (!f)
			return fail(err, errlen, key, "needs a status");
		r = parse_uint(f, &status, 100, 599, key, err, errlen);
		if (r)
			return r;
		pat->status = (int)status;
		if (cp_config_status_never_deleted(pat->status))
			return fail(err, errlen, key, "status %d can never mean deleted: it %s",
				    pat->status, cp_config_status_never_deleted(pat->status));
		f = cJSON_GetObjectItemCaseSensitive(p, "json_field");
		if (f) {
			r = parse_string(f, pat->field, sizeof(pat->field), key, err, errlen);
			if (r)
				return r;
			if (!pat->field[0] || pat->field[0] == '.' ||
			    pat->field[strlen(pat->field) - 1] == '.' || strstr(pat->field, ".."))
				return fail(err, errlen, key, "json_field must be a dotted path like error.code");
		}
		f = cJSON_GetObjectItemCaseSensitive(p, "json_value");
		if (f) {
			if (!pat->field[0])
				return fail(err, errlen, key, "json_value needs json_field");
			r = parse_string(f, pat->value, sizeof(pat->value), key, err, errlen);
			if (r)
				return r;
		} else if (pat->field[0]) {
			return fail(err, errlen, key, "json_field needs json_value");
		}
		if (!pat->field[0])
			warn(c, "config key '%s': status %d alone matches any body, a proxy's or "
			     "captive portal's error page too; add json_field and json_value", key,
			     pat->status);
		n++;
	}
	c->n_patterns = n;
	return 0;
}

static const char *const mode_names[] = { "poll", "push" };
static const char *const policy_names[] = { "delete", "suspend", "keep", "ask" };
static const char *const level_names[] = { "error", "warning", "info", "debug" };

#define NAMES(a) a, sizeof(a) / sizeof(a[0])

static int parse_key(const cJSON *v, struct cp_config *c, char *err, size_t errlen)
{
	const char *k = v->string;
	int e, r;

	if (!strcmp(k, "server"))
		return parse_server(v, c->server, sizeof(c->server), k, err, errlen);
	if (!strcmp(k, "ca_file"))
		return parse_path(v, c->ca_file, sizeof(c->ca_file), k, err, errlen);
	if (!strcmp(k, "pinned_public_key"))
		return parse_pin(v, c->pinned_public_key, sizeof(c->pinned_public_key), k, err,
				 errlen);
	if (!strcmp(k, "state_dir"))
		return parse_path(v, c->state_dir, sizeof(c->state_dir), k, err, errlen);
	if (!strcmp(k, "control_socket"))
		return parse_path(v, c->control_socket, sizeof(c->control_socket), k, err, errlen);
	if (!strcmp(k, "control_group") || !strcmp(k, "admin_group")) {
		char *g = k[0] == 'c' ? c->control_group : c->admin_group;

		r = parse_string(v, g, sizeof(c->admin_group), k, err, errlen);
		if (!r && !g[0])
			return fail(err, errlen, k, "must name a group");
		return r;
	}
	if (!strcmp(k, "printer_name"))
		return parse_string(v, c->printer_name, sizeof(c->printer_name), k, err, errlen);
	if (!strcmp(k, "engine"))
		return parse_uint(v, &c->engine, 0, 15, k, err, errlen);
	if (!strcmp(k, "poll_interval"))
		return parse_seconds(v, &c->poll_interval_ms, 0.1, 86400, k, err, errlen);
	if (!strcmp(k, "poll_jitter"))
		return parse_uint(v, &c->poll_jitter_pct, 0, 50, k, err, errlen);
	if (!strcmp(k, "request_timeout"))
		return parse_seconds(v, &c->request_timeout_ms, 1, 600, k, err, errlen);
	if (!strcmp(k, "backoff_base"))
		return parse_seconds(v, &c->backoff_base_ms, 0.01, 3600, k, err, errlen);
	if (!strcmp(k, "backoff_cap"))
		return parse_seconds(v, &c->backoff_cap_ms, 0.01, 86400, k, err, errlen);
	if (!strcmp(k, "confirm_count"))
		return parse_uint(v, &c->confirm_count, 1, 100, k, err, errlen);
	if (!strcmp(k, "heartbeat_interval"))
		return parse_seconds(v, &c->heartbeat_interval_ms, 1, 86400, k, err, errlen);
	if (!strcmp(k, "stream_timeout"))
		return parse_seconds(v, &c->stream_timeout_ms, 1, 3600, k, err, errlen);
	if (!strcmp(k, "stream_grace"))
		return parse_seconds(v, &c->stream_grace_ms, 0, 600, k, err, errlen);
	if (!strcmp(k, "patterns"))
		return parse_patterns(v, c, err, errlen);
	if (!strcmp(k, "mode")) {
		r = parse_enum(v, &e, NAMES(mode_names), k, err, errlen);
		if (!r)
			c->mode = e;
		return r;
	}
	if (!strcmp(k, "policy")) {
		r = parse_enum(v, &e, NAMES(policy_names), k, err, errlen);
		if (!r)
			c->policy = e;
		return r;
	}
	if (!strcmp(k, "log_level")) {
		r = parse_enum(v, &e, NAMES(level_names), k, err, errlen);
		if (!r)
			c->log_level = e;
		return r;
	}
	return fail(err, errlen, k, "unknown key");
}

int cp_config_parse(const char *json, size_t len, struct cp_config *c, char *err, size_t errlen)
{
	const cJSON *v, *w;
	cJSON *root;
	int r = 0;

	if (len > CP_CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "config: larger than %d bytes", CP_CONFIG_MAX_BYTES);
		return -EINVAL;
	}
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		snprintf(err, errlen, "config: not valid JSON (near byte %td)",
			 cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)0);
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "config: must be a JSON object");
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(v, root) {
		/* cJSON keeps duplicate keys; the first would silently lose. */
		cJSON_ArrayForEach(w, root) {
			if (w == v)
				break;
			if (!strcmp(w->string, v->string)) {
				r = fail(err, errlen, v->string, "given twice");
				cJSON_Delete(root);
				return r;
			}
		}
		r = parse_key(v, c, err, errlen);
		if (r)
			break;
	}
	cJSON_Delete(root);
	if (r)
		return r;
	if (!c->server[0])
		return fail(err, errlen, "server", "is required");
	if (c->backoff_cap_ms < c->backoff_base_ms)
		return fail(err, errlen, "backoff_cap", "must not be less than backoff_base");
	return 0;
}

/* ---- where in the file an error is ---- */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && strchr(" \t\r\n", s[i]))
		i++;
	return i;
}

/* Past the string that starts at @i (a '"'). */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/* Past the value that starts at @i. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
	int depth = 0;

	do {
		if (i >= len)
			return len;
		if (s[i] == '"') {
			i = skip_string(s, len, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		else if (!depth && strchr(",: \t\r\n", s[i]))
			return i;
		i++;
	} while (depth > 0 || (i < len && !strchr(",}] \t\r\n", s[i])));
	return i;
}

/*
 * The offset of top-level key @key in @s (the opening quote of its name),
 * or with @idx >= 0 of that element of its array; -1 if not found.
 */
static long locate(const char *s, size_t len, const char *key, int idx)
{
	size_t i = skip_ws(s, len, 0), klen = strlen(key);

	if (i >= len || s[i] != '{')
		return -1;
	for (i = skip_ws(s, len, i + 1); i < len && s[i] == '"';) {
		size_t name = i, end = skip_string(s, len, i);
		bool match = end - name == klen + 2 && !memcmp(s + name + 1, key, klen);

		i = skip_ws(s, len, end);
		if (i >= len || s[i] != ':')
			return -1;
		i = skip_ws(s, len, i + 1);
		if (match && idx < 0)
			return (long)name;
		if (match && s[i] == '[') {
			i = skip_ws(s, len, i + 1);
			for (int n = 0; i < len && s[i] != ']'; n++) {
				if (n == idx)
					return (long)i;
				i = skip_ws(s, len, skip_value(s, len, i));
				if (i < len && s[i] == ',')
					i = skip_ws(s, len, i + 1);
			}
			return -1;
		}
		i = skip_ws(s, len, skip_value(s, len, i));
		if (i < len && s[i] == ',')
			i = skip_ws(s, len, i + 1);
	}
	return -1;
}

/* "@path:LINE:COLUMN: @err" for the error parsing @buf gave, or "@path: @err". */
static void place_error(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	char msg[512], key[64] = "";
	long off = -1, line = 1, col = 1;
	const char *k;
	int idx = -1;

	snprintf(msg, sizeof(msg), "%s", err);
	if (sscanf(msg, "config: not valid JSON (near byte %ld)", &off) != 1)
		off = -1;
	k = !strncmp(msg, "config key '", 12) ? msg + 12 : NULL;
	if (k && strchr(k, '\'')) {
		snprintf(key, sizeof(key), "%.*s", (int)(strchr(k, '\'') - k), k);
		if (strchr(key, '[')) {
			idx = atoi(strchr(key, '[') + 1);
			*strchr(key, '[') = '\0';
		}
		off = locate(buf, len, key, idx);
	}
	if (off < 0 || (size_t)off > len) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return;
	}
	for (long i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(err, errlen, "%s:%ld:%ld: %s", path, line, col,
		 !strncmp(msg, "config: ", 8) ? msg + 8 : msg);
}

int cp_config_load(const char *path, struct cp_config *c, char *err, size_t errlen)
{
	char *buf;
	ssize_t n;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "config %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CP_CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "config %s: not a regular file of at most %d bytes", path,
			 CP_CONFIG_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "config %s: short read", path);
		free(buf);
		return -EIO;
	}
	cp_config_defaults(c);
	r = cp_config_parse(buf, n, c, err, errlen);
	if (r)
		place_error(path, buf, n, err, errlen);
	free(buf);
	return r;
}

/* The directory @path is in exists? */
static bool parent_is_dir(const char *path)
{
	char dir[CP_PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return false;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return !stat(dir, &st) && S_ISDIR(st.st_mode);
}

int cp_config_check_paths(const struct cp_config *c, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (c->ca_file[0]) {
		fd = open(c->ca_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(err, errlen, "ca_file", "%s: %s", c->ca_file, strerror(errno));
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			return fail(err, errlen, "ca_file", "%s: not a regular file", c->ca_file);
		}
		close(fd);
	}
	if (!stat(c->state_dir, &st)) {
		if (!S_ISDIR(st.st_mode))
			return fail(err, errlen, "state_dir", "%s: not a directory", c->state_dir);
	} else if (errno != ENOENT || !parent_is_dir(c->state_dir)) {
		return fail(err, errlen, "state_dir", "%s: %s", c->state_dir,
			    errno == ENOENT ? "neither it nor its parent directory exists" :
			    strerror(errno));
	}
	if (!parent_is_dir(c->control_socket))
		return fail(err, errlen, "control_socket", "%s: its directory does not exist",
			    c->control_socket);
	return 0;
}
