// Whole-file reading, gunzipped when the name ends in ".gz", shared by the data readers.
// Only the standard library and zlib: this file is also built into libFuzzer harnesses.

#include "bnlandscape/data/gzip_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bnlandscape/data/image_set.h"

namespace bnl::data {
namespace {

constexpr std::size_t kChunk = std::size_t(1) << 20;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

struct InflateEnd {
  void operator()(z_stream* s) const { inflateEnd(s); }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string hex_byte(std::uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {kDigits[b >> 4], kDigits[b & 15]};
}

std::size_t saturating_add(std::size_t a, std::size_t b) {
  return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                          : a + b;
}

// Reads at most `limit` bytes; one more byte than the limit is attempted so that an oversized
// file is reported instead of silently cut. The buffer grows with what was actually read, never
// with what a file claims.
std::vector<std::uint8_t> read_file_bounded(const std::string& path, std::size_t limit) {
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    throw DataError(path + ": cannot open file (" + std::strerror(errno) + ")");
  }
  std::vector<std::uint8_t> out;
  for (;;) {
    const std::size_t have = out.size();
    const std::size_t room = limit - have;  // have <= limit holds here
    const std::size_t want = room < kChunk ? room + 1 : kChunk;
    out.resize(have + want);
    errno = 0;
    const std::size_t got = std::fread(out.data() + have, 1, want, f.get());
    out.resize(have + got);
    if (got < want) {
      if (std::ferror(f.get())) {
        throw DataError(path + ": read error after " + std::to_string(out.size()) + " bytes (" +
                        std::strerror(errno) + ")");
      }
      break;
    }
    if (out.size() > limit) {
      throw DataError(path + ": expected at most " + std::to_string(limit) +
                      " bytes, the file is larger");
    }
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> gunzip(const std::uint8_t* data, std::size_t size,
                                 const std::string& name, std::size_t max_bytes) {
  // zlib with 16 + MAX_WBITS accepts gzip only, but its "incorrect header check" does not
  // tell a user that the file is simply not gzip, so the magic is checked here first.
  if (size == 0) {
    throw DataError(name + ": expected a gzip stream, found an empty file");
  }
  if (data[0] != 0x1f || (size >= 2 && data[1] != 0x8b)) {
    throw DataError(name + ": not a gzip file (expected magic bytes 1f 8b, found " +
                    hex_byte(data[0]) + (size >= 2 ? " " + hex_byte(data[1]) : "") + ")");
  }

  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    throw DataError(name + ": cannot initialise zlib inflate");
  }
  const std::unique_ptr<z_stream, InflateEnd> guard(&zs);

  std::vector<std::uint8_t> out;
  std::size_t produced = 0;
  std::size_t pos = 0;  // compressed bytes consumed so far
  for (;;) {
    bool member_done = false;
    while (!member_done) {
      if (zs.avail_in == 0 && pos < size) {
        // avail_in is 32-bit; large inputs are fed in slices.
        const std::size_t slice = std::min<std::size_t>(size - pos, std::size_t(1) << 30);
        zs.next_in = const_cast<Bytef*>(data + pos);
        zs.avail_in = static_cast<uInt>(slice);
        pos += slice;
      }
      // The buffer grows with the output actually produced, never beyond max_bytes: once it
      // is full, one byte of scratch space tells whether the stream holds more. (Growing it to
      // max_bytes + 1 for that made std::vector double its capacity: twice the limit.)
      if (produced == out.size() && out.size() < max_bytes) {
        const std::size_t grown = std::max<std::size_t>(out.size() * 2, std::size_t(1) << 16);
        out.resize(std::min(grown, max_bytes));
      }
      const bool full = produced == out.size();
      std::uint8_t probe = 0;
      const std::size_t room = full ? 1 : std::min<std::size_t>(out.size() - produced, UINT_MAX);
      zs.next_out = full ? &probe : out.data() + produced;
      zs.avail_out = static_cast<uInt>(room);
      const int ret = inflate(&zs, Z_NO_FLUSH);
      if (full && zs.avail_out == 0) {
        throw DataError(name + ": expected at most " + std::to_string(max_bytes) +
                        " decompressed bytes, the stream holds more");
      }
      produced += room - zs.avail_out;
      const std::size_t consumed = pos - zs.avail_in;
      switch (ret) {
        case Z_STREAM_END:
          member_done = true;
          break;
        case Z_OK:
        case Z_BUF_ERROR:
          if (zs.avail_in == 0 && pos == size && zs.avail_out != 0) {
            throw DataError(name + ": truncated gzip stream (unexpected end of file) after " +
                            std::to_string(size) + " bytes (" + std::to_string(produced) +
                            " bytes decompressed)");
          }
          break;
        case Z_MEM_ERROR:
          throw DataError(name + ": out of memory while decompressing");
        default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
          throw DataError(name + ": corrupt gzip stream (" +
                          (zs.msg != nullptr ? std::string(zs.msg) : "invalid data") +
                          ") at compressed byte " + std::to_string(consumed));
      }
    }
    const std::size_t consumed = pos - zs.avail_in;
    if (consumed == size) break;
    // gzip(1) joins concatenated members; anything else after a member is not ours to ignore.
    const std::size_t rest = size - consumed;
    if (rest < 2 || data[consumed] != 0x1f || data[consumed + 1] != 0x8b) {
      throw DataError(name + ": expected end of file after the gzip stream at byte " +
                      std::to_string(consumed) + ", found " + std::to_string(rest) +
                      " trailing bytes");
    }
    if (inflateReset(&zs) != Z_OK) {
      throw DataError(name + ": cannot reset zlib inflate");
    }
  }
  out.resize(produced);
  return out;
}

std::vector<std::uint8_t> read_maybe_gzip(const std::string& path, std::size_t max_bytes) {
  if (!ends_with(path, ".gz")) {
    return read_file_bounded(path, max_bytes);
  }
  // Deflate expands incompressible data by at most 5 bytes per 16 KiB block plus headers, so
  // a compressed file much larger than the output bound cannot be valid.
  const std::size_t compressed_limit = saturating_add(max_bytes, max_bytes / 64 + 4096);
  const std::vector<std::uint8_t> compressed = read_file_bounded(path, compressed_limit);
  return gunzip(compressed.data(), compressed.size(), path, max_bytes);
}

}  // namespace bnl::data
