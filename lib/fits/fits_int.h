/* fits_int.h - internals shared by the lib/fits header sources; include only from lib/fits.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_FITS_FITS_INT_H
#define OBSFLOW_FITS_FITS_INT_H

#include "fits/fits.h"

struct fhdr_file {
    char name[FHDR_NAME_MAX]; /* file name for messages */
    struct fhdr_hdu *hdus;    /* owned array */
    size_t nhdus;             /* used */
    size_t caphdus;           /* allocated */
    size_t *capcards;         /* allocated cards per HDU */
    size_t ncards;            /* cards in all HDUs (cap FHDR_MAX_FILE_CARDS) */
};

/* Initialise cfitsio once, before any fits_open_* / fits_create_* of this module: cfitsio
 * initialises its global lock and driver table lazily on first use, which is a data race when
 * the first uses happen in two threads at once (found by ThreadSanitizer: two ingest workers
 * opening their first files). A pthread_once around one throw-away memory file. */
void fits__cfitsio_init(void);

/* first card allocation of an HDU read from text, at most (grows by doubling after) */
#define FHDR_FIRST_CARDS 1024

/* Allocate an empty file named @p name. */
NODISCARD enum err fhdr__file_new(const char *name, struct fhdr_file **out);
/* Append an empty HDU (cap FHDR_MAX_HDUS). */
NODISCARD enum err fhdr__file_add_hdu(struct fhdr_file *f, struct err_info *ei);
/* Append a card to the last HDU (cap FHDR_MAX_CARDS). */
NODISCARD enum err fhdr__hdu_push(struct fhdr_file *f, const struct fhdr_card *c,
                                  struct err_info *ei);
/* Build the keyword lookup index of every HDU of @p f (call after the cards are final). */
NODISCARD enum err fhdr__build_index(struct fhdr_file *f, struct err_info *ei);
/* Join long strings continued on CONTINUE cards, in every HDU of @p f. */
NODISCARD enum err fhdr__join_continue(struct fhdr_file *f, struct err_info *ei);
/* Read every HDU header of @p path with cfitsio; @p name is used in messages. */
NODISCARD enum err fhdr__open_cfitsio(const char *path, const char *name, struct fhdr_file **out,
                                      struct err_info *ei);

#endif
