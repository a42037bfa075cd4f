#pragma once
/// \file
/// A group of series in a run file (io/run_file.h): datasets sharing dimension 0 (rows),
/// buffered in memory and written at flushes. The column specs come from the schema
/// declaration (record/schema.h).

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace bnl::io {

class RunFile;

/// Element type of a series column.
enum class ColumnType { Int64, Float64 };

/// One column (dataset) of a SeriesGroup.
struct ColumnSpec {
  std::string name;                 ///< dataset name inside the group
  ColumnType type = ColumnType::Float64;
  std::vector<std::int64_t> inner;  ///< trailing dims: {} for a 1-D series [n], {L} for [n x L]
  std::string units;                ///< attribute "units"
  std::string description;          ///< attribute "description" (one line)
};

/// The integer set_attr overload of RunFile and SeriesGroup (CRTP): `set_attr(name, 3)` with
/// any integer type other than bool and std::int64_t forwards to Derived's
/// `set_attr(const std::string&, std::int64_t)`, so that such calls are not ambiguous. Derived
/// brings it beside its own overloads with `using IntegralAttrOverload<Derived>::set_attr;`.
template <typename Derived>
class IntegralAttrOverload {
 public:
  /// Stores `value` as int64 through Derived's int64 overload.
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             !std::is_same_v<T, std::int64_t>,
                                         int> = 0>
  void set_attr(const std::string& name, T value) {
    static_cast<Derived&>(*this).set_attr(name, static_cast<std::int64_t>(value));
  }
};

/// A group of series that share dimension 0 (rows). Rows are buffered in memory and written on
/// flush(); append() never touches HDF5, so it is cheap enough to call every training step.
/// Owned by its RunFile: obtained from RunFile::add_series and valid for the RunFile's life.
class SeriesGroup : public IntegralAttrOverload<SeriesGroup> {
 public:
  /// Implementation, defined in src/io/run_file_impl.h.
  struct Impl;

  /// Not copyable: the RunFile owns the one instance per group.
  SeriesGroup(const SeriesGroup&) = delete;
  /// Not copyable.
  SeriesGroup& operator=(const SeriesGroup&) = delete;
  /// Destroyed with its RunFile.
  ~SeriesGroup();

  /// Appends one row: values[i] holds column i's values (size = product of its inner dims, 1
  /// for scalars), in the order of the specs. Int64 columns take whole numbers (rounded to the
  /// nearest). A row of the wrong shape, a non-finite or out-of-range value for an Int64
  /// column, or a closed file is an IoError and nothing is appended.
  void append(const std::vector<std::vector<double>>& values);

  /// Rows appended so far (written or buffered).
  std::int64_t rows() const;

  /// Rows written to the file (the rest are buffered).
  std::int64_t written_rows() const;

  /// Writes the buffered rows (extent + hyperslab write per column). The data reaches the disk
  /// at the next RunFile::flush(). On failure the rows stay buffered, so a retry rewrites them.
  void flush();

  /// Absolute group path, e.g. "/train/steps".
  const std::string& name() const;

  /// The column specs, in order.
  const std::vector<ColumnSpec>& columns() const;

  /// Sets (or replaces) a string attribute of the group (variable-length UTF-8).
  void set_attr(const std::string& name, const std::string& value);
  /// Sets (or replaces) an int64 attribute of the group.
  void set_attr(const std::string& name, std::int64_t value);
  /// Sets (or replaces) a float64 attribute of the group.
  void set_attr(const std::string& name, double value);
  /// Sets (or replaces) a 1-D string-array attribute of the group.
  void set_attr(const std::string& name, const std::vector<std::string>& values);
  /// Integer overload so that `set_attr("n", 3)` is not ambiguous; stored as int64.
  using IntegralAttrOverload<SeriesGroup>::set_attr;

  /// Sets (or replaces) a string attribute of one column's dataset.
  void set_column_attr(const std::string& column, const std::string& name,
                       const std::string& value);
  /// Sets (or replaces) a 1-D string-array attribute of one column's dataset, e.g. the
  /// attribute "layers" of /train/steps/layer_grad_norm.
  void set_column_attr(const std::string& column, const std::string& name,
                       const std::vector<std::string>& values);

 private:
  friend class RunFile;
  explicit SeriesGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnl::io
