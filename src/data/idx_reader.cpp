// IDX (MNIST / Fashion-MNIST) reader. Only the standard library (and the zlib-based file
// helper): this file is also built into libFuzzer harnesses.

#include "bnlandscape/data/idx_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bnlandscape/data/gzip_file.h"

namespace bnl::data {
namespace {

constexpr std::uint32_t kIdxImageMagic = 2051;  // 0x00000803: unsigned bytes, 3 dimensions
constexpr std::uint32_t kIdxLabelMagic = 2049;  // 0x00000801: unsigned bytes, 1 dimension
constexpr std::uint32_t kMaxSide = 4096;
constexpr unsigned kNumClasses = 10;

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         std::uint32_t(p[3]);
}

}  // namespace

ImageSet parse_idx(const std::vector<std::uint8_t>& images, const std::string& images_name,
                   const std::vector<std::uint8_t>& labels, const std::string& labels_name) {
  // The magic goes first: a swapped label file is then named as such, not as a short header.
  if (images.size() >= 4 && be32(images.data()) != kIdxImageMagic) {
    const std::uint32_t magic = be32(images.data());
    throw DataError(images_name + ": expected magic " + std::to_string(kIdxImageMagic) +
                    " (IDX image file), got " + std::to_string(magic) +
                    (magic == kIdxLabelMagic ? " (an IDX label file)" : ""));
  }
  if (images.size() < 16) {
    throw DataError(images_name + ": expected an IDX image header of 16 bytes, found " +
                    std::to_string(images.size()) + " bytes");
  }
  const std::uint32_t n = be32(images.data() + 4);
  const std::uint32_t rows = be32(images.data() + 8);
  const std::uint32_t cols = be32(images.data() + 12);
  if (rows == 0 || cols == 0 || rows > kMaxSide || cols > kMaxSide) {
    throw DataError(images_name + ": expected image size between 1x1 and " +
                    std::to_string(kMaxSide) + "x" + std::to_string(kMaxSide) + ", got " +
                    std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (n == 0) {
    throw DataError(images_name + ": expected at least one image, header says 0");
  }
  // n < 2^32 and rows * cols <= 2^24, so the product fits in 64 bits.
  const std::uint64_t pixel_bytes = std::uint64_t(n) * rows * cols;
  const std::uint64_t image_payload = images.size() - 16;
  if (image_payload != pixel_bytes) {
    throw DataError(images_name + ": expected 16 + " + std::to_string(n) + "*" +
                    std::to_string(rows) + "*" + std::to_string(cols) + " = " +
                    std::to_string(pixel_bytes + 16) + " bytes, found " +
                    std::to_string(images.size()) +
                    (image_payload < pixel_bytes ? " (truncated)" : " (trailing bytes)"));
  }

  if (labels.size() >= 4 && be32(labels.data()) != kIdxLabelMagic) {
    const std::uint32_t magic = be32(labels.data());
    throw DataError(labels_name + ": expected magic " + std::to_string(kIdxLabelMagic) +
                    " (IDX label file), got " + std::to_string(magic) +
                    (magic == kIdxImageMagic ? " (an IDX image file)" : ""));
  }
  if (labels.size() < 8) {
    throw DataError(labels_name + ": expected an IDX label header of 8 bytes, found " +
                    std::to_string(labels.size()) + " bytes");
  }
  const std::uint32_t label_count = be32(labels.data() + 4);
  const std::uint64_t label_payload = labels.size() - 8;
  if (label_payload != label_count) {
    throw DataError(labels_name + ": expected 8 + " + std::to_string(label_count) + " = " +
                    std::to_string(std::uint64_t(label_count) + 8) + " bytes, found " +
                    std::to_string(labels.size()) +
                    (label_payload < label_count ? " (truncated)" : " (trailing bytes)"));
  }
  if (label_count != n) {
    throw DataError(labels_name + ": expected " + std::to_string(n) + " labels (one per image of " +
                    images_name + "), got " + std::to_string(label_count));
  }
  for (std::size_t i = 8; i < labels.size(); ++i) {
    if (labels[i] >= kNumClasses) {
      throw DataError(labels_name + ": expected labels below " + std::to_string(kNumClasses) +
                      ", got " + std::to_string(labels[i]) + " for example " +
                      std::to_string(i - 8));
    }
  }

  ImageSet set;
  set.n = n;
  set.channels = 1;
  set.height = rows;
  set.width = cols;
  set.pixels.assign(images.begin() + 16, images.end());
  set.labels.assign(labels.begin() + 8, labels.end());
  return set;
}

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  const std::vector<std::uint8_t> images = read_maybe_gzip(images_path);
  const std::vector<std::uint8_t> labels = read_maybe_gzip(labels_path);
  return parse_idx(images, images_path, labels, labels_path);
}

}  // namespace bnl::data
