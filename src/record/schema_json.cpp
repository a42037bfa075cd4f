#include <sstream>

#include "bnlandscape/core/json.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/record/schema_doc.h"

namespace bnl::record::schema {
namespace {

using core::json_quote;

void write_items(std::ostringstream& os, const char* key, const std::vector<Item>& items, bool last) {
  os << "      " << json_quote(key) << ": [";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    os << (i ? ",\n" : "\n") << "        {\"name\": " << json_quote(it.name) << ", \"dtype\": "
       << json_quote(dtype_name(it.dtype)) << ", \"shape\": " << json_quote(it.shape)
       << ", \"units\": " << json_quote(it.units) << ", \"meaning\": " << json_quote(it.meaning)
       << ", \"only_if\": " << json_quote(it.only_if) << ", \"on\": " << json_quote(it.on) << "}";
  }
  os << (items.empty() ? "]" : "\n      ]") << (last ? "\n" : ",\n");
}

}  // namespace

std::string to_json(const std::vector<Group>& groups) {
  std::ostringstream os;
  os << "{\n  \"schema_version\": " << io::kSchemaVersion << ",\n  \"groups\": [";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    os << (i ? ",\n" : "\n") << "    {\n      \"path\": " << json_quote(g.path) << ",\n      \"rows\": "
       << json_quote(g.rows) << ",\n";
    write_items(os, "columns", g.columns, false);
    write_items(os, "arrays", g.arrays, false);
    write_items(os, "attributes", g.attributes, true);
    os << "    }";
  }
  os << "\n  ]\n}\n";
  return os.str();
}

}  // namespace bnl::record::schema
