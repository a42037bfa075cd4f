// IDX and gzip reading: value round trips and every way a file can be wrong.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bnlandscape/data/idx_reader.h"
#include "common/temp_dir.h"
#include "data/data_test_util.h"

namespace bnl::data {
namespace {

using testing::Bytes;
using testing::data_error;
using testing::put_be32;
using testing::read_file;
using testing::write_file;
using testing::write_gz;

using TempDir = bnl_test::TempDir;

// Pixel values encode (image, row, col) and the image's label, so any reordering or
// mispairing shows up in the values.
std::uint8_t pixel_value(std::uint32_t i, std::uint32_t r, std::uint32_t c) {
  return static_cast<std::uint8_t>((i * 37 + r * 5 + c * 3 + (i * 7 % 10) * 11) % 256);
}
std::uint8_t label_value(std::uint32_t i) { return static_cast<std::uint8_t>(i * 7 % 10); }

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  Bytes b;
  put_be32(b, 2051);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (std::uint32_t i = 0; i < n; ++i) {
    for (std::uint32_t r = 0; r < rows; ++r) {
      for (std::uint32_t c = 0; c < cols; ++c) b.push_back(pixel_value(i, r, c));
    }
  }
  return b;
}

Bytes idx_labels(std::uint32_t n) {
  Bytes b;
  put_be32(b, 2049);
  put_be32(b, n);
  for (std::uint32_t i = 0; i < n; ++i) b.push_back(label_value(i));
  return b;
}

void expect_values(const ImageSet& set, std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  ASSERT_EQ(set.n, n);
  ASSERT_EQ(set.channels, 1);
  ASSERT_EQ(set.height, rows);
  ASSERT_EQ(set.width, cols);
  ASSERT_EQ(set.image_size(), rows * cols);
  ASSERT_EQ(set.pixels.size(), std::size_t(n) * rows * cols);
  ASSERT_EQ(set.labels.size(), n);
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(set.labels[i], label_value(i)) << i;
    for (std::uint32_t r = 0; r < rows; ++r) {
      for (std::uint32_t c = 0; c < cols; ++c) {
        ASSERT_EQ(set.pixels[(std::size_t(i) * rows + r) * cols + c], pixel_value(i, r, c))
            << i << " " << r << " " << c;
      }
    }
  }
}

TEST(IdxReader, ParsesImagesAndLabelsInMemory) {
  const ImageSet set = parse_idx(idx_images(7, 3, 5), "img", idx_labels(7), "lbl");
  expect_values(set, 7, 3, 5);
}

TEST(IdxReader, ReadsRawAndGzipFilesIdentically) {
  TempDir dir;
  const Bytes images = idx_images(30, 28, 28);
  const Bytes labels = idx_labels(30);
  write_file(dir.file("img"), images);
  write_file(dir.file("lbl"), labels);
  write_gz(dir.file("img.gz"), images);
  write_gz(dir.file("lbl.gz"), labels);
  EXPECT_EQ(read_maybe_gzip(dir.file("img")), images);
  EXPECT_EQ(read_maybe_gzip(dir.file("img.gz")), images);
  expect_values(read_idx(dir.file("img"), dir.file("lbl")), 30, 28, 28);
  expect_values(read_idx(dir.file("img.gz"), dir.file("lbl.gz")), 30, 28, 28);
  expect_values(read_idx(dir.file("img.gz"), dir.file("lbl")), 30, 28, 28);
}

TEST(IdxReader, MissingFileNamesThePath) {
  TempDir dir;
  write_file(dir.file("lbl"), idx_labels(2));
  const std::string msg = data_error([&] { read_idx(dir.file("nope.gz"), dir.file("lbl")); },
                                     dir.file("nope.gz"));
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  data_error([&] { read_maybe_gzip(dir.file("nope")); }, dir.file("nope"));
}

TEST(IdxReader, RejectsWrongMagic) {
  const Bytes images = idx_images(2, 2, 2);
  const Bytes labels = idx_labels(2);
  data_error([&] { parse_idx(labels, "img", labels, "lbl"); }, "img: expected magic 2051");
  data_error([&] { parse_idx(images, "img", images, "lbl"); },
             "lbl: expected magic 2049 (IDX label file), got 2051");
  Bytes other = images;
  other[2] = 0x0d;  // IDX float data
  data_error([&] { parse_idx(other, "img", labels, "lbl"); }, "got 3331");
}

TEST(IdxReader, RejectsBadDimensions) {
  const Bytes labels = idx_labels(1);
  for (const auto& [rows, cols] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
           {0, 28}, {28, 0}, {4097, 1}, {1, 4097}, {0xffffffffu, 0xffffffffu}}) {
    Bytes images;
    put_be32(images, 2051);
    put_be32(images, 1);
    put_be32(images, rows);
    put_be32(images, cols);
    images.resize(images.size() + 16, 0);
    data_error([&] { parse_idx(images, "img", labels, "lbl"); }, "expected image size");
  }
  Bytes empty;
  put_be32(empty, 2051);
  put_be32(empty, 0);
  put_be32(empty, 28);
  put_be32(empty, 28);
  data_error([&] { parse_idx(empty, "img", idx_labels(0), "lbl"); }, "at least one image");
}

TEST(IdxReader, HugeClaimedCountIsCheckedAgainstTheBytes) {
  Bytes images;
  put_be32(images, 2051);
  put_be32(images, 0xffffffffu);
  put_be32(images, 4096);
  put_be32(images, 4096);
  images.push_back(1);
  Bytes labels;
  put_be32(labels, 2049);
  put_be32(labels, 0xffffffffu);
  data_error([&] { parse_idx(images, "img", labels, "lbl"); }, "(truncated)");
  data_error([&] { parse_idx(idx_images(1, 1, 1), "img", labels, "lbl"); },
             "lbl: expected 8 + 4294967295");
}

TEST(IdxReader, RejectsTruncatedAndTrailingBytes) {
  const Bytes images = idx_images(4, 6, 6);
  const Bytes labels = idx_labels(4);
  Bytes shorter(images.begin(), images.end() - 1);
  data_error([&] { parse_idx(shorter, "img", labels, "lbl"); },
             "img: expected 16 + 4*6*6 = 160 bytes, found 159 (truncated)");
  Bytes longer = images;
  longer.push_back(0);
  data_error([&] { parse_idx(longer, "img", labels, "lbl"); }, "(trailing bytes)");
  Bytes short_labels(labels.begin(), labels.end() - 1);
  data_error([&] { parse_idx(images, "img", short_labels, "lbl"); },
             "lbl: expected 8 + 4 = 12 bytes, found 11 (truncated)");
  Bytes long_labels = labels;
  long_labels.push_back(1);
  data_error([&] { parse_idx(images, "img", long_labels, "lbl"); }, "(trailing bytes)");
}

TEST(IdxReader, EveryPrefixOfAValidPairIsRejected) {
  const Bytes images = idx_images(3, 4, 4);
  const Bytes labels = idx_labels(3);
  for (std::size_t k = 0; k < images.size(); ++k) {
    const Bytes prefix(images.begin(), images.begin() + static_cast<std::ptrdiff_t>(k));
    data_error([&] { parse_idx(prefix, "img", labels, "lbl"); }, "img: expected");
  }
  for (std::size_t k = 0; k < labels.size(); ++k) {
    const Bytes prefix(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(k));
    data_error([&] { parse_idx(images, "img", prefix, "lbl"); }, "lbl: expected");
  }
}

TEST(IdxReader, RejectsLabelCountMismatch) {
  data_error([&] { parse_idx(idx_images(5, 2, 2), "img", idx_labels(4), "lbl"); },
             "lbl: expected 5 labels (one per image of img), got 4");
  data_error([&] { parse_idx(idx_images(5, 2, 2), "img", idx_labels(6), "lbl"); }, "got 6");
}

TEST(IdxReader, RejectsLabelOutOfRange) {
  Bytes labels = idx_labels(5);
  labels[8 + 3] = 10;
  data_error([&] { parse_idx(idx_images(5, 2, 2), "img", labels, "lbl"); },
             "lbl: expected labels below 10, got 10 for example 3");
  labels[8 + 3] = 255;
  data_error([&] { parse_idx(idx_images(5, 2, 2), "img", labels, "lbl"); }, "got 255");
}

TEST(Gzip, RejectsNonGzipFileNamedGz) {
  TempDir dir;
  write_file(dir.file("img.gz"), idx_images(2, 2, 2));
  data_error([&] { read_maybe_gzip(dir.file("img.gz")); },
             dir.file("img.gz") + ": not a gzip file (expected magic bytes 1f 8b, found 00 00)");
  write_file(dir.file("text.gz"), Bytes{'h', 'i', '\n'});
  data_error([&] { read_maybe_gzip(dir.file("text.gz")); }, "found 68 69");
  write_file(dir.file("empty.gz"), Bytes{});
  data_error([&] { read_maybe_gzip(dir.file("empty.gz")); }, "found an empty file");
  write_file(dir.file("one.gz"), Bytes{'x'});
  data_error([&] { read_maybe_gzip(dir.file("one.gz")); }, "found 78)");
}

TEST(Gzip, TruncatedStreamAtEveryOffsetIsAnError) {
  TempDir dir;
  const Bytes raw = idx_images(8, 9, 9);
  write_gz(dir.file("img.gz"), raw);
  const Bytes gz = read_file(dir.file("img.gz"));
  ASSERT_GT(gz.size(), 100u);
  EXPECT_EQ(gunzip(gz.data(), gz.size(), "img.gz"), raw);
  for (std::size_t k = 1; k < gz.size(); ++k) {
    const std::string msg =
        data_error([&] { gunzip(gz.data(), k, "img.gz"); }, "img.gz: truncated gzip stream");
    EXPECT_NE(msg.find("after " + std::to_string(k) + " bytes"), std::string::npos) << msg;
  }
  // The same through the file API, at a few offsets spread over header, data and trailer.
  for (const std::size_t k : {std::size_t(5), std::size_t(10), gz.size() / 2, gz.size() - 8,
                              gz.size() - 4, gz.size() - 1}) {
    write_file(dir.file("cut.gz"), Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(k)));
    data_error([&] { read_idx(dir.file("cut.gz"), dir.file("cut.gz")); },
               "truncated gzip stream (unexpected end of file) after " + std::to_string(k));
  }
}

TEST(Gzip, FlippedBytesAreDetected) {
  TempDir dir;
  const Bytes raw = idx_images(8, 9, 9);
  write_gz(dir.file("img.gz"), raw);
  const Bytes gz = read_file(dir.file("img.gz"));
  for (std::size_t k = 0; k < gz.size(); ++k) {
    Bytes bad = gz;
    bad[k] ^= 0xff;
    // Bytes 4..9 are MTIME, XFL and OS, which no check covers and which do not change the
    // content; every other byte is covered by the magic, flags, deflate or CRC-32/ISIZE checks.
    if (k >= 4 && k <= 9) {
      EXPECT_EQ(gunzip(bad.data(), bad.size(), "img.gz"), raw) << k;
    } else {
      data_error([&] { gunzip(bad.data(), bad.size(), "img.gz"); }, "img.gz: ");
    }
  }
}

TEST(Gzip, ReportsCrcAndLengthMismatch) {
  TempDir dir;
  write_gz(dir.file("img.gz"), idx_images(4, 5, 5));
  Bytes gz = read_file(dir.file("img.gz"));
  Bytes crc = gz;
  crc[crc.size() - 8] ^= 1;
  data_error([&] { gunzip(crc.data(), crc.size(), "img.gz"); },
             "img.gz: corrupt gzip stream (incorrect data check)");
  Bytes len = gz;
  len[len.size() - 4] ^= 1;
  data_error([&] { gunzip(len.data(), len.size(), "img.gz"); }, "(incorrect length check)");
  write_file(dir.file("crc.gz"), crc);
  data_error([&] { read_maybe_gzip(dir.file("crc.gz")); }, "incorrect data check");
}

TEST(Gzip, JoinsConcatenatedMembersAndRejectsTrailingBytes) {
  TempDir dir;
  const Bytes a = idx_images(2, 3, 3);
  const Bytes b = idx_labels(9);
  write_gz(dir.file("a.gz"), a);
  write_gz(dir.file("b.gz"), b);
  Bytes both = read_file(dir.file("a.gz"));
  const Bytes gb = read_file(dir.file("b.gz"));
  const std::size_t first = both.size();
  both.insert(both.end(), gb.begin(), gb.end());
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(gunzip(both.data(), both.size(), "ab.gz"), ab);

  Bytes junk(both.begin(), both.begin() + static_cast<std::ptrdiff_t>(first));
  junk.push_back(0);
  junk.push_back(0);
  junk.push_back(0);
  data_error([&] { gunzip(junk.data(), junk.size(), "j.gz"); },
             "j.gz: expected end of file after the gzip stream at byte " + std::to_string(first) +
                 ", found 3 trailing bytes");
  junk.resize(first + 1);
  junk.back() = 0x1f;
  data_error([&] { gunzip(junk.data(), junk.size(), "j.gz"); }, "found 1 trailing bytes");
}

TEST(Gzip, BoundsTheDecompressedSize) {
  TempDir dir;
  const Bytes zeros(1 << 20, 0);
  write_gz(dir.file("z.gz"), zeros);
  EXPECT_EQ(read_maybe_gzip(dir.file("z.gz"), zeros.size()).size(), zeros.size());
  data_error([&] { read_maybe_gzip(dir.file("z.gz"), zeros.size() - 1); },
             "expected at most 1048575 decompressed bytes");
  data_error([&] { read_maybe_gzip(dir.file("z.gz"), 1000); }, "expected at most");
  write_file(dir.file("raw"), zeros);
  data_error([&] { read_maybe_gzip(dir.file("raw"), 1000); },
             "expected at most 1000 bytes, the file is larger");
  EXPECT_EQ(read_maybe_gzip(dir.file("raw"), zeros.size()).size(), zeros.size());
}

TEST(Gzip, EmptyPayloadRoundTrips) {
  TempDir dir;
  write_gz(dir.file("e.gz"), Bytes{});
  EXPECT_TRUE(read_maybe_gzip(dir.file("e.gz")).empty());
}

TEST(Gzip, DirectoryIsAReadError) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("d.gz"));
  data_error([&] { read_maybe_gzip(dir.file("d.gz")); }, dir.file("d.gz") + ": ");
}

}  // namespace
}  // namespace bnl::data
