/* buf.c - see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/buf.h"

/* Room for need more bytes plus the NUL; false (and failed set) if not. */
static bool reserve(rep_buf_t *b, size_t need)
{
    size_t cap;
    char *ns;

    if (b->failed)
        return false;
    if (b->len + need + 1 <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    if (!(ns = realloc(b->s, cap))) {
        b->failed = true;
        return false;
    }
    b->s = ns;
    b->cap = cap;
    return true;
}

void rep_buf_putn(rep_buf_t *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void rep_buf_puts(rep_buf_t *b, const char *s)
{
    rep_buf_putn(b, s, strlen(s));
}

void rep_buf_printf(rep_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rep_buf_html(rep_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            rep_buf_puts(b, "&amp;");
            break;
        case '<':
            rep_buf_puts(b, "&lt;");
            break;
        case '>':
            rep_buf_puts(b, "&gt;");
            break;
        case '"':
            rep_buf_puts(b, "&quot;");
            break;
        case '\'':
            rep_buf_puts(b, "&#39;");
            break;
        default:
            rep_buf_putn(b, s, 1);
        }
    }
}

void rep_buf_csv(rep_buf_t *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        rep_buf_puts(b, s);
        return;
    }
    rep_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            rep_buf_puts(b, "\"");
        rep_buf_putn(b, s, 1);
    }
    rep_buf_puts(b, "\"");
}

void rep_buf_pad(rep_buf_t *b, char c, size_t n)
{
    if (!reserve(b, n))
        return;
    memset(b->s + b->len, c, n);
    b->len += n;
    b->s[b->len] = '\0';
}

char *rep_buf_take(rep_buf_t *b)
{
    char *s = b->s;

    if (b->failed) {
        free(s);
        s = NULL;
    } else if (!s) {
        s = strdup("");
    }
    memset(b, 0, sizeof(*b));
    return s;
}

void rep_buf_free(rep_buf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
