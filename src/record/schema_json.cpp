#include <cstdio>
#include <sstream>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/record/schema_doc.h"

namespace bnl::record::schema {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void write_items(std::ostringstream& os, const char* key, const std::vector<Item>& items, bool last) {
  os << "      " << json_string(key) << ": [";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    os << (i ? ",\n" : "\n") << "        {\"name\": " << json_string(it.name) << ", \"dtype\": "
       << json_string(dtype_name(it.dtype)) << ", \"shape\": " << json_string(it.shape)
       << ", \"units\": " << json_string(it.units) << ", \"meaning\": " << json_string(it.meaning)
       << ", \"only_if\": " << json_string(it.only_if) << ", \"on\": " << json_string(it.on) << "}";
  }
  os << (items.empty() ? "]" : "\n      ]") << (last ? "\n" : ",\n");
}

}  // namespace

std::string to_json(const std::vector<Group>& groups) {
  std::ostringstream os;
  os << "{\n  \"schema_version\": " << io::kSchemaVersion << ",\n  \"groups\": [";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    os << (i ? ",\n" : "\n") << "    {\n      \"path\": " << json_string(g.path) << ",\n      \"rows\": "
       << json_string(g.rows) << ",\n";
    write_items(os, "columns", g.columns, false);
    write_items(os, "arrays", g.arrays, false);
    write_items(os, "attributes", g.attributes, true);
    os << "    }";
  }
  os << "\n  ]\n}\n";
  return os.str();
}

}  // namespace bnl::record::schema
