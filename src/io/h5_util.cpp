#include "h5_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace bnl::io::detail {
namespace {

struct WalkState {
  std::string api_func;
  std::string innermost;
};

herr_t walk_error(unsigned n, const H5E_error2_t* err, void* data) {
  auto* state = static_cast<WalkState*>(data);
  // Walking downward starts at the API function the caller made and ends at the innermost
  // frame, whose description is the specific one ("unable to lock file, errno = 11, ...").
  if (n == 0 && err->func_name != nullptr) state->api_func = err->func_name;
  if (err->desc != nullptr && err->desc[0] != '\0') state->innermost = err->desc;
  return 0;
}

herr_t capture_errors(hid_t stack, void* data) {
  static_cast<ErrorCapture*>(data)->record(stack);
  return 0;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

/// Closes a C API property list on scope exit.
class PropListId {
 public:
  explicit PropListId(hid_t id) : id_(id) {}
  ~PropListId() {
    if (id_ >= 0) H5Pclose(id_);
  }
  PropListId(const PropListId&) = delete;
  PropListId& operator=(const PropListId&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
};

H5::StrType utf8_string_type() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

void remove_existing(const H5::H5Object& obj, const std::string& name) {
  if (obj.attrExists(name)) obj.removeAttr(name);
}

// A scalar attribute `name` of `type`: the existing one when it already has that type and is
// scalar, else a new one. Rewriting in place leaves the object header as it is; deleting and
// re-creating can move the attribute into a new header chunk, which a flush that fails midway
// (a full disk) may leave referenced from the header but past the end of file the superblock
// records, and the file would no longer open.
H5::Attribute scalar_attr(const H5::H5Object& obj, const std::string& name, const H5::DataType& type) {
  if (obj.attrExists(name)) {
    H5::Attribute existing = obj.openAttribute(name);
    if (existing.getDataType() == type && existing.getSpace().getSimpleExtentType() == H5S_SCALAR) return existing;
    existing.close();
    obj.removeAttr(name);
  }
  return obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
}

}  // namespace

ErrorCapture::ErrorCapture() {
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  // Restoring an enclosing capture keeps nesting correct; anything else (HDF5's default
  // printer) is replaced by silence, as H5::Exception::dontPrint() would.
  if (old_func_ != &capture_errors) {
    old_func_ = nullptr;
    old_data_ = nullptr;
  }
  H5Eset_auto2(H5E_DEFAULT, &capture_errors, this);
}

ErrorCapture::~ErrorCapture() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

void ErrorCapture::record(hid_t stack) {
  WalkState state;
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, &walk_error, &state);
  if (state.innermost.empty()) return;
  detail_ = one_line(state.innermost);
  if (!state.api_func.empty()) detail_ += " (" + state.api_func + ")";
}

std::string error_message(const std::string& file, const std::string& what,
                          const std::string& detail) {
  // HDF5's text for a file it cannot open names the file, errno and flags; the user needs the
  // reason alone.
  const std::string reason = "error message = '";
  const auto r = detail.find(reason);
  if (detail.find("unable to open file") != std::string::npos && detail.find("unable to lock") == std::string::npos &&
      r != std::string::npos) {
    const auto end = detail.find('\'', r + reason.size());
    return file + ": cannot open: " + detail.substr(r + reason.size(), end - r - reason.size()) + " (" + what + ")";
  }
  if (detail.find("file signature not found") != std::string::npos)
    return file + ": expected an HDF5 file, got a file without the HDF5 signature (" + what + ")";
  std::string msg = file + ": " + what + " failed: " + one_line(detail);
  if (detail.find("unable to lock") != std::string::npos) {
    msg += " (another process has the file open; a reader of a running run sets "
           "HDF5_USE_FILE_LOCKING=FALSE)";
  }
  return msg;
}

void require_readable_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  const bool directory = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  if (directory) throw IoError(path + ": expected a file, got a directory");
}

void check(std::int64_t status, const char* call) {
  if (status < 0) throw H5::Exception(call, std::string(call) + " failed");
}

std::string absolute_path(const std::string& path) {
  std::string out;
  std::istringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (!part.empty()) out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

std::pair<std::string, std::string> split_path(const std::string& absolute) {
  const auto slash = absolute.rfind('/');
  if (slash == std::string::npos) return {"/", absolute};
  return {slash == 0 ? "/" : absolute.substr(0, slash), absolute.substr(slash + 1)};
}

bool path_exists(const H5::H5File& file, const std::string& path) {
  if (path == "/") return true;
  std::string prefix;
  std::istringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    const bool parent_is_group =
        prefix.empty() || file.childObjType(prefix) == H5O_TYPE_GROUP;
    prefix += "/" + part;
    if (!parent_is_group || !file.nameExists(prefix)) return false;
  }
  return true;
}

H5::Group require_group(const H5::H5File& file, const std::string& path, bool track_order) {
  std::string prefix;
  std::istringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (file.nameExists(prefix)) {
      if (file.childObjType(prefix) != H5O_TYPE_GROUP) {
        throw Failure("'" + prefix + "' exists and is not a group");
      }
      continue;
    }
    if (!track_order) {
      file.createGroup(prefix).close();
      continue;
    }
    // The C++ API of HDF5 1.10 has no group creation property list.
    PropListId gcpl(H5Pcreate(H5P_GROUP_CREATE));
    check(gcpl.get(), "H5Pcreate");
    check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          "H5Pset_link_creation_order");
    const hid_t gid = H5Gcreate2(file.getId(), prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
    check(gid, "H5Gcreate2");
    check(H5Gclose(gid), "H5Gclose");
  }
  return file.openGroup(path);
}

void write_attr(const H5::H5Object& obj, const std::string& name, const std::string& value) {
  const H5::StrType type = utf8_string_type();
  scalar_attr(obj, name, type).write(type, value);
}

void write_attr(const H5::H5Object& obj, const std::string& name, std::int64_t value) {
  scalar_attr(obj, name, H5::PredType::NATIVE_INT64).write(H5::PredType::NATIVE_INT64, &value);
}

void write_attr(const H5::H5Object& obj, const std::string& name, double value) {
  scalar_attr(obj, name, H5::PredType::NATIVE_DOUBLE).write(H5::PredType::NATIVE_DOUBLE, &value);
}

void write_attr(const H5::H5Object& obj, const std::string& name,
                const std::vector<std::string>& values) {
  remove_existing(obj, name);
  const H5::StrType type = utf8_string_type();
  const hsize_t n = values.size();
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(1, &n));
  if (values.empty()) return;
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  attr.write(type, ptrs.data());
}

}  // namespace bnl::io::detail
