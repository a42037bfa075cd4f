#pragma once
/// \file
/// Fashion-MNIST / MNIST IDX reader for gzip-compressed (.gz) and uncompressed files.
/// libtorch's MNIST dataset opens fixed uncompressed names only; Debian ships .gz files.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/data/gzip_file.h"
#include "bnlandscape/data/image_set.h"

namespace bnl::data {

/// Parses an IDX image file (magic 2051, big-endian dims n x rows x cols) and an IDX label
/// file (magic 2049, n) held in memory. Checks magic numbers, exact sizes, equal counts and
/// labels < 10. `images_name`/`labels_name` only appear in error messages.
/// Result: channels = 1, height = rows, width = cols.
ImageSet parse_idx(const std::vector<std::uint8_t>& images, const std::string& images_name,
                   const std::vector<std::uint8_t>& labels, const std::string& labels_name);

/// Reads an IDX image/label file pair from disk (either may be .gz).
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

}  // namespace bnl::data
