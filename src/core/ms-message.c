/* ms-message.c: RFC 5322 / MIME messages built with GMime, CRLF on the wire
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <gmime/gmime.h>

#include "ms-error.h"
#include "ms-message.h"
#include "ms-template.h"
#include "ms-user-file.h"

/*
 * Speed. A full GMime build and serialisation costs about 44 µs a message,
 * most of the budget at the target send rate. So the builder lets GMime lay
 * the whole message out once per batch, with unique tokens where the
 * per-recipient pieces go (Date, Subject, To, Message-Id, the merged bodies),
 * and cuts the result into constant segments. render() then only appends
 * the segments and, between them, the pieces for one recipient, each made
 * by the same GMime function the full build uses:
 *   - Subject and Date: g_mime_header_format_default() with the output
 *     options, as GMime's header writer does for headers set by value;
 *   - To: internet_address_list_encode(), as GMime's address-list sync does;
 *   - Message-Id: " <id>" plus the newline (GMime's message-id formatter);
 *   - bodies: the transfer encoding GMime's best-encoding filter would pick
 *     (its rule mirrored in pick_encoding()), encoded with GMime's own
 *     encoder, LF turned into CRLF as its unix2dos filter does.
 * render_slow() does the full GMime build; the tests compare the two byte
 * for byte over many inputs.
 */

#define TOKEN_DATE    "MSTOKENDATE7c1e"
#define TOKEN_SUBJECT "MSTOKENSUBJECT7c1e"
#define TOKEN_TO      "mstoken-to-7c1e@mstoken.invalid"
#define TOKEN_MSGID   "mstoken-msgid-7c1e@mstoken.invalid"
#define TOKEN_TEXT    "MSTOKENTEXT7c1e"
#define TOKEN_HTML    "MSTOKENHTML7c1e"

/* What a line may hold on the wire, without its CRLF (RFC 5322 2.1.1). */
#define MAX_LINE 998

typedef enum {
  PIECE_CONST,
  PIECE_DATE,
  PIECE_SUBJECT,
  PIECE_TO,
  PIECE_MSGID,
  PIECE_TEXT,
  PIECE_HTML,
} PieceKind;

typedef struct {
  PieceKind kind;
  gsize     offset;   /* PIECE_CONST: into layout */
  gsize     len;
} Piece;

typedef struct {
  char   *filename;   /* the name shown to the recipient (basename, UTF-8) */
  char   *path;
  char   *mime_type;
  GBytes *data;
} Attachment;

/* What the two builds share: everything but the per-recipient values. */
typedef struct {
  const char *from_address;
  const char *from_name;
  const char *unsubscribe;       /* already "<uri>" */
  gboolean    unsubscribe_post;
  GPtrArray  *attachments;       /* Attachment, may be NULL */
  const char *mixed_boundary;
  const char *alt_boundary;
  gboolean    has_html;
} Layout;

/* One recipient's values, merged. Bodies are LF-only and end with LF. */
typedef struct {
  const char *to_address;
  const char *to_name;           /* NULL for none */
  const char *subject;
  const char *text;
  gsize       text_len;
  const char *html;
  gsize       html_len;
  const char *date;              /* RFC 5322 date */
  const char *message_id;        /* without <> */
} Merged;

struct _MsMessageBuilder
{
  GObject parent_instance;

  char *from_address;
  char *from_name;
  char *unsubscribe;
  gboolean unsubscribe_post;
  char *mixed_boundary;
  char *alt_boundary;
  GPtrArray *attachments;

  MsTemplate *subject;
  MsTemplate *text;
  MsTemplate *html;
  guint email_index;
  int name_index;          /* -1: no "name" column */
  guint n_fields;

  /* The layout: GMime's serialisation cut into constant segments. */
  GString *layout;
  GArray *pieces;          /* Piece */
  char *text_const;        /* a constant body, encoded once (CTE line, blank line, body) */
  char *html_const;

  GMimeFormatOptions *format;
  GMimeHeaderList *header_list;  /* owns the two headers below */
  GMimeHeader *subject_header;
  GMimeHeader *date_header;

  gint64 fixed_date;
  char *fixed_id;

  char *id_domain;

  /* Guards the date cache and the random source (render may run in threads). */
  GMutex date_lock;
  GRand *rand;
  gint64 cached_second;
  gboolean cached_utc;
  char *cached_date;       /* the value */
  char *cached_date_line;  /* "Date: value\r\n", as GMime formats it */
};

G_DEFINE_FINAL_TYPE (MsMessageBuilder, ms_message_builder, G_TYPE_OBJECT)

static void
attachment_free (gpointer data)
{
  Attachment *a = data;

  g_free (a->filename);
  g_free (a->path);
  g_free (a->mime_type);
  g_clear_pointer (&a->data, g_bytes_unref);
  g_free (a);
}

static void
ms_message_builder_finalize (GObject *object)
{
  MsMessageBuilder *self = MS_MESSAGE_BUILDER (object);

  g_clear_pointer (&self->from_address, g_free);
  g_clear_pointer (&self->from_name, g_free);
  g_clear_pointer (&self->unsubscribe, g_free);
  g_clear_pointer (&self->mixed_boundary, g_free);
  g_clear_pointer (&self->alt_boundary, g_free);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  g_clear_object (&self->subject);
  g_clear_object (&self->text);
  g_clear_object (&self->html);
  if (self->layout)
    g_string_free (self->layout, TRUE);
  g_clear_pointer (&self->pieces, g_array_unref);
  g_clear_pointer (&self->text_const, g_free);
  g_clear_pointer (&self->html_const, g_free);
  g_clear_pointer (&self->format, g_mime_format_options_free);
  g_clear_object (&self->header_list);
  g_clear_pointer (&self->fixed_id, g_free);
  g_clear_pointer (&self->cached_date, g_free);
  g_clear_pointer (&self->cached_date_line, g_free);
  g_clear_pointer (&self->id_domain, g_free);
  g_clear_pointer (&self->rand, g_rand_free);
  g_mutex_clear (&self->date_lock);

  G_OBJECT_CLASS (ms_message_builder_parent_class)->finalize (object);
}

static void
ms_message_builder_class_init (MsMessageBuilderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_message_builder_finalize;
}

static void
ms_message_builder_init (MsMessageBuilder *self)
{
  self->pieces = g_array_new (FALSE, FALSE, sizeof (Piece));
  self->name_index = -1;
  self->cached_second = G_MININT64;
  self->rand = g_rand_new ();   /* seeded from /dev/urandom */
  g_mutex_init (&self->date_lock);
}

/* Helpers ---------------------------------------------------------------- */

static GMimeFormatOptions *
format_options_new (void)
{
  GMimeFormatOptions *format = g_mime_format_options_new ();

  g_mime_format_options_set_newline_format (format, GMIME_NEWLINE_FORMAT_DOS);
  return format;
}

/* Appends @s turning every bare LF into CRLF (GMime's unix2dos filter). */
static void
append_crlf (GString    *out,
             const char *s,
             gsize       len)
{
  const char *end = s + len;
  gsize start = out->len;
  char *w;

  /* Room for the worst case, written in place, then cut to size: one pass,
   * no per-line appends. */
  g_string_set_size (out, start + 2 * len);
  w = out->str + start;
  while (s < end)
    {
      const char *nl = memchr (s, '\n', end - s);
      gsize n = (nl ? nl : end) - s;

      memcpy (w, s, n);
      w += n;
      if (nl == NULL)
        break;
      if (w == out->str || w[-1] != '\r')
        *w++ = '\r';
      *w++ = '\n';
      s = nl + 1;
    }
  g_string_truncate (out, w - out->str);
}

/* Bodies go to GMime as LF text ending with a line break, so that both
 * builds see exactly the same content: CRLF and lone CR become LF. */
static void
normalise_body (GString *body)
{
  char *r = body->str, *w = body->str, *end = body->str + body->len;

  if (memchr (body->str, '\r', body->len) != NULL)
    {
      while (r < end)
        {
          if (*r == '\r')
            {
              *w++ = '\n';
              r++;
              if (r < end && *r == '\n')
                r++;
            }
          else
            *w++ = *r++;
        }
      g_string_truncate (body, w - body->str);
    }
  if (body->len == 0 || body->str[body->len - 1] != '\n')
    g_string_append_c (body, '\n');
}

/* The rule of GMime's best filter (gmime-filter-best.c) for a 7-bit
 * constraint: NUL → base64; 8-bit bytes → base64 when they are at least 17%
 * of the text, else quoted-printable; a line over 998 bytes or a line that
 * starts with "From " → quoted-printable; else no encoding (7bit). */
static GMimeContentEncoding
pick_encoding (const char *text,
               gsize       len)
{
  const guchar *p = (const guchar *) text, *end = p + len;
  gsize count8 = 0, maxline = 0;
  gboolean hadfrom = FALSE, has0 = FALSE;
  guchar any = 0;

  /* Line by line: memchr finds the ends, and the inner loop is a plain
   * reduction the compiler vectorises. */
  while (p < end)
    {
      const guchar *nl = memchr (p, '\n', end - p);
      const guchar *line_end = nl ? nl : end;
      gsize linelen = line_end - p;
      const guchar *q = p;
      guint64 any_word = 0, zero_word = 0;

      if (!hadfrom && linelen >= 5 && memcmp (p, "From ", 5) == 0)
        hadfrom = TRUE;
      maxline = MAX (maxline, linelen);
      /* Eight bytes at a time: OR for the high bit, and the classic
       * "has a zero byte" test. */
      for (; q + 8 <= line_end; q += 8)
        {
          guint64 w;

          memcpy (&w, q, 8);
          any_word |= w;
          zero_word |= (w - G_GUINT64_CONSTANT (0x0101010101010101)) & ~w
                       & G_GUINT64_CONSTANT (0x8080808080808080);
        }
      for (; q < line_end; q++)
        {
          any |= *q;
          has0 |= (*q == 0);
        }
      if (any_word & G_GUINT64_CONSTANT (0x8080808080808080))
        any |= 0x80;
      has0 |= zero_word != 0;
      p = nl ? nl + 1 : end;
    }

  if (has0)
    return GMIME_CONTENT_ENCODING_BASE64;
  if (any & 0x80)
    {
      for (p = (const guchar *) text; p < end; p++)
        count8 += *p >> 7;
      return count8 >= (len * 17 / 100) ? GMIME_CONTENT_ENCODING_BASE64
                                         : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    }
  if (maxline > MAX_LINE || hadfrom)
    return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
  return GMIME_CONTENT_ENCODING_DEFAULT;
}

/* A part's content as the full build writes it: the Content-Transfer-Encoding
 * line when there is one, the blank line, and the encoded body in CRLF. */
static void
append_encoded_part (GString    *out,
                     const char *text,
                     gsize       len)
{
  GMimeContentEncoding encoding = pick_encoding (text, len);
  GMimeEncoding state;
  char *buf;
  gsize n;

  if (encoding == GMIME_CONTENT_ENCODING_DEFAULT)
    {
      g_string_append_len (out, "\r\n", 2);
      append_crlf (out, text, len);
      return;
    }

  g_string_append (out, "Content-Transfer-Encoding: ");
  g_string_append (out, g_mime_content_encoding_to_string (encoding));
  g_string_append_len (out, "\r\n\r\n", 4);

  g_mime_encoding_init_encode (&state, encoding);
  buf = g_malloc (g_mime_encoding_outlen (&state, len) + 16);
  n = g_mime_encoding_flush (&state, text, len, buf);
  append_crlf (out, buf, n);
  g_free (buf);
}

/* Values in headers never carry control characters (the HEADER template
 * kind already folds them); the display name gets the same treatment. */
static char *
header_safe (const char *value)
{
  GString *s = g_string_new (NULL);
  gboolean in_run = FALSE;

  for (const char *p = value; *p; p++)
    {
      gboolean control = (guchar) *p < 0x20 || *p == 0x7f;

      if (!control)
        g_string_append_c (s, *p);
      else if (!in_run)
        g_string_append_c (s, ' ');
      in_run = control;
    }
  return g_strstrip (g_string_free (s, FALSE));
}

static char *
format_date (gint64 unix_time,
             gboolean local)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (unix_time);
  g_autoptr(GDateTime) dt = local ? g_date_time_to_local (utc) : g_date_time_ref (utc);

  return g_mime_utils_header_format_date (dt);
}

/* The Message-ID domain: the sender's, lower case, ASCII (punycode). */
static char *
id_domain (const char *from_address)
{
  const char *at = strrchr (from_address, '@');
  g_autofree char *domain = g_ascii_strdown (at && at[1] ? at + 1 : "mailshot.invalid", -1);
  char *ascii = g_hostname_to_ascii (domain);

  return ascii ? ascii : g_steal_pointer (&domain);
}

static char *
make_id (const char *domain,
         guint32     r[4])
{
  /* Microseconds since 1970 and 128 random bits: unique without a counter. */
  return g_strdup_printf ("%" G_GINT64_MODIFIER "x.%08x%08x%08x%08x@%s",
                          g_get_real_time (), r[0], r[1], r[2], r[3], domain);
}

char *
ms_message_make_id (const char *from_address)
{
  g_autofree char *domain = NULL;
  guint32 r[4];

  g_return_val_if_fail (from_address != NULL, NULL);

  domain = id_domain (from_address);
  for (guint i = 0; i < 4; i++)
    r[i] = g_random_int ();
  return make_id (domain, r);
}

static char *
make_boundary (void)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  char b[2 + 24 + 1] = "=-";

  /* "=-" cannot occur in quoted-printable or base64 text, and 24 random
   * characters do not occur in a 7bit body by chance. */
  for (guint i = 0; i < 24; i++)
    b[2 + i] = alphabet[g_random_int_range (0, sizeof alphabet - 1)];
  b[26] = '\0';
  return g_strdup (b);
}

/* The full GMime build ----------------------------------------------------- */

static GMimeObject *
text_part_new (const char *subtype,
               const char *text,
               gsize       len)
{
  GMimeTextPart *part = g_mime_text_part_new_with_subtype (subtype);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (text, len);
  GMimeDataWrapper *content = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
  GMimeContentEncoding encoding;

  g_mime_part_set_content (GMIME_PART (part), content);
  g_mime_text_part_set_charset (part, "utf-8");
  encoding = g_mime_part_get_best_content_encoding (GMIME_PART (part), GMIME_ENCODING_CONSTRAINT_7BIT);
  if (encoding != GMIME_CONTENT_ENCODING_DEFAULT)
    g_mime_part_set_content_encoding (GMIME_PART (part), encoding);

  g_object_unref (content);
  g_object_unref (stream);
  return GMIME_OBJECT (part);
}

/* A token part for the layout: 7bit, no Content-Transfer-Encoding header. */
static GMimeObject *
token_part_new (const char *subtype,
                const char *token)
{
  g_autofree char *text = g_strconcat (token, "\n", NULL);

  return text_part_new (subtype, text, strlen (text));
}

static void
set_param_utf8 (GMimeParamList *params,
                const char     *name,
                const char     *value)
{
  g_mime_param_list_set_parameter (params, name, value);
  /* GMime would pick ISO-8859-1 when it fits; UTF-8 is what every reader
   * expects today (RFC 2231 either way). */
  g_mime_param_set_charset (g_mime_param_list_get_parameter (params, name), "utf-8");
}

static GMimeObject *
attachment_part_new (const Attachment *a)
{
  g_auto(GStrv) type = g_strsplit (a->mime_type, "/", 2);
  GMimePart *part;
  GMimeContentType *content_type;
  GMimeContentDisposition *disposition;
  GMimeStream *stream;
  GMimeDataWrapper *content;
  gsize size;
  const guint8 *data = g_bytes_get_data (a->data, &size);

  content_type = g_mime_content_type_new (type[0], type[1] ? type[1] : "octet-stream");
  set_param_utf8 (g_mime_content_type_get_parameters (content_type), "name", a->filename);
  disposition = g_mime_content_disposition_new ();
  g_mime_content_disposition_set_disposition (disposition, GMIME_DISPOSITION_ATTACHMENT);
  set_param_utf8 (g_mime_content_disposition_get_parameters (disposition), "filename", a->filename);

  part = g_mime_part_new ();
  g_mime_object_set_content_type (GMIME_OBJECT (part), content_type);
  g_mime_object_set_content_disposition (GMIME_OBJECT (part), disposition);

  stream = g_mime_stream_mem_new_with_buffer ((const char *) data, size);
  content = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content (part, content);
  g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);

  g_object_unref (content);
  g_object_unref (stream);
  g_object_unref (content_type);
  g_object_unref (disposition);
  return GMIME_OBJECT (part);
}

static void
add_mailbox (InternetAddressList *list,
             const char          *name,
             const char          *address)
{
  InternetAddress *ia = internet_address_mailbox_new (name, address);

  internet_address_set_charset (ia, "utf-8");
  internet_address_list_add (list, ia);
  g_object_unref (ia);
}

/* Builds the message with GMime. @text / @html are the part contents, or
 * token parts when @tokens is set (the layout). */
static GMimeMessage *
build_message (const Layout *layout,
               const Merged *m,
               gboolean      tokens)
{
  GMimeMessage *message = g_mime_message_new (TRUE);
  GMimeObject *body;

  add_mailbox (g_mime_message_get_from (message), layout->from_name, layout->from_address);
  add_mailbox (g_mime_message_get_to (message), m->to_name, m->to_address);
  g_mime_message_set_subject (message, m->subject, "utf-8");
  g_mime_object_set_header (GMIME_OBJECT (message), "Date", m->date, NULL);
  g_mime_message_set_message_id (message, m->message_id);
  if (layout->unsubscribe)
    {
      g_mime_object_set_header (GMIME_OBJECT (message), "List-Unsubscribe", layout->unsubscribe, NULL);
      if (layout->unsubscribe_post)
        g_mime_object_set_header (GMIME_OBJECT (message), "List-Unsubscribe-Post",
                                  "List-Unsubscribe=One-Click", NULL);
    }

  body = tokens ? token_part_new ("plain", TOKEN_TEXT) : text_part_new ("plain", m->text, m->text_len);
  if (layout->has_html)
    {
      GMimeMultipart *alternative = g_mime_multipart_new_with_subtype ("alternative");
      GMimeObject *html = tokens ? token_part_new ("html", TOKEN_HTML)
                                 : text_part_new ("html", m->html, m->html_len);

      g_mime_multipart_set_boundary (alternative, layout->alt_boundary);
      g_mime_multipart_add (alternative, body);
      g_mime_multipart_add (alternative, html);
      g_object_unref (body);
      g_object_unref (html);
      body = GMIME_OBJECT (alternative);
    }
  if (layout->attachments && layout->attachments->len > 0)
    {
      GMimeMultipart *mixed = g_mime_multipart_new_with_subtype ("mixed");

      g_mime_multipart_set_boundary (mixed, layout->mixed_boundary);
      g_mime_multipart_add (mixed, body);
      g_object_unref (body);
      for (guint i = 0; i < layout->attachments->len; i++)
        {
          GMimeObject *part = attachment_part_new (g_ptr_array_index (layout->attachments, i));

          g_mime_multipart_add (mixed, part);
          g_object_unref (part);
        }
      body = GMIME_OBJECT (mixed);
    }

  g_mime_message_set_mime_part (message, body);
  g_object_unref (body);
  return message;
}

static GByteArray *
serialise (GMimeMessage       *message,
           GMimeFormatOptions *format)
{
  GByteArray *bytes = g_byte_array_sized_new (4096);
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (bytes);

  /* The stream does not own the array: it outlives the stream. */
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  g_mime_object_write_to_stream (GMIME_OBJECT (message), format, stream);
  g_object_unref (stream);
  return bytes;
}

/* Layout -------------------------------------------------------------------- */

static void
add_piece (MsMessageBuilder *self,
           PieceKind         kind,
           gsize             offset,
           gsize             len)
{
  Piece piece = { kind, offset, len };

  g_array_append_val (self->pieces, piece);
}

typedef struct {
  PieceKind   kind;
  const char *needle;
  gsize       skip;     /* bytes of the needle kept before the cut */
  gsize       trail;    /* bytes of the needle kept after the cut */
  gsize       at;
} Cut;

static int
cut_compare (gconstpointer a,
             gconstpointer b)
{
  const Cut *ca = a, *cb = b;

  return (ca->at > cb->at) - (ca->at < cb->at);
}

/* Serialises the token message and cuts it where the per-recipient pieces go. */
static gboolean
make_layout (MsMessageBuilder *self,
             const Layout     *layout,
             GError          **error)
{
  Merged tokens = {
    .to_address = TOKEN_TO,
    .to_name = NULL,
    .subject = TOKEN_SUBJECT,
    .date = TOKEN_DATE,
    .message_id = TOKEN_MSGID,
  };
  g_autoptr(GByteArray) bytes = NULL;
  GMimeMessage *message;
  Cut cuts[6];
  guint n_cuts = 0;
  gsize pos = 0;

  message = build_message (layout, &tokens, TRUE);
  bytes = serialise (message, self->format);
  g_object_unref (message);

  self->layout = g_string_new_len ((const char *) bytes->data, bytes->len);

  /* Whole header lines are replaced; a body cut starts at the blank line
   * that ends the part's headers and ends after the token's line. */
  cuts[n_cuts++] = (Cut) { PIECE_DATE, "Date: " TOKEN_DATE "\r\n", 0, 0, 0 };
  cuts[n_cuts++] = (Cut) { PIECE_SUBJECT, "Subject: " TOKEN_SUBJECT "\r\n", 0, 0, 0 };
  cuts[n_cuts++] = (Cut) { PIECE_TO, "To: " TOKEN_TO "\r\n", 0, 0, 0 };
  cuts[n_cuts++] = (Cut) { PIECE_MSGID, "Message-Id: <" TOKEN_MSGID ">\r\n", 0, 0, 0 };
  cuts[n_cuts++] = (Cut) { PIECE_TEXT, "\r\n\r\n" TOKEN_TEXT "\r\n", 2, 0, 0 };
  if (layout->has_html)
    cuts[n_cuts++] = (Cut) { PIECE_HTML, "\r\n\r\n" TOKEN_HTML "\r\n", 2, 0, 0 };

  for (guint i = 0; i < n_cuts; i++)
    {
      const char *found = strstr (self->layout->str, cuts[i].needle);

      /* A header cut must start a line. */
      if (found == NULL
          || (cuts[i].skip == 0 && found != self->layout->str && found[-1] != '\n'))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                       _("Could not lay out the message (GMime wrote an unexpected layout)."));
          return FALSE;
        }
      cuts[i].at = found - self->layout->str;
    }
  qsort (cuts, n_cuts, sizeof (Cut), cut_compare);

  for (guint i = 0; i < n_cuts; i++)
    {
      gsize start = cuts[i].at + cuts[i].skip;
      gsize end = cuts[i].at + strlen (cuts[i].needle);

      if (start > pos)
        add_piece (self, PIECE_CONST, pos, start - pos);
      add_piece (self, cuts[i].kind, 0, 0);
      pos = end;
    }
  if (pos < self->layout->len)
    add_piece (self, PIECE_CONST, pos, self->layout->len - pos);

  return TRUE;
}

static void
layout_from_builder (MsMessageBuilder *self,
                     Layout           *layout)
{
  layout->from_address = self->from_address;
  layout->from_name = self->from_name;
  layout->unsubscribe = self->unsubscribe;
  layout->unsubscribe_post = self->unsubscribe_post;
  layout->attachments = self->attachments;
  layout->mixed_boundary = self->mixed_boundary;
  layout->alt_boundary = self->alt_boundary;
  layout->has_html = self->html != NULL;
}

/* Construction ---------------------------------------------------------------- */

static gboolean
load_attachment (MsMessageBuilder *self,
                 const char       *path,
                 GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *content_type = NULL;
  g_autofree char *basename = NULL;
  gboolean uncertain = FALSE;
  Attachment *a;
  gsize len = 0;

  /* Regular files only, checked without blocking (a FIFO hung the import). */
  if (!ms_user_file_load (path, &contents, &len, &local_error))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("Could not read the attachment %s: %s"), path, local_error->message);
      return FALSE;
    }

  basename = g_path_get_basename (path);
  a = g_new0 (Attachment, 1);
  a->path = g_strdup (path);
  a->filename = g_filename_display_name (basename);
  content_type = g_content_type_guess (basename, (const guchar *) contents, len, &uncertain);
  a->mime_type = content_type ? g_content_type_get_mime_type (content_type) : NULL;
  if (a->mime_type == NULL || strchr (a->mime_type, '/') == NULL)
    {
      g_free (a->mime_type);
      a->mime_type = g_strdup ("application/octet-stream");
    }
  a->data = g_bytes_new_take (g_steal_pointer (&contents), len);
  g_ptr_array_add (self->attachments, a);
  return TRUE;
}

static char *
unsubscribe_header (const char  *uri,
                    gboolean    *post,
                    GError     **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (uri));

  *post = FALSE;
  if (trimmed[0] == '<' && trimmed[strlen (trimmed) - 1] == '>')
    {
      trimmed[strlen (trimmed) - 1] = '\0';
      memmove (trimmed, trimmed + 1, strlen (trimmed));
    }
  for (const char *p = trimmed; *p; p++)
    if ((guchar) *p <= 0x20 || (guchar) *p >= 0x7f || *p == '<' || *p == '>')
      {
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                     _("The unsubscribe address “%s” contains spaces or characters a header "
                       "cannot carry. Percent-encode them."), uri);
        return NULL;
      }

  if (g_ascii_strncasecmp (trimmed, "https://", 8) == 0 && trimmed[8] != '\0')
    *post = TRUE;   /* RFC 8058 one-click */
  else if (g_ascii_strncasecmp (trimmed, "mailto:", 7) == 0 && strchr (trimmed, '@'))
    ;
  else if (strchr (trimmed, ':') == NULL && strchr (trimmed, '@') != NULL)
    {
      char *mailto = g_strconcat ("mailto:", trimmed, NULL);

      g_free (trimmed);
      trimmed = mailto;
    }
  else
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("The unsubscribe address “%s” must be a mailto: address or an https:// link."),
                   uri);
      return NULL;
    }

  if (strlen (trimmed) > 900)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("The unsubscribe link is too long for a mail header. Use a link under 900 characters."));
      return NULL;
    }
  return g_strdup_printf ("<%s>", trimmed);
}

static MsTemplate *
compile (const char          *source,
         MsTemplateKind       kind,
         const char          *where,
         const char * const  *fields,
         GError             **error)
{
  g_autoptr(MsTemplate) template = ms_template_new (source, kind, where, error);

  if (template == NULL || !ms_template_bind (template, fields, error))
    return NULL;
  return g_steal_pointer (&template);
}

static char *
constant_part (MsTemplate *template)
{
  g_autoptr(GString) body = g_string_new (NULL);
  GString *out = g_string_new (NULL);

  ms_template_expand (template, NULL, body);
  normalise_body (body);
  append_encoded_part (out, body->str, body->len);
  return g_string_free (out, FALSE);
}

/**
 * ms_message_builder_new:
 * @spec: the batch's message: sender, templates, attachments, CSV header
 *
 * Parses and binds the templates, reads the attachments, and lays the
 * message out once with GMime.
 *
 * Returns: (transfer full): the builder, or %NULL with an error naming the
 * field, template or file.
 */
MsMessageBuilder *
ms_message_builder_new (const MsMessageSpec *spec,
                        GError             **error)
{
  g_autoptr(MsMessageBuilder) self = NULL;
  Layout layout;

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (spec->from_address != NULL, NULL);
  g_return_val_if_fail (spec->text != NULL, NULL);
  g_return_val_if_fail (spec->fields != NULL, NULL);
  g_return_val_if_fail (spec->email_index < g_strv_length ((char **) spec->fields), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MS_TYPE_MESSAGE_BUILDER, NULL);
  self->format = format_options_new ();
  self->n_fields = g_strv_length ((char **) spec->fields);
  self->email_index = spec->email_index;
  for (guint i = 0; spec->fields[i]; i++)
    if (i != spec->email_index && g_ascii_strcasecmp (spec->fields[i], "name") == 0)
      self->name_index = i;

  if (strpbrk (spec->from_address, "\r\n<> ") != NULL || strchr (spec->from_address, '@') == NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                   _("The sender address “%s” is not a valid e-mail address. "
                     "Correct it in the account settings."), spec->from_address);
      return NULL;
    }
  self->from_address = g_strdup (spec->from_address);
  self->id_domain = id_domain (spec->from_address);
  self->from_name = spec->from_name && *spec->from_name ? header_safe (spec->from_name) : NULL;
  if (self->from_name && *self->from_name == '\0')
    g_clear_pointer (&self->from_name, g_free);

  if (spec->unsubscribe && *spec->unsubscribe)
    {
      self->unsubscribe = unsubscribe_header (spec->unsubscribe, &self->unsubscribe_post, error);
      if (self->unsubscribe == NULL)
        return NULL;
    }

  self->subject = compile (spec->subject ? spec->subject : "", MS_TEMPLATE_HEADER,
                           _("subject"), spec->fields, error);
  if (self->subject == NULL)
    return NULL;
  self->text = compile (spec->text, MS_TEMPLATE_PLAIN, _("text body"), spec->fields, error);
  if (self->text == NULL)
    return NULL;
  if (spec->html && *spec->html)
    {
      self->html = compile (spec->html, MS_TEMPLATE_HTML, _("HTML body"), spec->fields, error);
      if (self->html == NULL)
        return NULL;
    }

  self->attachments = g_ptr_array_new_with_free_func (attachment_free);
  for (guint i = 0; spec->attachments && spec->attachments[i]; i++)
    if (!load_attachment (self, spec->attachments[i], error))
      return NULL;

  self->mixed_boundary = make_boundary ();
  self->alt_boundary = make_boundary ();

  self->header_list = g_mime_header_list_new (NULL);
  g_mime_header_list_append (self->header_list, "Subject", "x", "utf-8");
  g_mime_header_list_append (self->header_list, "Date", "x", NULL);
  self->subject_header = g_mime_header_list_get_header (self->header_list, "Subject");
  self->date_header = g_mime_header_list_get_header (self->header_list, "Date");

  layout_from_builder (self, &layout);
  if (!make_layout (self, &layout, error))
    return NULL;

  if (ms_template_is_constant (self->text))
    self->text_const = constant_part (self->text);
  if (self->html && ms_template_is_constant (self->html))
    self->html_const = constant_part (self->html);

  return g_steal_pointer (&self);
}

/**
 * ms_message_builder_set_fixed:
 * @date: unix time for the Date header, or 0 for the current time
 * @message_id: (nullable): the Message-ID to use, or %NULL for fresh ones
 *
 * Makes every message carry the same Date and Message-ID, so that the tests
 * can compare render() with render_slow() byte for byte.
 */
void
ms_message_builder_set_fixed (MsMessageBuilder *self,
                              gint64            date,
                              const char       *message_id)
{
  g_return_if_fail (MS_IS_MESSAGE_BUILDER (self));

  self->fixed_date = date;
  g_free (self->fixed_id);
  self->fixed_id = g_strdup (message_id);
}

/**
 * ms_message_builder_set_boundaries:
 * @mixed: the multipart/mixed boundary
 * @alternative: the multipart/alternative boundary
 *
 * Replaces the random boundaries (tests that compare with a separate full
 * build). Lays the message out again.
 */
void
ms_message_builder_set_boundaries (MsMessageBuilder *self,
                                   const char       *mixed,
                                   const char       *alternative)
{
  Layout layout;

  g_return_if_fail (MS_IS_MESSAGE_BUILDER (self));
  g_return_if_fail (mixed != NULL && alternative != NULL);

  g_free (self->mixed_boundary);
  self->mixed_boundary = g_strdup (mixed);
  g_free (self->alt_boundary);
  self->alt_boundary = g_strdup (alternative);

  g_string_free (self->layout, TRUE);
  self->layout = NULL;
  g_array_set_size (self->pieces, 0);
  layout_from_builder (self, &layout);
  if (!make_layout (self, &layout, NULL))
    g_critical ("Could not lay out the message again");
}

/* The Date value and its header line; the current second's are kept, as a
 * blast makes thousands of messages a second. Also draws the Message-ID's
 * random bits under the same lock. */
static void
date_and_id (MsMessageBuilder  *self,
             char             **date,
             char             **date_line,
             char             **message_id)
{
  gboolean utc = self->fixed_date != 0;
  gint64 now = utc ? self->fixed_date : g_get_real_time () / G_USEC_PER_SEC;
  guint32 r[4];

  g_mutex_lock (&self->date_lock);
  if (now != self->cached_second || utc != self->cached_utc)
    {
      g_autofree char *raw = NULL;

      g_free (self->cached_date);
      g_free (self->cached_date_line);
      self->cached_date = format_date (now, !utc);
      raw = g_mime_header_format_default (self->date_header, self->format, self->cached_date, NULL);
      self->cached_date_line = g_strconcat ("Date:", raw, NULL);
      self->cached_second = now;
      self->cached_utc = utc;
    }
  *date = g_strdup (self->cached_date);
  if (date_line)
    *date_line = g_strdup (self->cached_date_line);
  for (guint i = 0; i < 4; i++)
    r[i] = g_rand_int (self->rand);
  g_mutex_unlock (&self->date_lock);

  *message_id = self->fixed_id ? g_strdup (self->fixed_id) : make_id (self->id_domain, r);
}

/* The per-recipient values shared by render() and render_slow(). */
typedef struct {
  GString *subject;
  GString *text;
  GString *html;
  char *to_name;
  char *date;
  char *date_line;
  char *message_id;
  Merged merged;
} Row;

static void
row_clear (Row *row)
{
  if (row->subject)
    g_string_free (row->subject, TRUE);
  if (row->text)
    g_string_free (row->text, TRUE);
  if (row->html)
    g_string_free (row->html, TRUE);
  g_free (row->to_name);
  g_free (row->date);
  g_free (row->date_line);
  g_free (row->message_id);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Row, row_clear)

static gboolean
merge_row (MsMessageBuilder   *self,
           const char * const *values,
           gboolean            bodies,
           Row                *row,
           GError            **error)
{
  const char *address = values[self->email_index];

  if (address == NULL || *address == '\0' || strpbrk (address, "\r\n") != NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The recipient address is empty or contains a line break."));
      return FALSE;
    }

  row->subject = g_string_sized_new (128);
  /* A merged subject longer than a header line fails this row, naming the
   * field (a 64 KiB note merged in would be folded over many lines). */
  if (!ms_template_expand_checked (self->subject, values, row->subject, error))
    return FALSE;
  if (self->name_index >= 0 && values[self->name_index] && *values[self->name_index])
    {
      row->to_name = header_safe (values[self->name_index]);
      if (*row->to_name == '\0')
        g_clear_pointer (&row->to_name, g_free);
    }

  if (bodies || self->text_const == NULL)
    {
      row->text = g_string_sized_new (4096);
      ms_template_expand (self->text, values, row->text);
      normalise_body (row->text);
    }
  if (self->html && (bodies || self->html_const == NULL))
    {
      row->html = g_string_sized_new (4096);
      ms_template_expand (self->html, values, row->html);
      normalise_body (row->html);
    }

  date_and_id (self, &row->date, &row->date_line, &row->message_id);

  row->merged.to_address = address;
  row->merged.to_name = row->to_name;
  row->merged.subject = row->subject->str;
  row->merged.text = row->text ? row->text->str : NULL;
  row->merged.text_len = row->text ? row->text->len : 0;
  row->merged.html = row->html ? row->html->str : NULL;
  row->merged.html_len = row->html ? row->html->len : 0;
  row->merged.date = row->date;
  row->merged.message_id = row->message_id;
  return TRUE;
}

/* GMime trims a header value before formatting it (g_mime_header_set_value). */
static char *
trim_dup (const char *value)
{
  return g_strstrip (g_strdup (value));
}

/* Fast paths for the common plain values. They write what GMime writes for
 * such values (the equivalence tests check it); anything else, or anything
 * near the folding width, goes through GMime. */
#define FAST_LINE_MAX 70

static gboolean
is_plain_phrase (const char *s)
{
  if (*s == ' ')
    return FALSE;
  for (; *s; s++)
    {
      if (*s == ' ' && (s[1] == ' ' || s[1] == '\0'))
        return FALSE;
      if (*s != ' ' && !g_ascii_isalnum (*s))
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_plain_subject (const char *s,
                  gsize      *len)
{
  const char *p = s;

  for (; *p; p++)
    {
      if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
        return FALSE;
      if (*p == ' ' && p[1] == ' ')
        return FALSE;
      if (*p == '=' && p[1] == '?')
        return FALSE;
    }
  *len = p - s;
  return *len <= FAST_LINE_MAX - 9 && (*len == 0 || (s[0] != ' ' && p[-1] != ' '));
}

static gboolean
is_plain_address (const char *s)
{
  const char *at = strchr (s, '@');

  if (at == NULL || at == s || at[1] == '\0' || strchr (at + 1, '@') != NULL)
    return FALSE;
  if (s[0] == '.' || at[-1] == '.' || at[1] == '.' || strstr (s, "..") != NULL)
    return FALSE;
  for (const char *p = s; *p; p++)
    {
      if (p == at)
        continue;
      if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-'
          && !(p < at && (*p == '_' || *p == '+')))
        return FALSE;
    }
  return s[strlen (s) - 1] != '.';
}

GBytes *
ms_message_builder_render (MsMessageBuilder    *self,
                           const char * const  *values,
                           char               **message_id,
                           GError             **error)
{
  g_auto(Row) row = { 0, };
  const Piece *pieces;
  GString *out;

  g_return_val_if_fail (MS_IS_MESSAGE_BUILDER (self), NULL);
  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!merge_row (self, values, FALSE, &row, error))
    return NULL;

  out = g_string_sized_new (self->layout->len + (row.text ? row.text->len * 3 / 2 : 0)
                            + (row.html ? row.html->len * 3 / 2 : 0) + 512);
  pieces = (const Piece *) (gpointer) self->pieces->data;
  for (guint i = 0; i < self->pieces->len; i++)
    {
      const Piece *p = &pieces[i];

      switch (p->kind)
        {
        case PIECE_CONST:
          g_string_append_len (out, self->layout->str + p->offset, p->len);
          break;

        case PIECE_DATE:
          append_crlf (out, row.date_line, strlen (row.date_line));
          break;

        case PIECE_SUBJECT:
          {
            g_autofree char *value = trim_dup (row.subject->str);
            gsize len;

            if (is_plain_subject (value, &len))
              {
                g_string_append_len (out, "Subject: ", 9);
                g_string_append_len (out, value, len);
                g_string_append_len (out, "\r\n", 2);
              }
            else
              {
                g_autofree char *raw = g_mime_header_format_default (self->subject_header, self->format,
                                                                      value, "utf-8");
                g_string_append (out, "Subject:");
                append_crlf (out, raw, strlen (raw));
              }
          }
          break;

        case PIECE_TO:
          {
            const char *name = row.merged.to_name;
            const char *addr = row.merged.to_address;
            InternetAddressList *list;
            GString *to;

            if (is_plain_address (addr)
                && (name == NULL || is_plain_phrase (name))
                && 4 + strlen (addr) + (name ? strlen (name) + 3 : 0) <= FAST_LINE_MAX)
              {
                g_string_append_len (out, "To: ", 4);
                if (name)
                  {
                    g_string_append (out, name);
                    g_string_append_len (out, " <", 2);
                    g_string_append (out, addr);
                    g_string_append_c (out, '>');
                  }
                else
                  g_string_append (out, addr);
                g_string_append_len (out, "\r\n", 2);
                break;
              }

            /* The encoder folds by the length of what is already in the
             * string: give it the header line alone, as GMime's sync does. */
            list = internet_address_list_new ();
            to = g_string_sized_new (128);
            add_mailbox (list, name, addr);
            g_string_append (to, "To: ");
            internet_address_list_encode (list, NULL, to);
            g_object_unref (list);
            /* The encoder writes LF; GMime's header writer filters it to CRLF. */
            append_crlf (out, to->str, to->len);
            g_string_free (to, TRUE);
          }
          break;

        case PIECE_MSGID:
          g_string_append (out, "Message-Id: <");
          g_string_append (out, row.message_id);
          g_string_append (out, ">\r\n");
          break;

        case PIECE_TEXT:
          if (self->text_const)
            g_string_append (out, self->text_const);
          else
            append_encoded_part (out, row.text->str, row.text->len);
          break;

        case PIECE_HTML:
          if (self->html_const)
            g_string_append (out, self->html_const);
          else
            append_encoded_part (out, row.html->str, row.html->len);
          break;

        default:
          g_assert_not_reached ();
        }
    }

  if (message_id)
    *message_id = g_steal_pointer (&row.message_id);
  return g_string_free_to_bytes (out);
}

GBytes *
ms_message_builder_render_slow (MsMessageBuilder *self,
                                const char * const *values,
                                char            **message_id,
                                GError          **error)
{
  g_auto(Row) row = { 0, };
  GMimeMessage *message;
  GByteArray *bytes;
  Layout layout;

  g_return_val_if_fail (MS_IS_MESSAGE_BUILDER (self), NULL);
  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!merge_row (self, values, TRUE, &row, error))
    return NULL;

  layout_from_builder (self, &layout);
  message = build_message (&layout, &row.merged, FALSE);
  bytes = serialise (message, self->format);
  g_object_unref (message);

  if (message_id)
    *message_id = g_steal_pointer (&row.message_id);
  return g_byte_array_free_to_bytes (bytes);
}

/**
 * ms_message_build_simple:
 * @from_address: the sender
 * @from_name: (nullable): the sender's display name
 * @to: the recipient
 * @subject: the subject, as is (no template)
 * @text: the text body, as is (no template)
 * @message_id: (out) (optional) (transfer full): the Message-ID, without <>
 *
 * A one-off text message (the test e-mail), built in full by GMime.
 *
 * Returns: (transfer full): the message in CRLF.
 */
GBytes *
ms_message_build_simple (const char  *from_address,
                         const char  *from_name,
                         const char  *to,
                         const char  *subject,
                         const char  *text,
                         char       **message_id,
                         GError     **error)
{
  g_autofree char *safe_subject = NULL;
  g_autofree char *safe_name = NULL;
  g_autofree char *id = NULL;
  g_autofree char *date = NULL;
  g_autoptr(GString) body = NULL;
  GMimeFormatOptions *format;
  GMimeMessage *message;
  GByteArray *bytes;
  Layout layout = { 0, };
  Merged m = { 0, };

  g_return_val_if_fail (from_address != NULL, NULL);
  g_return_val_if_fail (to != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (strpbrk (to, "\r\n") || strpbrk (from_address, "\r\n"))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("An address contains a line break. Correct the address."));
      return NULL;
    }

  safe_subject = header_safe (subject ? subject : "");
  safe_name = from_name && *from_name ? header_safe (from_name) : NULL;
  body = g_string_new (text ? text : "");
  normalise_body (body);
  id = ms_message_make_id (from_address);
  date = format_date (g_get_real_time () / G_USEC_PER_SEC, TRUE);

  layout.from_address = from_address;
  layout.from_name = safe_name && *safe_name ? safe_name : NULL;
  m.to_address = to;
  m.subject = safe_subject;
  m.text = body->str;
  m.text_len = body->len;
  m.date = date;
  m.message_id = id;

  format = format_options_new ();
  message = build_message (&layout, &m, FALSE);
  bytes = serialise (message, format);
  g_object_unref (message);
  g_mime_format_options_free (format);

  if (message_id)
    *message_id = g_steal_pointer (&id);
  return g_byte_array_free_to_bytes (bytes);
}

/* ------------------------------------------------------------------ reading back */

void
ms_message_parts_free (MsMessageParts *parts)
{
  if (parts == NULL)
    return;
  g_free (parts->from);
  g_free (parts->to);
  g_free (parts->subject);
  g_free (parts->text);
  g_free (parts->html);
  g_strfreev (parts->attachments);
  g_free (parts);
}

/* The wire's CRLF back to the LF a text view expects. */
static char *
to_lf (char *text)
{
  g_auto(GStrv) lines = NULL;

  if (text == NULL || strchr (text, '\r') == NULL)
    return text;
  lines = g_strsplit (text, "\r\n", -1);
  g_free (text);
  return g_strjoinv ("\n", lines);
}

static void
collect_part (GMimeObject *parent,
              GMimeObject *part,
              gpointer     user_data)
{
  MsMessageParts *parts = ((gpointer *) user_data)[0];
  GStrvBuilder *attachments = ((gpointer *) user_data)[1];

  if (!GMIME_IS_PART (part))
    return;
  if (g_mime_part_is_attachment (GMIME_PART (part)))
    {
      const char *name = g_mime_part_get_filename (GMIME_PART (part));

      g_strv_builder_add (attachments, name != NULL ? name : "");
      return;
    }
  if (!GMIME_IS_TEXT_PART (part))
    return;
  if (parts->text == NULL && g_mime_content_type_is_type (g_mime_object_get_content_type (part), "text", "plain"))
    parts->text = to_lf (g_mime_text_part_get_text (GMIME_TEXT_PART (part)));
  else if (parts->html == NULL && g_mime_content_type_is_type (g_mime_object_get_content_type (part), "text", "html"))
    parts->html = to_lf (g_mime_text_part_get_text (GMIME_TEXT_PART (part)));
}

/**
 * ms_message_parts_parse:
 * @message: a message as ms_message_builder_render() gives it
 *
 * Reads a message back as its recipient's mail program shows it: the
 * decoded From, To and Subject, the text and HTML bodies (UTF-8), and the
 * attachments' file names. For the preview per recipient: what it shows is
 * the very bytes that are sent, not a second merge.
 *
 * Returns: (transfer full): the parts, or %NULL with %MS_ERROR_INVALID_INPUT
 */
MsMessageParts *
ms_message_parts_parse (GBytes  *message,
                        GError **error)
{
  g_autoptr(GObject) stream = NULL;     /* GMime 3.2 has no autoptr cleanups of its own */
  g_autoptr(GObject) parser = NULL;
  g_autoptr(GObject) mime_object = NULL;
  GMimeMessage *mime;
  g_autoptr(GStrvBuilder) attachments = g_strv_builder_new ();
  MsMessageParts *parts;
  gsize size;
  const guint8 *data;
  const char *subject;
  gpointer walk[2];

  g_return_val_if_fail (message != NULL, NULL);

  data = g_bytes_get_data (message, &size);
  stream = G_OBJECT (g_mime_stream_mem_new_with_buffer ((const char *) data, size));
  parser = G_OBJECT (g_mime_parser_new_with_stream (GMIME_STREAM (stream)));
  mime = g_mime_parser_construct_message (GMIME_PARSER (parser), NULL);
  mime_object = G_OBJECT (mime);
  if (mime == NULL)
    {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_INVALID_INPUT, _("The message could not be read back."));
      return NULL;
    }

  parts = g_new0 (MsMessageParts, 1);
  parts->from = internet_address_list_to_string (g_mime_message_get_from (mime), NULL, FALSE);
  parts->to = internet_address_list_to_string (g_mime_message_get_to (mime), NULL, FALSE);
  subject = g_mime_message_get_subject (mime);
  parts->subject = g_strdup (subject != NULL ? subject : "");
  walk[0] = parts;
  walk[1] = attachments;
  g_mime_message_foreach (mime, collect_part, walk);
  parts->attachments = g_strv_builder_end (attachments);
  if (parts->text == NULL)
    parts->text = g_strdup ("");
  return parts;
}
