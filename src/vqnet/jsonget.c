/* SPDX-License-Identifier: MIT */
/* Values out of the supervisor's JSON (report.h), apart from report.c,
 * which needs the run directory, so that test_rates can link them. */
#include <jansson.h>

#include "report.h"

const char *js(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

long long jint(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}
