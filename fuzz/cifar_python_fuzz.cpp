// libFuzzer harness: the CIFAR-10 python-batch reader (parse_cifar_python), a whitelist
// interpreter for pickles of protocol 2 to 4. The whole input is one pickle. Only DataError
// may come out, one line starting with the file's name (text from the file is made printable);
// a successful parse must satisfy ImageSet's invariants.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/data/cifar_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const bnl::data::ImageSet set = bnl::data::parse_cifar_python(bytes, "data_batch_1");
    FUZZ_CHECK(set.n >= 1);
    FUZZ_CHECK(set.channels == 3 && set.height == 32 && set.width == 32);
    FUZZ_CHECK(set.labels.size() == static_cast<std::size_t>(set.n));
    FUZZ_CHECK(set.pixels.size() == static_cast<std::size_t>(set.n) * 3072);
    // Every pixel byte came from the file (at most once, bar the latin-1 decoding of protocol-2
    // Python 3 pickles, which only shrinks).
    FUZZ_CHECK(set.pixels.size() <= size);
    for (const std::uint8_t l : set.labels) FUZZ_CHECK(l < 10);
  } catch (const bnl::data::DataError& e) {
    const std::string msg = e.what();
    FUZZ_CHECK(msg.compare(0, 14, "data_batch_1: ") == 0);
    FUZZ_CHECK(msg.find('\n') == std::string::npos);
    for (const char c : msg) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
  return 0;
}
