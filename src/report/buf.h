/* buf.h - a growing string for the report's outputs (tables, CSV, HTML,
 * SVG).  An allocation failure is remembered instead of reported at every
 * append, so writers stay linear; rep_buf_take() tells at the end. */
#ifndef CHP_REPORT_BUF_H
#define CHP_REPORT_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rep_buf {
    char *s; /* NUL-terminated once anything was appended */
    size_t len, cap;
    bool failed; /* an allocation failed: the content is incomplete */
} rep_buf_t;

void rep_buf_printf(rep_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rep_buf_puts(rep_buf_t *b, const char *s);
void rep_buf_putn(rep_buf_t *b, const char *s, size_t n);
/* s escaped for HTML text and quoted attribute values. */
void rep_buf_html(rep_buf_t *b, const char *s);
/* s as one CSV field (RFC 4180: quoted when it holds , " CR or LF). */
void rep_buf_csv(rep_buf_t *b, const char *s);
/* n times the character c. */
void rep_buf_pad(rep_buf_t *b, char c, size_t n);

/* The content (caller frees; "" if nothing was appended), or NULL after an
 * allocation failure.  Leaves b empty either way. */
char *rep_buf_take(rep_buf_t *b);
void rep_buf_free(rep_buf_t *b);

#endif
