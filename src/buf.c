/* buf.c - see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Room for need more bytes plus the NUL; false (and failed set) if not. */
static bool reserve(chp_buf_t *b, size_t need)
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

void chp_buf_putn(chp_buf_t *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void chp_buf_puts(chp_buf_t *b, const char *s)
{
    chp_buf_putn(b, s, strlen(s));
}

void chp_buf_printf(chp_buf_t *b, const char *fmt, ...)
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

/* The entity for c, or NULL when c stands for itself. */
static const char *html_entity(char c)
{
    static const char *const ent[] = {
        ['&'] = "&amp;",  ['<'] = "&lt;",   ['>'] = "&gt;",
        ['"'] = "&quot;", ['\''] = "&#39;",
    };

    return (unsigned char)c < sizeof(ent) / sizeof(ent[0])
               ? ent[(unsigned char)c]
               : NULL;
}

void chp_buf_html(chp_buf_t *b, const char *s)
{
    for (; *s; s++) {
        const char *e = html_entity(*s);
        if (e)
            chp_buf_puts(b, e);
        else
            chp_buf_putn(b, s, 1);
    }
}

void chp_buf_csv(chp_buf_t *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        chp_buf_puts(b, s);
        return;
    }
    chp_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            chp_buf_puts(b, "\"");
        chp_buf_putn(b, s, 1);
    }
    chp_buf_puts(b, "\"");
}

void chp_buf_pad(chp_buf_t *b, char c, size_t n)
{
    if (!reserve(b, n))
        return;
    memset(b->s + b->len, c, n);
    b->len += n;
    b->s[b->len] = '\0';
}

char *chp_buf_take(chp_buf_t *b)
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

void chp_buf_free(chp_buf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
