#pragma once
// The items of a comma-separated option value, with the rule the model options have always
// had: a trailing comma ends the list ("512,256," is {512, 256}) and an empty value has no
// items, while any other empty item is kept for the caller to reject.

#include <string>
#include <vector>

#include "bnlandscape/core/parse.h"

namespace bnl::models {

inline std::vector<std::string> list_items(const std::string& s) {
  if (s.empty()) return {};
  auto items = core::split_items(s);
  if (s.back() == ',') items.pop_back();
  return items;
}

}  // namespace bnl::models
