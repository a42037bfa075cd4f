#include "chunk_recovery.h"

#include <algorithm>
#include <vector>

namespace bnl::io::detail {
namespace {

// Reads `count` rows from `start` of a dataset as raw bytes of its own type: every chunk in
// the range passes through its filters, which is where a torn chunk shows.
void read_rows(const H5::DataSet& ds, hsize_t start, hsize_t count) {
  H5::DataSpace space = ds.getSpace();
  const int rank = space.getSimpleExtentNdims();
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  space.getSimpleExtentDims(dims.data());
  std::vector<hsize_t> offset(dims.size(), 0), n = dims;
  offset[0] = start;
  n[0] = count;
  std::size_t values = 1;
  for (auto d : n) values *= static_cast<std::size_t>(d);
  if (values == 0) return;
  space.selectHyperslab(H5S_SELECT_SET, n.data(), offset.data());
  const H5::DataSpace mem(rank, n.data());
  const H5::DataType type = ds.getDataType();
  std::vector<char> buf(values * type.getSize());
  ds.read(buf.data(), type, mem, space);
}

}  // namespace

hsize_t readable_rows(const H5::DataSet& ds, hsize_t rows) {
  try {
    read_rows(ds, 0, rows);
    return rows;
  } catch (const H5::Exception&) {
  }
  const H5::DSetCreatPropList dcpl = ds.getCreatePlist();
  hsize_t chunk = 1;
  if (dcpl.getLayout() == H5D_CHUNKED) {
    std::vector<hsize_t> c(static_cast<std::size_t>(ds.getSpace().getSimpleExtentNdims()));
    dcpl.getChunk(static_cast<int>(c.size()), c.data());
    chunk = std::max<hsize_t>(1, c[0]);
  }
  for (hsize_t start = 0; start < rows; start += chunk) {
    try {
      read_rows(ds, start, std::min(chunk, rows - start));
    } catch (const H5::Exception&) {
      return start;
    }
  }
  return rows;
}


}  // namespace bnl::io::detail
