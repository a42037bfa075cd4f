#include "bnlandscape/io/integrity.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "bnlandscape/io/checkpoint.h"
#include "h5_util.h"

namespace bnl::io {
namespace {

struct Walk {
  std::vector<std::string> datasets;
  std::vector<UnreadableObject> broken;
};

herr_t visit(hid_t, const char* name, const H5O_info_t* info, void* data) {
  auto& w = *static_cast<Walk*>(data);
  if (info->type == H5O_TYPE_DATASET) w.datasets.push_back(std::string("/") + name);
  return 0;
}

// Reads the whole dataset as raw bytes of its own type: every chunk passes through its
// filters, which is where a torn chunk shows.
void read_all(const H5::H5File& file, const std::string& path) {
  const H5::DataSet ds = file.openDataSet(path);
  const H5::DataType type = ds.getDataType();
  const H5::DataSpace space = ds.getSpace();
  const auto n = static_cast<std::size_t>(space.getSimpleExtentNpoints());
  if (n == 0 || type.getClass() == H5T_STRING || type.getClass() == H5T_VLEN) return;
  std::vector<char> buf(n * type.getSize());
  ds.read(buf.data(), type);
}

}  // namespace

IntegrityReport check_integrity(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(path + ": checking integrity failed: no such file");
  IntegrityReport r;
  detail::ErrorCapture capture;
  std::optional<H5::H5File> file;
  try {
    file.emplace(path, H5F_ACC_RDONLY);
    r.opens = true;
  } catch (const H5::Exception& e) {
    r.open_error = capture.detail().empty() ? e.getDetailMsg() : capture.detail();
    return r;
  }
  Walk w;
  if (H5Ovisit(file->getId(), H5_INDEX_NAME, H5_ITER_INC, visit, &w) < 0) {
    r.unreadable.push_back({"/", "walking the groups failed: " + capture.detail()});
  }
  for (const auto& d : w.datasets) {
    try {
      read_all(*file, d);
      ++r.datasets_checked;
    } catch (const H5::Exception& e) {
      r.unreadable.push_back({d, capture.detail().empty() ? e.getDetailMsg() : capture.detail()});
    }
  }
  std::vector<std::string> groups;
  try {
    groups = list_checkpoints(path);
  } catch (const IoError& e) {
    r.unreadable.push_back({"/checkpoints", e.what()});
  }
  for (const auto& g : groups) {
    const bool bad = std::any_of(r.unreadable.begin(), r.unreadable.end(), [&](const UnreadableObject& u) {
      return u.path.compare(0, g.size() + 1, g + "/") == 0;
    });
    bool has_step = false;
    if (!bad) {
      try {
        has_step = !read_tensor_group(path, g + "/_state").empty();
      } catch (const IoError&) {
      }
    }
    (bad || !has_step ? r.unusable_checkpoints : r.usable_checkpoints).push_back(g);
  }
  return r;
}

}  // namespace bnl::io
