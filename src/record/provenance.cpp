#include "bnlandscape/record/provenance.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <sstream>

#include <torch/version.h>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/models/torchscript_model.h"
#include "bnlandscape/record/build_info.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::record {

const char* version() { return BNL_VERSION; }

std::string iso8601_utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string float_list(const std::vector<float>& v) {
  std::ostringstream os;
  os << "(";
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}

}  // namespace

void describe_data(RunProvenance& prov, const data::Dataset& data) {
  prov.data_files = data.files;
  prov.num_classes = data.num_classes;
  const auto& s = data.train;
  prov.input_shape = data.feature_rows ? std::to_string(s.channels)
                                       : std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" +
                                             std::to_string(s.width);
  const bool identity = std::all_of(data.norm.mean.begin(), data.norm.mean.end(), [](float m) { return m == 0.0f; }) &&
                        std::all_of(data.norm.std.begin(), data.norm.std.end(), [](float d) { return d == 1.0f; });
  const std::string scale = s.is_float() ? "" : "x/255, then ";
  prov.input_normalization =
      identity ? (s.is_float() ? "none (float32 values as stored)" : "x/255 only (uint8 pixels; no mean/std)")
               : scale + "(x - mean[c]) / std[c] with mean = " + float_list(data.norm.mean) +
                     ", std = " + float_list(data.norm.std);
}

void describe_model(RunProvenance& prov, const models::Classifier& model) {
  const auto* scripted = dynamic_cast<const models::TorchScriptModelImpl*>(&model);
  if (!scripted) return;
  prov.model_sha256 = data::sha256_file(scripted->path());
  prov.model_code = scripted->code();
}

void write_provenance(io::RunFile& f, const RunProvenance& prov) {
  using namespace names;
  const bool training = prov.kind == ProvenanceKind::Training;
  f.set_attr(kStatus, std::string("running"));
  if (training) f.set_attr(kDivergedAtStep, std::int64_t{-1});
  f.set_attr(kConfigToml, prov.config_toml);
  f.set_attr(kVersion, std::string(version()));
  f.set_attr(kGitRevision, std::string(git_revision()));
  f.set_attr(kTorchVersion, std::string(TORCH_VERSION));
  f.set_attr(kBlas, train::blas_description());
  f.set_attr(kIntraOpThreads, std::int64_t{prov.intra_op_threads});
  f.set_attr(kBlasThreads, std::int64_t{prov.blas_threads});
  if (training) f.set_attr(kStepEngine, prov.step_engine);
  // Probes and surfaces train nothing; they name the device only when the caller resolved it.
  if (training || !prov.device.empty()) {
    f.set_attr(kDevice, prov.device);
    f.set_attr(kDeviceName, prov.device_name);
  }
  f.set_attr(kTorchBuild, train::torch_build());
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  f.set_attr(kHost, std::string(host));
  f.set_attr(kSeed, static_cast<std::int64_t>(prov.seed));
  f.set_attr(kStartTime, iso8601_utc_now());
  f.set_attr(kEndTime, std::string(""));
  std::string files;
  for (const auto& d : prov.data_files) files += d.path + " " + d.sha256 + "\n";
  f.set_attr(kDataFiles, files);
  if (prov.num_classes > 0) {
    f.set_attr(kNumClasses, prov.num_classes);
    f.set_attr(kInputShape, prov.input_shape);
    f.set_attr(kInputNormalization, prov.input_normalization);
  }
  if (!prov.model_sha256.empty()) {
    f.set_attr(kModelSha256, prov.model_sha256);
    f.set_attr(kModelCode, prov.model_code);
  }
  if (!training) {
    f.set_attr(kCheckpointFile, prov.checkpoint_file);
    f.set_attr(kCheckpointGroup, prov.checkpoint_group);
    std::string sha = prov.checkpoint_sha256;
    if (sha.empty() && !prov.checkpoint_file.empty() && std::filesystem::is_regular_file(prov.checkpoint_file))
      sha = data::sha256_file(prov.checkpoint_file);
    if (!sha.empty()) f.set_attr(kCheckpointSha256, sha);
  }
}

}  // namespace bnl::record
