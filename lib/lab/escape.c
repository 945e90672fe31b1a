/* SPDX-License-Identifier: MIT */
/*
 * escape.c - file text made safe to echo: every error message that quotes a
 * lab or rules file goes through lab_escape() on its way to a terminal.
 */
#include "lab.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The length (1-4) of the well-formed UTF-8 character at s[0..len) and its
 * code point, or 0: no overlong forms, no surrogates, nothing past
 * U+10FFFF (RFC 3629, table 3-7 of the Unicode standard). */
static size_t utf8_char(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;  /* the second byte's range */
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	*cp = c & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3fu);
	}
	return n;
}

/* Characters a terminal acts on instead of showing: C0 and C1 controls,
 * DEL, line and paragraph separators, and the bidirectional controls that
 * reorder what is shown ("Trojan Source", CVE-2021-42574). */
static bool shown_as_is(unsigned cp)
{
	return cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f) &&
	       cp != 0x061c && cp != 0x200e && cp != 0x200f &&
	       !(cp >= 0x2028 && cp <= 0x202e) && !(cp >= 0x2066 && cp <= 0x2069);
}

int lab_escape(const char *s, size_t len, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, w = 0;    /* the whole text's length; what buf holds */
	bool cut = false;       /* a unit did not fit: write no later one */
	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t k = utf8_char(p + i, len - i, &cp);
		char unit[4 * 4 + 1];
		size_t ul = 0;
		if (k && shown_as_is(cp)) {
			memcpy(unit, p + i, k);
			ul = k;
		} else {
			k = k ? k : 1;  /* a hidden character's bytes, or one bad byte */
			for (size_t j = 0; j < k; j++)
				ul += (size_t)snprintf(unit + ul, sizeof(unit) - ul, "\\x%02x", p[i + j]);
		}
		if (!cut && w + ul < size) {
			memcpy(buf + w, unit, ul);
			w += ul;
		} else {
			cut = true;
		}
		n += ul;
		i += k;
	}
	if (size)
		buf[w] = '\0';
	return n > INT_MAX ? INT_MAX : (int)n;
}
