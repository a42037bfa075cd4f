#pragma once
/// \file
/// Fashion-MNIST / MNIST IDX reader for gzip-compressed (.gz) and uncompressed files.
/// libtorch's MNIST dataset opens fixed uncompressed names only; Debian ships .gz files.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/data/image_set.h"

namespace bnl::data {

/// Reads a whole file; a name ending in ".gz" must be a valid gzip stream (a non-gzip file
/// with that name, a truncated stream or a CRC error is a DataError), any other name is read
/// raw. `max_bytes` bounds the decompressed size so a hostile header cannot exhaust memory.
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path,
                                          std::size_t max_bytes = std::size_t(1) << 31);

/// Decompresses a complete gzip stream held in memory (RFC 1952; concatenated members are
/// joined as gzip(1) does). A missing gzip magic, a truncated stream, corrupt deflate data, a
/// CRC-32 or length mismatch, bytes after the last member, or more than `max_bytes` of output
/// is a DataError. `name` only appears in error messages.
std::vector<std::uint8_t> gunzip(const std::uint8_t* data, std::size_t size,
                                 const std::string& name,
                                 std::size_t max_bytes = std::size_t(1) << 31);

/// Parses an IDX image file (magic 2051, big-endian dims n x rows x cols) and an IDX label
/// file (magic 2049, n) held in memory. Checks magic numbers, exact sizes, equal counts and
/// labels < 10. `images_name`/`labels_name` only appear in error messages.
/// Result: channels = 1, height = rows, width = cols.
ImageSet parse_idx(const std::vector<std::uint8_t>& images, const std::string& images_name,
                   const std::vector<std::uint8_t>& labels, const std::string& labels_name);

/// Reads an IDX image/label file pair from disk (either may be .gz).
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

}  // namespace bnl::data
