#include "bnlandscape/probes/layer_hessian.h"

#include <cstring>
#include <unordered_map>

#include <c10/util/Exception.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/norm_spec.h"

namespace bnl::probes {
namespace {

std::string kind_of(const torch::nn::Module& m) {
  if (m.as<torch::nn::Linear>()) return "linear";
  if (m.as<torch::nn::Conv2d>() || m.as<torch::nn::Conv1d>() || m.as<torch::nn::Conv3d>()) return "conv";
  if (models::is_norm_layer(m)) return "norm";
  return "other";
}

}  // namespace

std::vector<ParamBlock> parameter_blocks(const torch::nn::Module& model, const std::vector<torch::Tensor>& params) {
  // Identity of the storage-owning tensor, so that a parameter is found whatever view holds it.
  std::unordered_map<const void*, std::pair<std::int64_t, std::int64_t>> where;
  std::int64_t offset = 0;
  for (const auto& p : params) {
    where.emplace(p.unsafeGetTensorImpl(), std::make_pair(offset, p.numel()));
    offset += p.numel();
  }
  std::vector<ParamBlock> blocks;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    ParamBlock b;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      const auto it = where.find(p.value().unsafeGetTensorImpl());
      if (it == where.end()) continue;
      b.ranges.push_back(it->second);
      b.size += it->second.second;
    }
    if (b.size == 0) continue;
    b.name = item.key();
    b.kind = kind_of(*item.value());
    blocks.push_back(std::move(b));
  }
  return blocks;
}

BlockHessianOperator::BlockHessianOperator(const HessianOperator& op, ParamBlock block)
    : op_(op), block_(std::move(block)) {
  std::int64_t size = 0;
  for (const auto& [off, len] : block_.ranges) {
    TORCH_CHECK(off >= 0 && len >= 0 && off + len <= op_.rows(), "BlockHessianOperator: expected ranges inside [0, ",
                op_.rows(), "), got (", off, ", ", len, ") in block ", block_.name);
    size += len;
  }
  TORCH_CHECK(size == block_.size && size > 0, "BlockHessianOperator: expected a nonempty block whose size (",
              block_.size, ") is the sum of its ranges (", size, "), block ", block_.name);
}

void BlockHessianOperator::perform_op(const Scalar* x_in, Scalar* y_out) const {
  auto full = torch::zeros({op_.rows()}, torch::kDouble);
  double* f = full.data_ptr<double>();
  std::int64_t pos = 0;
  for (const auto& [off, len] : block_.ranges) {
    std::memcpy(f + off, x_in + pos, sizeof(double) * static_cast<std::size_t>(len));
    pos += len;
  }
  const auto y = op_.hvp(full).to(torch::kCPU, torch::kDouble).contiguous();
  const double* yy = y.data_ptr<double>();
  pos = 0;
  for (const auto& [off, len] : block_.ranges) {
    std::memcpy(y_out + pos, yy + off, sizeof(double) * static_cast<std::size_t>(len));
    pos += len;
  }
}

LayerEigenResult layer_top_eigs(const HessianOperator& op, const std::vector<ParamBlock>& blocks,
                                const LanczosOptions& opt) {
  TORCH_CHECK(opt.warm_start.size() == 0, "layer_top_eigs: expected no warm start, got one of size ",
              opt.warm_start.size());
  for (const auto& b : blocks)
    TORCH_CHECK(opt.k >= 1 && opt.k < b.size, "layer_top_eigs: expected 1 <= k < the size of every block, got k = ",
                opt.k, " for block ", b.name, " of ", b.size, " parameters");
  LayerEigenResult r;
  const std::int64_t before = op.hvp_count();
  for (const auto& b : blocks) {
    LanczosOptions o = opt;
    o.largest = true;
    if (o.ncv != 0) o.ncv = std::min<int>(o.ncv, static_cast<int>(b.size));
    if (o.ncv != 0 && o.ncv <= o.k) o.ncv = 0;
    const auto e = lanczos_eigs(BlockHessianOperator(op, b), o);
    r.eigenvalues.push_back(e.eigenvalues);
    r.converged = r.converged && e.converged;
  }
  r.hvp_count = op.hvp_count() - before;
  return r;
}

}  // namespace bnl::probes
