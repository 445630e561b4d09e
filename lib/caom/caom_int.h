/* caom_int.h - private helpers shared by the lib/caom sources (not part of the public API).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CAOM_CAOM_INT_H
#define OBSFLOW_CAOM_CAOM_INT_H

#include "caom/caom.h"

/** Shortest decimal text that reads back as exactly @p v. */
void caom_fmt_double(double v, char out[40]);
/* The general (snprintf/strtod) formatter caom_fmt_double falls back to; tests compare the two. */
void caom__fmt_double_slow(double v, char out[40]);

/* metaChecksum digests, optionally leaving the entity UUID out (state-only comparison). */
void caom_meta_digest_observation(const struct caom_observation *o, bool with_id, uint8_t out[16]);
void caom_meta_digest_plane(const struct caom_plane *p, bool with_id, uint8_t out[16]);
void caom_meta_digest_artifact(const struct caom_artifact *a, bool with_id, uint8_t out[16]);
void caom_meta_digest_part(const struct caom_part *p, bool with_id, uint8_t out[16]);
void caom_meta_digest_chunk(const struct caom_chunk *c, bool with_id, uint8_t out[16]);

/* Deep copies (same UUIDs); NULL when out of memory. */
NODISCARD struct caom_plane *caom_plane_copy(const struct caom_plane *s);
NODISCARD struct caom_artifact *caom_artifact_copy(const struct caom_artifact *s);
NODISCARD struct caom_part *caom_part_copy(const struct caom_part *s);
NODISCARD struct caom_chunk *caom_chunk_copy(const struct caom_chunk *s);

/* Copies of plane computed metadata into *d (NULL source gives NULL); false when out of memory. */
NODISCARD bool caom_position_copy(struct caom_position **d, const struct caom_position *s);
NODISCARD bool caom_energy_copy(struct caom_energy **d, const struct caom_energy *s);
NODISCARD bool caom_time_copy(struct caom_time **d, const struct caom_time *s);
NODISCARD bool caom_polarization_copy(struct caom_polarization **d, const struct caom_polarization *s);
NODISCARD bool caom_custom_axis_copy(struct caom_custom_axis **d, const struct caom_custom_axis *s);

/* Replace d's own state by a copy of s's, keeping d's entity attributes and children
 * (caom_plane_take_state copies computed metadata only when @p computed). False: NOMEM,
 * d unchanged. */
NODISCARD bool caom_observation_take_state(struct caom_observation *d, const struct caom_observation *s);
NODISCARD bool caom_plane_take_state(struct caom_plane *d, const struct caom_plane *s, bool computed);
NODISCARD bool caom_artifact_take_state(struct caom_artifact *d, const struct caom_artifact *s);
NODISCARD bool caom_part_take_state(struct caom_part *d, const struct caom_part *s);
NODISCARD bool caom_chunk_take_state(struct caom_chunk *d, const struct caom_chunk *s);

/* The CAOM-2.4 XSD embedded at build time (caom_xsd_gen.c, written by embed_xsd.cmake):
 * caom__xsd_24_len bytes, followed by a NUL that the length leaves out. */
extern const unsigned char caom__xsd_24[];
extern const size_t caom__xsd_24_len;

/* libxml2's one-time set-up (under pthread_once: xmlInitParser, the schema type tables) and
 * the calling thread's generic error handler silenced; call before any libxml2 use. */
void caom__xml_quiet(void);

#endif
