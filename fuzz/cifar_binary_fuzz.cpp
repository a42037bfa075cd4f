// libFuzzer harness: the binary CIFAR-10 reader (parse_cifar_binary) and append_images.
// The whole input is one batch file. Only DataError may come out, one line starting with the
// file's name; a successful parse must agree record by record with the input bytes.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bnlandscape/data/cifar_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  bnl::data::ImageSet set;
  try {
    set = bnl::data::parse_cifar_binary(bytes, "batch.bin");
  } catch (const bnl::data::DataError& e) {
    const std::string msg = e.what();
    FUZZ_CHECK(msg.compare(0, 11, "batch.bin: ") == 0);
    FUZZ_CHECK(msg.find('\n') == std::string::npos);
    return 0;
  }
  constexpr std::size_t kRecord = 3073;
  FUZZ_CHECK(size > 0 && size % kRecord == 0);
  FUZZ_CHECK(set.n == static_cast<std::int64_t>(size / kRecord));
  FUZZ_CHECK(set.channels == 3 && set.height == 32 && set.width == 32);
  FUZZ_CHECK(set.labels.size() == static_cast<std::size_t>(set.n));
  FUZZ_CHECK(set.pixels.size() == static_cast<std::size_t>(set.n) * 3072);
  for (std::size_t r = 0; r < static_cast<std::size_t>(set.n); ++r) {
    FUZZ_CHECK(set.labels[r] == data[r * kRecord] && set.labels[r] < 10);
    FUZZ_CHECK(std::memcmp(set.pixels.data() + r * 3072, data + r * kRecord + 1, 3072) == 0);
  }

  // Appending to itself doubles the set; appending a differently shaped set is refused.
  bnl::data::ImageSet all;
  bnl::data::append_images(all, set);
  bnl::data::append_images(all, set);
  FUZZ_CHECK(all.n == 2 * set.n && all.pixels.size() == 2 * set.pixels.size() &&
             all.labels.size() == 2 * set.labels.size());
  bnl::data::ImageSet other = set;
  other.channels = 1;
  try {
    bnl::data::append_images(all, other);
    FUZZ_CHECK(false);
  } catch (const bnl::data::DataError&) {
  }
  return 0;
}
