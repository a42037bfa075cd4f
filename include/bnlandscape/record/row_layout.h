#pragma once
/// \file
/// A series' row, filled from one record in the order of its declared columns: each column
/// name of the schema (record/schema.h) is paired with a getter from the record type, so the
/// column list written and the append order cannot drift apart.

#include <string>
#include <vector>

#include "bnlandscape/core/error.h"
#include "bnlandscape/io/run_file.h"

namespace bnl::record {

/// How to read one column's values (size = product of its inner dims) from a record R.
template <class R>
struct ColumnGetter {
  const char* name;                     ///< column name, as declared in the schema
  std::vector<double> (*get)(const R&);  ///< the column's values for one row
};

/// A scalar as a one-value column entry.
inline std::vector<double> one(double v) { return {v}; }

/// The getters of a series' columns, in the columns' order.
template <class R>
class RowLayout {
 public:
  RowLayout() = default;
  /// Pairs every spec (in order) with the getter of the same name; a column without a getter
  /// is an InternalError (a schema column nobody fills).
  RowLayout(const std::vector<io::ColumnSpec>& specs, const std::vector<ColumnGetter<R>>& getters) {
    for (const auto& s : specs) {
      const ColumnGetter<R>* found = nullptr;
      for (const auto& g : getters)
        if (s.name == g.name) found = &g;
      if (!found) throw InternalError("record: the declared column '" + s.name + "' has no getter");
      get_.push_back(found->get);
    }
  }
  /// The row of record `r`: one entry per column, in the specs' order.
  std::vector<std::vector<double>> row(const R& r) const {
    std::vector<std::vector<double>> out;
    out.reserve(get_.size());
    for (auto* g : get_) out.push_back(g(r));
    return out;
  }

 private:
  std::vector<std::vector<double> (*)(const R&)> get_;
};

}  // namespace bnl::record
