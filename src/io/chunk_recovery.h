#pragma once
/// \file
/// Damaged-chunk recovery (src/io's own): how many leading rows of a series dataset still read
/// back, for files written before commits were atomic and killed during a flush.

#include <H5Cpp.h>

namespace bnl::io::detail {

/// Rows of a series dataset that read back: all `rows`, or those before its first chunk that
/// does not (every chunk in the range passes through its filters, which is where a torn chunk
/// shows).
hsize_t readable_rows(const H5::DataSet& ds, hsize_t rows);

}  // namespace bnl::io::detail
