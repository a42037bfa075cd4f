// Dataset lookup, file digests, SHA-256 test vectors, and the real Fashion-MNIST when installed.

#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bnlandscape/data/dataset.h"
#include "common/temp_dir.h"
#include "data/data_test_util.h"

namespace bnl::data {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::data_error;
using testing::put_be32;
using testing::write_file;
using testing::write_gz;

using TempDir = bnl_test::TempDir;

std::string sha_of(const std::string& s) {
  return sha256_hex(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

// Each image is filled with 20 * label + (index % 20), so pairing survives any reordering check.
std::uint8_t fill(std::uint32_t i, std::uint32_t label) {
  return static_cast<std::uint8_t>(20 * label + i % 20);
}

void write_fashion(const std::string& dir, const std::string& split, std::uint32_t n,
                   std::uint32_t side, bool gz) {
  Bytes images;
  put_be32(images, 2051);
  put_be32(images, n);
  put_be32(images, side);
  put_be32(images, side);
  Bytes labels;
  put_be32(labels, 2049);
  put_be32(labels, n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t label = (i * 3 + 1) % 10;
    labels.push_back(static_cast<std::uint8_t>(label));
    images.insert(images.end(), std::size_t(side) * side, fill(i, label));
  }
  const std::string base = dir + "/" + split;
  if (gz) {
    write_gz(base + "-images-idx3-ubyte.gz", images, "wb");
    write_gz(base + "-labels-idx1-ubyte.gz", labels, "wb");
  } else {
    write_file(base + "-images-idx3-ubyte", images);
    write_file(base + "-labels-idx1-ubyte", labels);
  }
}

void expect_paired(const ImageSet& set) {
  for (std::int64_t i = 0; i < set.n; ++i) {
    const auto size = static_cast<std::size_t>(set.image_size());
    const std::uint8_t v = set.pixels[static_cast<std::size_t>(i) * size];
    EXPECT_EQ(v, fill(static_cast<std::uint32_t>(i), set.labels[static_cast<std::size_t>(i)])) << i;
  }
}

Bytes cifar_binary(std::uint32_t n, std::uint32_t first) {
  Bytes b;
  for (std::uint32_t i = first; i < first + n; ++i) {
    const std::uint32_t label = i % 10;
    b.push_back(static_cast<std::uint8_t>(label));
    b.insert(b.end(), 3072, fill(i, label));
  }
  return b;
}

// A minimal protocol-2 pickle of {'data': uint8 ndarray (n, 3072), 'labels': [...]}, laid
// out as Python 2 cPickle writes it (cifar_reader_test checks the full shipped layout).
Bytes cifar_pickle(std::uint32_t n, std::uint32_t first) {
  std::string p;
  // Literal sizes come from the arrays, so the embedded NUL bytes are kept.
  const auto add = [&p](const auto& literal) { p.append(literal, sizeof(literal) - 1); };
  const auto add_le32 = [&p](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) p.push_back(static_cast<char>(v >> (8 * k)));
  };
  add("\x80\x02}(U\x04" "data" "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
      "K\x00\x85U\x01" "b\x87R(K\x01(J");
  add_le32(n);
  add("M\x00\x0ct" "cnumpy\ndtype\nU\x02" "u1K\x00K\x01\x87R(K\x03U\x01|NNN"
      "J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
  add_le32(n * 3072);
  for (std::uint32_t i = first; i < first + n; ++i) {
    p.append(3072, static_cast<char>(fill(i, i % 10)));
  }
  add("tbU\x06labels](");
  for (std::uint32_t i = first; i < first + n; ++i) {
    p.push_back('K');
    p.push_back(static_cast<char>(i % 10));
  }
  add("eu.");
  return Bytes(p.begin(), p.end());
}

constexpr std::array<const char*, 6> kBatches = {"data_batch_1", "data_batch_2", "data_batch_3",
                                                 "data_batch_4", "data_batch_5", "test_batch"};

void write_cifar(const std::string& dir, bool binary, const std::string& skip = "") {
  std::uint32_t first = 0;
  for (std::size_t b = 0; b < kBatches.size(); ++b) {
    const std::uint32_t n = b < 5 ? 2 : 3;
    const std::string name = std::string(kBatches[b]) + (binary ? ".bin" : "");
    if (name != skip) {
      write_file(dir + "/" + name, binary ? cifar_binary(n, first) : cifar_pickle(n, first));
    }
    first += n;
  }
}

void expect_cifar(const Dataset& ds) {
  EXPECT_EQ(ds.name, "cifar10");
  ASSERT_EQ(ds.train.n, 10);
  ASSERT_EQ(ds.test.n, 3);
  EXPECT_EQ(ds.train.channels, 3);
  EXPECT_EQ(ds.train.height, 32);
  EXPECT_EQ(ds.train.width, 32);
  EXPECT_EQ(ds.test.image_size(), 3072);
  // Batches are concatenated in order 1..5.
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(ds.train.labels[i], i % 10);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(ds.test.labels[i], (10 + i) % 10);
  for (std::uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(ds.train.pixels[i * 3072 + 3071], fill(i, i % 10));
  }
  EXPECT_EQ(ds.norm.mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(ds.norm.std, (std::vector<float>{0.2023f, 0.1994f, 0.2010f}));
  ASSERT_EQ(ds.files.size(), 6u);
  for (const FileDigest& f : ds.files) EXPECT_EQ(f.sha256, sha256_file(f.path)) << f.path;
}

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(sha256_hex(nullptr, 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                   "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileDigestMatchesBufferDigestAcrossChunkBoundaries) {
  TempDir dir;
  for (const std::size_t size : {std::size_t(0), std::size_t(55), std::size_t(56),
                                 std::size_t(64), std::size_t(119), std::size_t((1 << 20) + 7)}) {
    Bytes b(size);
    for (std::size_t k = 0; k < size; ++k) b[k] = static_cast<std::uint8_t>(k * 31 + k / 251);
    const std::string path = dir.file("f" + std::to_string(size));
    write_file(path, b);
    EXPECT_EQ(sha256_file(path), sha256_hex(b.data(), b.size())) << size;
  }
  data_error([&] { sha256_file(dir.file("missing")); }, dir.file("missing") + ": cannot open file");
}

TEST(Dataset, DefaultDirectories) {
  EXPECT_EQ(default_data_dir("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(default_data_dir("cifar10"), "./data/cifar10");
  EXPECT_THROW(default_data_dir("mnist"), std::invalid_argument);
  EXPECT_THROW(load_dataset("imagenet", "/tmp"), std::invalid_argument);
}

TEST(Dataset, LoadsFashionMnistFromGzipFiles) {
  TempDir dir;
  write_fashion(dir.path.string(), "train", 12, 28, true);
  write_fashion(dir.path.string(), "t10k", 5, 28, true);
  const Dataset ds = load_dataset("fashion-mnist", dir.path.string());
  EXPECT_EQ(ds.name, "fashion-mnist");
  EXPECT_EQ(ds.train.n, 12);
  EXPECT_EQ(ds.test.n, 5);
  EXPECT_EQ(ds.train.channels, 1);
  EXPECT_EQ(ds.train.height, 28);
  EXPECT_EQ(ds.test.width, 28);
  expect_paired(ds.train);
  expect_paired(ds.test);
  EXPECT_EQ(ds.norm.mean, std::vector<float>{0.2860f});
  EXPECT_EQ(ds.norm.std, std::vector<float>{0.3530f});
  ASSERT_EQ(ds.files.size(), 4u);
  EXPECT_EQ(ds.files[0].path, dir.file("train-images-idx3-ubyte.gz"));
  EXPECT_EQ(ds.files[3].path, dir.file("t10k-labels-idx1-ubyte.gz"));
  for (const FileDigest& f : ds.files) {
    EXPECT_EQ(f.sha256.size(), 64u);
    EXPECT_EQ(f.sha256, sha256_file(f.path)) << f.path;
  }
}

TEST(Dataset, LoadsUncompressedFashionMnistAndPrefersGzip) {
  TempDir dir;
  write_fashion(dir.path.string(), "train", 4, 3, false);
  write_fashion(dir.path.string(), "t10k", 2, 3, false);
  Dataset ds = load_dataset("fashion-mnist", dir.path.string());
  EXPECT_EQ(ds.train.n, 4);
  EXPECT_EQ(ds.test.n, 2);
  EXPECT_EQ(ds.files[0].path, dir.file("train-images-idx3-ubyte"));
  expect_paired(ds.train);
  write_fashion(dir.path.string(), "train", 6, 3, true);
  ds = load_dataset("fashion-mnist", dir.path.string());
  EXPECT_EQ(ds.train.n, 6);
  EXPECT_EQ(ds.files[0].path, dir.file("train-images-idx3-ubyte.gz"));
  EXPECT_EQ(ds.files[2].path, dir.file("t10k-images-idx3-ubyte"));
}

TEST(Dataset, FashionMnistErrorsNameDirectoryAndFiles) {
  TempDir dir;
  const std::string missing_dir = dir.file("nowhere");
  const std::string msg = data_error([&] { load_dataset("fashion-mnist", missing_dir); },
                                     missing_dir + ": fashion-mnist data directory not found");
  EXPECT_NE(msg.find("train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                     "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"),
            std::string::npos)
      << msg;
  write_fashion(dir.path.string(), "train", 4, 3, true);
  data_error([&] { load_dataset("fashion-mnist", dir.path.string()); },
             dir.path.string() + ": fashion-mnist files missing: t10k-images-idx3-ubyte[.gz], "
                          "t10k-labels-idx1-ubyte[.gz] (expected ");
  write_fashion(dir.path.string(), "t10k", 2, 4, true);
  data_error([&] { load_dataset("fashion-mnist", dir.path.string()); },
             "expected test images of the training shape 1x3x3, got 1x4x4");
  write_file(dir.file("t10k-labels-idx1-ubyte.gz"), Bytes{1, 2, 3});
  data_error([&] { load_dataset("fashion-mnist", dir.path.string()); },
             dir.file("t10k-labels-idx1-ubyte.gz") + ": not a gzip file");
}

TEST(Dataset, LoadsCifar10BinaryPythonAndFlatLayouts) {
  TempDir bin;
  write_cifar(bin.file("cifar-10-batches-bin"), true);
  Dataset ds = load_dataset("cifar10", bin.path.string());
  expect_cifar(ds);
  EXPECT_EQ(ds.files[0].path, bin.file("cifar-10-batches-bin/data_batch_1.bin"));

  TempDir py;
  write_cifar(py.file("cifar-10-batches-py"), false);
  ds = load_dataset("cifar10", py.path.string());
  expect_cifar(ds);
  EXPECT_EQ(ds.files[5].path, py.file("cifar-10-batches-py/test_batch"));

  TempDir flat;
  write_cifar(flat.path.string(), false);
  expect_cifar(load_dataset("cifar10", flat.path.string()));
  write_cifar(flat.path.string(), true);
  ds = load_dataset("cifar10", flat.path.string());
  EXPECT_EQ(ds.files[0].path, flat.file("data_batch_1.bin"));
}

TEST(Dataset, Cifar10ErrorsPointToTheDownloadScript) {
  TempDir dir;
  const std::string missing_dir = dir.file("cifar");
  std::string msg = data_error([&] { load_dataset("cifar10", missing_dir); },
                               missing_dir + ": cifar10 data directory not found");
  EXPECT_NE(msg.find("run data/download_cifar10.sh to download it"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin"), std::string::npos);
  msg = data_error([&] { load_dataset("cifar10", dir.path.string()); },
                   dir.path.string() + ": no complete CIFAR-10 copy found");
  EXPECT_NE(msg.find("download_cifar10.sh"), std::string::npos) << msg;
  write_cifar(dir.file("cifar-10-batches-bin"), true, "data_batch_3.bin");
  data_error([&] { load_dataset("cifar10", dir.path.string()); },
             "cifar-10-batches-bin/ lacks data_batch_3.bin; run data/download_cifar10.sh");
  write_file(dir.file("cifar-10-batches-bin/data_batch_3.bin"), Bytes(3000, 0));
  data_error([&] { load_dataset("cifar10", dir.path.string()); },
             dir.file("cifar-10-batches-bin/data_batch_3.bin") + ": expected a positive multiple");
}

TEST(Dataset, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " is not installed";
  const Dataset ds = load_dataset("fashion-mnist", "");
  ASSERT_EQ(ds.train.n, 60000);
  ASSERT_EQ(ds.test.n, 10000);
  for (const ImageSet* s : {&ds.train, &ds.test}) {
    EXPECT_EQ(s->channels, 1);
    EXPECT_EQ(s->height, 28);
    EXPECT_EQ(s->width, 28);
    EXPECT_EQ(s->pixels.size(), static_cast<std::size_t>(s->n) * 784);
  }
  std::array<int, 10> train_counts{};
  std::array<int, 10> test_counts{};
  for (const std::uint8_t l : ds.train.labels) {
    ASSERT_LT(l, 10);
    ++train_counts[l];
  }
  for (const std::uint8_t l : ds.test.labels) {
    ASSERT_LT(l, 10);
    ++test_counts[l];
  }
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(train_counts[c], 6000) << c;
    EXPECT_EQ(test_counts[c], 1000) << c;
  }
  // The published order: the first training labels are ankle boot, T-shirt, T-shirt, dress.
  EXPECT_EQ(ds.train.labels[0], 9);
  EXPECT_EQ(ds.train.labels[1], 0);
  EXPECT_EQ(ds.train.labels[3], 3);
  EXPECT_EQ(ds.test.labels[0], 9);
  ASSERT_EQ(ds.files.size(), 4u);
  // Cross-check the digests against coreutils where it is installed.
  for (const FileDigest& f : ds.files) {
    const std::string cmd = "sha256sum '" + f.path + "' 2>/dev/null";
    std::FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) continue;
    char buf[65] = {};
    const std::size_t got = std::fread(buf, 1, 64, pipe);
    pclose(pipe);
    if (got == 64) {
      EXPECT_EQ(f.sha256, std::string(buf, 64)) << f.path;
    }
  }
}

}  // namespace
}  // namespace bnl::data
