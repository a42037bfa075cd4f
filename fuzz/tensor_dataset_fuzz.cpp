// libFuzzer harness: the tensor dataset reader (io::read_tensor_dataset, src/io/tensor_dataset.cpp)
// on valid HDF5 files with unexpected contents, written by the generator of tensor_dataset_gen.h
// from the input; see there for what is varied and what is checked. Links libhdf5 only.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "tensor_dataset_gen.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = bnl::fuzz::scratch_file("tensors.h5");
  const std::string problem = bnl::fuzz::tensors::check_one(data, size, path);
  if (!problem.empty()) {
    std::fprintf(stderr, "tensor_dataset_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
