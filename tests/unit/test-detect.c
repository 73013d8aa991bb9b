// SPDX-License-Identifier: GPL-2.0
/* Unit tests of answer classification and deletion patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "detect.h"

struct vector {
	const char *what;
	bool transport_ok;
	long status;
	const char *body;
	enum cp_verdict want;
};

static const struct vector default_vectors[] = {
	{ "reference deletion answer", true, 404,
	  "{\"error\":{\"code\":\"printer_deleted\",\"message\":\"gone\"}}", CP_VERDICT_DELETED },
	{ "unknown printer is not a deletion", true, 404,
	  "{\"error\":{\"code\":\"not_found\"}}", CP_VERDICT_TRANSIENT },
	{ "HTML 404 of a captive portal", true, 404,
	  "<html><body>Please log in</body></html>", CP_VERDICT_TRANSIENT },
	{ "404 with an empty body", true, 404, "", CP_VERDICT_TRANSIENT },
	{ "404 with no body", true, 404, NULL, CP_VERDICT_TRANSIENT },
	{ "404 JSON array, not an object", true, 404, "[\"printer_deleted\"]",
	  CP_VERDICT_TRANSIENT },
	{ "error.code of the wrong type", true, 404, "{\"error\":{\"code\":404}}",
	  CP_VERDICT_TRANSIENT },
	{ "error is a string", true, 404, "{\"error\":\"printer_deleted\"}",
	  CP_VERDICT_TRANSIENT },
	{ "code at the top level", true, 404, "{\"code\":\"printer_deleted\"}",
	  CP_VERDICT_TRANSIENT },
	{ "truncated JSON", true, 404, "{\"error\":{\"code\":\"printer_del",
	  CP_VERDICT_TRANSIENT },
	{ "410 with the deletion code", true, 410,
	  "{\"error\":{\"code\":\"printer_deleted\"}}", CP_VERDICT_TRANSIENT },
	{ "deletion code under 500", true, 500,
	  "{\"error\":{\"code\":\"printer_deleted\"}}", CP_VERDICT_TRANSIENT },
	{ "no answer at all (network, DNS, TLS)", false, 0, NULL, CP_VERDICT_TRANSIENT },
	{ "no answer even with a body buffer", false, 404,
	  "{\"error\":{\"code\":\"printer_deleted\"}}", CP_VERDICT_TRANSIENT },
	{ "200 OK", true, 200, "{\"jobs\":[]}", CP_VERDICT_OK },
	{ "204 No Content", true, 204, NULL, CP_VERDICT_OK },
	{ "token expired", true, 401, "{\"error\":{\"code\":\"token_expired\"}}",
	  CP_VERDICT_TOKEN_EXPIRED },
	{ "invalid token: refresh too", true, 401, "{\"error\":{\"code\":\"invalid_token\"}}",
	  CP_VERDICT_TOKEN_EXPIRED },
	{ "401 without the cloud's error: no refresh", true, 401, "<html>login</html>",
	  CP_VERDICT_TRANSIENT },
	{ "429", true, 429, "{\"error\":{\"code\":\"rate_limited\"}}", CP_VERDICT_RATE_LIMITED },
	{ "502 HTML", true, 502, "<html>bad gateway</html>", CP_VERDICT_TRANSIENT },
	{ "503", true, 503, "{\"error\":{\"code\":\"unavailable\"}}", CP_VERDICT_TRANSIENT },
};

static enum cp_verdict classify(const struct cp_pattern *p, size_t n, const struct vector *v)
{
	struct cp_answer a = {
		.transport_ok = v->transport_ok,
		.status = v->status,
		.body = v->body,
		.body_len = v->body ? strlen(v->body) : 0,
	};

	return cp_classify(p, n, &a);
}

static void test_default_pattern_vectors(void **state)
{
	struct cp_pattern p;

	(void)state;
	cp_pattern_default(&p);
	for (size_t i = 0; i < sizeof(default_vectors) / sizeof(default_vectors[0]); i++) {
		enum cp_verdict got = classify(&p, 1, &default_vectors[i]);

		if (got != default_vectors[i].want)
			fail_msg("%s: got %s, want %s", default_vectors[i].what,
				 cp_verdict_name(got), cp_verdict_name(default_vectors[i].want));
	}
}

static void test_custom_patterns(void **state)
{
	struct cp_pattern p[2];
	struct vector gone = { "410 Gone", true, 410, "<html>gone</html>", CP_VERDICT_DELETED };
	struct vector deep = { "deep field", true, 403,
			       "{\"a\":{\"b\":{\"c\":\"revoked\"}}}", CP_VERDICT_DELETED };
	struct vector other = { "other value", true, 403,
				"{\"a\":{\"b\":{\"c\":\"nope\"}}}", CP_VERDICT_TRANSIENT };
	struct vector def = { "default answer", true, 404,
			      "{\"error\":{\"code\":\"printer_deleted\"}}", CP_VERDICT_TRANSIENT };

	(void)state;
	memset(p, 0, sizeof(p));
	p[0].status = 410;			/* status alone */
	p[1].status = 403;
	strcpy(p[1].field, "a.b.c");
	strcpy(p[1].value, "revoked");
	assert_int_equal(classify(p, 2, &gone), gone.want);
	assert_int_equal(classify(p, 2, &deep), deep.want);
	assert_int_equal(classify(p, 2, &other), other.want);
	/* A custom set replaces the default: the reference answer no longer counts. */
	assert_int_equal(classify(p, 2, &def), def.want);
}

static void test_pattern_matches_directly(void **state)
{
	struct cp_pattern p;
	const char *body = "{\"error\":{\"code\":\"printer_deleted\"}}";
	struct cp_answer a = { true, 404, body, strlen(body) };

	(void)state;
	cp_pattern_default(&p);
	assert_true(cp_pattern_matches(&p, &a));
	a.body_len = 10;	/* only part of the body arrived */
	assert_false(cp_pattern_matches(&p, &a));
}

static void test_confirmation_count(void **state)
{
	struct cp_confirm c = { .need = 3 };

	(void)state;
	assert_false(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	assert_false(cp_confirm_feed(&c, CP_VERDICT_TRANSIENT));	/* says nothing */
	assert_false(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	assert_true(cp_confirm_feed(&c, CP_VERDICT_DELETED));

	c.seen = 0;
	assert_false(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	assert_false(cp_confirm_feed(&c, CP_VERDICT_OK));		/* starts again */
	assert_false(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	assert_false(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	assert_true(cp_confirm_feed(&c, CP_VERDICT_DELETED));

	c = (struct cp_confirm){ .need = 1 };
	assert_true(cp_confirm_feed(&c, CP_VERDICT_DELETED));
	c = (struct cp_confirm){ .need = 0 };	/* treated as 1 */
	assert_true(cp_confirm_feed(&c, CP_VERDICT_DELETED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_pattern_vectors),
		cmocka_unit_test(test_custom_patterns),
		cmocka_unit_test(test_pattern_matches_directly),
		cmocka_unit_test(test_confirmation_count),
	};
	return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
