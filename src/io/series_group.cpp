#include <cmath>
#include <string>
#include <vector>

#include "run_file_impl.h"

namespace bnl::io {
namespace {

using detail::guarded;
using detail::in_quotes;

// Largest double magnitude that still converts to int64 without overflow.
constexpr double kInt64Limit = 9.2e18;

}  // namespace

SeriesGroup::SeriesGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SeriesGroup::~SeriesGroup() = default;

void SeriesGroup::append(const std::vector<std::vector<double>>& values) {
  Impl& s = *impl_;
  if (!*s.open) s.require_open("appending a row to " + in_quotes(s.name));
  if (values.size() != s.specs.size()) {
    throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: " +
                  std::to_string(values.size()) + " columns given, " +
                  std::to_string(s.specs.size()) + " expected");
  }
  // Everything is checked before anything is buffered, so a bad row leaves no partial row.
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].size() != s.widths[i]) {
      throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: column " +
                    in_quotes(s.specs[i].name) + " got " + std::to_string(values[i].size()) +
                    " values, " + std::to_string(s.widths[i]) + " expected");
    }
    if (s.specs[i].type != ColumnType::Int64) continue;
    for (double v : values[i]) {
      if (!std::isfinite(v) || std::fabs(v) >= kInt64Limit) {
        throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: int64 column " +
                      in_quotes(s.specs[i].name) + " got " + std::to_string(v));
      }
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    s.buffers[i].insert(s.buffers[i].end(), values[i].begin(), values[i].end());
  }
  ++s.buffered;
}

std::int64_t SeriesGroup::rows() const { return impl_->written + impl_->buffered; }

std::int64_t SeriesGroup::written_rows() const { return impl_->written; }

void SeriesGroup::flush() {
  Impl& s = *impl_;
  if (s.buffered == 0) return;
  s.require_open("writing " + std::to_string(s.buffered) + " buffered rows of " + in_quotes(s.name));
  *s.dirty = true;
  for (std::size_t i = 0; i < s.specs.size(); ++i) {
    guarded(*s.file,
            "appending " + std::to_string(s.buffered) + " rows to dataset " +
                in_quotes(s.name + "/" + s.specs[i].name),
            [&] { s.write_column(i); });
  }
  // Only now: a failed column leaves every row buffered, and rewriting rows at the same
  // offsets on a retry is harmless.
  s.written += s.buffered;
  s.buffered = 0;
  for (auto& b : s.buffers) b.clear();
}

const std::string& SeriesGroup::name() const { return impl_->name; }

const std::vector<ColumnSpec>& SeriesGroup::columns() const { return impl_->specs; }

namespace {

template <typename T>
void set_group_attr(SeriesGroup::Impl& s, const std::string& name, const T& value) {
  const std::string what = "setting attribute " + in_quotes(name) + " of " + in_quotes(s.name);
  s.require_open(what);
  *s.dirty = true;
  guarded(*s.file, what, [&] { detail::write_attr(*s.group, name, value); });
}

template <typename T>
void set_dataset_attr(SeriesGroup::Impl& s, const std::string& column, const std::string& name,
                      const T& value) {
  const std::size_t i = s.column_index(column);
  const std::string what =
      "setting attribute " + in_quotes(name) + " of " + in_quotes(s.name + "/" + column);
  s.require_open(what);
  *s.dirty = true;
  guarded(*s.file, what, [&] { detail::write_attr(s.datasets[i], name, value); });
}

}  // namespace

void SeriesGroup::set_attr(const std::string& name, const std::string& value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, std::int64_t value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, double value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, const std::vector<std::string>& values) {
  set_group_attr(*impl_, name, values);
}

void SeriesGroup::set_column_attr(const std::string& column, const std::string& name,
                                  const std::string& value) {
  set_dataset_attr(*impl_, column, name, value);
}
void SeriesGroup::set_column_attr(const std::string& column, const std::string& name,
                                  const std::vector<std::string>& values) {
  set_dataset_attr(*impl_, column, name, values);
}

}  // namespace bnl::io
