#pragma once
/// \file
/// Read-only access to run files (and any HDF5 file): attributes and numeric datasets, for
/// `compare`, `info` and the offline probe. No HDF5 types in the interface.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bnl::io {

/// A numeric dataset read as float64 in C order, with its shape.
struct ArrayData {
  std::vector<double> values;
  std::vector<std::int64_t> dims;
};

/// An HDF5 file opened read-only. Errors are IoError naming the file and object.
class RunReader {
 public:
  struct Impl;
  explicit RunReader(const std::string& path);
  ~RunReader();
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;

  /// A string attribute of the object at `object` ("/" for root), nullopt if absent.
  std::optional<std::string> string_attr(const std::string& name, const std::string& object = "/") const;
  /// A numeric scalar attribute as double, nullopt if absent or not numeric.
  std::optional<double> number_attr(const std::string& name, const std::string& object = "/") const;
  /// A 1-D string-array attribute (empty if absent).
  std::vector<std::string> string_list_attr(const std::string& name, const std::string& object) const;
  /// Whether a dataset or group exists at the absolute path.
  bool exists(const std::string& path) const;
  /// Names of the links directly in a group, in the file's order.
  std::vector<std::string> list(const std::string& group) const;
  /// Whether `path` is a dataset (false for a group or nothing).
  bool is_dataset(const std::string& path) const;
  /// Reads a numeric dataset as float64.
  ArrayData read(const std::string& path) const;

  const std::string& path() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnl::io
