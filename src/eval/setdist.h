/*
 * setdist.h -- distances between two sets of embeddings (setdist.c). Public: the
 * declarations, formulas, costs and errors are in include/simnet_io.h (sn_setdist_frechet,
 * sn_setdist_mmd); this header only names the module for the library and its tests.
 */
#ifndef SN_EVAL_SETDIST_H
#define SN_EVAL_SETDIST_H

#include "simnet_io.h"

#endif
