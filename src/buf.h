/* buf.h - the one growing string of the binary: the report's outputs
 * (tables, CSV, HTML, SVG), /metrics, HTTP request bodies.  Start from
 * chp_buf_t b = {0}.  An allocation failure is remembered instead of
 * reported at every append, so writers stay linear; chp_buf_take() (or
 * b.failed) tells at the end. */
#ifndef CHP_BUF_H
#define CHP_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct chp_buf {
    char *s; /* NUL-terminated once anything was appended */
    size_t len, cap;
    bool failed; /* an allocation failed: the content is incomplete */
} chp_buf_t;

void chp_buf_printf(chp_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void chp_buf_puts(chp_buf_t *b, const char *s);
void chp_buf_putn(chp_buf_t *b, const char *s, size_t n);
/* s escaped for HTML text and quoted attribute values. */
void chp_buf_html(chp_buf_t *b, const char *s);
/* s as one CSV field (RFC 4180: quoted when it holds , " CR or LF). */
void chp_buf_csv(chp_buf_t *b, const char *s);
/* n times the character c. */
void chp_buf_pad(chp_buf_t *b, char c, size_t n);

/* The content (caller frees; "" if nothing was appended), or NULL after an
 * allocation failure.  Leaves b empty either way. */
char *chp_buf_take(chp_buf_t *b);
void chp_buf_free(chp_buf_t *b);

#endif
