// Regression cases for what the libFuzzer harnesses in fuzz/ (and the stress inputs written
// alongside them) found in the data readers. See fuzz/README.md.

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "bnlandscape/data/cifar_reader.h"
#include "bnlandscape/data/idx_reader.h"

// The largest single operator-new allocation made by this thread while `track_allocations`
// is set: the decompression test below checks gunzip's peak buffer with it. Replacing the
// global operator new/delete (plain malloc/free) is allowed by the standard and changes
// nothing for the rest of this test program.
namespace {
thread_local bool track_allocations = false;
std::atomic<std::size_t> largest_allocation{0};
}  // namespace

void* operator new(std::size_t size) {
  if (track_allocations) {
    std::size_t seen = largest_allocation.load();
    while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
    }
  }
  if (void* p = std::malloc(size != 0 ? size : 1)) return p;
  throw std::bad_alloc();
}
// Not inlined, so that GCC does not take the free() for a mismatch with operator new.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace bnl::data {
namespace {

// A string literal with its embedded NUL bytes, sized by the array.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::vector<std::uint8_t> to_bytes(const std::string& s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

// BUILD copied its state tuple. A file could memoise one state tuple of half a million
// entries once and then BUILD 400000 fresh numpy dtypes with it, 21 bytes each: a 9 MB file
// took minutes (O(tuple size x BUILDs)). BUILD now reads the tuple in place.
TEST(FuzzRegression, PickleBuildWithAHugeMemoisedStateTakesLinearTime) {
  constexpr int kStateItems = 1 << 19;
  constexpr int kBuilds = 400000;
  std::string p = lit("\x80\x02Nq\x00(");  // None, memo 0, MARK
  p.reserve(p.size() + 2 * kStateItems + 21 * std::size_t(kBuilds) + 64);
  for (int k = 0; k < kStateItems; ++k) p += lit("h\x00");  // None again and again
  p += lit("tr\x01\x00\x00\x00");                            // the state tuple, memo 1
  p += lit("cnumpy\ndtype\nr\x02\x00\x00\x00");              // memo 2
  p += lit("U\x02u1K\x00K\x01\x87r\x03\x00\x00\x00");        // ('u1', 0, 1), memo 3
  for (int k = 0; k < kBuilds; ++k) {
    p += lit("j\x02\x00\x00\x00j\x03\x00\x00\x00Rj\x01\x00\x00\x00" "b");  // dtype(...) BUILD
  }
  p += '.';
  const auto start = std::chrono::steady_clock::now();
  try {
    parse_cifar_python(to_bytes(p), "hostile");
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("hostile: expected one value on the stack at STOP, "
                                         "found 400004"),
              std::string::npos)
        << e.what();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Linear: well under a second. Quadratic: about half a minute on a fast machine.
  EXPECT_LT(seconds, 10.0);
}

std::vector<std::uint8_t> gzip_zeros(std::size_t n) {
  const std::vector<std::uint8_t> raw(n, 0);
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, n) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// gunzip grew its output buffer to max_bytes + 1 to see whether a stream held more than
// max_bytes, which made std::vector double its capacity: a 2 MB gzip bomb against the default
// 2 GiB limit cost 4 GiB of memory before the DataError. The buffer now stops at max_bytes.
TEST(FuzzRegression, GunzipNeverAllocatesMoreThanItsLimit) {
  constexpr std::size_t kLimit = std::size_t(4) << 20;
  struct Case {
    std::size_t size;
    bool fits;
  };
  for (const Case c : {Case{kLimit, true}, Case{kLimit + 1, false}, Case{3 * kLimit, false},
                       Case{kLimit - 1, true}}) {
    const std::vector<std::uint8_t> gz = gzip_zeros(c.size);
    largest_allocation = 0;
    track_allocations = true;
    try {
      const std::vector<std::uint8_t> out = gunzip(gz.data(), gz.size(), "bomb.gz", kLimit);
      track_allocations = false;
      EXPECT_TRUE(c.fits) << c.size;
      EXPECT_EQ(out.size(), c.size);
    } catch (const DataError& e) {
      track_allocations = false;
      EXPECT_FALSE(c.fits) << c.size;
      EXPECT_STREQ(e.what(), ("bomb.gz: expected at most " + std::to_string(kLimit) +
                              " decompressed bytes, the stream holds more")
                                 .c_str());
    }
    EXPECT_LE(largest_allocation.load(), kLimit) << c.size;
  }
  // Concatenated members are limited together, and a limit of 0 admits only empty streams.
  std::vector<std::uint8_t> two = gzip_zeros(kLimit / 2);
  const std::vector<std::uint8_t> half = gzip_zeros(kLimit / 2 + 1);
  two.insert(two.end(), half.begin(), half.end());
  EXPECT_THROW(gunzip(two.data(), two.size(), "two.gz", kLimit), DataError);
  EXPECT_EQ(gunzip(two.data(), two.size(), "two.gz", kLimit + 1).size(), kLimit + 1);
  const std::vector<std::uint8_t> empty = gzip_zeros(0);
  EXPECT_TRUE(gunzip(empty.data(), empty.size(), "empty.gz", 0).empty());
  const std::vector<std::uint8_t> one = gzip_zeros(1);
  EXPECT_THROW(gunzip(one.data(), one.size(), "one.gz", 0), DataError);
}

}  // namespace
}  // namespace bnl::data
