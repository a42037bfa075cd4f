// Dataset lookup by name and file digests. Only the standard library: this file is also built
// into libFuzzer harnesses, so SHA-256 (FIPS 180-4) is implemented here instead of OpenSSL.

#include "bnlandscape/data/dataset.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bnlandscape/data/cifar_reader.h"
#include "bnlandscape/data/idx_reader.h"

namespace bnl::data {
namespace {

namespace fs = std::filesystem;

class Sha256 {
 public:
  void update(const unsigned char* data, std::size_t size) {
    total_ += size;
    if (fill_ > 0) {
      const std::size_t take = std::min(size, buf_.size() - fill_);
      std::memcpy(buf_.data() + fill_, data, take);
      fill_ += take;
      data += take;
      size -= take;
      if (fill_ < buf_.size()) return;
      block(buf_.data());
      fill_ = 0;
    }
    for (; size >= 64; data += 64, size -= 64) block(data);
    if (size > 0) {  // size is nonzero only when fill_ is 0 here
      std::memcpy(buf_.data(), data, size);
      fill_ = size;
    }
  }

  std::string hex() {
    const std::uint64_t bits = total_ * 8;
    static constexpr unsigned char kPad[64] = {0x80};
    update(kPad, fill_ < 56 ? 56 - fill_ : 120 - fill_);
    unsigned char len[8];
    for (int j = 0; j < 8; ++j) len[j] = static_cast<unsigned char>(bits >> (56 - 8 * j));
    update(len, 8);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (const std::uint32_t w : h_) {
      for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kDigits[(w >> shift) & 15]);
    }
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

  void block(const unsigned char* p) {
    static constexpr std::uint32_t kK[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::uint32_t w[64];
    for (int t = 0; t < 16; ++t) {
      w[t] = (std::uint32_t(p[4 * t]) << 24) | (std::uint32_t(p[4 * t + 1]) << 16) |
             (std::uint32_t(p[4 * t + 2]) << 8) | std::uint32_t(p[4 * t + 3]);
    }
    for (int t = 16; t < 64; ++t) {
      const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    std::uint32_t e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const std::uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[t] + w[t];
      const std::uint32_t t2 =
          (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<unsigned char, 64> buf_{};
  std::size_t fill_ = 0;
  std::uint64_t total_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

constexpr const char* kFashionFiles[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
constexpr const char* kCifarBatches[] = {"data_batch_1", "data_batch_2", "data_batch_3",
                                         "data_batch_4", "data_batch_5", "test_batch"};
constexpr const char* kCifarHint = "run data/download_cifar10.sh to download it";

std::string join(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec) && !fs::is_directory(path, ec);
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

void check_same_shape(const ImageSet& train, const ImageSet& test, const std::string& what) {
  if (train.channels != test.channels || train.height != test.height ||
      train.width != test.width) {
    throw DataError(what + ": expected test images of the training shape " +
                    std::to_string(train.channels) + "x" + std::to_string(train.height) + "x" +
                    std::to_string(train.width) + ", got " + std::to_string(test.channels) +
                    "x" + std::to_string(test.height) + "x" + std::to_string(test.width));
  }
}

Dataset load_fashion_mnist(const std::string& dir) {
  std::string expected = "expected ";
  for (const char* f : kFashionFiles) {
    expected += std::string(f == kFashionFiles[0] ? "" : ", ") + f + "[.gz]";
  }
  if (!is_dir(dir)) {
    throw DataError(dir + ": fashion-mnist data directory not found (" + expected + " there)");
  }
  // The .gz form wins when both exist: it is what Debian and the upstream site ship, so its
  // digest is the one other runs record.
  std::vector<std::string> paths;
  std::string missing;
  for (const char* f : kFashionFiles) {
    const std::string plain = join(dir, f);
    if (is_file(plain + ".gz")) {
      paths.push_back(plain + ".gz");
    } else if (is_file(plain)) {
      paths.push_back(plain);
    } else {
      missing += (missing.empty() ? "" : ", ") + std::string(f) + "[.gz]";
    }
  }
  if (!missing.empty()) {
    throw DataError(dir + ": fashion-mnist files missing: " + missing + " (" + expected + ")");
  }
  Dataset ds;
  ds.name = "fashion-mnist";
  ds.train = read_idx(paths[0], paths[1]);
  ds.test = read_idx(paths[2], paths[3]);
  check_same_shape(ds.train, ds.test, paths[2]);
  ds.norm = Normalization{{0.2860f}, {0.3530f}};
  for (const std::string& p : paths) ds.files.push_back({p, sha256_file(p)});
  return ds;
}

Dataset load_cifar10(const std::string& dir) {
  const std::string expected =
      "expected cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin or "
      "cifar-10-batches-py/{data_batch_1..5,test_batch}, or those files directly in " +
      dir;
  if (!is_dir(dir)) {
    throw DataError(dir + ": cifar10 data directory not found (" + expected + "); " + kCifarHint);
  }
  struct Layout {
    std::string subdir;
    bool binary;
  };
  const Layout layouts[] = {{"cifar-10-batches-bin", true},
                            {"cifar-10-batches-py", false},
                            {"", true},
                            {"", false}};
  std::string partial;
  for (const Layout& layout : layouts) {
    const std::string base = layout.subdir.empty() ? dir : join(dir, layout.subdir);
    std::vector<std::string> paths;
    std::string missing;
    for (const char* b : kCifarBatches) {
      const std::string file = std::string(b) + (layout.binary ? ".bin" : "");
      const std::string path = join(base, file);
      if (is_file(path)) {
        paths.push_back(path);
      } else {
        missing += (missing.empty() ? "" : ", ") + file;
      }
    }
    if (missing.empty()) {
      const std::vector<std::string> train_paths(paths.begin(), paths.end() - 1);
      const std::vector<std::string> test_paths(paths.end() - 1, paths.end());
      Dataset ds;
      ds.name = "cifar10";
      ds.train = layout.binary ? read_cifar_binary(train_paths) : read_cifar_python(train_paths);
      ds.test = layout.binary ? read_cifar_binary(test_paths) : read_cifar_python(test_paths);
      ds.norm = Normalization{{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
      for (const std::string& p : paths) ds.files.push_back({p, sha256_file(p)});
      return ds;
    }
    // A half-present layout is most likely an interrupted download: say what it lacks.
    if (paths.size() > 0 && partial.empty()) {
      partial = "; " + (layout.subdir.empty() ? dir : layout.subdir + "/") + " lacks " + missing;
    }
  }
  throw DataError(dir + ": no complete CIFAR-10 copy found (" + expected + ")" + partial + "; " +
                  kCifarHint);
}

}  // namespace

std::string default_data_dir(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "cifar10") return "./data/cifar10";
  throw std::invalid_argument("unknown dataset '" + name + "' (expected fashion-mnist or cifar10)");
}

Dataset load_dataset(const std::string& name, const std::string& dir) {
  const std::string d = dir.empty() ? default_data_dir(name) : dir;
  if (name == "fashion-mnist") return load_fashion_mnist(d);
  if (name == "cifar10") return load_cifar10(d);
  throw std::invalid_argument("unknown dataset '" + name + "' (expected fashion-mnist or cifar10)");
}

std::string sha256_hex(const unsigned char* data, std::size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw DataError(path + ": cannot open file (" + std::strerror(errno) + ")");
  Sha256 h;
  std::vector<unsigned char> buf(std::size_t(1) << 20);
  for (;;) {
    errno = 0;
    const std::size_t got = std::fread(buf.data(), 1, buf.size(), f.get());
    h.update(buf.data(), got);
    if (got < buf.size()) {
      if (std::ferror(f.get())) {
        throw DataError(path + ": read error while hashing (" + std::strerror(errno) + ")");
      }
      break;
    }
  }
  return h.hex();
}

}  // namespace bnl::data
