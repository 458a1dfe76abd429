/* linalg.c -- LAPACK wrappers (linalg.h). */
#include "kernels/linalg.h"

#include <stdlib.h>

/* LAPACK, column-major: for a symmetric matrix row-major and column-major views agree, and
 * the eigenvectors LAPACK writes as columns are rows of the row-major view. */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
            double *w, double *work, const int *lwork, int *info);

sn_status sn_eig_sym(sn_ctx *ctx, double *a, int d, double *w, int vectors, const char *what) {
    const char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int lwork = -1, info = 0;
    double q = 0;
    dsyev_(&jobz, &uplo, &d, a, &d, w, &q, &lwork, &info);
    if (info != 0)
        return sn_errf(ctx, SN_ERR_NUMERIC, "%s: dsyev workspace query failed (%d)", what, info);
    lwork = (int)q > 3 * d ? (int)q : 3 * d;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    if (!work) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory (eigensolver, d = %d)", what, d);
    dsyev_(&jobz, &uplo, &d, a, &d, w, work, &lwork, &info);
    free(work);
    if (info != 0)
        return sn_errf(ctx, SN_ERR_NUMERIC, "%s: the symmetric eigensolver did not converge "
                       "(dsyev info %d, d = %d)", what, info, d);
    return SN_OK;
}
