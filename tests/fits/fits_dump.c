/* fits_dump.c - test helper: print every valued card of every HDU of the files given, as
 * "hdu<TAB>key<TAB>type<TAB>value" lines, for comparison with astropy (check_astropy.py).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "fits/fits.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct fhdr_file *f = NULL;
        struct err_info ei;
        if (fhdr_file_open(argv[i], &f, &ei) != ERR_OK) {
            fprintf(stderr, "fits_dump: %s\n", ei.msg);
            return 1;
        }
        printf("FILE\t%s\t%zu\n", argv[i], fhdr_file_hdu_count(f));
        for (size_t h = 0; h < fhdr_file_hdu_count(f); h++) {
            const struct fhdr_hdu *hdu = fhdr_file_hdu(f, h);
            for (size_t c = 0; c < hdu->ncards; c++) {
                const struct fhdr_card *card = &hdu->cards[c];
                if (card->type != FHDR_NONE) {
                    printf("%zu\t%s\t%d\t%s\n", h, card->key, (int)card->type,
                           fhdr_card_value(card));
                }
            }
        }
        fhdr_file_destroy(f);
    }
    return 0;
}
