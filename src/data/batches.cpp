#include "bnlandscape/data/batches.h"

#include <algorithm>
#include <random>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

namespace bnl::data {

std::vector<std::int64_t> loader_permutation(std::int64_t n, const at::Generator& start, std::int64_t epoch) {
  TORCH_CHECK(n >= 0, "loader_permutation: expected n >= 0, got ", n);
  TORCH_CHECK(epoch >= 0, "loader_permutation: expected epoch >= 0, got ", epoch);
  auto global = start.clone();
  auto draw = [&] { return torch::empty({}, torch::kInt64).random_(global).item<std::int64_t>(); };
  std::int64_t sampler_seed = 0;
  for (std::int64_t e = 0; e <= epoch; ++e) {
    draw();  // _BaseDataLoaderIter's _base_seed, drawn before the sampler's
    sampler_seed = draw();
  }
  auto sampler = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(sampler_seed));
  const auto perm = torch::randperm(n, sampler, torch::TensorOptions().dtype(torch::kInt64));
  const auto* p = perm.data_ptr<std::int64_t>();
  return std::vector<std::int64_t>(p, p + n);
}

std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  TORCH_CHECK(n >= 0, "epoch_permutation: expected n >= 0, got ", n);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
  // Mixing the epoch through a seed sequence gives each epoch an independent, reproducible
  // stream; a resumed run recomputes the same order from (seed, epoch) alone.
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32),
                    0x5eedu};
  std::mt19937_64 rng(seq);
  for (std::int64_t i = n - 1; i > 0; --i) {
    // Rejection sampling keeps the draw unbiased and independent of libstdc++'s
    // uniform_int_distribution algorithm.
    const std::uint64_t range = static_cast<std::uint64_t>(i) + 1;
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                                std::numeric_limits<std::uint64_t>::max() % range;
    std::uint64_t r;
    do {
      r = rng();
    } while (r >= limit);
    std::swap(perm[i], perm[r % range]);
  }
  return perm;
}

std::vector<std::pair<std::int64_t, std::int64_t>> batch_bounds(std::int64_t n,
                                                                std::int64_t batch_size,
                                                                bool drop_singleton) {
  TORCH_CHECK(batch_size > 0, "batch_bounds: expected batch_size > 0, got ", batch_size);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (std::int64_t b = 0; b < n; b += batch_size) out.emplace_back(b, std::min(n, b + batch_size));
  if (drop_singleton && !out.empty() && out.back().second - out.back().first == 1 && out.size() > 1)
    out.pop_back();
  return out;
}

torch::Tensor gather_images(const ImageSet& set, const Normalization& norm,
                            const std::int64_t* idx, std::int64_t count, torch::Dtype dtype) {
  const std::int64_t c = set.channels, h = set.height, w = set.width, sz = set.image_size();
  TORCH_CHECK(static_cast<std::int64_t>(norm.mean.size()) == c &&
                  static_cast<std::int64_t>(norm.std.size()) == c,
              "gather_images: expected ", c, " normalisation channels, got ", norm.mean.size());
  const std::int64_t oh = model_height(set, norm), ow = model_width(set, norm);
  TORCH_CHECK(oh >= h && ow >= w, "gather_images: expected pad_to >= the image size ", h, "x", w, ", got ",
              norm.pad_to);
  const bool padded = oh != h || ow != w;
  // Padding is the value 0 after normalisation, so the border is set once and the images are
  // written into the interior, row by row.
  auto out = padded ? torch::zeros({count, c, oh, ow}, torch::kFloat32)
                    : torch::empty({count, c, h, w}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  const std::int64_t top = (oh - h) / 2, left = (ow - w) / 2, out_sz = c * oh * ow;
  // One scale and shift per channel turns the per-pixel (x/255 - mean)/std into one FMA
  // (float32 values: (x - mean)/std, no 1/255).
  const float range = set.is_float() ? 1.0f : 255.0f;
  std::vector<float> scale(c), shift(c);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    scale[ch] = 1.0f / (range * norm.std[ch]);
    shift[ch] = -norm.mean[ch] / norm.std[ch];
  }
  for (std::int64_t b = 0; b < count; ++b)
    TORCH_CHECK(idx[b] >= 0 && idx[b] < set.n, "gather_images: expected index in [0, ", set.n, "), got ", idx[b]);
  // Writes image `src` into the output slot of batch row b: per channel `rows` runs of `cols`
  // values (unpadded: the whole plane as one run, which the compiler vectorises best).
  const std::int64_t rows = padded ? h : 1, cols = padded ? w : h * w, stride = padded ? ow : cols;
  auto write = [&](const auto* src, std::int64_t b) {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float s = scale[ch], t = shift[ch];
      for (std::int64_t y = 0; y < rows; ++y) {
        const auto* in = src + ch * h * w + y * cols;
        float* d = dst + b * out_sz + (ch * oh + top) * ow + left + y * stride;
        for (std::int64_t x = 0; x < cols; ++x) d[x] = static_cast<float>(in[x]) * s + t;
      }
    }
  };
  if (set.is_float()) {
    for (std::int64_t b = 0; b < count; ++b) write(set.values.data() + idx[b] * sz, b);
    return dtype == torch::kFloat32 ? out : out.to(dtype);
  }
  // The rows are scattered over the whole set (47 MB for Fashion-MNIST): each one costs a TLB
  // miss and cache misses that the hardware prefetcher cannot foresee. Asking for the rows a
  // few images ahead overlaps those latencies (a 128-image batch: 135-160 us before, 88-98 us
  // after, inside a training run).
  constexpr std::int64_t kAhead = 4;
  auto prefetch_row = [&](std::int64_t b) {
    const std::uint8_t* row = set.pixels.data() + idx[b] * sz;
    for (std::int64_t o = 0; o < sz; o += 64) __builtin_prefetch(row + o);
  };
  for (std::int64_t b = 0; b < std::min(kAhead, count); ++b) prefetch_row(b);
  for (std::int64_t b = 0; b < count; ++b) {
    if (b + kAhead < count) prefetch_row(b + kAhead);
    write(set.pixels.data() + idx[b] * sz, b);
  }
  return dtype == torch::kFloat32 ? out : out.to(dtype);
}

torch::Tensor gather_labels(const ImageSet& set, const std::int64_t* idx, std::int64_t count) {
  auto out = torch::empty({count}, torch::kInt64);
  auto* dst = out.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < count; ++b) {
    TORCH_CHECK(idx[b] >= 0 && idx[b] < set.n, "gather_labels: expected index in [0, ", set.n,
                "), got ", idx[b]);
    dst[b] = set.labels[idx[b]];
  }
  return out;
}

ImageSet take_first(const ImageSet& set, std::int64_t limit) {
  if (limit <= 0 || limit >= set.n) return set;
  ImageSet out;
  out.n = limit;
  out.channels = set.channels;
  out.height = set.height;
  out.width = set.width;
  if (set.is_float())
    out.values.assign(set.values.begin(), set.values.begin() + limit * set.image_size());
  else
    out.pixels.assign(set.pixels.begin(), set.pixels.begin() + limit * set.image_size());
  out.labels.assign(set.labels.begin(), set.labels.begin() + limit);
  return out;
}

}  // namespace bnl::data
