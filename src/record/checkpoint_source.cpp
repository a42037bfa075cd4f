#include "bnlandscape/record/checkpoint_source.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <type_traits>

#include "bnlandscape/core/parse.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/record/legacy_tensor_names.h"
#include "bnlandscape/train/config.h"

namespace bnl::record {

std::optional<std::string> stored_config(const std::string& file) {
  io::RunReader reader(file);
  return reader.string_attr("config_toml");
}

namespace {

/// Parses `text` (command-line form) into `field` as the field's type; false, with `field`
/// untouched, when it does not parse as one.
template <class T>
bool assign_text(T& field, const std::string& text) {
  if constexpr (std::is_same_v<T, std::string>) {
    field = text;
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text != "true" && text != "false") return false;
    field = text == "true";
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    const auto v = core::parse_double(text);
    if (v) field = static_cast<T>(*v);
    return v.has_value();
  } else {
    const auto v = core::parse_int(text);
    if (!v || (std::is_unsigned_v<T> && *v < 0)) return false;
    field = static_cast<T>(*v);
    return true;
  }
}

}  // namespace

void adopt_config(train::TrainConfig& cfg, const std::vector<std::pair<std::string, std::string>>& stored,
                  const std::vector<std::string>& keys, const std::function<bool(const std::string&)>& given) {
  for (const auto& e : stored) {
    if (std::find(keys.begin(), keys.end(), e.first) == keys.end()) continue;
    if (given(e.first)) continue;
    train::visit_train_options(cfg, [&](const char* key, auto& field, const char*) {
      if (e.first == key) assign_text(field, e.second);
    });
  }
}

void load_checkpoint(models::Classifier& model, const CheckpointSource& src, const std::string& arch,
                     const std::string& bn) {
  const auto tensors = read_model_tensors(src.file, src.group);
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  auto buffers = model.named_buffers();
  for (const auto& [name, t] : tensors) {
    torch::Tensor* dst = params.find(name);
    if (!dst) dst = buffers.find(name);
    if (!dst) continue;
    if (dst->sizes() != t.sizes()) {
      std::ostringstream os;
      os << src.file << ":" << src.group << "/" << name << ": expected shape " << dst->sizes() << " for --arch " << arch
         << " --bn " << bn << ", got " << t.sizes();
      throw train::ConfigError(os.str());
    }
    dst->copy_(t);
  }
  for (const auto& item : params)
    if (std::none_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == item.key(); }))
      throw train::ConfigError(src.file + ":" + src.group + ": expected parameter '" + item.key() + "' for --arch " +
                               arch + " --bn " + bn + ", not found");
}

std::int64_t checkpoint_step(const std::string& group) {
  const auto pos = group.rfind("step_");
  return pos == std::string::npos ? 0 : std::atoll(group.c_str() + pos + 5);
}

}  // namespace bnl::record
