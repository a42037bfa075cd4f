#pragma once
/// \file
/// Reading a data file whole, gzip-compressed (.gz) or raw, with a bound on the bytes it may
/// produce; shared by the IDX and CIFAR-10 readers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace bnl::data
