/*
 * time.c - the times of --expires and --not-before.
 *
 * Accepted: RFC 3339 date-time (2027-01-31T00:00:00Z, with optional
 * fraction, which is dropped, and Z or +HH:MM / -HH:MM), a date
 * (2027-01-31, midnight UTC), "now", and times relative to now
 * (+90d, +12h, -1d; units s, m, h, d, w).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* Exactly n digits at *p; advances p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *chars)
{
	if (**p == '\0' || strchr(chars, **p) == NULL)
		return -1;
	(*p)++;
	return 0;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1970). */
static int64_t days_from_civil(int y, int m, int d)
{
	static const int before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	int64_t days = 0;
	int i;

	for (i = 1970; i < y; i++)
		days += leap(i) ? 366 : 365;
	days += before[m - 1] + (m > 2 && leap(y)) + (d - 1);
	return days;
}

static int parse_absolute(const char *s, int64_t *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;

	if (digits(&p, 4, &y) || expect(&p, "-") || digits(&p, 2, &mo) || expect(&p, "-") ||
	    digits(&p, 2, &d))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	if (*p != '\0') {
		if (expect(&p, "Tt ") || digits(&p, 2, &h) || expect(&p, ":") ||
		    digits(&p, 2, &mi) || expect(&p, ":") || digits(&p, 2, &sec))
			return -1;
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p))
				p++;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '+' ? 1 : -1;
			if (digits(&p, 2, &oh) || expect(&p, ":") || digits(&p, 2, &om) ||
			    oh > 23 || om > 59)
				return -1;
		} else {
			return -1;
		}
		if (*p != '\0')
			return -1;
	}
	if (sec == 60)
		sec = 59; /* a leap second: the last second of that minute */
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

static int parse_relative(const char *s, int64_t *out)
{
	int64_t n = 0, unit;
	int sign = s[0] == '-' ? -1 : 1;
	const char *p = s + 1;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (*p++ - '0');
		if (n > 100000000)
			return -1;
	}
	switch (*p) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return -1;
	}
	if (p[1] != '\0')
		return -1;
	*out = (int64_t)time(NULL) + sign * n * unit;
	return 0;
}

int cli_time_parse(struct cli *c, const char *opt, const char *s, int allow_none, int64_t *out)
{
	int64_t t;
	int bad;

	if (allow_none && strcmp(s, "none") == 0) {
		*out = 0;
		return CMK_OK;
	}
	if (strcmp(s, "now") == 0) {
		t = (int64_t)time(NULL);
		bad = 0;
	} else if (s[0] == '+' || s[0] == '-') {
		bad = parse_relative(s, &t);
	} else {
		bad = parse_absolute(s, &t);
	}
	if (bad)
		return cli_usage_fail(c,
				      "%s '%s' is not a time: give "
				      "2027-01-31T00:00:00Z, 2027-01-31, now or "
				      "+90d (units s m h d w)%s",
				      opt, s, allow_none ? ", or none" : "");
	if (t <= 0)
		return cli_usage_fail(c,
				      "%s '%s' is not after "
				      "1970-01-01T00:00:00Z",
				      opt, s);
	*out = t;
	return CMK_OK;
}

void cli_time_format(int64_t secs, char buf[32])
{
	struct tm tm;
	time_t t = (time_t)secs;

	if (secs == 0 || gmtime_r(&t, &tm) == NULL) {
		strcpy(buf, "-");
		return;
	}
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
