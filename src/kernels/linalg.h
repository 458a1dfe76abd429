/* linalg.h -- small dense linear algebra through LAPACK (OpenBLAS ships it). */
#ifndef SN_LINALG_H
#define SN_LINALG_H

#include "core/core.h"

/* Symmetric eigendecomposition of a (d,d), row-major (LAPACK dsyev on its upper triangle in
 * column-major terms, i.e. the LOWER triangle of the row-major view: fill the whole matrix).
 * w (d): eigenvalues in ascending order. vectors: on return row k of a is the unit
 * eigenvector of w[k]; else a is destroyed. `what` names the caller in error messages
 * ("setdist", "whiten"). SN_ERR_NUMERIC when the solver does not converge. */
sn_status sn_eig_sym(sn_ctx *ctx, double *a, int d, double *w, int vectors, const char *what);

#endif
