// libFuzzer harness: the IDX reader (parse_idx) behind raw, gzip-in-memory (gunzip) and on-disk
// (read_maybe_gzip, ".gz" or raw name) inputs.
//
// Input layout (fuzz/make_corpus.py writes seeds in it):
//   byte 0      flags: bits 0-1 how the image part reaches parse_idx, bits 2-3 the same for the
//               label part (0 raw bytes, 1 the bytes are a gzip stream for gunzip, 2 the harness
//               gzips the bytes itself and gunzip must give them back, 3 the bytes are written
//               to a scratch file and read with read_maybe_gzip); bit 4 / bit 5: that scratch
//               file's name ends in ".gz" (images / labels); bit 6: a small decompression limit
//               (4096 bytes) instead of the default 2 GiB.
//   bytes 1-4   little-endian length of the image part (clamped to what is there)
//   then        the image part, then the label part (the rest)
// Only DataError may come out; its message must be one line starting with the file's name.
// A successful parse must satisfy ImageSet's invariants.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bnlandscape/data/idx_reader.h"
#include "fuzz_util.h"

namespace {

using bnl::data::DataError;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kSmallLimit = 4096;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

void check_message(const DataError& e, const std::string& name) {
  const std::string msg = e.what();
  FUZZ_CHECK(starts_with(msg, name + ": "));
  FUZZ_CHECK(msg.find('\n') == std::string::npos);
}

Bytes gzip_bytes(const Bytes& in, int level) {
  z_stream zs{};
  FUZZ_CHECK(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Turns one part of the input into the bytes parse_idx sees; false when that step refused the
// input (with a well-formed DataError).
bool decode(unsigned mode, bool gz_name, std::size_t limit, const Bytes& part,
            const std::string& name, Bytes& out) {
  try {
    switch (mode) {
      case 0:
        out = part;
        return true;
      case 1:
        out = bnl::data::gunzip(part.data(), part.size(), name, limit);
        FUZZ_CHECK(out.size() <= limit);
        return true;
      case 2: {
        const Bytes gz = gzip_bytes(part, static_cast<int>(part.size() % 10));
        out = bnl::data::gunzip(gz.data(), gz.size(), name, limit);
        FUZZ_CHECK(out == part);  // only a too-small limit may refuse a valid stream
        return true;
      }
      default: {
        const std::string path = bnl::fuzz::scratch_file(gz_name ? name + ".gz" : name);
        bnl::fuzz::write_file(path, part.data(), part.size());
        try {
          out = bnl::data::read_maybe_gzip(path, limit);
        } catch (const DataError& e) {
          check_message(e, path);
          return false;
        }
        FUZZ_CHECK(out.size() <= limit);
        if (!gz_name) FUZZ_CHECK(out == part);
        return true;
      }
    }
  } catch (const DataError& e) {
    check_message(e, name);
    if (mode == 2) FUZZ_CHECK(part.size() > limit);
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  const unsigned flags = data[0];
  std::uint32_t split = 0;
  std::memcpy(&split, data + 1, 4);  // the seeds are written little-endian; so is x86-64
  const std::uint8_t* body = data + 5;
  const std::size_t body_size = size - 5;
  const std::size_t image_len = split < body_size ? split : body_size;
  const Bytes image_part(body, body + image_len);
  const Bytes label_part(body + image_len, body + body_size);
  const std::size_t limit = (flags & 64) != 0 ? kSmallLimit : std::size_t(1) << 31;

  Bytes images, labels;
  if (!decode(flags & 3, (flags & 16) != 0, limit, image_part, "images", images)) return 0;
  if (!decode((flags >> 2) & 3, (flags & 32) != 0, limit, label_part, "labels", labels)) return 0;

  try {
    const bnl::data::ImageSet set = bnl::data::parse_idx(images, "images", labels, "labels");
    FUZZ_CHECK(set.n >= 1 && set.channels == 1 && set.height >= 1 && set.width >= 1);
    FUZZ_CHECK(set.pixels.size() == static_cast<std::size_t>(set.n * set.image_size()));
    FUZZ_CHECK(set.labels.size() == static_cast<std::size_t>(set.n));
    FUZZ_CHECK(images.size() == 16 + set.pixels.size());
    for (const std::uint8_t l : set.labels) FUZZ_CHECK(l < 10);
  } catch (const DataError& e) {
    const std::string msg = e.what();
    FUZZ_CHECK(starts_with(msg, "images: ") || starts_with(msg, "labels: "));
    FUZZ_CHECK(msg.find('\n') == std::string::npos);
  }
  return 0;
}
