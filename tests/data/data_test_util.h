#pragma once
// Shared fixtures of the data tests (tests/data/*): writing and reading small IDX, gzip and CIFAR
// files, and catching the one-line DataError a broken file must give.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "bnlandscape/data/image_set.h"

namespace bnl::data::testing {

using Bytes = std::vector<std::uint8_t>;

/// Writes `bytes` to `path`, creating its parent directories first.
inline void write_file(const std::string& path, const Bytes& bytes) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// Writes `bytes` gzip-compressed to `path`; `mode` is gzopen's ("wb9": best compression).
inline void write_gz(const std::string& path, const Bytes& bytes, const char* mode = "wb9") {
  gzFile f = gzopen(path.c_str(), mode);
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

/// The whole of the file at `path` (empty when it cannot be opened).
inline Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Appends `v` big-endian, as IDX headers store their magic numbers and sizes.
inline void put_be32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

/// Runs `f`, which must throw a one-line DataError containing `part`; returns the message.
inline std::string data_error(const std::function<void()>& f, const std::string& part = "") {
  try {
    f();
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "expected a DataError containing '" << part << "'";
  return "";
}

}  // namespace bnl::data::testing
