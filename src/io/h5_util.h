#pragma once
// Private to src/io: HDF5 error capture, attribute and path helpers, tensor datasets.

#include <H5Cpp.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/io/run_file.h"

namespace bnl::io::detail {

/// While alive, keeps HDF5 from printing its error stack and records the description of the
/// innermost error of the last failed HDF5 call instead. The C++ API's exception text
/// ("H5Dcreate2 failed") says little, and the stack is cleared by the first HDF5 call made
/// while unwinding (handle destructors), so it has to be read when the failure happens.
class ErrorCapture {
 public:
  ErrorCapture();
  ~ErrorCapture();
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  /// Innermost description and failing API function of the last error, "" if none.
  const std::string& detail() const { return detail_; }
  /// Records the current error stack of the calling thread.
  void record(hid_t stack);

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
  std::string detail_;
};

/// A failure found by this layer's own checks inside `guarded`; its text becomes the detail of
/// the IoError.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One-line IoError message: "<file>: <what> failed: <detail>".
std::string error_message(const std::string& file, const std::string& what,
                          const std::string& detail);

/// Runs `f` with HDF5 errors captured; an H5::Exception becomes an IoError naming `file` and
/// `what` (e.g. "creating dataset '/train/steps/loss'"), and so does a Failure. IoErrors pass
/// through.
template <typename F>
auto guarded(const std::string& file, const std::string& what, F&& f) -> decltype(f()) {
  ErrorCapture capture;
  try {
    return f();
  } catch (const Failure& e) {
    throw IoError(error_message(file, what, e.what()));
  } catch (const H5::Exception& e) {
    throw IoError(error_message(file, what,
                                capture.detail().empty() ? e.getDetailMsg() : capture.detail()));
  }
}

/// Checks, before HDF5 opens it, that `path` is a file this process can read: an IoError
/// "PATH: cannot open: REASON" (the system's reason, e.g. No such file or directory) or "PATH:
/// expected a file, got a directory" otherwise, instead of HDF5's error stack.
void require_readable_file(const std::string& path);

/// Throws an H5::Exception when a C API call failed, so that `guarded` reports it.
void check(std::int64_t status, const char* call);

/// "/a/b" for "a/b", "/a/b/" or "/a/b"; "/" for "" or "/".
std::string absolute_path(const std::string& path);

/// Parent of an absolute path ("/" for "/a") and its last component.
std::pair<std::string, std::string> split_path(const std::string& absolute);

/// Whether every component of the absolute `path` exists (checked one link at a time, since
/// H5Lexists fails on a missing intermediate group).
bool path_exists(const H5::H5File& file, const std::string& path);

/// Opens the group at the absolute `path`, creating it and any missing parents. `track_order`
/// makes newly created groups (not their parents) keep link creation order.
H5::Group require_group(const H5::H5File& file, const std::string& path, bool track_order);

/// Attribute writers; an existing attribute of the same name is replaced.
void write_attr(const H5::H5Object& obj, const std::string& name, const std::string& value);
void write_attr(const H5::H5Object& obj, const std::string& name, std::int64_t value);
void write_attr(const H5::H5Object& obj, const std::string& name, double value);
void write_attr(const H5::H5Object& obj, const std::string& name,
                const std::vector<std::string>& values);

/// The in-memory HDF5 file of an open RunFile, for edits that RunFile does not offer; the next
/// commit (RunFile::flush) writes them. `file` marks the RunFile changed and throws IoError
/// when it is closed.
struct RunFileAccess {
  static H5::H5File& file(RunFile& run, const std::string& what);
};

/// Whether write_tensor can store tensors of this dtype.
bool supported_dtype(torch::ScalarType st);

/// Writes `tensor` as a contiguous dataset `name` in `group` in the tensor's own dtype; an
/// unsupported dtype is a Failure naming the tensor.
void write_tensor(const H5::Group& group, const std::string& name, const torch::Tensor& tensor);

}  // namespace bnl::io::detail
